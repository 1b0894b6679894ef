"""Generated credentials, kept in a 0600 JSON file in the state directory.

Secrets never live in the site YAML. SIP passwords for users, and the ARI and AMI
credentials, are generated the first time they are needed and then stay stable, so phones
keep registering across ``apply`` runs. The file is created with mode 0600 from the start
(never chmod-ed after the fact) and rewritten atomically under an exclusive lock, so two
``pbx-ext`` commands running at once cannot lose each other's secrets.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pbx_ext.errors import SecretsError

SECRETS_FILE = "secrets.json"


def _new_password() -> str:
    # 24 URL-safe characters, ~143 bits: plenty for SIP digest, and safe in config files
    # (no ';', quotes or spaces).
    return secrets.token_urlsafe(18)


@dataclass(frozen=True, slots=True)
class Credentials:
    """Everything generation needs, read once: no file access after this point."""

    sip: dict[str, str]
    ari_user: str
    ari_password: str
    ami_user: str
    ami_password: str

    def sip_password(self, extension: str) -> str:
        return self.sip[extension]


class SecretStore:
    """The secrets file of one state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / SECRETS_FILE

    def ensure(self, extensions: list[str]) -> Credentials:
        """Return credentials for these extensions, generating the missing ones.

        Passwords of extensions that left the site stay in the file: re-adding a user
        brings the same password back, so a desk phone left configured keeps working.
        """
        with self._locked() as data:
            sip = data.setdefault("sip", {})
            for ext in extensions:
                if not isinstance(sip.get(ext), str):
                    sip[ext] = _new_password()
            ari = data.setdefault("ari", {"user": "pbx-ext", "password": _new_password()})
            ami = data.setdefault("ami", {"user": "pbx-ext", "password": _new_password()})
            return Credentials(
                sip={ext: sip[ext] for ext in extensions},
                ari_user=ari["user"],
                ari_password=ari["password"],
                ami_user=ami["user"],
                ami_password=ami["password"],
            )

    @contextmanager
    def _locked(self) -> Iterator[dict[str, dict[str, str]]]:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock_path = self.path.with_suffix(".lock")
        try:
            lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise SecretsError(f"{lock_path}: cannot open the secrets lock: {exc}") from exc
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            data = self._read()
            before = json.dumps(data, sort_keys=True)
            yield data
            if json.dumps(data, sort_keys=True) != before:
                self._write(data)
        finally:
            os.close(lock_fd)

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {}
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SecretsError(
                f"{self.path}: readable by others (mode {stat.S_IMODE(st.st_mode):o}); "
                f"run: chmod 600 {self.path}"
            )
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SecretsError(
                f"{self.path}: cannot read the secrets file ({exc}); restore it from backup "
                "or move it away to generate new credentials (phones must then be re-provisioned)"
            ) from exc
        if not isinstance(data, dict):
            raise SecretsError(f"{self.path}: not a JSON object; restore it from backup")
        return data

    def _write(self, data: dict[str, dict[str, str]]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=2, sort_keys=True)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)
