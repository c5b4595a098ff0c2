"""The curators' decision log: an append-only SQLite table, one row per decision.

Why SQLite: every decision is one small committed transaction (nothing decided is lost when
the process is killed), several curators' processes can write to one file at once (WAL mode,
a busy timeout and a retry with backoff), and the file is readable with any SQLite tool.

Several curators may decide one issue. Each curator's latest row on an issue is their
*opinion*; ``undo`` appends a row that withdraws the undoer's own opinion, never another
curator's. The issue's decision is the opinion committed last (commit order, the ``seq``
column, not the curators' clocks), except that a skip never hides another curator's
decision. Curators whose opinions differ are a *conflict*: kept, counted and listed, never
resolved silently. History is never rewritten. A file that is not one of our stores fails
with one line and is never touched.
"""

from __future__ import annotations

import getpass
import json
import random
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
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
    at: ISO-8601 UTC timestamp of the decision (shown to people; order comes from seq).
    seq: commit order in the store (None until written). overrules: when this is an issue's
    decision, the other curators' differing opinions it wins over (a conflict).
    """

    issue_id: str
    action: str
    start: int | None
    end: int | None
    tags: list[str] | None
    curator: str
    at: str
    seq: int | None = field(default=None, compare=False)
    overrules: tuple[Decision, ...] = field(default=(), compare=False, repr=False)

    @property
    def outcome(self) -> tuple:
        """What the decision does to the corpus: equal outcomes are no conflict (an accept and a
        relabel to the same tags agree; a skip does nothing)."""
        if self.action in SPAN_ACTIONS:
            return ("tags", self.start, self.end, tuple(self.tags or ()))
        return (self.action,)

    def describe(self) -> str:
        """e.g. 'accept B-ORG I-ORG', 'keep'."""
        tags = f" {' '.join(self.tags)}" if self.tags else ""
        return f"{self.action}{tags}"


class AlreadyDecided(Exception):
    """Another curator decided the issue (a decision the caller did not agree to replace)."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(f"{decision.issue_id} was decided by {decision.curator}: {decision.describe()}")
        self.decision = decision


class Ledger:
    """The log folded into every issue's state, updated incrementally from new rows.

    seq: the last row folded in. Per issue, each curator's opinion (their latest row, gone
    after their undo); the issue's decision is the opinion committed last, a skip only when
    nobody decided more.
    """

    def __init__(self) -> None:
        self.seq = 0
        self._opinions: dict[str, dict[str, Decision]] = {}
        self._last_relabel: dict[str, Decision] = {}

    def add(self, rows: Iterable[Decision]) -> set[str]:
        """Fold rows (in commit order) in; returns the issue ids whose state changed."""
        changed: set[str] = set()
        for d in rows:
            if d.seq is not None:
                self.seq = max(self.seq, d.seq)
            ops = self._opinions.setdefault(d.issue_id, {})
            if d.action == "undo":
                # an undo withdraws only the undoer's own opinion (rows of older auditors that
                # undid someone else's decision withdraw nothing)
                if ops.pop(d.curator, None) is None:
                    continue
            else:
                ops.pop(d.curator, None)  # re-inserted last: dict order = commit order
                ops[d.curator] = d
                if d.action == "relabel":
                    self._last_relabel[d.curator] = d
            changed.add(d.issue_id)
        return changed

    def issues(self) -> list[str]:
        """Every issue id the log mentions."""
        return list(self._opinions)

    def opinions(self, issue_id: str) -> list[Decision]:
        """Every curator's current opinion on the issue, in commit order."""
        return list(self._opinions.get(issue_id, {}).values())

    def opinion(self, issue_id: str, curator: str) -> Decision | None:
        return self._opinions.get(issue_id, {}).get(curator)

    def decision(self, issue_id: str) -> Decision | None:
        """The issue's decision (None = open), carrying the differing opinions it overrules."""
        ops = self.opinions(issue_id)
        if not ops:
            return None
        decided = [d for d in ops if d.action != "skip"]
        if not decided:
            return ops[-1]
        win = decided[-1]
        others = tuple(d for d in decided if d.curator != win.curator and d.outcome != win.outcome)
        return replace(win, overrules=others) if others else win

    def conflict(self, issue_id: str) -> bool:
        """Two curators' opinions would change the corpus differently."""
        return len({d.outcome for d in self.opinions(issue_id) if d.action != "skip"}) > 1

    def latest(self) -> dict[str, Decision]:
        """issue_id -> decision for every decided (or skipped) issue, in commit order."""
        out = [d for d in (self.decision(i) for i in self._opinions) if d is not None]
        return {d.issue_id: d for d in sorted(out, key=lambda d: d.seq or 0)}

    def conflicts(self) -> list[str]:
        return [i for i in self._opinions if self.conflict(i)]

    def last_relabel(self, curator: str) -> Decision | None:
        """The curator's most recent relabel that still stands as their opinion."""
        d = self._last_relabel.get(curator)
        return d if d is not None and self.opinion(d.issue_id, curator) is d else None


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


_COLUMNS = 'seq, issue_id, action, start, "end", tags, curator, at'


def _row_to_decision(row: tuple) -> Decision:
    seq, issue_id, action, start, end, tags, curator, at = row
    return Decision(issue_id, action, start, end, json.loads(tags) if tags is not None else None, curator, at, seq)


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

    def _insert(self, decisions: Iterable[Decision]) -> list[Decision]:
        """Insert inside an open transaction; the decisions with their seq."""
        out = []
        for d in decisions:
            cur = self._conn.execute(
                'INSERT INTO decisions (issue_id, action, start, "end", tags, curator, at) VALUES (?, ?, ?, ?, ?, ?, ?)',
                (d.issue_id, d.action, d.start, d.end, json.dumps(list(d.tags)) if d.tags is not None else None, d.curator, d.at),
            )
            out.append(replace(d, seq=cur.lastrowid))
        return out

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

    def _write(self, decisions: list[Decision]) -> list[Decision]:
        self.check_same_file()

        def attempt() -> list[Decision]:
            with self._transaction():
                return self._insert(decisions)

        return _retrying(attempt, self.path)

    def record(
        self, issue_id: str, action: str, start: int | None = None, end: int | None = None, tags: list[str] | None = None
    ) -> Decision:
        """Append one decision, whoever decided the issue before; committed (on disk) before this
        returns. The review UI uses decide(), which never overwrites another curator unasked."""
        decision = self._make((issue_id, action, start, end, list(tags) if tags is not None else None))
        return self._write([decision])[0]

    def record_many(self, decisions: list[DecisionInput]) -> int:
        """Append many decisions in one transaction (all or none); returns how many."""
        made = [self._make(d) for d in decisions]
        if made:
            self._write(made)
        return len(made)

    def _blocking(self, d: Decision, replace_seq: int | None) -> Decision | None:
        """Inside a write transaction: another curator's decision that d would hide unasked."""
        if d.action in ("skip", "undo"):
            return None  # a skip never hides another curator's decision, an undo only withdraws ours
        current = self._fold(self._rows_for(d.issue_id)).decision(d.issue_id)
        if current is None or current.action == "skip" or current.curator == self.curator:
            return None
        return None if current.seq == replace_seq else current

    def decide(
        self, issue_id: str, action: str, start: int | None = None, end: int | None = None,
        tags: list[str] | None = None, *, replace_seq: int | None = None,
    ) -> Decision:
        """Record this curator's decision unless another curator has decided the issue.

        The check and the write are one transaction, so two curators pressing a key at the
        same moment cannot overwrite each other. replace_seq: the seq of the other curator's
        decision the curator saw and agreed to replace. Raises AlreadyDecided (nothing
        written) when a decision by someone else stands that was not agreed to.
        """
        decision = self._make((issue_id, action, start, end, list(tags) if tags is not None else None))

        def attempt() -> Decision:
            with self._transaction():
                blocking = self._blocking(decision, replace_seq)
                if blocking is not None:
                    raise AlreadyDecided(blocking)
                return self._insert([decision])[0]

        return _retrying(attempt, self.path)

    def decide_many(self, decisions: list[DecisionInput]) -> tuple[list[Decision], dict[str, Decision]]:
        """decide() for many issues in one transaction: (written, issue_id -> the other
        curator's decision for the issues left alone because someone else decided them)."""
        made = [self._make(d) for d in decisions]

        def attempt() -> tuple[list[Decision], dict[str, Decision]]:
            with self._transaction():
                left: dict[str, Decision] = {}
                todo = []
                for d in made:
                    blocking = self._blocking(d, None)
                    if blocking is None:
                        todo.append(d)
                    else:
                        left[d.issue_id] = blocking
                return self._insert(todo), left

        return _retrying(attempt, self.path) if made else ([], {})

    def undo(self, issue_id: str) -> Decision:
        """Withdraw this curator's own opinion on the issue (another curator's decision stands).
        StoreError if this curator has no opinion on it."""
        done = self.undo_many([issue_id])
        if not done:
            raise StoreError(f"issue {issue_id}: no decision of {self.curator} to undo")
        return done[0]

    def undo_many(self, issue_ids: list[str]) -> list[Decision]:
        """Withdraw this curator's opinions on these issues in one transaction; the undo rows
        written (issues without an opinion of this curator are left out)."""

        def attempt() -> list[Decision]:
            with self._transaction():
                mine = [i for i in dict.fromkeys(issue_ids) if self._fold(self._rows_for(i)).opinion(i, self.curator)]
                return self._insert([self._make((i, "undo")) for i in mine])

        return _retrying(attempt, self.path) if issue_ids else []

    # --- reading ----------------------------------------------------------------------------

    def _rows_for(self, issue_id: str) -> list[Decision]:
        rows = self._conn.execute(f"SELECT {_COLUMNS} FROM decisions WHERE issue_id = ? ORDER BY seq", (issue_id,))
        return [_row_to_decision(r) for r in rows]

    @staticmethod
    def _fold(rows: Iterable[Decision]) -> Ledger:
        ledger = Ledger()
        ledger.add(rows)
        return ledger

    def rows_since(self, seq: int) -> list[Decision]:
        """The rows committed after seq, in commit order (by any connection, any process)."""
        rows = self._conn.execute(f"SELECT {_COLUMNS} FROM decisions WHERE seq > ? ORDER BY seq", (seq,))
        return [_row_to_decision(r) for r in rows]

    def ledger(self) -> Ledger:
        """The whole log folded (see Ledger); keep it current with sync()."""
        return self._fold(self.rows_since(0))

    def sync(self, ledger: Ledger) -> set[str]:
        """Fold the rows committed since the ledger's last one in; the issue ids that changed.

        One indexed query: cheap enough to poll every second or two (WAL readers never wait
        for writers).
        """
        return ledger.add(self.rows_since(ledger.seq))

    def latest(self) -> dict[str, Decision]:
        """issue_id -> its decision (see Ledger.decision), in commit order; open issues are absent."""
        return self.ledger().latest()

    def latest_for(self, issue_ids: list[str]) -> dict[str, Decision]:
        """latest() restricted to some issues (cheap for a handful)."""
        out: dict[str, Decision] = {}
        for issue_id in issue_ids:
            d = self._fold(self._rows_for(issue_id)).decision(issue_id)
            if d is not None:
                out[issue_id] = d
        return out

    def history(self) -> list[Decision]:
        """Every row in the order it was written."""
        return self.rows_since(0)

    def backup(self, dest: str | Path) -> int:
        """Copy the store to dest with SQLite's online backup: consistent even while others
        write, and including what still sits in the -wal file (copying review.sqlite alone
        misses it). dest must not exist; returns the number of rows copied."""
        dest = Path(dest)
        if dest.exists():
            raise StoreError(f"{dest}: exists already; choose a new backup file name")
        if not dest.parent.is_dir():
            raise StoreError(f"{dest.parent}: no such folder for the backup")
        tmp = dest.with_name(dest.name + ".partial")
        try:
            target = sqlite3.connect(tmp)
            try:
                self._conn.backup(target)
                # a single self-contained file: no -wal beside the copy
                target.execute("PRAGMA journal_mode=DELETE")
                n = target.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
            finally:
                target.close()
            tmp.replace(dest)
        except sqlite3.Error as err:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"{dest}: backup failed ({err})") from None
        return n

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


# --- where the store lives ------------------------------------------------------------------

# file systems on which SQLite's WAL mode is unsafe: WAL needs shared memory between the
# processes that open the file, which network file systems do not provide (see sqlite.org/wal.html)
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "ncpfs", "afs", "9p", "ceph", "glusterfs",
    "fuse.glusterfs", "fuse.sshfs", "sshfs", "fuse.rclone", "davfs", "fuse.davfs2", "lustre", "gpfs", "beegfs",
})
MOUNTS_FILE = Path("/proc/self/mounts")


def _unescape_mount(path: str) -> str:
    # /proc/mounts writes space, tab, newline and backslash as octal escapes
    return path.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def filesystem_type(path: str | Path, mounts: str | None = None) -> str | None:
    """The type of the file system holding path (e.g. 'ext4', 'nfs4'), from the mount table;
    None where there is none to read (not Linux). mounts: the table's text (tests)."""
    if mounts is None:
        try:
            mounts = MOUNTS_FILE.read_text()
        except OSError:
            return None
    target = Path(path).resolve()  # symlinks followed; the file itself need not exist yet
    best, fstype = "", None
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        point = _unescape_mount(parts[1])
        inside = str(target) == point or str(target).startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, fstype = point, parts[2]
    return fstype


def network_warning(path: str | Path, mounts: str | None = None) -> str | None:
    """One line telling what to do when the store sits on a network file system, else None."""
    fstype = filesystem_type(path, mounts)
    if fstype is None or fstype.lower() not in NETWORK_FILESYSTEMS:
        return None
    return (
        f"warning: {path} is on a network file system ({fstype}), where SQLite's WAL mode can lose or "
        "corrupt decisions; run the review on the machine that holds the run folder (over SSH, in tmux)"
    )
