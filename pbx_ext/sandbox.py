"""A real Asterisk 22 under pbx-ext's control, in a Debian sid root.

Debian 12 ships no Asterisk; sid has 22 LTS but needs a newer glibc than the host, so it runs
in a root made by ``mmdebstrap`` and entered with ``chroot``. The root is cached outside the
checkout (``~/.cache/pbx-ext/asterisk-root``) and shared by every clone and every instance on
the machine. Each instance is a directory inside the root (``/srv/pbx-ext/<name>``) holding
its own config, run, spool, log and database directories, wired in by its own
``asterisk.conf`` — so tests run several isolated Asterisks side by side on other ports.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pbx_ext.conffile import ConfFile, Section, write_atomic, write_tree
from pbx_ext.deployment import Deployment
from pbx_ext.errors import SandboxError

PACKAGES = ("asterisk", "asterisk-modules", "asterisk-moh-opsound-gsm", "ca-certificates")
READY_MARK = ".pbx-ext-ready"
INSTANCES = Path("/srv/pbx-ext")  # inside the root
# Stock files not copied into an instance: users.conf is deprecated and would add its own
# phones to the dialplan.
SKIP_STOCK = frozenset({"users.conf"})

Progress = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def cache_dir() -> Path:
    """``$PBX_EXT_CACHE``, else ``$XDG_CACHE_HOME/pbx-ext``, else ``~/.cache/pbx-ext``."""
    env = os.environ.get("PBX_EXT_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "pbx-ext"


def default_root() -> Path:
    return cache_dir() / "asterisk-root"


def is_built(root: Path) -> bool:
    try:
        return (root / READY_MARK).is_file()
    except OSError:  # e.g. not allowed to look into it: not usable by us either
        return False


def build(root: Path | None = None, progress: Progress = _stderr) -> Path:
    """Build the sid root with Asterisk unless it is already there. Idempotent."""
    root = root or default_root()
    if is_built(root):
        progress(f"sandbox: Asterisk root ready at {root}")
        return root
    if os.geteuid() != 0:
        raise SandboxError(
            "building the Asterisk sandbox needs root (mmdebstrap, chroot): run it as root"
        )
    if shutil.which("mmdebstrap") is None:
        raise SandboxError("mmdebstrap is missing: apt-get install -y mmdebstrap")
    root.parent.mkdir(parents=True, exist_ok=True)
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    cmd = [
        "mmdebstrap",
        "--variant=apt",
        # The sid Release file served here carries a validity date that has passed.
        '--aptopt=Acquire::Check-Valid-Until "false"',
        f"--include={','.join(PACKAGES)}",
        "sid",
        str(partial),
    ]
    progress(f"sandbox: building the Debian sid root with Asterisk in {root} (about a minute)")
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    tail: list[str] = []
    for line in proc.stdout:
        line = line.rstrip()
        tail = [*tail[-19:], line]
        if line.startswith(("I:", "E:", "W:")):
            progress(f"sandbox: {line}")
    if proc.wait() != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise SandboxError(
            "mmdebstrap failed; its last lines:\n  "
            + "\n  ".join(tail)
            + "\nCheck that this machine reaches the Debian package mirror (apt-get update works)."
        )
    _hosts(partial)
    (partial / READY_MARK).write_text(f"{' '.join(PACKAGES)}\n", encoding="utf-8")
    shutil.rmtree(root, ignore_errors=True)
    partial.rename(root)
    progress(f"sandbox: built in {time.monotonic() - started:.0f} s")
    return root


def _hosts(root: Path) -> None:
    hostname = os.uname().nodename
    (root / "etc" / "hosts").write_text(
        f"127.0.0.1\tlocalhost {hostname}\n::1\tlocalhost ip6-localhost\n", encoding="utf-8"
    )


@dataclass(frozen=True, slots=True)
class Instance:
    """One Asterisk instance directory inside the root."""

    root: Path
    name: str

    @property
    def inner(self) -> Path:
        """The instance directory as Asterisk (inside the chroot) sees it."""
        return INSTANCES / self.name

    @property
    def host_dir(self) -> Path:
        return self.root / self.inner.relative_to("/")

    @property
    def etc(self) -> Path:
        return self.host_dir / "etc"

    @property
    def conf_inner(self) -> str:
        return str(self.inner / "etc" / "asterisk.conf")

    @property
    def pid_file(self) -> Path:
        return self.host_dir / "run" / "asterisk.pid"

    @classmethod
    def of(cls, deployment: Deployment) -> Instance:
        if deployment.kind != "sandbox" or deployment.sandbox_root is None:
            raise SandboxError("this state directory runs a host Asterisk, not the sandbox")
        return cls(deployment.sandbox_root, deployment.instance)


def _asterisk_ids(root: Path) -> tuple[int, int]:
    for line in (root / "etc" / "passwd").read_text(encoding="utf-8").splitlines():
        fields = line.split(":")
        if fields[0] == "asterisk":
            return int(fields[2]), int(fields[3])
    raise SandboxError(
        f"{root}: no asterisk user in the root; rebuild it with `pbx-ext sandbox build`"
    )


def _module_dir(root: Path) -> str:
    for line in (root / "etc" / "asterisk" / "asterisk.conf").read_text().splitlines():
        if line.startswith("astmoddir"):
            return line.split("=>", 1)[1].strip()
    return "/usr/lib/x86_64-linux-gnu/asterisk/modules"


def _asterisk_conf(inst: Instance) -> str:
    d = inst.inner
    directories = (
        ("astcachedir", f"{d}/cache"),
        ("astetcdir", f"{d}/etc"),
        ("astmoddir", _module_dir(inst.root)),
        ("astvarlibdir", "/var/lib/asterisk"),
        ("astdbdir", f"{d}/lib"),
        ("astkeydir", f"{d}/lib"),
        ("astdatadir", "/usr/share/asterisk"),
        ("astagidir", "/usr/share/asterisk/agi-bin"),
        ("astspooldir", f"{d}/spool"),
        ("astrundir", f"{d}/run"),
        ("astlogdir", f"{d}/log"),
        ("astsbindir", "/usr/sbin"),
    )
    opts = (("verbose", "1"), ("documentation_language", "en_US"), ("systemname", inst.name))
    return ConfFile(
        f"Sandbox instance {inst.name}, written by pbx-ext.",
        (Section("directories", directories, arrow=True), Section("options", opts)),
    ).render()


def prepare(inst: Instance, files: Mapping[str, str]) -> list[str]:
    """Create the instance directories and write the config; return the files changed."""
    if not is_built(inst.root):
        raise SandboxError(f"no Asterisk root at {inst.root}: run `pbx-ext sandbox build` first")
    uid, gid = _asterisk_ids(inst.root)
    fresh = not inst.etc.exists()
    for sub in ("etc", "run", "spool", "log", "lib", "lib/keys", "cache"):
        path = inst.host_dir / sub
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, uid, gid)
    if fresh:
        # Start from Debian's stock files for everything pbx-ext does not generate
        # (indications, musiconhold, voicemail, ...), as on an installed Asterisk.
        for stock in sorted((inst.root / "etc" / "asterisk").iterdir()):
            if stock.is_file() and stock.name not in files and stock.name not in SKIP_STOCK:
                shutil.copy2(stock, inst.etc / stock.name)
                os.chown(inst.etc / stock.name, uid, gid)
    write_atomic(inst.etc / "asterisk.conf", _asterisk_conf(inst), uid=uid, gid=gid)
    return write_tree(inst.etc, files, uid=uid, gid=gid)


def read_pid(inst: Instance) -> int | None:
    try:
        pid = int(inst.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def rx(inst: Instance, command: str, *, timeout: float = 15.0) -> str:
    """Run an Asterisk CLI command through the instance's control socket."""
    proc = subprocess.run(
        ["chroot", str(inst.root), "asterisk", "-C", inst.conf_inner, "-rx", command],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise SandboxError(
            f"asterisk -rx {command!r} failed: {(proc.stderr or proc.stdout).strip()}"
        )
    return proc.stdout


def start(deployment: Deployment, files: Mapping[str, str], progress: Progress = _stderr) -> int:
    """Write the config and start Asterisk in the background; return its pid once booted."""
    inst = Instance.of(deployment)
    if read_pid(inst) is not None:
        raise SandboxError(
            f"sandbox instance {inst.name!r} is already running; "
            "`pbx-ext sandbox stop` first, or `pbx-ext apply` to change its config"
        )
    if os.geteuid() != 0:
        raise SandboxError("starting the sandbox needs root (chroot): run it as root")
    prepare(inst, files)
    log = (inst.host_dir / "log" / "console.log").open("ab")
    with log:
        proc = subprocess.Popen(
            [
                "chroot",
                str(inst.root),
                "asterisk",
                "-C",
                inst.conf_inner,
                "-f",
                "-U",
                "asterisk",
                "-G",
                "asterisk",
                "-n",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C on `pbx-ext up` is ours to handle, not Asterisk's
        )
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise SandboxError(
                f"Asterisk exited at start (code {proc.returncode}); see console.log and "
                f"messages.log in {inst.host_dir / 'log'}"
            )
        try:
            rx(inst, "core waitfullybooted", timeout=20)
            break
        except (SandboxError, subprocess.TimeoutExpired):
            if time.monotonic() > deadline:
                _kill(proc.pid)
                raise SandboxError("Asterisk did not finish booting within 60 s") from None
            time.sleep(0.2)
    progress(
        f"sandbox: Asterisk {inst.name!r} running (pid {proc.pid}), SIP on "
        f"{deployment.sip_bind}:{deployment.ports.sip}, ARI on {deployment.ari_url}/ari"
    )
    return proc.pid


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def stop(deployment: Deployment, timeout: float = 15.0) -> bool:
    """Stop the instance; True if it was running. Leaves no process behind."""
    inst = Instance.of(deployment)
    pid = read_pid(inst)
    if pid is None:
        return False
    try:
        rx(inst, "core stop now", timeout=5)
    except (SandboxError, subprocess.TimeoutExpired):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        _reap(pid)
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    inst.pid_file.unlink(missing_ok=True)
    return True


def _reap(pid: int) -> None:
    # When this process started Asterisk, collect its exit status so it does not linger as
    # a zombie (which os.kill(pid, 0) would still see).
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
