"""The ``pbx-ext`` command. Every error is a message and an exit code, never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pbx_ext import pipeline, sandbox
from pbx_ext.app.runner import HISTORY_DB, run_app
from pbx_ext.conffile import write_tree
from pbx_ext.deployment import Deployment, Ports, default_state_dir
from pbx_ext.errors import AsteriskError, PbxError, SiteError
from pbx_ext.history import CallHistory, format_calls, parse_since
from pbx_ext.secrets import SecretStore
from pbx_ext.site import load_site

EXIT_INVALID = 1  # the site file is invalid
EXIT_ERROR = 2  # anything else went wrong


def _state_dir(args: argparse.Namespace) -> Path:
    return Path(args.state_dir) if args.state_dir else default_state_dir()


def _ports(args: argparse.Namespace) -> Ports:
    ports = Ports(
        sip=args.sip_port,
        http=args.http_port,
        ami=args.ami_port,
        rtp_start=args.rtp_start,
        rtp_end=args.rtp_end,
    )
    ports.check()
    return ports


def _deployment_for(args: argparse.Namespace) -> Deployment:
    """The saved deployment of the state dir, or the one the options describe."""
    try:
        return Deployment.load(_state_dir(args))
    except PbxError:
        return _new_deployment(args)


def _new_deployment(args: argparse.Namespace) -> Deployment:
    state_dir = _state_dir(args)
    if getattr(args, "host_config_dir", None):
        return Deployment(
            state_dir=state_dir,
            config_dir=Path(args.host_config_dir),
            kind="host",
            ports=_ports(args),
            app=args.app,
        )
    root = Path(args.root) if args.root else sandbox.default_root()
    inst = sandbox.Instance(root, args.name)
    return Deployment(
        state_dir=state_dir,
        config_dir=inst.etc,
        kind="sandbox",
        sandbox_root=root,
        instance=args.name,
        ports=_ports(args),
        app=args.app,
        sip_bind=args.sip_bind,
    )


def _warn(built: pipeline.Built) -> None:
    for warning in built.warnings:
        print(f"warning: {warning}", file=sys.stderr)


# --- commands -------------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    site = load_site(Path(args.site))
    print(
        f"{args.site}: valid: {len(site.users)} users, {len(site.phones)} phones, "
        f"{len(site.groups)} groups, {len(site.trunks)} trunks"
    )
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    dep = _deployment_for(args)
    built = pipeline.build(Path(args.site), dep)
    _warn(built)
    out = Path(args.out)
    changed = write_tree(out, built.files, mode=0o600)
    print(f"wrote {len(changed)} of {len(built.files)} files to {out}")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    dep = Deployment.load(_state_dir(args))
    built = pipeline.build(Path(args.site), dep)
    _warn(built)
    diff = pipeline.plan(built, dep)
    print(diff if diff else "No changes: the applied configuration matches the site file.")
    return 0


def cmd_apply(args: argparse.Namespace) -> int:
    dep = Deployment.load(_state_dir(args))
    built = pipeline.build(Path(args.site), dep)
    _warn(built)
    changed = pipeline.apply(built, dep)
    if changed:
        print(f"applied: {', '.join(changed)} rewritten; Asterisk reloaded, calls kept")
    else:
        print("No changes: the applied configuration matches the site file.")
    return 0


def cmd_credentials(args: argparse.Namespace) -> int:
    state_dir = _state_dir(args)
    site_path = Path(args.site) if args.site else state_dir / pipeline.APPLIED_SITE
    if not args.site and not site_path.exists():
        raise PbxError(
            f"no site has been applied in {state_dir}; name the site file with --site SITE"
        )
    site = load_site(site_path)
    user = site.user(args.extension)
    if user is None:
        raise PbxError(f"{args.extension}: no such user in {site_path}")
    creds = SecretStore(state_dir).ensure([u.extension for u in site.users])
    try:
        port = Deployment.load(state_dir).ports.sip
    except PbxError:
        port = 5060
    print(f"User:      {user.name} <{user.extension}>")
    print(f"SIP user:  {user.extension}")
    print(f"Password:  {creds.sip_password(user.extension)}")
    print(f"Server:    {site.site.domain} (or this host's address)")
    print(f"Port:      {port} (UDP or TCP)")
    print(f"Realm:     {site.site.domain}")
    return 0


def cmd_asterisk(args: argparse.Namespace) -> int:
    """An Asterisk CLI command on the PBX's Asterisk (sandbox or host), for the admin."""
    dep = Deployment.load(_state_dir(args))
    try:
        print(pipeline.asterisk_rx(dep)(" ".join(args.command)), end="")
    except subprocess.TimeoutExpired:
        raise AsteriskError("Asterisk did not answer within 30 s") from None
    return 0


def cmd_sandbox_build(args: argparse.Namespace) -> int:
    sandbox.build(Path(args.root) if args.root else None)
    return 0


def cmd_sandbox_start(args: argparse.Namespace) -> int:
    dep = _new_deployment(args)
    sandbox.build(dep.sandbox_root)
    built = pipeline.build(Path(args.site), dep)
    _warn(built)
    sandbox.start(dep, built.files)
    dep.save()
    built.record_applied(dep)
    return 0


def cmd_sandbox_stop(args: argparse.Namespace) -> int:
    dep = Deployment.load(_state_dir(args))
    print("stopped" if sandbox.stop(dep) else "not running")
    return 0


def cmd_sandbox_status(args: argparse.Namespace) -> int:
    dep = Deployment.load(_state_dir(args))
    inst = sandbox.Instance.of(dep)
    pid = sandbox.read_pid(inst)
    if pid is None:
        print(f"sandbox {inst.name!r}: not running")
        return 3
    uptime = sandbox.rx(inst, "core show uptime seconds").strip().replace("\n", "; ")
    print(
        f"sandbox {inst.name!r}: running, pid {pid}, SIP port {dep.ports.sip}, "
        f"ARI {dep.ari_url}/ari; {uptime}"
    )
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    dep = _new_deployment(args)
    site_path = Path(args.site)
    built = pipeline.build(site_path, dep)  # invalid site: stop before building anything
    _warn(built)
    if dep.kind == "sandbox":
        sandbox.build(dep.sandbox_root)
        sandbox.start(dep, built.files)
        built.record_applied(dep)
    else:
        pipeline.apply(built, dep)
    dep.save()
    _logging(args.verbose)
    try:
        _banner(built, dep, site_path)
        return asyncio.run(_serve(dep))
    finally:
        if dep.kind == "sandbox" and sandbox.stop(dep):
            print("Asterisk stopped.", file=sys.stderr)


def _banner(built: pipeline.Built, dep: Deployment, site_path: Path) -> None:
    first = built.site.users[0]
    # The command as the admin can type it again (make run uses .venv/bin/pbx-ext).
    me = sys.argv[0] if Path(sys.argv[0]).name == "pbx-ext" else "pbx-ext"
    print(
        f"""
pbx-ext is up for {built.site.site.name} ({site_path}).
  Asterisk:   {dep.kind}, SIP on {dep.sip_bind}:{dep.ports.sip} (UDP/TCP), ARI {dep.ari_url}/ari
  State:      {dep.state_dir} (secrets.json holds the generated passwords)
  Users:      {", ".join(u.extension for u in built.site.users)}

Register a softphone: server = this host, port {dep.ports.sip}, user = an extension;
its password: {me} credentials {first.extension} --state-dir {dep.state_dir}
Change the site: edit {site_path}, then (calls stay up)
  {me} plan {site_path} --state-dir {dep.state_dir}
  {me} apply {site_path} --state-dir {dep.state_dir}
Call history: {me} calls --state-dir {dep.state_dir}
Ctrl-C stops everything.
""",
        flush=True,
    )


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _serve(dep: Deployment) -> int:
    """Run the call-control app next to Asterisk until Ctrl-C or Asterisk dies."""
    stop = _stop_on_signals()
    app = asyncio.create_task(run_app(dep, stop), name="app")
    inst = sandbox.Instance.of(dep) if dep.kind == "sandbox" else None
    code = 0
    while not stop.is_set() and not app.done():
        if inst is not None and sandbox.read_pid(inst) is None:
            print(
                f"error: Asterisk exited; see its log in {inst.host_dir / 'log'}", file=sys.stderr
            )
            code = EXIT_ERROR
            break
        await asyncio.wait({app}, timeout=1.0)
    print("\nstopping...", file=sys.stderr)
    stop.set()
    await app  # raises the app's own error, if that is why we stopped
    return code


def cmd_app(args: argparse.Namespace) -> int:
    """The call-control app alone, for an Asterisk already running (sandbox or host)."""
    dep = Deployment.load(_state_dir(args))
    _logging(args.verbose)

    async def main() -> None:
        await run_app(dep, _stop_on_signals())

    asyncio.run(main())
    return 0


def cmd_calls(args: argparse.Namespace) -> int:
    path = _state_dir(args) / HISTORY_DB
    since = parse_since(args.since, datetime.now(UTC)) if args.since else None
    with CallHistory(path) as history:
        print(format_calls(history.list(since=since, limit=args.limit), as_json=args.json))
    return 0


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


# --- argument parsing -----------------------------------------------------------------------


def _add_state(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--state-dir",
        help="secrets, deployment and call history (default: $PBX_EXT_STATE_DIR, "
        "/var/lib/pbx-ext as root)",
    )


def _add_instance(p: argparse.ArgumentParser) -> None:
    _add_state(p)
    p.add_argument("--name", default="default", help="sandbox instance name")
    p.add_argument("--root", help="Asterisk root (default ~/.cache/pbx-ext/asterisk-root)")
    p.add_argument("--app", default="pbx-ext", help="Stasis application name")
    p.add_argument("--sip-bind", default="0.0.0.0", help="address SIP listens on")
    p.add_argument("--sip-port", type=int, default=5060)
    p.add_argument("--http-port", type=int, default=8088, help="ARI (loopback only)")
    p.add_argument("--ami-port", type=int, default=5038, help="AMI (loopback only)")
    p.add_argument("--rtp-start", type=int, default=10000)
    p.add_argument("--rtp-end", type=int, default=20000)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="pbx-ext", description="An office PBX on Asterisk.")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check a site file; every problem as FILE:LINE:COL")
    p.add_argument("site")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("generate", help="write the Asterisk config for a site into a directory")
    p.add_argument("site")
    p.add_argument("--out", required=True)
    _add_instance(p)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("plan", help="show what apply would change")
    p.add_argument("site")
    _add_state(p)
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("apply", help="write the config and reload Asterisk; calls stay up")
    p.add_argument("site")
    _add_state(p)
    p.set_defaults(func=cmd_apply)

    p = sub.add_parser("credentials", help="what a user's softphone needs")
    p.add_argument("extension")
    p.add_argument("--site", help="site file (default: the one last applied)")
    _add_state(p)
    p.set_defaults(func=cmd_credentials)

    p = sub.add_parser("up", help="run the whole PBX in the foreground (Ctrl-C stops)")
    p.add_argument("site")
    _add_instance(p)
    p.add_argument(
        "--host-config-dir",
        help="use the Asterisk installed on this host, configured in this directory "
        "(e.g. /etc/asterisk), instead of the sandbox",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("app", help="run only the call-control app (Asterisk already up)")
    _add_state(p)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.set_defaults(func=cmd_app)

    p = sub.add_parser(
        "asterisk", help="run an Asterisk CLI command, e.g.: pbx-ext asterisk pjsip show contacts"
    )
    p.add_argument("command", nargs="+")
    _add_state(p)
    p.set_defaults(func=cmd_asterisk)

    p = sub.add_parser("calls", help="call history")
    _add_state(p)
    p.add_argument("--since", help="e.g. 2h, 30m, 7d, 2026-11-25 or 2026-11-25T08:00")
    p.add_argument("--limit", type=int, default=200)
    p.add_argument("--json", action="store_true", help="JSON instead of a table")
    p.set_defaults(func=cmd_calls)

    sb = sub.add_parser("sandbox", help="the Asterisk sandbox").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = sb.add_parser("build", help="build the Debian sid root with Asterisk (idempotent)")
    p.add_argument("--root")
    p.set_defaults(func=cmd_sandbox_build)
    p = sb.add_parser("start", help="start Asterisk in the background on a site")
    p.add_argument("site")
    _add_instance(p)
    p.set_defaults(func=cmd_sandbox_start)
    for name, func, text in (
        ("stop", cmd_sandbox_stop, "stop it"),
        ("status", cmd_sandbox_status, "is it running?"),
    ):
        p = sb.add_parser(name, help=text)
        _add_state(p)
        p.set_defaults(func=func)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except SiteError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_INVALID
    except PbxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return code


if __name__ == "__main__":
    sys.exit(main())
