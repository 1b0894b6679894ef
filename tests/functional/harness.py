"""Real parts for functional tests: a sandbox Asterisk, sipp phones, RTP counters.

Nothing here imitates Asterisk. ``Pbx`` starts a real sandbox instance through the
``pbx-ext`` command on ports nobody else uses; ``sipp()`` runs real sipp phones and returns
what they logged; ``RtpPeer`` is a UDP socket standing where a phone's audio would arrive,
counting the RTP packets Asterisk sends it (and able to send some back).
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from pbx_ext import sandbox
from pbx_ext.deployment import Deployment

HERE = Path(__file__).parent
SCENARIOS = HERE / "scenarios"
SITES = HERE / "sites"
G711A_PCAP = "/usr/share/sip-tester/g711a.pcap"


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free for UDP and TCP right now on 127.0.0.1."""
    ports: list[int] = []
    holders: list[socket.socket] = []
    while len(ports) < count:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        port = udp.getsockname()[1]
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.bind(("127.0.0.1", port))
        except OSError:
            udp.close()
            tcp.close()
            continue
        holders += [udp, tcp]
        ports.append(port)
    for s in holders:
        s.close()
    return ports


def pbx_ext(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real ``pbx-ext`` command (this checkout's code)."""
    return subprocess.run(
        [sys.executable, "-m", "pbx_ext.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


@dataclass
class Pbx:
    """A running sandbox Asterisk on free ports, with its own state dir and instance."""

    site: Path
    state_dir: Path
    name: str
    sip_port: int
    http_port: int
    ami_port: int
    rtp: tuple[int, int]

    @classmethod
    def start(cls, site: Path, tmp: Path, name: str) -> Pbx:
        if not sandbox.is_built(sandbox.default_root()):
            raise RuntimeError(
                "the Asterisk sandbox is not built: run `make sandbox` (as root) before the "
                "functional tests"
            )
        sip, http, ami = free_ports(3)
        rtp_start = 20000 + (os.getpid() * 97 + hash(name)) % 20000 // 2 * 2
        pbx = cls(site, tmp / "state", name, sip, http, ami, (rtp_start, rtp_start + 400))
        proc = pbx_ext(
            "sandbox",
            "start",
            str(site),
            "--state-dir",
            str(pbx.state_dir),
            "--name",
            name,
            "--sip-bind",
            "127.0.0.1",
            "--sip-port",
            str(sip),
            "--http-port",
            str(http),
            "--ami-port",
            str(ami),
            "--rtp-start",
            str(rtp_start),
            "--rtp-end",
            str(rtp_start + 400),
        )
        if proc.returncode != 0:
            raise RuntimeError(f"sandbox start failed:\n{proc.stdout}\n{proc.stderr}")
        return pbx

    @property
    def deployment(self) -> Deployment:
        return Deployment.load(self.state_dir)

    @property
    def instance(self) -> sandbox.Instance:
        return sandbox.Instance.of(self.deployment)

    def rx(self, command: str) -> str:
        return sandbox.rx(self.instance, command)

    def stop(self) -> None:
        pbx_ext("sandbox", "stop", "--state-dir", str(self.state_dir))

    def password(self, extension: str) -> str:
        proc = pbx_ext("credentials", str(self.site), extension, "--state-dir", str(self.state_dir))
        for line in proc.stdout.splitlines():
            if line.startswith("Password:"):
                return line.split(":", 1)[1].strip()
        raise AssertionError(f"no password in: {proc.stdout} {proc.stderr}")

    def ari_auth(self) -> tuple[str, str]:
        import json

        data = json.loads((self.state_dir / "secrets.json").read_text())
        return data["ari"]["user"], data["ari"]["password"]


@dataclass
class SippResult:
    returncode: int
    log: list[str]
    errors: str

    @property
    def final(self) -> str | None:
        """The final response code the phone got (``"200"``, ``"486"``...), if any."""
        finals = [line.split()[1] for line in self.log if line.startswith("FINAL ")]
        return finals[-1] if finals else None


async def sipp(
    scenario: str,
    pbx: Pbx,
    *,
    local_port: int,
    user: str,
    password: str | None = None,
    service: str | None = None,
    keys: dict[str, str] | None = None,
    duration_ms: int = 1000,
    calls: int = 1,
    timeout_s: int = 30,
    extra: Sequence[str] = (),
    target_port: int | None = None,
) -> SippResult:
    """Run one real sipp phone to completion and collect its log lines."""
    workdir = Path(tempfile.mkdtemp(prefix="sipp-"))
    log_file = workdir / "sipp.log"
    err_file = workdir / "errors.log"
    args = [
        "sipp",
        f"127.0.0.1:{target_port or pbx.sip_port}",
        "-sf",
        str(SCENARIOS / scenario),
        "-i",
        "127.0.0.1",
        "-p",
        str(local_port),
        "-mi",
        "127.0.0.1",
        "-m",
        str(calls),
        "-d",
        str(duration_ms),
        "-timeout",
        f"{timeout_s}s",
        "-timeout_error",
        "-nostdin",
        "-trace_logs",
        "-log_file",
        str(log_file),
        "-trace_err",
        "-error_file",
        str(err_file),
        "-key",
        "user",
        user,
        "-s",
        service or user,
    ]
    if password is not None:
        args += ["-au", user, "-ap", password]
    for key, value in (keys or {}).items():
        args += ["-key", key, value]
    args += list(extra)
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=workdir, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), timeout=timeout_s + 15)
    log = log_file.read_text().splitlines() if log_file.exists() else []
    errors = (err_file.read_text() if err_file.exists() else "") + stderr.decode(errors="replace")
    return SippResult(proc.returncode or 0, [line.strip() for line in log if line.strip()], errors)


async def register(
    pbx: Pbx, user: str, password: str, port: int, expect: str = "200", expires: int = 3600
) -> SippResult:
    """Register ``user``'s phone at 127.0.0.1:``port`` (``expires=0``: unregister it)."""
    result = await sipp(
        "register.xml",
        pbx,
        local_port=port,
        user=user,
        password=password,
        keys={"expires": str(expires)},
        duration_ms=800,  # stay to answer the qualify OPTIONS (-aa)
        extra=["-aa"],
    )
    assert f"FINAL {expect}" in result.log, (result.log, result.errors)
    return result


@dataclass
class RtpPeer(asyncio.DatagramProtocol):
    """Where a phone's audio arrives: counts RTP packets per payload type."""

    received: int = 0
    payload_types: dict[int, int] = field(default_factory=dict)
    senders: set[tuple[str, int]] = field(default_factory=set)
    transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) >= 12 and data[0] >> 6 == 2:  # RTP version 2 (RFC 3550 §5.1)
            self.received += 1
            pt = data[1] & 0x7F
            self.payload_types[pt] = self.payload_types.get(pt, 0) + 1
            self.senders.add(addr)

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def send_pcma(self, addr: tuple[str, int], count: int, seq0: int = 0) -> None:
        """Send ``count`` 20 ms PCMA packets (silence) to ``addr`` at once."""
        assert self.transport is not None
        for i in range(count):
            header = struct.pack("!BBHII", 0x80, 8, (seq0 + i) & 0xFFFF, 160 * i, 0x1234ABCD)
            self.transport.sendto(header + b"\xd5" * 160, addr)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def rtp_peer() -> RtpPeer:
    loop = asyncio.get_running_loop()
    _, peer = await loop.create_datagram_endpoint(RtpPeer, local_addr=("127.0.0.1", 0))
    return peer
