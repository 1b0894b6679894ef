from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pbx_ext.errors import PbxError
from pbx_ext.history import (
    HISTORY_FILE,
    CallHistory,
    CallRecord,
    Direction,
    Disposition,
    HistoryError,
    SinceError,
    format_calls,
    parse_since,
)

T0 = datetime(2026, 11, 25, 9, 14, 3, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def history(tmp_path: Path) -> Iterator[CallHistory]:
    with CallHistory(tmp_path / "state" / HISTORY_FILE) as h:
        yield h


def test_a_call_from_start_to_hangup(history: CallHistory) -> None:
    assert history.call_started("c1", at(0), "1001", "Alice", "1002", Direction.INTERNAL)
    assert history.get("c1") == CallRecord(
        "c1", at(0), None, None, "1001", "Alice", "1002", Direction.INTERNAL,
        Disposition.IN_PROGRESS, None,
    )  # fmt: skip
    assert history.call_answered("c1", at(4.5))
    assert history.call_ended("c1", at(196.5), Disposition.ANSWERED)
    call = history.get("c1")
    assert call is not None
    assert (call.started, call.answered, call.ended) == (at(0), at(4.5), at(196.5))
    assert call.started.tzinfo is not None
    assert call.disposition is Disposition.ANSWERED
    assert call.duration == 192.0
    assert call.ring_time == 4.5


def test_an_unanswered_call(history: CallHistory) -> None:
    history.call_started("c1", at(0), "+33612345678", None, "+33123456789", "inbound")
    history.call_ended("c1", at(20), "no_answer", "nobody picked up")
    call = history.get("c1")
    assert call is not None
    assert call.disposition is Disposition.NO_ANSWER
    assert call.direction is Direction.INBOUND
    assert call.detail == "nobody picked up"
    assert call.duration == 0
    assert call.ring_time == 20


def test_records_survive_close_and_reopen(tmp_path: Path) -> None:
    with CallHistory(tmp_path / HISTORY_FILE) as h:
        h.call_started("c1", at(0), "1001", "Zoë", "0123456789", Direction.OUTBOUND)
        h.call_answered("c1", at(3))
        h.call_ended("c1", at(63), Disposition.ANSWERED)
        h.call_started("c2", at(100), "1002", None, "1001", Direction.INTERNAL)
        before = h.list()
    with CallHistory(tmp_path / HISTORY_FILE) as again:
        assert again.list() == before
        assert [c.call_id for c in again.in_progress()] == ["c2"]
    assert (tmp_path / HISTORY_FILE).is_file()


def test_records_survive_a_killed_process(tmp_path: Path) -> None:
    # Each write commits: a process killed right after reporting a call loses nothing.
    script = f"""
import os, signal
from datetime import UTC, datetime
from pathlib import Path
from pbx_ext.history import CallHistory
h = CallHistory(Path({str(tmp_path / HISTORY_FILE)!r}))
h.call_started("c1", datetime.now(UTC), "1001", "Alice", "1002", "internal")
h.call_answered("c1", datetime.now(UTC))
os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
    assert proc.returncode == -9
    with CallHistory(tmp_path / HISTORY_FILE) as h:
        call = h.get("c1")
    assert call is not None
    assert call.answered is not None
    assert call.disposition is Disposition.IN_PROGRESS


def test_the_first_end_wins(history: CallHistory) -> None:
    history.call_started("c1", at(0), "1001", None, "1002", Direction.INTERNAL)
    assert history.call_ended("c1", at(10), Disposition.CANCELLED, "caller hung up")
    assert not history.call_ended("c1", at(99), Disposition.FAILED, "replayed event")
    call = history.get("c1")
    assert call is not None
    assert (call.ended, call.disposition, call.detail) == (
        at(10),
        Disposition.CANCELLED,
        "caller hung up",
    )
    assert not history.call_answered("c1", at(50)), "an ended call cannot be answered"


def test_an_answered_call_ends_as_answered(history: CallHistory) -> None:
    history.call_started("c1", at(0), "1001", None, "1002", Direction.INTERNAL)
    history.call_answered("c1", at(2))
    assert not history.call_answered("c1", at(5)), "the first answer counts"
    history.call_ended("c1", at(30), "failed", "bridge vanished")
    call = history.get("c1")
    assert call is not None
    assert call.disposition is Disposition.ANSWERED
    assert call.detail == "bridge vanished"
    assert call.duration == 28


def test_unknown_and_duplicate_calls(history: CallHistory) -> None:
    assert history.get("nope") is None
    assert not history.call_answered("nope", at(1))
    assert not history.call_ended("nope", at(1), Disposition.FAILED)
    assert history.call_started("c1", at(0), "1001", "Alice", "1002", Direction.INTERNAL)
    assert not history.call_started("c1", at(5), "6666", "Mallory", "1003", Direction.INBOUND)
    call = history.get("c1")
    assert call is not None
    assert (call.started, call.from_number) == (at(0), "1001")


def test_list_newest_first_since_and_limit(history: CallHistory) -> None:
    for i in range(5):
        history.call_started(f"c{i}", at(i * 60), "1001", None, "1002", Direction.INTERNAL)
    history.call_ended("c1", at(70), Disposition.BUSY)
    assert [c.call_id for c in history.list()] == ["c4", "c3", "c2", "c1", "c0"]
    assert [c.call_id for c in history.list(since=at(120))] == ["c4", "c3", "c2"]
    assert [c.call_id for c in history.list(limit=2)] == ["c4", "c3"]
    assert history.list(since=at(1000)) == []
    assert [c.call_id for c in history.in_progress()] == ["c0", "c2", "c3", "c4"]
    paris = timezone(timedelta(hours=1))
    assert [c.call_id for c in history.list(since=at(180).astimezone(paris))] == ["c4", "c3"]


def test_outside_text_is_stored_verbatim(history: CallHistory) -> None:
    name = "Robert'); DROP TABLE calls;--\n\x1b[31m"
    history.call_started("x'; --", at(0), "+33612345678", name, "1001", Direction.INBOUND)
    call = history.get("x'; --")
    assert call is not None
    assert call.from_name == name
    assert len(history.list()) == 1


def test_mistakes_in_the_calling_code_are_refused(history: CallHistory) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        history.call_started("c1", datetime(2026, 11, 25), "1001", None, "1002", "internal")
    with pytest.raises(ValueError, match="sideways"):
        history.call_started("c1", at(0), "1001", None, "1002", "sideways")
    history.call_started("c1", at(0), "1001", None, "1002", "internal")
    with pytest.raises(ValueError, match="in_progress"):
        history.call_ended("c1", at(1), Disposition.IN_PROGRESS)
    with pytest.raises(ValueError, match="hung"):
        history.call_ended("c1", at(1), "hung")


def test_close_is_idempotent_and_final(tmp_path: Path) -> None:
    h = CallHistory(tmp_path / HISTORY_FILE)
    h.close()
    h.close()
    with pytest.raises(HistoryError, match="closed"):
        h.list()


def test_file_is_private(tmp_path: Path) -> None:
    with CallHistory(tmp_path / "state" / HISTORY_FILE) as h:
        h.call_started("c1", at(0), "1001", None, "1002", Direction.INTERNAL)
    assert stat.S_IMODE((tmp_path / "state" / HISTORY_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700


# --- damaged, foreign and unreachable files ----------------------------------------------------


def test_a_corrupt_file_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / HISTORY_FILE).write_bytes(b"this is not sqlite at all\n" * 200)
    with pytest.raises(HistoryError, match=r"damaged.*move it away") as err:
        CallHistory(tmp_path / HISTORY_FILE)
    assert isinstance(err.value, PbxError)
    assert isinstance(err.value, OSError)
    assert str(tmp_path / HISTORY_FILE) in str(err.value)


def test_a_foreign_database_is_not_touched(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / HISTORY_FILE)
    db.execute("CREATE TABLE cdr (x)")
    db.commit()
    db.close()
    with pytest.raises(HistoryError, match="not a pbx-ext call history"):
        CallHistory(tmp_path / HISTORY_FILE)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    CallHistory(tmp_path / HISTORY_FILE).close()
    db = sqlite3.connect(tmp_path / HISTORY_FILE)
    db.execute("UPDATE schema_version SET version = 99")
    db.commit()
    db.close()
    with pytest.raises(HistoryError, match=r"schema version 99.*upgrade pbx-ext"):
        CallHistory(tmp_path / HISTORY_FILE)


def test_a_place_where_the_file_cannot_be(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(HistoryError, match="writable"):
        CallHistory(tmp_path / "file" / "state" / HISTORY_FILE)
    with pytest.raises(HistoryError, match="not a directory"):
        CallHistory(tmp_path / "file" / HISTORY_FILE)
    with pytest.raises(HistoryError, match="is a directory; give the history file"):
        CallHistory(tmp_path)


UNWRITABLE_CHECK = """
import os, sys
from datetime import UTC, datetime
from pbx_ext.history import CallHistory, HistoryError
if os.geteuid() == 0:
    os.setgid(65534)  # root writes through file modes: check as nobody
    os.setuid(65534)
try:
    with CallHistory(__import__("pathlib").Path(sys.argv[1])) as h:
        h.call_ended("c1", datetime.now(UTC), "failed")
except HistoryError as exc:
    print(exc)
"""


def test_an_unwritable_file_is_a_clear_error(tmp_path: Path) -> None:
    directory = Path(tempfile.mkdtemp(prefix="history-"))  # reachable by nobody, unlike tmp_path
    try:
        with CallHistory(directory / HISTORY_FILE) as h:
            h.call_started("c1", at(0), "1001", None, "1002", Direction.INTERNAL)
        for name in os.listdir(directory):
            (directory / name).chmod(0o444)
        directory.chmod(0o555)
        proc = subprocess.run(
            [sys.executable, "-c", UNWRITABLE_CHECK, str(directory / HISTORY_FILE)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert "check that this user" in proc.stdout, (proc.stdout, proc.stderr)
    finally:
        directory.chmod(0o700)
        shutil.rmtree(directory)


# --- pbx-ext calls: --since and the output -----------------------------------------------------

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PARIS = timezone(timedelta(hours=1))


@pytest.mark.parametrize(
    ("text", "now", "expected"),
    [
        ("30m", NOW, datetime(2026, 11, 25, 11, 30, tzinfo=UTC)),
        ("2h", NOW, datetime(2026, 11, 25, 10, 0, tzinfo=UTC)),
        ("7d", NOW, datetime(2026, 11, 18, 12, 0, tzinfo=UTC)),
        ("1w", NOW, datetime(2026, 11, 18, 12, 0, tzinfo=UTC)),
        ("90s", NOW, datetime(2026, 11, 25, 11, 58, 30, tzinfo=UTC)),
        (" 2h ", NOW, datetime(2026, 11, 25, 10, 0, tzinfo=UTC)),
        ("2026-11-24", NOW, datetime(2026, 11, 24, tzinfo=UTC)),
        ("2026-11-24", NOW.astimezone(PARIS), datetime(2026, 11, 24, tzinfo=PARIS)),
        ("2026-11-25T08:00", NOW.astimezone(PARIS), datetime(2026, 11, 25, 8, tzinfo=PARIS)),
        ("2026-11-25T08:00:30", NOW, datetime(2026, 11, 25, 8, 0, 30, tzinfo=UTC)),
        ("2026-11-25T08:00Z", NOW.astimezone(PARIS), datetime(2026, 11, 25, 8, tzinfo=UTC)),
        ("2026-11-25T08:00+05:00", NOW, datetime(2026, 11, 25, 3, tzinfo=UTC)),
    ],
)
def test_parse_since(text: str, now: datetime, expected: datetime) -> None:
    since = parse_since(text, now)
    assert since == expected
    assert since.tzinfo is not None


def test_parse_since_with_a_naive_now_uses_local_time() -> None:
    since = parse_since("2026-11-24", datetime(2026, 11, 25, 12, 0))
    assert since.tzinfo is not None
    assert since == datetime(2026, 11, 24).astimezone()


@pytest.mark.parametrize("text", ["", "2", "h", "2x", "-2h", "2 hours", "yesterday", "2026-13-01"])
def test_parse_since_refuses_nonsense(text: str) -> None:
    with pytest.raises(SinceError, match="30m, 2h, 7d") as err:
        parse_since(text, NOW)
    assert isinstance(err.value, ValueError)


@pytest.fixture
def paris_time() -> Iterator[None]:
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Paris"
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


def sample_calls(history: CallHistory) -> list[CallRecord]:
    history.call_started("c1", at(0), "+33612345678", "Jo Doe", "+33123456789", "inbound")
    history.call_answered("c1", at(8))
    history.call_ended("c1", at(8 + 192), "answered")
    history.call_started("c2", at(3600), "1001", "Evil\x1b[2J\u202e", "1002", "internal")
    history.call_ended("c2", at(3620), "busy")
    return history.list()


@pytest.mark.usefixtures("paris_time")
def test_format_calls_as_a_table(history: CallHistory) -> None:
    lines = format_calls(sample_calls(history), as_json=False).splitlines()
    assert lines[0].split() == ["STARTED", "DIRECTION", "FROM", "TO", "DISPOSITION", "DURATION"]
    # Newest first, in local time (Paris is UTC+1 in November).
    assert lines[1].split()[:4] == ["2026-11-25", "11:14:03", "internal", "1001"]
    assert lines[1].split()[-2:] == ["busy", "00:00"]
    assert lines[2].split()[:4] == ["2026-11-25", "10:14:03", "inbound", "+33612345678"]
    assert "+33612345678 (Jo Doe)  +33123456789" in lines[2]
    assert lines[2].split()[-2:] == ["answered", "03:12"]
    # A caller name cannot reach the terminal as control characters.
    assert "\x1b" not in lines[1]
    assert "\u202e" not in lines[1]
    assert len({len(line) for line in lines}) == 1, "columns line up"


def test_format_calls_without_calls() -> None:
    assert format_calls([], as_json=False) == "No calls."
    assert json.loads(format_calls([], as_json=True)) == []


def test_format_calls_as_json(history: CallHistory) -> None:
    data = json.loads(format_calls(sample_calls(history), as_json=True))
    assert [call["call_id"] for call in data] == ["c2", "c1"]
    inbound = data[1]
    assert inbound == {
        "call_id": "c1",
        "started": "2026-11-25T09:14:03+00:00",
        "answered": "2026-11-25T09:14:11+00:00",
        "ended": "2026-11-25T09:17:23+00:00",
        "from_number": "+33612345678",
        "from_name": "Jo Doe",
        "to_number": "+33123456789",
        "direction": "inbound",
        "disposition": "answered",
        "detail": None,
        "duration": 192.0,
        "ring_time": 8.0,
    }
    assert data[0]["from_name"] == "Evil\x1b[2J\u202e"
    assert datetime.fromisoformat(data[0]["started"]) == at(3600)
