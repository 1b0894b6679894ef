"""The path every command shares: site file → validated model → generated files → Asterisk."""

from __future__ import annotations

import difflib
import os
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pbx_ext import sandbox
from pbx_ext.conffile import write_atomic, write_tree
from pbx_ext.deployment import Deployment
from pbx_ext.errors import AsteriskError, PbxError, SandboxError
from pbx_ext.generate import GenerateInput, generate
from pbx_ext.secrets import SecretStore
from pbx_ext.site import Site, parse_site
from pbx_ext.site.loader import read_site_bytes

SECRET_KEYS = re.compile(r"^(\s*(?:password|md5_cred|secret)\s*=\s*).*$", re.MULTILINE)


APPLIED_SITE = "site.yaml"  # the site file last applied, in the state dir; the app reads it


@dataclass(frozen=True, slots=True)
class Built:
    site: Site
    source: str  # the site file's text, exactly as validated
    files: dict[str, str]
    warnings: list[str]

    def record_applied(self, deployment: Deployment) -> None:
        """Keep the applied site for the call-control app, which reloads it on change."""
        write_atomic(deployment.state_dir / APPLIED_SITE, self.source, mode=0o600)


def build(site_path: Path, deployment: Deployment, env: Mapping[str, str] | None = None) -> Built:
    """Validate the site and render every file; raises SiteError before touching anything."""
    env = os.environ if env is None else env
    raw = read_site_bytes(site_path)
    site = parse_site(raw, str(site_path))
    source = raw.decode("utf-8")  # parse_site accepted it, so it is UTF-8
    creds = SecretStore(deployment.state_dir).ensure([u.extension for u in site.users])
    passwords: dict[str, str | None] = {}
    warnings: list[str] = []
    for trunk in site.trunks:
        value = env.get(trunk.password_env) if trunk.password_env else None
        if value and not value.isprintable():
            raise PbxError(
                f"trunk {trunk.name}: ${trunk.password_env} contains a line break or control "
                "character; set it to the password alone"
            )
        passwords[trunk.name] = value or None
        if trunk.password_env and not value:
            warnings.append(
                f"trunk {trunk.name}: ${trunk.password_env} is not set, so the trunk is "
                f"configured without authentication{' or registration' if trunk.register else ''}"
                f"; export {trunk.password_env}=... and run `pbx-ext apply` again"
            )
    inp = GenerateInput(site, site_path.name, creds, deployment, passwords)
    return Built(site, source, generate(inp), warnings)


def _applied(deployment: Deployment, names: list[str]) -> dict[str, str | None]:
    """The files as Asterisk has them now (``None``: not there)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = (deployment.config_dir / name).read_text(encoding="utf-8")
        except FileNotFoundError:
            out[name] = None
    return out


def plan(built: Built, deployment: Deployment) -> str:
    """A readable diff of what apply would change; secret values are masked."""
    before = _applied(deployment, sorted(built.files))
    chunks: list[str] = []
    for name in sorted(built.files):
        old = _mask(before[name] or "")
        new = _mask(built.files[name])
        if before[name] == built.files[name]:
            continue
        diff = difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"{name} (applied)" if before[name] is not None else "/dev/null",
            tofile=f"{name} (new)",
        )
        text = "".join(diff)
        # Only a secret changed: the masked diff is empty, say so rather than print nothing.
        chunks.append(text or f"--- {name}: a generated secret changed\n")
    return "".join(chunks)


def _mask(text: str) -> str:
    return SECRET_KEYS.sub(r"\1********", text)


def asterisk_rx(deployment: Deployment) -> Callable[[str], str]:
    """Run Asterisk CLI commands on the deployment's Asterisk (sandbox or host)."""
    if deployment.kind == "sandbox":
        inst = sandbox.Instance.of(deployment)
        return lambda command: sandbox.rx(inst, command)
    return _host_rx


def apply(built: Built, deployment: Deployment) -> list[str]:
    """Write the changed files and reload the running Asterisk; no restart, calls stay up."""
    if deployment.kind == "sandbox":
        inst = sandbox.Instance.of(deployment)
        changed = sandbox.prepare(inst, built.files)
        if changed and sandbox.read_pid(inst) is not None:
            _reload(asterisk_rx(deployment))
    else:
        changed = write_tree(deployment.config_dir, built.files)
        if changed:
            _reload(asterisk_rx(deployment))
    built.record_applied(deployment)
    return changed


def _host_rx(command: str) -> str:
    proc = subprocess.run(
        ["asterisk", "-rx", command], capture_output=True, text=True, timeout=30, check=False
    )
    if proc.returncode != 0:
        raise AsteriskError(f"asterisk -rx {command!r}: {(proc.stderr or proc.stdout).strip()}")
    return proc.stdout


def _reload(rx: Callable[[str], str]) -> None:
    try:
        # `core reload` rereads every module's config in place; channels and bridges are not
        # touched, so calls in progress continue.
        rx("core reload")
    except (SandboxError, AsteriskError, subprocess.TimeoutExpired) as exc:
        raise AsteriskError(f"the files were written but Asterisk did not reload: {exc}") from exc
