"""Where and how one Asterisk runs: ports, config directory, reload command.

The site YAML describes the office; this describes one installation of it. It is written to
``deployment.json`` in the state directory by ``pbx-ext up`` / ``sandbox start`` and read back
by ``plan``, ``apply``, ``credentials`` and the ARI app, so every command talks to the same
Asterisk without repeating options.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pbx_ext.conffile import write_atomic
from pbx_ext.errors import PbxError

DEPLOYMENT_FILE = "deployment.json"


def default_state_dir() -> Path:
    """``$PBX_EXT_STATE_DIR``, else /var/lib/pbx-ext for root, else ~/.local/state/pbx-ext."""
    env = os.environ.get("PBX_EXT_STATE_DIR")
    if env:
        return Path(env)
    if os.geteuid() == 0:
        return Path("/var/lib/pbx-ext")
    return Path.home() / ".local" / "state" / "pbx-ext"


@dataclass(frozen=True, slots=True)
class Ports:
    sip: int = 5060  # UDP and TCP; TLS on sip + 1
    http: int = 8088  # Asterisk's HTTP server (ARI), loopback only
    ami: int = 5038  # AMI, loopback only
    rtp_start: int = 10000
    rtp_end: int = 20000

    def check(self) -> None:
        for name in ("sip", "http", "ami", "rtp_start", "rtp_end"):
            value = getattr(self, name)
            if not 1 <= value <= 65535:
                raise PbxError(f"port {name}={value} is out of range 1-65535")
        if self.rtp_end - self.rtp_start < 2:
            raise PbxError(f"RTP range {self.rtp_start}-{self.rtp_end} is too small")


@dataclass(frozen=True, slots=True)
class Deployment:
    """One Asterisk that pbx-ext configures.

    ``kind="sandbox"``: Asterisk in the Debian sid root built by ``pbx-ext sandbox build``,
    running an instance directory inside it. ``kind="host"``: an Asterisk installed on this
    machine whose configuration lives in ``config_dir`` (e.g. /etc/asterisk).
    """

    state_dir: Path
    config_dir: Path
    kind: Literal["sandbox", "host"] = "sandbox"
    app: str = "pbx-ext"
    sip_bind: str = "0.0.0.0"
    ports: Ports = field(default_factory=Ports)
    sandbox_root: Path | None = None
    instance: str = "default"

    @property
    def ari_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.http}"

    def save(self) -> None:
        data: dict[str, Any] = asdict(self)
        for key in ("state_dir", "config_dir", "sandbox_root"):
            data[key] = None if data[key] is None else str(data[key])
        write_atomic(
            self.state_dir / DEPLOYMENT_FILE,
            json.dumps(data, indent=2, sort_keys=True) + "\n",
            mode=0o600,
        )

    @classmethod
    def load(cls, state_dir: Path) -> Deployment:
        path = state_dir / DEPLOYMENT_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            ports = Ports(**data.pop("ports"))
            root = data.pop("sandbox_root")
            return cls(
                **{
                    **data,
                    "state_dir": Path(data["state_dir"]),
                    "config_dir": Path(data["config_dir"]),
                    "sandbox_root": None if root is None else Path(root),
                    "ports": ports,
                }
            )
        except FileNotFoundError:
            raise PbxError(
                f"no Asterisk is set up for state directory {state_dir}: "
                "start one with `pbx-ext up SITE` or `pbx-ext sandbox start SITE` "
                "(or pass --state-dir)"
            ) from None
        except (ValueError, TypeError, KeyError) as exc:
            raise PbxError(f"{path}: unreadable ({exc}); remove it and start again") from exc
