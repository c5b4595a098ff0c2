"""The curators' decision log: an append-only SQLite table, one row per decision.

Why SQLite: every decision is one small committed transaction (nothing decided is lost when
the process is killed), several curators' processes can write to one file at once (WAL mode,
a busy timeout and a retry with backoff), and the file is readable with any SQLite tool.

The latest row per issue wins; ``undo`` appends a reversal row, so the history is never
rewritten. A file that is not one of our stores fails with one line and is never touched.
"""

from __future__ import annotations

import getpass
import json
import random
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

from auditor.errors import StoreError

ACTIONS = ("accept", "relabel", "keep", "skip", "undo")
# actions whose tags cover a word span (the others record only that the issue was seen)
SPAN_ACTIONS = ("accept", "relabel")
SCHEMA_VERSION = 1
STORE_KIND = "auditor-decisions"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_BUSY_TIMEOUT_S = 10.0
_MAX_ATTEMPTS = 8

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY,
    issue_id TEXT NOT NULL,
    action TEXT NOT NULL,
    start INTEGER,
    "end" INTEGER,
    tags TEXT,
    curator TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_issue ON decisions (issue_id, seq);
"""

T = TypeVar("T")


@dataclass(frozen=True)
class Decision:
    """One row of the log.

    start/end: word span [start, end) the tags cover (None for keep/skip/undo); a relabel may
    cover a different span than the issue's. tags: one IOB2 tag per word of the span.
    at: ISO-8601 UTC timestamp of the decision.
    """

    issue_id: str
    action: str
    start: int | None
    end: int | None
    tags: list[str] | None
    curator: str
    at: str


DecisionInput = Decision | Sequence | Mapping
"""What ``record_many`` takes per decision: a Decision (its curator and time are kept), a
tuple (issue_id, action[, start, end, tags]) or a mapping with those keys."""


def now_utc() -> str:
    """Current time as ISO-8601 UTC with milliseconds, e.g. 2026-01-31T12:00:00.123+00:00."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def default_curator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "curator"


def _is_busy(err: sqlite3.OperationalError) -> bool:
    text = str(err).lower()
    return "locked" in text or "busy" in text


def _retrying(fn: Callable[[], T], path: Path) -> T:
    """Run fn, retrying with jittered exponential backoff while another writer holds the lock.

    The busy timeout already waits inside SQLite; this covers the cases it does not (a lock
    taken while switching to WAL, or a timeout under heavy contention). Other SQLite errors
    (read-only file, full disk) become one-line StoreErrors: nothing was written.
    """
    delay = 0.01
    for attempt in range(_MAX_ATTEMPTS):
        try:
            return fn()
        except sqlite3.OperationalError as err:
            if _is_busy(err) and attempt < _MAX_ATTEMPTS - 1:
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 1.0)
                continue
            hint = "another process keeps it locked; try again" if _is_busy(err) else "check the file and its folder"
            raise StoreError(f"{path}: cannot write the decision store ({err}); {hint}") from None
    raise AssertionError("unreachable")


def _check_foreign(path: Path) -> None:
    """Refuse any existing non-empty file that does not start with the SQLite header."""
    if not path.exists() or path.stat().st_size == 0:
        return
    if path.is_dir():
        raise StoreError(f"{path}: is a folder, not a decision store; pass --store with a file path")
    with path.open("rb") as fh:
        head = fh.read(len(_SQLITE_MAGIC))
    if head != _SQLITE_MAGIC:
        raise StoreError(
            f"{path}: not a decision store (not an SQLite file); move it away or pass --store with another path"
        )


def file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at path, None when there is none: a deleted and recreated
    file has the same name but another identity."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _row_to_decision(row: tuple) -> Decision:
    issue_id, action, start, end, tags, curator, at = row
    return Decision(issue_id, action, start, end, json.loads(tags) if tags is not None else None, curator, at)


class DecisionStore:
    """Append-only decision log in an SQLite file (created if missing).

    curator: name written on every row this instance records (default: the OS user).
    """

    def __init__(self, path: str | Path, curator: str | None = None) -> None:
        self.path = Path(path)
        self.curator = curator or default_curator()
        _check_foreign(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a write transaction
            # takes the lock up front and never fails half-way on an upgrade from read to write
            self._conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as err:
            raise StoreError(f"{self.path}: cannot open the decision store ({err})") from None
        try:
            self._prepare()
        except sqlite3.DatabaseError as err:
            self._conn.close()
            raise StoreError(f"{self.path}: not a readable decision store ({err}); move it away") from None
        except StoreError:
            self._conn.close()
            raise
        self._identity = file_identity(self.path)

    # --- set-up ---------------------------------------------------------------------------

    def _prepare(self) -> None:
        tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "meta" not in tables:
            raise StoreError(
                f"{self.path}: an SQLite file but not an auditor decision store (no meta table); "
                "move it away or pass --store with another path"
            )
        if not tables:
            _retrying(self._create, self.path)
        self._check_meta()
        _retrying(lambda: self._conn.execute("PRAGMA journal_mode=WAL"), self.path)
        # FULL: a committed decision survives a power cut too, not only a killed process
        self._conn.execute("PRAGMA synchronous=FULL")

    def _create(self) -> None:
        with self._transaction():
            # statement by statement: executescript would commit our open transaction
            for statement in filter(str.strip, _SCHEMA.split(";")):
                self._conn.execute(statement)
            self._conn.executemany(
                "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                [("kind", STORE_KIND), ("schema_version", str(SCHEMA_VERSION)), ("created_at", now_utc())],
            )

    def _check_meta(self) -> None:
        try:
            meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as err:
            raise StoreError(f"{self.path}: unreadable meta table ({err}); not an auditor decision store") from None
        if meta.get("kind") != STORE_KIND:
            raise StoreError(f"{self.path}: an SQLite file but not an auditor decision store (meta kind {meta.get('kind')!r})")
        version = int(meta.get("schema_version", "0"))
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: decision store schema {version} is newer than this auditor ({SCHEMA_VERSION}); upgrade auditor"
            )

    def _transaction(self):
        return _Transaction(self._conn)

    # --- writing ----------------------------------------------------------------------------

    def _make(self, item: DecisionInput) -> Decision:
        if isinstance(item, Decision):
            decision = item
        elif isinstance(item, Mapping):
            decision = Decision(
                str(item["issue_id"]), item["action"], item.get("start"), item.get("end"), item.get("tags"),
                item.get("curator") or self.curator, item.get("at") or now_utc(),
            )
        else:
            issue_id, action, *rest = item
            start, end, tags = (list(rest) + [None, None, None])[:3]
            decision = Decision(str(issue_id), action, start, end, tags, self.curator, now_utc())
        _validate(decision)
        return decision

    def _insert(self, decisions: Iterable[Decision]) -> None:
        self._conn.executemany(
            'INSERT INTO decisions (issue_id, action, start, "end", tags, curator, at) VALUES (?, ?, ?, ?, ?, ?, ?)',
            [
                (
                    d.issue_id, d.action, d.start, d.end,
                    json.dumps(list(d.tags)) if d.tags is not None else None, d.curator, d.at,
                )
                for d in decisions
            ],
        )

    def check_same_file(self) -> None:
        """StoreError when the file was deleted or replaced since this store opened it.

        SQLite keeps writing to a deleted file without complaint, so every decision from then
        on would vanish unseen. What the open connection still holds is copied next to the
        path first, so the decisions of this session are not lost either.
        """
        if file_identity(self.path) == self._identity:
            return
        rescued = self.path.with_name(f"{self.path.name}.rescued-{datetime.now().strftime('%Y%m%d-%H%M%S')}")
        try:
            self._conn.execute("VACUUM INTO ?", (str(rescued),))
            saved = f"the decisions it held are saved in {rescued}; move that file to {self.path} and reopen"
        except sqlite3.Error:
            saved = "its decisions could not be saved elsewhere"
        raise StoreError(f"{self.path}: deleted or replaced while open, so nothing more is recorded; {saved}")

    def _write(self, decisions: list[Decision]) -> None:
        self.check_same_file()

        def attempt() -> None:
            with self._transaction():
                self._insert(decisions)

        _retrying(attempt, self.path)

    def record(
        self, issue_id: str, action: str, start: int | None = None, end: int | None = None, tags: list[str] | None = None
    ) -> Decision:
        """Append one decision; it is committed (on disk) before this returns."""
        decision = self._make((issue_id, action, start, end, list(tags) if tags is not None else None))
        self._write([decision])
        return decision

    def record_many(self, decisions: list[DecisionInput]) -> int:
        """Append many decisions in one transaction (all or none); returns how many."""
        made = [self._make(d) for d in decisions]
        if made:
            self._write(made)
        return len(made)

    def undo(self, issue_id: str) -> Decision:
        """Append a reversal row: the issue is open again. StoreError if it has no decision."""
        if issue_id not in self.latest_for([issue_id]):
            raise StoreError(f"issue {issue_id}: no decision to undo")
        return self.record(issue_id, "undo")

    # --- reading ----------------------------------------------------------------------------

    def latest(self) -> dict[str, Decision]:
        """issue_id -> its latest decision; issues whose latest row is an undo are absent."""
        rows = self._conn.execute(
            'SELECT issue_id, action, start, "end", tags, curator, at FROM decisions '
            "WHERE seq IN (SELECT MAX(seq) FROM decisions GROUP BY issue_id) AND action != 'undo' ORDER BY seq"
        ).fetchall()
        return {r[0]: _row_to_decision(r) for r in rows}

    def latest_for(self, issue_ids: list[str]) -> dict[str, Decision]:
        """latest() restricted to some issues (cheap for a handful)."""
        out: dict[str, Decision] = {}
        for issue_id in issue_ids:
            row = self._conn.execute(
                'SELECT issue_id, action, start, "end", tags, curator, at FROM decisions '
                "WHERE issue_id = ? ORDER BY seq DESC LIMIT 1",
                (issue_id,),
            ).fetchone()
            if row is not None and row[1] != "undo":
                out[issue_id] = _row_to_decision(row)
        return out

    def history(self) -> list[Decision]:
        """Every row in the order it was written."""
        rows = self._conn.execute(
            'SELECT issue_id, action, start, "end", tags, curator, at FROM decisions ORDER BY seq'
        ).fetchall()
        return [_row_to_decision(r) for r in rows]

    def __len__(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> DecisionStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")


def _validate(d: Decision) -> None:
    if d.action not in ACTIONS:
        raise ValueError(f"unknown action {d.action!r}; expected one of {ACTIONS}")
    if d.action in SPAN_ACTIONS:
        if d.start is None or d.end is None or d.tags is None:
            raise ValueError(f"{d.action} of {d.issue_id} needs start, end and tags")
        if not 0 <= d.start < d.end or len(d.tags) != d.end - d.start:
            raise ValueError(f"{d.action} of {d.issue_id}: {len(d.tags)} tags for span [{d.start}, {d.end})")
        bad = [t for t in d.tags if not isinstance(t, str) or not (t == "O" or t[:2] in ("B-", "I-"))]
        if bad:
            raise ValueError(f"{d.action} of {d.issue_id}: not IOB2 tags {bad}")
    elif d.start is not None or d.end is not None or d.tags is not None:
        raise ValueError(f"{d.action} of {d.issue_id} takes no span or tags")
