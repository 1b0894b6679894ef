"""The pbx-ext command on files alone (no Asterisk): exit codes, messages, no tracebacks."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "office.yaml"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pbx_ext.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_validate_accepts_the_example() -> None:
    proc = run("validate", str(EXAMPLE))
    assert proc.returncode == 0
    assert "valid: 6 users, 4 phones, 2 groups, 1 trunks" in proc.stdout


def test_validate_prints_every_problem_with_its_position(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(
        "site: {name: T, domain: pbx.test, timezone: Europe/Paris}\n"
        "users:\n"
        '  - {extension: "10a1", name: Ann}\n'
        "  - {extension: 1002, name: Bob, permisions: local}\n"
    )
    proc = run("validate", str(site))
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert f"{site}:3:17: users[0].extension: '10a1' is not a valid extension (digits only)" in (
        lines
    )
    assert any(line.startswith(f"{site}:4:17: users[1].extension:") for line in lines), lines
    unknown_key = f"{site}:4:34: users[1].permisions: unknown key"
    assert any(line.startswith(unknown_key) for line in lines), lines
    assert "Traceback" not in proc.stderr


def test_validate_never_tracebacks_on_garbage(tmp_path: Path) -> None:
    for name, data in {
        "empty.yaml": b"",
        "binary.yaml": b"\xff\xfe\x00garbage",
        "list.yaml": b"- a\n- b\n",
        "tabs.yaml": b"site:\n\t- x",
    }.items():
        path = tmp_path / name
        path.write_bytes(data)
        proc = run("validate", str(path))
        assert proc.returncode == 1, name
        assert proc.stderr.startswith(f"{path}:"), (name, proc.stderr)
        assert "Traceback" not in proc.stderr
    missing = run("validate", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 1
    assert "cannot read the file" in missing.stderr


def test_generate_writes_private_files_and_secrets(tmp_path: Path) -> None:
    out, state = tmp_path / "out", tmp_path / "state"
    proc = run("generate", str(EXAMPLE), "--out", str(out), "--state-dir", str(state))
    assert proc.returncode == 0, proc.stderr
    assert "TRUNK_PASSWORD is not set" in proc.stderr  # said, not silently skipped
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(p.name for p in (ROOT / "asterisk-config" / "office").glob("*.conf"))
    for path in out.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    secrets = json.loads((state / "secrets.json").read_text())
    assert stat.S_IMODE((state / "secrets.json").stat().st_mode) == 0o600
    password = secrets["sip"]["1001"]
    assert password not in (out / "pjsip.conf").read_text()  # stored as md5_cred only
    again = run("generate", str(EXAMPLE), "--out", str(out), "--state-dir", str(state))
    assert "wrote 0 of 9 files" in again.stdout  # same input, byte-identical output


def test_trunk_password_comes_from_the_environment(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run(
        "generate", str(EXAMPLE), "--out", str(out), "--state-dir", str(tmp_path / "s"),
        env={"TRUNK_PASSWORD": "pr0vider-secret"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "password = pr0vider-secret" in (out / "pjsip.conf").read_text()
    bad = run(
        "generate", str(EXAMPLE), "--out", str(tmp_path / "o2"), "--state-dir", str(tmp_path / "s"),
        env={"TRUNK_PASSWORD": "two\nlines"},
    )  # fmt: skip
    assert bad.returncode == 2
    assert "contains a line break" in bad.stderr
    assert not (tmp_path / "o2").exists()


def test_credentials_prints_what_a_softphone_needs(tmp_path: Path) -> None:
    nothing = run("credentials", "1001", "--state-dir", str(tmp_path))
    assert nothing.returncode == 2
    assert "--site SITE" in nothing.stderr
    proc = run("credentials", "1001", "--site", str(EXAMPLE), "--state-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    secrets = json.loads((tmp_path / "secrets.json").read_text())
    assert f"Password:  {secrets['sip']['1001']}" in proc.stdout
    assert "SIP user:  1001" in proc.stdout
    unknown = run("credentials", "1999", "--site", str(EXAMPLE), "--state-dir", str(tmp_path))
    assert unknown.returncode == 2
    assert "1999: no such user" in unknown.stderr


def test_plan_and_apply_without_an_asterisk_say_what_to_do(tmp_path: Path) -> None:
    for command in ("plan", "apply"):
        proc = run(command, str(EXAMPLE), "--state-dir", str(tmp_path))
        assert proc.returncode == 2
        assert "pbx-ext up SITE" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_apply_of_an_invalid_site_changes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "etc"
    config.mkdir()
    (config / "pjsip.conf").write_text("; the admin's file\n")
    state = tmp_path / "state"
    state.mkdir()
    (state / "deployment.json").write_text(
        json.dumps(
            {
                "state_dir": str(state), "config_dir": str(config), "kind": "host",
                "app": "pbx-ext", "sip_bind": "0.0.0.0", "sandbox_root": None,
                "instance": "default",
                "ports": {"sip": 5060, "http": 8088, "ami": 5038, "rtp_start": 10000,
                          "rtp_end": 20000},
            }
        )
    )  # fmt: skip
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE.read_text().replace('extension: "1002"', 'extension: "1001"'))
    proc = run("apply", str(bad), "--state-dir", str(state))
    assert proc.returncode == 1
    assert "users[1].extension: '1001' is already used" in proc.stderr
    assert sorted(p.name for p in config.iterdir()) == ["pjsip.conf"]
    assert (config / "pjsip.conf").read_text() == "; the admin's file\n"
    assert not (state / "site.yaml").exists()


def test_sandbox_build_needs_root_and_says_so(tmp_path: Path) -> None:
    # Run as nobody (the test itself runs as root): the message must say what to do.
    proc = subprocess.run(
        [sys.executable, "-c", AS_NOBODY, "sandbox", "build", "--root", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "needs root" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "r").exists()


AS_NOBODY = """
import os, sys
from pbx_ext.cli import main
if os.geteuid() == 0:
    os.setgid(65534)
    os.setuid(65534)
sys.exit(main(sys.argv[1:]))
"""
