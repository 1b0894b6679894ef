"""Call history: one row per call, in ``calls.sqlite3`` in the state directory.

The call flow records what happens as it happens (``call_started``, ``call_answered``,
``call_ended``); ``pbx-ext calls`` reads it back (:func:`format_calls`, :func:`parse_since`).

- Each write commits on its own, so a killed process loses nothing it already reported. The
  database is in WAL mode, so ``pbx-ext calls`` can read while the app writes.
- ``call_ended`` is idempotent: the first end wins (a hangup event replayed after a reconnect
  does not rewrite history), and a call that was answered ends as ``answered`` whatever the
  hangup said.
- Times are stored as UTC epoch seconds (REAL) and come back as aware ``datetime`` values.
- Every statement is parameterised: caller names and numbers come from the outside (the
  provider sends the caller ID of inbound calls).

The methods are synchronous although the app is asyncio: each is one small local SQLite
write (WAL with ``synchronous=NORMAL`` does not fsync on commit), well under a millisecond, so
a thread hop would cost more than it saves.
"""

from __future__ import annotations

import builtins
import json
import os
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from pbx_ext.errors import PbxError

HISTORY_FILE = "calls.sqlite3"
SCHEMA_VERSION = 1


class HistoryError(PbxError, OSError):
    """The call history file cannot be opened, read or written."""


class SinceError(PbxError, ValueError):
    """A ``--since`` value that is neither a duration (``2h``) nor a date or time."""


class Direction(StrEnum):
    """Who called whom: user to user, user to the outside, or the outside to us."""

    INTERNAL = "internal"
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class Disposition(StrEnum):
    """How a call ended (``in_progress`` until it does)."""

    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    UNAVAILABLE = "unavailable"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    FAILED = "failed"


_SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE calls (
    call_id TEXT PRIMARY KEY,
    started REAL NOT NULL,
    answered REAL,
    ended REAL,
    from_number TEXT NOT NULL,
    from_name TEXT,
    to_number TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('internal', 'outbound', 'inbound')),
    disposition TEXT NOT NULL CHECK (disposition IN (
        'in_progress', 'answered', 'busy', 'no_answer', 'unavailable', 'rejected',
        'cancelled', 'failed')),
    detail TEXT
);
CREATE INDEX calls_started ON calls (started);
"""
_COLUMNS = (
    "call_id, started, answered, ended, from_number, from_name, to_number, direction, "
    "disposition, detail"
)


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One call as the history holds it."""

    call_id: str
    started: datetime
    answered: datetime | None
    ended: datetime | None
    from_number: str
    from_name: str | None
    to_number: str
    direction: Direction
    disposition: Disposition
    detail: str | None

    @property
    def duration(self) -> float:
        """Seconds of conversation, answer to hangup; 0 if never answered (or not over yet)."""
        if self.answered is None or self.ended is None:
            return 0.0
        return max(0.0, (self.ended - self.answered).total_seconds())

    @property
    def ring_time(self) -> float:
        """Seconds before the answer, or before the hangup of an unanswered call."""
        until = self.answered or self.ended
        if until is None:
            return 0.0
        return max(0.0, (until - self.started).total_seconds())


class CallHistory:
    """The call history in one SQLite file: ``CallHistory(state_dir / HISTORY_FILE)``.

    The file and its directory are created (0600 and 0700) if missing. Usable as a context
    manager; ``close()`` may be called any number of times.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if path.is_dir():
                raise HistoryError(
                    f"{path} is a directory; give the history file, e.g. {path / HISTORY_FILE}"
                )
            self._create_private()
        except HistoryError:
            raise
        except FileExistsError:  # only mkdir: _create_private expects it
            raise HistoryError(
                f"{path.parent} is not a directory; the call history needs a directory there"
            ) from None
        except OSError as exc:
            raise HistoryError(
                f"{path}: cannot create the call history ({exc.strerror or exc}); "
                f"check that {path.parent} exists and is writable by this user"
            ) from exc
        try:
            # isolation_level=None: every statement commits by itself (see the module doc).
            self._db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.Error as exc:
            self.close()
            raise self._error(exc, "open") from exc
        except HistoryError:
            self.close()
            raise

    # -- writes, from the call flow -------------------------------------------------------------

    def call_started(
        self,
        call_id: str,
        at: datetime,
        from_number: str,
        from_name: str | None,
        to_number: str,
        direction: Direction | str,
    ) -> bool:
        """Record a new call, ``in_progress``. False if this call id is already recorded."""
        cursor = self._write(
            "INSERT INTO calls (call_id, started, from_number, from_name, to_number, "
            "direction, disposition) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (call_id) DO NOTHING",
            (
                call_id,
                _epoch(at),
                from_number,
                from_name,
                to_number,
                Direction(direction).value,
                Disposition.IN_PROGRESS.value,
            ),
        )
        return cursor.rowcount == 1

    def call_answered(self, call_id: str, at: datetime) -> bool:
        """Record the answer. False if the call is unknown, already answered or over."""
        cursor = self._write(
            "UPDATE calls SET answered = ? "
            "WHERE call_id = ? AND answered IS NULL AND ended IS NULL",
            (_epoch(at), call_id),
        )
        return cursor.rowcount == 1

    def call_ended(
        self,
        call_id: str,
        at: datetime,
        disposition: Disposition | str,
        detail: str | None = None,
    ) -> bool:
        """Record the end. An answered call ends as ``answered`` whatever ``disposition`` says.

        False, and nothing changes, if the call is unknown or has already ended.
        """
        ending = Disposition(disposition)
        if ending is Disposition.IN_PROGRESS:
            raise ValueError("a call cannot end as in_progress")
        cursor = self._write(
            "UPDATE calls SET ended = ?, detail = ?, "
            "disposition = CASE WHEN answered IS NULL THEN ? ELSE 'answered' END "
            "WHERE call_id = ? AND ended IS NULL",
            (_epoch(at), detail, ending.value, call_id),
        )
        return cursor.rowcount == 1

    # -- reads ----------------------------------------------------------------------------------

    def get(self, call_id: str) -> CallRecord | None:
        """The call with this id, or None."""
        rows = self._read(f"SELECT {_COLUMNS} FROM calls WHERE call_id = ?", (call_id,))
        return rows[0] if rows else None

    def list(self, since: datetime | None = None, limit: int = 1000) -> builtins.list[CallRecord]:
        """Calls started at or after ``since`` (all if None), newest first, at most ``limit``."""
        if limit < 0:
            raise ValueError(f"limit must be 0 or more, not {limit}")
        if since is None:
            return self._read(
                f"SELECT {_COLUMNS} FROM calls ORDER BY started DESC, rowid DESC LIMIT ?",
                (limit,),
            )
        return self._read(
            f"SELECT {_COLUMNS} FROM calls WHERE started >= ? "
            "ORDER BY started DESC, rowid DESC LIMIT ?",
            (_epoch(since), limit),
        )

    def in_progress(self) -> builtins.list[CallRecord]:
        """Calls not ended yet, oldest first: what a restarted app must reconcile."""
        return self._read(
            f"SELECT {_COLUMNS} FROM calls WHERE ended IS NULL ORDER BY started, rowid", ()
        )

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database; safe to call again."""
        db, self._db = self._db, None
        if db is not None:
            db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------------------

    def _create_private(self) -> None:
        """Create the file 0600 before SQLite does: it holds who called whom.

        SQLite gives the -wal and -shm files the mode of the database file.
        """
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
        os.close(fd)

    def _migrate(self) -> None:
        """Create the tables in a new file, or check the schema version of an existing one."""
        db = self._conn()
        # IMMEDIATE takes the write lock first, so two processes opening a new file at once do
        # not both create the tables.
        db.execute("BEGIN IMMEDIATE")
        try:
            tables = {
                row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            if not tables:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            elif "schema_version" not in tables:
                raise HistoryError(
                    f"{self.path}: not a pbx-ext call history (it has the tables "
                    f"{', '.join(sorted(tables))}); move it away and pbx-ext starts a new one"
                )
            else:
                (version,) = db.execute("SELECT max(version) FROM schema_version").fetchone()
                if version != SCHEMA_VERSION:
                    raise HistoryError(
                        f"{self.path}: call history schema version {version}, but this pbx-ext "
                        f"knows version {SCHEMA_VERSION}; upgrade pbx-ext, or move the file "
                        "away to start a new history"
                    )
            db.execute("COMMIT")
        except Exception:
            db.execute("ROLLBACK")
            raise

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise HistoryError(f"{self.path}: the call history is closed")
        return self._db

    def _write(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        try:
            return self._conn().execute(sql, params)
        except sqlite3.Error as exc:
            raise self._error(exc, "write") from exc

    def _read(self, sql: str, params: tuple[Any, ...]) -> builtins.list[CallRecord]:
        try:
            rows = self._conn().execute(sql, params).fetchall()
            return [_record(row) for row in rows]
        except (sqlite3.Error, ValueError, TypeError) as exc:
            raise self._error(exc, "read") from exc

    def _error(self, exc: Exception, doing: str) -> HistoryError:
        """An error for the admin: what happened to which file, and what to do."""
        # Extended result codes refine the primary one: SQLITE_READONLY_DIRECTORY, ...
        name = str(getattr(exc, "sqlite_errorname", ""))
        if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")) or not isinstance(
            exc, sqlite3.Error
        ):
            return HistoryError(
                f"{self.path}: the call history is damaged ({exc}); move it away (pbx-ext "
                "starts a new one) or restore it from a backup"
            )
        if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")):
            return HistoryError(
                f"{self.path}: cannot {doing} the call history ({exc}); check that this user "
                f"may read and write it and its directory {self.path.parent}"
            )
        if name.startswith("SQLITE_FULL"):
            return HistoryError(f"{self.path}: the disk is full ({exc}); free some space")
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return HistoryError(
                f"{self.path}: the call history stayed locked by another process ({exc}); try again"
            )
        return HistoryError(f"{self.path}: cannot {doing} the call history ({exc})")


# --- conversions -------------------------------------------------------------------------------


def _epoch(at: datetime) -> float:
    if at.tzinfo is None:
        # A naive time would be read in the machine's zone: silently off by hours.
        raise ValueError(f"call times must be timezone-aware, not {at!r}")
    return at.timestamp()


def _time(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _record(row: sqlite3.Row) -> CallRecord:
    return CallRecord(
        call_id=row["call_id"],
        started=datetime.fromtimestamp(row["started"], UTC),
        answered=_time(row["answered"]),
        ended=_time(row["ended"]),
        from_number=row["from_number"],
        from_name=row["from_name"],
        to_number=row["to_number"],
        direction=Direction(row["direction"]),
        disposition=Disposition(row["disposition"]),
        detail=row["detail"],
    )


# --- for the CLI -------------------------------------------------------------------------------

_SPAN = re.compile(r"([0-9]{1,6})\s*([smhdw])")
_SPAN_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime) -> datetime:
    """What ``pbx-ext calls --since TEXT`` means, as an aware datetime.

    A span back from ``now`` (``30m``, ``2h``, ``7d``, also ``s`` and ``w``), a date (its
    midnight) or a date and time; without an offset, in ``now``'s time zone (the machine's if
    ``now`` is naive).

    >>> now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    >>> parse_since("2h", now).isoformat()
    '2026-11-25T10:00:00+00:00'
    >>> parse_since("2026-11-24", now).isoformat()
    '2026-11-24T00:00:00+00:00'
    >>> parse_since("2026-11-25T08:00", now).isoformat()
    '2026-11-25T08:00:00+00:00'
    """
    value = text.strip()
    span = _SPAN.fullmatch(value)
    if span is not None:
        amount, unit = int(span[1]), span[2]
        return _aware(now, now) - timedelta(**{_SPAN_UNITS[unit]: amount})
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime(day.year, day.month, day.day)
        else:
            moment = datetime.fromisoformat(value)
    except ValueError:
        raise SinceError(
            f"--since {text!r}: write a span back from now (30m, 2h, 7d) or a date or time "
            "(2026-11-25, 2026-11-25T08:00)"
        ) from None
    return _aware(moment, now)


def _aware(moment: datetime, now: datetime) -> datetime:
    if moment.tzinfo is not None:
        return moment
    if now.tzinfo is not None:
        return moment.replace(tzinfo=now.tzinfo)
    return moment.astimezone()  # naive means the machine's local time


def format_calls(records: Iterable[CallRecord], *, as_json: bool) -> str:
    """Calls for people (a table, in local time) or for programs (a JSON array, UTC ISO 8601).

    The table::

        STARTED              DIRECTION  FROM                     TO            DISPOSITION  DURATION
        2026-11-25 09:14:03  inbound    +33612345678 (Jo Doe)    +33123456789  answered        03:12
    """
    calls = builtins.list(records)
    if as_json:
        return json.dumps([_as_json(call) for call in calls], indent=2)
    if not calls:
        return "No calls."
    rows = [("STARTED", "DIRECTION", "FROM", "TO", "DISPOSITION", "DURATION")]
    for call in calls:
        caller = call.from_number + (f" ({call.from_name})" if call.from_name else "")
        rows.append(
            (
                call.started.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
                call.direction.value,
                _printable(caller, 40),
                _printable(call.to_number, 24),
                call.disposition.value,
                _mmss(call.duration),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=False)]
        lines.append("  ".join([*cells, row[-1].rjust(widths[-1])]))
    return "\n".join(lines)


def _as_json(call: CallRecord) -> dict[str, Any]:
    def iso(moment: datetime | None) -> str | None:
        return None if moment is None else moment.isoformat()

    return {
        "call_id": call.call_id,
        "started": iso(call.started),
        "answered": iso(call.answered),
        "ended": iso(call.ended),
        "from_number": call.from_number,
        "from_name": call.from_name,
        "to_number": call.to_number,
        "direction": call.direction.value,
        "disposition": call.disposition.value,
        "detail": call.detail,
        "duration": round(call.duration, 3),
        "ring_time": round(call.ring_time, 3),
    }


def _mmss(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


def _printable(text: str, width: int) -> str:
    """Text from outside (a caller name) made safe for a terminal, cut to ``width``."""
    # Control characters could move the cursor or recolour the terminal; Cf covers
    # right-to-left overrides that would make a number read backwards.
    clean = "".join(c if c.isprintable() else "?" for c in text)
    return clean if len(clean) <= width else clean[: width - 1] + "…"
