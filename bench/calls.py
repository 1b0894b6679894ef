"""Call-setup benchmark: calls routed by the pbx-ext ARI app vs plain Dial() on the same Asterisk.

One run, one sandbox Asterisk, one sipp callee answering at once, one sipp caller making
calls held a few seconds (digest auth, like a phone). Two ways through the same Asterisk:

- ``plain``: the app is not connected, so Stasis() fails and the generated fallback context
  dials the callee with plain ``Dial()``;
- ``ari``: the app (``pbx-ext app``, its own process) routes every call over ARI.

For each, the call rate steps up until a step has a failed call or falls behind the rate
asked (achieved < 95% of it); the highest clean rate is reported, with p50/p95 of
INVITE→180 and INVITE→200 at a rate both handle (from the microsecond timestamps of sipp's
message trace, authenticated INVITE to response). The CPU time of every process (Asterisk,
the app, both sipp) is read for each step; at the highest rate both handle it gives the CPU
per call of each path, and the ratio an app costing no CPU at all would reach. The ratios
ARI/plain are what to read: these machines are shared and noisy, and absolute figures move
from run to run.

    make bench          # or: .venv/bin/python bench/calls.py [--max-rate 400] [--step-seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.functional.conftest import write_site
from tests.functional.harness import (
    App,
    Pbx,
    free_ports,
    phone_contact,
    register,
    wait_reachable,
)

HERE = Path(__file__).parent
RATES = (10, 20, 40, 60, 80, 100, 130, 160, 200, 250, 300, 350, 400)
LATENCY_RATE = 20  # calls/s at which both paths' setup latency is compared
HOLD_MS = 2000


@dataclass
class Step:
    rate: int
    calls: int
    ok: int
    failed: int
    seconds: float
    to_180: list[float]
    to_200: list[float]
    cpu: dict[str, float]  # process name → cores used during the step

    @property
    def achieved(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def clean(self) -> bool:
        """No failed call, and the calls went through at the rate asked: past that rate the
        setups queue up (sipp falls behind) and latency grows without bound."""
        return self.failed == 0 and self.achieved >= 0.95 * self.rate


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def setup_times(messages_log: Path) -> tuple[list[float], list[float]]:
    """INVITE→180 and INVITE→200 in ms per call, from sipp's -trace_msg log (µs stamps).

    Measured from the authenticated INVITE (CSeq 2) to the responses carrying that CSeq.
    """
    sent: dict[str, float] = {}
    to_180: list[float] = []
    to_200: list[float] = []
    stamp = 0.0
    lines = messages_log.read_text(errors="replace").splitlines()
    for i, line in enumerate(lines):
        if line.startswith("-----") and line.count(" ") >= 2:
            _day, clock = line.split()[-2:]
            h, m, sec = clock.split(":")
            stamp = (int(h) * 3600 + int(m) * 60 + float(sec)) * 1000
            continue
        if not (
            line.startswith("INVITE ")
            or line.startswith("SIP/2.0 18")
            or line.startswith("SIP/2.0 200")
        ):
            continue
        headers = {}
        for h_line in lines[i + 1 : i + 30]:
            if not h_line.strip():
                break
            name, _, value = h_line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("cseq") != "2 INVITE":
            continue
        call = headers.get("call-id", "")
        if line.startswith("INVITE "):
            sent[call] = stamp
        elif call in sent:
            (to_180 if line.startswith("SIP/2.0 180") else to_200).append(stamp - sent[call])
    return to_180, to_200


def traced(workdir: Path) -> tuple[list[float], list[float]]:
    (log,) = list(workdir.glob("*_messages.log"))
    return setup_times(log)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    """CPU time of this process's children that have ended (the caller sipp of a step)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def run_step(
    pbx: Pbx, rate: int, seconds: int, watched: dict[str, int], *, trace: bool = False
) -> Step:
    """One step at ``rate``; ``watched`` names the processes whose CPU is measured (the
    caller sipp's is added as ``sipp caller``)."""
    calls = rate * seconds
    cpu_before = {name: cpu_seconds(pid) for name, pid in watched.items()}
    children_before = children_cpu()
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    args = [
        "sipp", f"127.0.0.1:{pbx.sip_port}", "-sf", str(HERE / "scenarios" / "uac_load.xml"),
        "-i", "127.0.0.1", "-p", str(free_ports(1)[0]), "-mi", "127.0.0.1",
        "-s", "1002", "-au", "1001", "-ap", pbx.password("1001"), "-key", "user", "1001",
        "-r", str(rate), "-m", str(calls), "-l", str(rate * (HOLD_MS // 1000 + 3)),
        "-d", str(HOLD_MS), "-timeout", f"{seconds + 60}s", "-nostdin", "-aa",
        "-trace_stat", "-stf", "stat.csv", *(["-trace_msg"] if trace else []),
    ]  # fmt: skip
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=workdir, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    await proc.wait()
    wall = time.monotonic() - started
    cpu = {name: (cpu_seconds(pid) - cpu_before[name]) / wall for name, pid in watched.items()}
    cpu["sipp caller"] = (children_cpu() - children_before) / wall
    elapsed = wall - HOLD_MS / 1000  # the last calls' hold is not setup
    ok = failed = 0
    with (workdir / "stat.csv").open() as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    if rows:
        ok = int(rows[-1]["SuccessfulCall(C)"])
        failed = int(rows[-1]["FailedCall(C)"])
    to_180, to_200 = (await asyncio.to_thread(traced, workdir)) if trace else ([], [])
    return Step(rate, calls, ok, failed + (calls - ok - failed), elapsed, to_180, to_200, cpu)


async def sweep(
    pbx: Pbx, label: str, max_rate: int, seconds: int, watched: dict[str, int]
) -> list[Step]:
    steps: list[Step] = []
    for rate in (r for r in RATES if r <= max_rate):
        step = await run_step(pbx, rate, seconds, watched, trace=rate == LATENCY_RATE)
        steps.append(step)
        latency = (
            f", INVITE→200 p50 {pct(step.to_200, 0.5):.1f} p95 {pct(step.to_200, 0.95):.1f} ms"
            if step.to_200
            else ""
        )
        cpu = ", ".join(f"{name} {share:.0%}" for name, share in step.cpu.items())
        print(
            f"  {label:5} {rate:4} calls/s asked: {step.ok:5} ok, {step.failed:4} failed, "
            f"{step.achieved:6.1f} calls/s achieved (CPU: {cpu}){latency}",
            flush=True,
        )
        if not step.clean:
            break
        await asyncio.sleep(HOLD_MS / 1000 + 1)  # let the last calls end before the next step
    return steps


def best(steps: list[Step]) -> Step | None:
    clean = [s for s in steps if s.clean]
    return max(clean, key=lambda s: s.achieved) if clean else None


def at(steps: list[Step], rate: int) -> Step | None:
    return next((s for s in steps if s.rate == rate and s.clean), None)


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-rate", type=int, default=400)
    ap.add_argument("--step-seconds", type=int, default=5)
    opts = ap.parse_args()
    if os.geteuid() != 0:
        print("the benchmark runs the sandbox Asterisk: run it as root", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="pbx-bench-"))
    site = write_site(tmp, free_ports(1)[0])
    print(f"bench: starting a sandbox Asterisk ({os.cpu_count()} cores here)", flush=True)
    # Two RTP ports per leg, two legs per call, calls held HOLD_MS: room for 400 calls/s.
    pbx = Pbx.start(site, tmp, name=f"bench{os.getpid()}", rtp_ports=12000)
    app = App(pbx, verbose=False)
    callee = None
    try:
        port = free_ports(1)[0]
        await register(pbx, "1002", pbx.password("1002"), port)
        callee = await asyncio.create_subprocess_exec(
            "sipp", f"127.0.0.1:{pbx.sip_port}", "-sf", str(HERE / "scenarios" / "uas_load.xml"),
            "-i", "127.0.0.1", "-p", str(port), "-mi", "127.0.0.1", "-nostdin", "-aa",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await wait_reachable(pbx, "1002", phone_contact("1002", port))
        watched = {"asterisk": int(pbx.instance.pid_file.read_text()), "sipp callee": callee.pid}
        print(f"bench: plain Dial() (app not connected), {HOLD_MS} ms calls", flush=True)
        plain = await sweep(pbx, "plain", opts.max_rate, opts.step_seconds, watched)
        app.start()
        await app.wait_connected()
        assert app.proc is not None
        print("bench: routed by the pbx-ext ARI app", flush=True)
        ari = await sweep(
            pbx, "ari", opts.max_rate, opts.step_seconds, {**watched, "app": app.proc.pid}
        )
    finally:
        app.stop()
        if callee is not None and callee.returncode is None:
            callee.kill()
            await callee.wait()
        pbx.remove()
    report(plain, ari)
    return 0


def report(plain: list[Step], ari: list[Step]) -> None:
    bp, ba = best(plain), best(ari)
    print("\nresult")
    if bp is None or ba is None:
        print("  a path failed even at the lowest rate; see the lines above")
        return
    print(f"  highest clean rate: plain {bp.achieved:.1f} calls/s (asked {bp.rate}), "
          f"ARI {ba.achieved:.1f} calls/s (asked {ba.rate}); ratio ARI/plain "
          f"{ba.achieved / bp.achieved:.2f} (target >= 0.80)")  # fmt: skip
    common = max((s.rate for s in ari if s.clean and at(plain, s.rate)), default=None)
    if common is not None:
        sp, sa = at(plain, common), at(ari, common)
        assert sp is not None
        assert sa is not None
        ms_p = {name: 1000 * share / sp.achieved for name, share in sp.cpu.items()}
        ms_a = {name: 1000 * share / sa.achieved for name, share in sa.cpu.items()}
        print(f"  CPU per call at {common} calls/s, in ms (plain -> ARI):")
        for name in ms_a:
            print(f"    {name:12} {ms_p.get(name, 0.0):5.1f} -> {ms_a[name]:5.1f}")
        total_p, total_a = sum(ms_p.values()), sum(ms_a.values())
        print(
            f"    {'all':12} {total_p:5.1f} -> {total_a:5.1f}; the processes share the CPU, so "
            f"the rate ratio follows {total_p / total_a:.2f}, and with an app costing nothing "
            f"it would be {total_p / (total_a - ms_a.get('app', 0.0)):.2f} (Asterisk's own "
            "ARI work)"
        )
    lp, la = at(plain, LATENCY_RATE), at(ari, LATENCY_RATE)
    if lp and la:
        for name, p, a in (
            ("INVITE->180", lp.to_180, la.to_180),
            ("INVITE->200", lp.to_200, la.to_200),
        ):
            print(
                f"  {name} at {LATENCY_RATE} calls/s: plain p50 {pct(p, 0.5):.1f} / p95 "
                f"{pct(p, 0.95):.1f} ms, ARI p50 {pct(a, 0.5):.1f} / p95 {pct(a, 0.95):.1f} ms; "
                f"added p95 {pct(a, 0.95) - pct(p, 0.95):+.1f} ms (target <= +10 ms)"
            )


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
