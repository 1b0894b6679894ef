"""Real parts for functional tests: a sandbox Asterisk, sipp phones, RTP counters.

Nothing here imitates Asterisk. ``Pbx`` starts a real sandbox instance through the
``pbx-ext`` command on ports nobody else uses; ``sipp()`` runs real sipp phones and returns
what they logged; ``RtpPeer`` is a UDP socket standing where a phone's audio would arrive,
counting the RTP packets Asterisk sends it (and able to send some back).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import aiohttp

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
    def start(cls, site: Path, tmp: Path, name: str, rtp_ports: int = 400) -> Pbx:
        """``rtp_ports``: Asterisk uses two (RTP, RTCP) per call leg."""
        if not sandbox.is_built(sandbox.default_root()):
            raise RuntimeError(
                "the Asterisk sandbox is not built: run `make sandbox` (as root) before the "
                "functional tests"
            )
        sip, http, ami = free_ports(3)
        rtp_start = 10000 + (os.getpid() * 97 + hash(name)) % 20000 // 2 * 2
        pbx = cls(site, tmp / "state", name, sip, http, ami, (rtp_start, rtp_start + rtp_ports))
        pbx._start()
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

    def remove(self) -> None:
        """Stop it and delete its instance directory from the shared root, keeping its logs
        next to the state directory (pytest keeps the last runs' temporary directories)."""
        self.stop()
        host_dir = self.instance.host_dir
        shutil.copytree(
            host_dir / "log", self.state_dir.parent / "asterisk-log", dirs_exist_ok=True
        )
        shutil.rmtree(host_dir)

    def _start(self) -> None:
        proc = pbx_ext(
            "sandbox", "start", str(self.site), "--state-dir", str(self.state_dir),
            "--name", self.name, "--sip-bind", "127.0.0.1", "--sip-port", str(self.sip_port),
            "--http-port", str(self.http_port), "--ami-port", str(self.ami_port),
            "--rtp-start", str(self.rtp[0]), "--rtp-end", str(self.rtp[1]),
        )  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(f"sandbox start failed:\n{proc.stdout}\n{proc.stderr}")

    def restart(self) -> None:
        """Stop Asterisk and start it again on the same ports, state and site."""
        self.stop()
        self._start()

    def password(self, extension: str) -> str:
        proc = pbx_ext("credentials", extension, "--state-dir", str(self.state_dir))
        for line in proc.stdout.splitlines():
            if line.startswith("Password:"):
                return line.split(":", 1)[1].strip()
        raise AssertionError(f"no password in: {proc.stdout} {proc.stderr}")

    def ari_auth(self) -> tuple[str, str]:
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
        line = self.value("FINAL")  # "200", or "SIP/2.0 486" as the scenario's ereg caught it
        return None if line is None else line.split()[-1]

    def value(self, tag: str) -> str | None:
        """The text after the last ``TAG `` line the scenario logged."""
        found = [line.split(" ", 1)[1] for line in self.log if line.startswith(tag + " ")]
        return found[-1] if found else None


class SippRun:
    """One running sipp phone; its log can be read while it runs."""

    def __init__(self, proc: asyncio.subprocess.Process, workdir: Path, timeout_s: int) -> None:
        self.proc = proc
        self.workdir = workdir
        self.timeout_s = timeout_s

    def log(self) -> list[str]:
        path = self.workdir / "sipp.log"
        text = path.read_text() if path.exists() else ""
        return [line.strip() for line in text.splitlines() if line.strip()]

    async def wait_log(self, tag: str, within: float = 15.0) -> str:
        """Wait until the scenario logged a line ``TAG ...``; return the rest of it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            for line in self.log():
                if line == tag or line.startswith(tag + " "):
                    return line[len(tag) + 1 :]
            if self.proc.returncode is not None:
                break
            await asyncio.sleep(0.05)
        raise AssertionError(f"sipp never logged {tag!r}; log: {self.log()}; {self.errors()}")

    def errors(self) -> str:
        path = self.workdir / "errors.log"
        return path.read_text() if path.exists() else ""

    async def wait(self) -> SippResult:
        _, stderr = await asyncio.wait_for(self.proc.communicate(), timeout=self.timeout_s + 15)
        return SippResult(
            self.proc.returncode or 0, self.log(), self.errors() + stderr.decode(errors="replace")
        )

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()

    async def stop(self) -> None:
        """Kill it and reap it (no process or pipe left for the garbage collector)."""
        self.kill()
        await self.proc.communicate()


async def start_sipp(
    scenario: str,
    pbx: Pbx,
    *,
    local_port: int,
    user: str,
    password: str | None = None,
    service: str | None = None,
    keys: dict[str, str] | None = None,
    duration_ms: int = 1000,
    timeout_s: int = 30,
    extra: Sequence[str] = (),
    local_ip: str = "127.0.0.1",
    calls: int | None = 1,
) -> SippRun:
    """Start one real sipp phone at ``local_ip:local_port`` toward Asterisk; it makes
    ``calls`` calls (``None``: a UAS that stops by itself after its one real call)."""
    workdir = Path(tempfile.mkdtemp(prefix="sipp-"))
    args = [
        "sipp", f"127.0.0.1:{pbx.sip_port}",
        "-sf", str(SCENARIOS / scenario),
        "-i", local_ip, "-p", str(local_port), "-mi", local_ip,
        *(("-m", str(calls)) if calls is not None else ()),
        "-d", str(duration_ms), "-timeout", f"{timeout_s}s",
        "-timeout_error", "-nostdin",
        "-aa",  # answer in-call UPDATE/INFO/NOTIFY with 200, as phones do
        "-trace_logs", "-log_file", str(workdir / "sipp.log"),
        "-trace_err", "-error_file", str(workdir / "errors.log"),
        "-key", "user", user, "-s", service or user,
    ]  # fmt: skip
    if password is not None:
        args += ["-au", user, "-ap", password]
    for key, value in (keys or {}).items():
        args += ["-key", key, value]
    args += list(extra)
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=workdir, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    return SippRun(proc, workdir, timeout_s)


async def sipp(scenario: str, pbx: Pbx, **kwargs: Any) -> SippResult:
    """Run one real sipp phone to completion and collect its log lines."""
    return await (await start_sipp(scenario, pbx, **kwargs)).wait()


QUALIFY_TIMEOUT = 3.0  # pjsip's qualify_timeout default, in seconds


async def wait_reachable(pbx: Pbx, aor: str, contact: str, *, settle: bool = False) -> None:
    """Have Asterisk qualify ``aor`` now and wait until its ``contact`` answered.

    Asterisk sends calls only to contacts whose last OPTIONS was answered. A test phone
    starts listening just before its call, so the test asks for the qualify the periodic
    one would do later. ``contact`` as ``pjsip show contacts`` names it
    (``1002/sip:1002@127.0.0.1:5070``). One qualify at a time: an unanswered one times out
    3 s later and would mark the contact unavailable again after a later one succeeded.

    ``settle`` covers a periodic qualify Asterisk sent before the phone listened: a trunk's
    contact stays configured between tests, and an OPTIONS sent to it while no test phone
    stood there times out up to 3 s after the phone came up, marking the contact unavailable
    under the next call. With ``settle`` the contact must still be reachable once that time
    has passed. (A phone's contact is new with each registration: no such OPTIONS.)
    """
    ip, port = contact.rsplit("@", 1)[-1].split("sip:")[-1].rsplit(":", 1)
    await _wait_listening(ip, int(port))
    loop = asyncio.get_running_loop()
    settled = loop.time() + (QUALIFY_TIMEOUT + 0.5 if settle else 0.0)
    for _ in range(3):
        pbx.rx(f"pjsip qualify {aor}")
        deadline = loop.time() + QUALIFY_TIMEOUT + 1
        while loop.time() < deadline:
            await asyncio.sleep(0.1)
            if not _available(pbx, contact):
                continue
            if loop.time() >= settled:
                return
            await asyncio.sleep(settled - loop.time())
            if _available(pbx, contact):
                return
            break  # an older OPTIONS timed out meanwhile: qualify again
    raise AssertionError(f"{contact} never answered a qualify: {pbx.rx('pjsip show contacts')}")


def _available(pbx: Pbx, contact: str) -> bool:
    return any(
        contact in line and " Avail " in line for line in pbx.rx("pjsip show contacts").splitlines()
    )


async def _wait_listening(ip: str, port: int) -> None:
    """Until something has bound UDP ``ip:port`` (the sipp phone is up)."""
    for _ in range(100):
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.bind((ip, port))
        except OSError:
            return
        finally:
            probe.close()
        await asyncio.sleep(0.05)
    raise AssertionError(f"nothing listens on {ip}:{port}")


def phone_contact(user: str, port: int) -> str:
    return f"{user}/sip:{user}@127.0.0.1:{port}"


def trunk_contact(ip: str, port: int) -> str:
    return f"trunk-provider/sip:{ip}:{port}"


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
        duration_ms=500,
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

    async def play(self, addr: tuple[str, int], seconds: float) -> int:
        """Send the RTP packets of sipp's g711a.pcap to ``addr``, paced at 20 ms."""
        assert self.transport is not None
        sent = 0
        packets = rtp_from_pcap(G711A_PCAP)
        ptime = (len(packets[0]) - 12) / 8000  # G.711: one byte per sample at 8 kHz
        for packet in packets[: int(seconds / ptime)]:
            self.transport.sendto(packet, addr)
            sent += 1
            await asyncio.sleep(ptime)
        return sent

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def rtp_from_pcap(path: str) -> list[bytes]:
    """The UDP payloads (RTP packets) of a classic pcap file of Ethernet/IPv4/UDP frames."""
    data = Path(path).read_bytes()
    link = struct.unpack("<I", data[20:24])[0]
    offset, packets = 24, []
    while offset + 16 <= len(data):
        incl = struct.unpack("<I", data[offset + 8 : offset + 12])[0]
        frame = data[offset + 16 : offset + 16 + incl]
        offset += 16 + incl
        ip = frame[14:] if link == 1 else frame[16:]  # Ethernet, else Linux cooked capture
        ihl = (ip[0] & 0x0F) * 4
        if ip[9] == 17:  # UDP
            packets.append(ip[ihl + 8 :])
    return packets


async def rtp_peer(ip: str = "127.0.0.1") -> RtpPeer:
    loop = asyncio.get_running_loop()
    _, peer = await loop.create_datagram_endpoint(RtpPeer, local_addr=(ip, 0))
    return peer


@dataclass
class CallOutcome:
    caller: SippResult
    callee: SippResult
    caller_heard: RtpPeer  # the RTP that reached the caller
    callee_heard: RtpPeer  # the RTP that reached the callee
    caller_sent: int
    callee_sent: int


async def _talk(run: SippRun, peer: RtpPeer, after: str, seconds: float) -> int:
    """Once the phone logged ``after``, send the capture to Asterisk's media port for it."""
    try:
        port = int((await run.wait_log("MEDIA", within=30)).split()[-1])  # "m=audio N"
        await run.wait_log(after, within=30)
    except AssertionError:
        return 0  # never answered: the test's assertions on the call say why
    return await peer.play(("127.0.0.1", port), seconds)


async def two_party_call(
    pbx: Pbx,
    caller: str,
    dialed: str,
    *,
    hold_ms: int = 3000,
    ring_ms: int = 300,
    callee_user: str | None = None,
    callee_scenario: str = "uas_answer.xml",
    callee_ip: str = "127.0.0.1",
    callee_port: int | None = None,
    caller_ip: str = "127.0.0.1",
    caller_password: str | None = None,
) -> CallOutcome:
    """``caller`` dials ``dialed``; a sipp phone answers as ``callee_user`` (registered first,
    then unregistered) or, with ``callee_port`` set, as the provider behind the trunk. Both
    sides send the G.711 capture once answered and count what reaches them."""
    ports = free_ports(2)
    callee_port = callee_port or ports[0]
    caller_heard, callee_heard = await rtp_peer(caller_ip), await rtp_peer(callee_ip)
    try:
        if callee_user is not None:
            await register(pbx, callee_user, pbx.password(callee_user), callee_port)
        uas = await start_sipp(
            callee_scenario, pbx, local_port=callee_port, local_ip=callee_ip,
            user=callee_user or "provider", keys={"rtp_port": str(callee_heard.port)},
            duration_ms=ring_ms, calls=None, timeout_s=hold_ms // 1000 + 40,
        )  # fmt: skip
        if callee_user is not None:
            await wait_reachable(pbx, callee_user, phone_contact(callee_user, callee_port))
        else:
            contact = trunk_contact(callee_ip, callee_port)
            await wait_reachable(pbx, "trunk-provider", contact, settle=True)
        if caller_password is None and caller_ip == "127.0.0.1":
            caller_password = pbx.password(caller)
        uac = await start_sipp(
            "uac_call.xml", pbx, local_port=ports[1], local_ip=caller_ip, user=caller,
            password=caller_password, service=dialed, keys={"rtp_port": str(caller_heard.port)},
            duration_ms=hold_ms, timeout_s=hold_ms // 1000 + 40,
        )  # fmt: skip
        talk = hold_ms / 1000 - 0.5
        callee_talk = asyncio.create_task(_talk(uas, callee_heard, "ANSWERED", talk))
        caller_sent = await _talk(uac, caller_heard, "FINAL", talk)
        caller_result = await uac.wait()
        if caller_result.final != "200":
            callee_talk.cancel()
            uas.kill()
        (callee_sent,) = await asyncio.gather(callee_talk, return_exceptions=True)
        callee_result = await uas.wait()
        if callee_user is not None:
            await register(pbx, callee_user, pbx.password(callee_user), callee_port, expires=0)
        return CallOutcome(
            caller_result,
            callee_result,
            caller_heard,
            callee_heard,
            caller_sent,
            callee_sent if isinstance(callee_sent, int) else 0,
        )
    finally:
        caller_heard.close()
        callee_heard.close()


class App:
    """The real call-control app (``pbx-ext app``) as its own process, like in production."""

    def __init__(self, pbx: Pbx, *, verbose: bool = True) -> None:
        self.pbx = pbx
        self.verbose = verbose
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = pbx.state_dir / "app.log"

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pbx_ext.cli",
                "app",
                "--state-dir",
                str(self.pbx.state_dir),
                *(["-v"] if self.verbose else []),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    async def wait_connected(self, within: float = 20) -> None:
        """Until Asterisk lists the Stasis application (its websocket is connected)."""
        user, password = self.pbx.ari_auth()
        url = f"http://127.0.0.1:{self.pbx.http_port}/ari/applications/{self.pbx.deployment.app}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        async with aiohttp.ClientSession() as http:
            while loop.time() < deadline:
                assert self.proc is not None
                assert self.proc.poll() is None, f"the app exited; its log:\n{self.log()}"
                try:
                    async with http.get(url, headers=basic_auth(user, password)) as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"the app never connected; its log:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)


def basic_auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def history(pbx: Pbx) -> list[dict[str, Any]]:
    """The call history as ``pbx-ext calls --json`` prints it, newest first."""
    proc = pbx_ext("calls", "--json", "--state-dir", str(pbx.state_dir))
    assert proc.returncode == 0, proc.stderr
    return list(json.loads(proc.stdout))
