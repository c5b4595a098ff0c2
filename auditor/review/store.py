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

import contextlib
import getpass
import hashlib
import json
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from auditor.errors import StoreError, os_error_line

# where the store lives (auditor.review.mounts); the first three stay importable from here
from auditor.review.mounts import NETWORK_FILESYSTEMS, filesystem_type, network_warning, read_only_fs  # noqa: F401

ACTIONS = ("accept", "relabel", "keep", "skip", "undo")
# actions whose tags cover a word span (the others record only that the issue was seen)
SPAN_ACTIONS = ("accept", "relabel")
# 2: each decision records the sentence it was made on (`sentence`, see sentence_digest), and
# triggers refuse UPDATE and DELETE on the log. A version-1 store (or one from before
# schema_version was written: the same layout) migrates on its first writable open.
SCHEMA_VERSION = 2
STORE_KIND = "auditor-decisions"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_BUSY_TIMEOUT_S = 10.0
_MAX_ATTEMPTS = 8
# SQLite's primary result codes (sqlite3.Error.sqlite_errorcode & 0xFF)
_SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 8, 10, 11, 13, 14, 26

_V1_COLUMNS = ("seq", "issue_id", "action", "start", "end", "tags", "curator", "at")
_TABLES = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY,
    issue_id TEXT NOT NULL,
    action TEXT NOT NULL,
    start INTEGER,
    "end" INTEGER,
    tags TEXT,
    curator TEXT NOT NULL,
    at TEXT NOT NULL,
    sentence TEXT
)""",
)
# every schema: the index, and the triggers that make "append-only" a fact of the file rather
# than a promise of this module (a hand-written UPDATE would otherwise rewrite history unseen)
_ALWAYS = (
    "CREATE INDEX IF NOT EXISTS decisions_issue ON decisions (issue_id, seq)",
    """CREATE TRIGGER IF NOT EXISTS decisions_append_only_update BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'the decision log is append-only: record a new decision (or an undo) instead'); END""",
    """CREATE TRIGGER IF NOT EXISTS decisions_append_only_delete BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'the decision log is append-only: record an undo instead of deleting a row'); END""",
)
_TRIGGERS = ("decisions_append_only_update", "decisions_append_only_delete")

T = TypeVar("T")


def sentence_digest(tokens: Sequence[str], tags: Sequence[str]) -> str:
    """What a decision remembers of its sentence: a digest of its words and given tags.

    Ids are positions (`en/train/000001`); after a sentence is inserted into a data file they
    name other sentences. apply places a decision only on a sentence with this digest."""
    text = json.dumps([list(tokens), list(tags)], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def issue_sentences(issues) -> dict[str, str]:
    """issue_id -> sentence_digest of its sentence, from an issue table (pandas or Arrow, with
    the issue_id, tokens and tags columns): the `sentences` a DecisionStore fills in."""
    names = ("issue_id", "tokens", "tags")
    cols = issues.select(list(names)).to_pydict() if hasattr(issues, "column_names") else {c: list(issues[c]) for c in names}
    return {str(i): sentence_digest(t, g) for i, t, g in zip(cols["issue_id"], cols["tokens"], cols["tags"])}


class IssueSentences:
    """issue_id -> sentence_digest over an Arrow issue table, computed when asked (the review
    UI's `sentences`: a digest per decision, not one per issue at start-up)."""

    def __init__(self, table) -> None:
        self._table = table.select(["tokens", "tags"])
        self._row = {str(i): n for n, i in enumerate(table.column("issue_id").to_pylist())}

    def get(self, issue_id: str) -> str | None:
        n = self._row.get(issue_id)
        if n is None:
            return None
        rec = self._table.slice(n, 1).to_pylist()[0]
        return sentence_digest(rec["tokens"], rec["tags"])

    def __call__(self, issue_id: str) -> str | None:
        return self.get(issue_id)


@dataclass(frozen=True)
class Decision:
    """One row of the log.

    start/end: word span [start, end) the tags cover (None for keep/skip/undo); a relabel may
    cover a different span than the issue's. tags: one IOB2 tag per word of the span.
    at: ISO-8601 UTC timestamp of the decision (shown to people; order comes from seq).
    seq: commit order in the store (None until written). overrules: when this is an issue's
    decision, the other curators' differing opinions it wins over (a conflict).
    sentence: sentence_digest of the sentence the curator saw (None: recorded by an auditor
    before schema 2, or without the issue table at hand).
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
    sentence: str | None = field(default=None, compare=False)

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
tuple (issue_id, action[, start, end, tags]) or a mapping with those keys (and optionally
curator, at, sentence)."""

SentenceLookup = Callable[[str], "str | None"] | Mapping[str, str]


def now_utc() -> str:
    """Current time as ISO-8601 UTC with milliseconds, e.g. 2026-01-31T12:00:00.123+00:00."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def default_curator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "curator"


def _terminal() -> str:
    for fd in (0, 1, 2):
        try:
            return os.ttyname(fd)
        except OSError:
            continue
    return ""


@contextlib.contextmanager
def curator_session(store: str | Path, curator: str) -> Iterator[None]:
    """Hold the curator's name on this store while a review UI is open; StoreError (one line)
    when another UI holds it already.

    Two UIs under one name would be one curator: the second replaces the first's decisions
    without asking and one undo withdraws both. Refusing the second keeps a name one person
    (a login@terminal name instead would change with every terminal, and a curator reopening
    tomorrow could no longer undo or replace her own decisions unasked). The hold is an flock
    on a small file beside the store, so a crashed or killed UI frees its name at once.
    """
    import fcntl

    store = Path(store)
    folder = store.with_name(f".{store.name}.curators")
    lock = folder / f"{quote(curator, safe='')}.lock"
    try:
        folder.mkdir(exist_ok=True)
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)  # the umask decides: a team's group can share
        except PermissionError:  # made by another account: flock works on a read-only file too
            fd = os.open(lock, os.O_RDONLY)
    except OSError as err:
        raise StoreError(f"cannot mark curator {curator} as reviewing: {os_error_line(err)}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            raise StoreError(
                f"{curator} already has the review of {store} open ({holder}); two windows under one name would be "
                f"one curator (each replaces the other's decisions unasked, one undo removes both): pass --curator "
                f"with your own name (e.g. --curator {curator}-2), or close the other window"
            ) from None
        tty = _terminal()
        with contextlib.suppress(OSError):  # who holds it: only for the message of a second UI
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}{' on ' + tty if tty else ''}".encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _is_busy(err: sqlite3.Error) -> bool:
    text = str(err).lower()
    return isinstance(err, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def _code(err: sqlite3.Error) -> int | None:
    code = getattr(err, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def _disk_full(path: Path) -> bool:
    # SQLite reports ENOSPC as SQLITE_FULL on most writes but as a plain I/O error on others
    # (the -wal or -shm file); the free space tells which it was
    try:
        st = os.statvfs(path.parent)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < 64 * 1024


def store_error(err: sqlite3.Error, path: Path, doing: str = "write") -> StoreError:
    """One line saying what went wrong with the store at path and what to do."""
    code = _code(err)
    text = str(err)
    if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or "malformed" in text or "not a database" in text:
        return StoreError(
            f"{path}: the decision store is damaged ({text}); restore it from a backup (auditor review RUN --backup) "
            f"or a {path.name}.rescued-* copy, or save what is readable with: sqlite3 {path} .recover | sqlite3 recovered.sqlite"
        )
    if code == _SQLITE_FULL or (code == _SQLITE_IOERR and _disk_full(path)):
        return StoreError(
            f"{path}: cannot {doing} the decision store: No space left on device; free some space and try again "
            "(every decision made before is saved)"
        )
    if code in (_SQLITE_READONLY, _SQLITE_CANTOPEN, _SQLITE_IOERR) and read_only_fs(path):
        return StoreError(
            f"{path}: on a read-only file system, so no decision can be recorded there; review in a writable copy of "
            "the run folder (auditor review --stats, --backup and auditor apply only read it)"
        )
    if code == _SQLITE_READONLY:
        return StoreError(f"{path}: cannot {doing} the decision store ({text}); check the permissions of the file and its folder")
    if _is_busy(err):
        return StoreError(f"{path}: cannot {doing} the decision store ({text}); another process keeps it locked; try again")
    return StoreError(f"{path}: cannot {doing} the decision store ({text}); check the file and its folder")


def _retrying(fn: Callable[[], T], path: Path) -> T:
    """Run fn, retrying with jittered exponential backoff while another writer holds the lock.

    The busy timeout already waits inside SQLite; this covers the cases it does not (a lock
    taken while switching to WAL, or a timeout under heavy contention). Other SQLite errors
    (read-only file, full disk, damage) become one-line StoreErrors: nothing was written.
    """
    delay = 0.01
    for attempt in range(_MAX_ATTEMPTS):
        try:
            return fn()
        except sqlite3.Error as err:
            if _is_busy(err) and attempt < _MAX_ATTEMPTS - 1:
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 1.0)
                continue
            raise store_error(err, path) from None
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
    seq, issue_id, action, start, end, tags, curator, at, sentence = row
    tags = json.loads(tags) if tags is not None else None
    return Decision(issue_id, action, start, end, tags, curator, at, seq, sentence=sentence)


def _create_file(path: Path) -> bool:
    """Create an empty store file honouring the umask (SQLite would make it 0644 whatever the
    umask, and its -wal and -shm files copy that mode), so a group-writable umask gives the
    team a group-writable store. True when this call created it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return False
    except OSError as err:
        raise StoreError(f"cannot create the decision store: {os_error_line(err)}") from None
    os.close(fd)
    return True


class DecisionStore:
    """Append-only decision log in an SQLite file (created if missing).

    curator: name written on every row this instance records (default: the OS user).
    read_only: open for reading only (--stats, --backup, apply): nothing is created, migrated
    or written, and a store on a read-only file system opens.
    sentences: issue_id -> sentence_digest (a mapping or a function) for the decisions that do
    not bring their own; the review UI passes its issue table's (see issue_sentences).
    """

    def __init__(
        self, path: str | Path, curator: str | None = None, *, read_only: bool = False,
        sentences: SentenceLookup | None = None,
    ) -> None:
        self.path = Path(path)
        self.curator = curator or default_curator()
        self.read_only = read_only
        self.sentences = sentences
        self._lost: str | None = None  # set once the file was found deleted or replaced
        _check_foreign(self.path)
        created = False
        try:
            if read_only:
                self._conn = self._connect_read_only()
            else:
                created = _create_file(self.path)
                # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a write transaction
                # takes the lock up front and never fails half-way on an upgrade from read to write
                self._conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as err:
            raise store_error(err, self.path, "open") from None
        try:
            self._prepare()
        except (sqlite3.Error, StoreError) as err:
            self._conn.close()
            if created and self.path.stat().st_size == 0:  # nothing half-made left behind
                for p in (self.path, *self._sidecars()):
                    p.unlink(missing_ok=True)
            if isinstance(err, StoreError):
                raise
            raise store_error(err, self.path, "open") from None
        self._identity = file_identity(self.path)

    def _sidecars(self) -> list[Path]:
        return [self.path.with_name(self.path.name + s) for s in ("-wal", "-shm", "-journal")]

    # --- set-up ---------------------------------------------------------------------------

    def _connect_read_only(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise StoreError(f"{self.path}: no decision store there")
        if os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK) and not read_only_fs(self.path):
            # where writing is possible an ordinary connection is used (this class writes
            # nothing through it): unlike a mode=ro one, its last close removes the -wal and
            # -shm files of a WAL store instead of leaving them in the run folder
            return sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError as err:
            conn.close()
            # a WAL store in a folder nobody can write to (a read-only mount): SQLite cannot make
            # the -shm file readers share. Nobody can write there either, so reading the file
            # as immutable is safe, unless a -wal file still holds decisions not yet in it.
            if _code(err) != _SQLITE_CANTOPEN or os.access(self.path.parent, os.W_OK) and not read_only_fs(self.path):
                raise
        wal = self.path.with_name(self.path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise StoreError(
                f"{self.path}: on a read-only file system, and {wal.name} beside it holds decisions not yet in the "
                "store; copy the run folder to a writable disk and run the same command there"
            )
        return sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None)

    def _tables(self) -> set[str]:
        return {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}

    def _decision_columns(self) -> list[str]:
        return [r[1] for r in self._conn.execute("PRAGMA table_info(decisions)")]

    def _prepare(self) -> None:
        tables = self._tables()
        if tables and "meta" not in tables:
            raise StoreError(
                f"{self.path}: an SQLite file but not an auditor decision store (no meta table); "
                "move it away or pass --store with another path"
            )
        if not tables:
            if self.read_only:
                raise StoreError(f"{self.path}: an empty file, not a decision store yet (nobody has reviewed here)")
            _retrying(self._create, self.path)
        version = self._check_meta()
        if "decisions" not in self._tables():
            raise StoreError(
                f"{self.path}: an auditor decision store without its decisions table (damaged or made by hand); "
                "restore it from a backup or move it away"
            )
        missing = [c for c in _V1_COLUMNS if c not in self._decision_columns()]
        if missing:
            raise StoreError(f"{self.path}: the decisions table lacks the columns {missing}; restore the store from a backup")
        if not self.read_only:
            triggers = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")}
            if version < SCHEMA_VERSION or not set(_TRIGGERS) <= triggers:
                _retrying(self._migrate, self.path)
            _retrying(lambda: self._conn.execute("PRAGMA journal_mode=WAL"), self.path)
            # FULL: a committed decision survives a power cut too, not only a killed process
            self._conn.execute("PRAGMA synchronous=FULL")
        # a version-1 store opened read-only is read as it is: its rows remember no sentence
        sentence = "sentence" if "sentence" in self._decision_columns() else "NULL"
        self._select = f'SELECT seq, issue_id, action, start, "end", tags, curator, at, {sentence} FROM decisions'

    def _create(self) -> None:
        with self._transaction():
            # statement by statement: executescript would commit our open transaction
            for statement in (*_TABLES, *_ALWAYS):
                self._conn.execute(statement)
            self._conn.executemany(
                "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                [("kind", STORE_KIND), ("schema_version", str(SCHEMA_VERSION)), ("created_at", now_utc())],
            )

    def _migrate(self) -> None:
        """Bring an older store to SCHEMA_VERSION (inside one transaction: another process may
        be migrating the same file at this moment; whoever comes second finds nothing to do)."""
        with self._transaction():
            if "sentence" not in self._decision_columns():
                self._conn.execute("ALTER TABLE decisions ADD COLUMN sentence TEXT")
            for statement in _ALWAYS:
                self._conn.execute(statement)
            self._conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            self._conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('migrated_at', ?)", (now_utc(),))

    def _check_meta(self) -> int:
        try:
            meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as err:
            if isinstance(err, sqlite3.OperationalError) and _code(err) not in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
                raise StoreError(f"{self.path}: unreadable meta table ({err}); not an auditor decision store") from None
            raise
        if meta.get("kind") != STORE_KIND:
            raise StoreError(f"{self.path}: an SQLite file but not an auditor decision store (meta kind {meta.get('kind')!r})")
        try:
            # written since the first release; a store without it has the version-1 layout
            version = int(meta.get("schema_version", "1"))
        except ValueError:
            raise StoreError(f"{self.path}: schema_version {meta['schema_version']!r} is not a number; restore the store from a backup") from None
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: decision store schema {version} is newer than this auditor ({SCHEMA_VERSION}); upgrade auditor"
            )
        return version

    def _transaction(self):
        return _Transaction(self._conn)

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Run a query; a damaged file (or any other SQLite failure) becomes one StoreError line."""
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as err:
            if _is_busy(err) and self._conn.in_transaction:
                raise  # inside a write: _retrying waits and tries again
            raise store_error(err, self.path, "read") from None

    # --- writing ----------------------------------------------------------------------------

    def _digest_for(self, issue_id: str) -> str | None:
        lookup = self.sentences
        if lookup is None:
            return None
        return lookup.get(issue_id) if isinstance(lookup, Mapping) else lookup(issue_id)

    def _make(self, item: DecisionInput) -> Decision:
        if isinstance(item, Decision):
            decision = item
        elif isinstance(item, Mapping):
            decision = Decision(
                str(item["issue_id"]), item["action"], item.get("start"), item.get("end"), item.get("tags"),
                item.get("curator") or self.curator, item.get("at") or now_utc(), sentence=item.get("sentence"),
            )
        else:
            issue_id, action, *rest = item
            start, end, tags, sentence = (list(rest) + [None, None, None, None])[:4]
            decision = Decision(str(issue_id), action, start, end, tags, self.curator, now_utc(), sentence=sentence)
        if decision.sentence is None and decision.action != "undo":
            decision = replace(decision, sentence=self._digest_for(decision.issue_id))
        _validate(decision)
        return decision

    def _insert(self, decisions: Iterable[Decision]) -> list[Decision]:
        """Insert inside an open transaction; the decisions with their seq."""
        out = []
        for d in decisions:
            cur = self._conn.execute(
                'INSERT INTO decisions (issue_id, action, start, "end", tags, curator, at, sentence) '
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (d.issue_id, d.action, d.start, d.end, json.dumps(list(d.tags)) if d.tags is not None else None,
                 d.curator, d.at, d.sentence),
            )
            out.append(replace(d, seq=cur.lastrowid))
        return out

    def check_same_file(self) -> None:
        """StoreError when the file was deleted or replaced since this store opened it.

        SQLite keeps writing to a deleted file without complaint, so every decision from then
        on would vanish unseen. What the open connection still holds is copied next to the
        path first (once), so the decisions of this session are not lost either; from then on
        every call says the same and nothing more is written.
        """
        if self._lost is None and file_identity(self.path) == self._identity:
            return
        if self._lost is None:
            self._lost = self._rescue()
        raise StoreError(self._lost)

    def _rescue(self) -> str:
        rescued = self.path.with_name(f"{self.path.name}.rescued-{datetime.now().strftime('%Y%m%d-%H%M%S')}")
        n = 1
        while rescued.exists():
            n += 1
            rescued = rescued.with_name(f"{self.path.name}.rescued-{datetime.now().strftime('%Y%m%d-%H%M%S')}-{n}")
        try:
            _create_file(rescued)  # with the umask: the team can move it back in place
            self._conn.execute("VACUUM INTO ?", (str(rescued),))
            saved = f"the decisions it held are saved in {rescued}; move that file to {self.path} and reopen"
        except (sqlite3.Error, StoreError) as err:
            saved = f"its decisions could not be saved elsewhere ({err})"
        return f"{self.path}: deleted or replaced while open, so nothing more is recorded; {saved}"

    def _writing(self, body: Callable[[], T]) -> T:
        """Run body in one write transaction (all or nothing), on the file this store opened."""
        if self.read_only:
            raise StoreError(f"{self.path}: opened read-only; nothing can be recorded through it")
        self.check_same_file()

        def attempt() -> T:
            with self._transaction():
                return body()

        return _retrying(attempt, self.path)

    def record(
        self, issue_id: str, action: str, start: int | None = None, end: int | None = None,
        tags: list[str] | None = None, *, sentence: str | None = None,
    ) -> Decision:
        """Append one decision, whoever decided the issue before; committed (on disk) before this
        returns. The review UI uses decide(), which never overwrites another curator unasked.
        sentence: sentence_digest of the issue's sentence (default: from `sentences`)."""
        decision = self._make((issue_id, action, start, end, list(tags) if tags is not None else None, sentence))
        return self._writing(lambda: self._insert([decision]))[0]

    def record_many(self, decisions: list[DecisionInput]) -> int:
        """Append many decisions in one transaction (all or none); returns how many."""
        made = [self._make(d) for d in decisions]
        if made:
            self._writing(lambda: self._insert(made))
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
        tags: list[str] | None = None, *, replace_seq: int | None = None, sentence: str | None = None,
    ) -> Decision:
        """Record this curator's decision unless another curator has decided the issue.

        The check and the write are one transaction, so two curators pressing a key at the
        same moment cannot overwrite each other. replace_seq: the seq of the other curator's
        decision the curator saw and agreed to replace. Raises AlreadyDecided (nothing
        written) when a decision by someone else stands that was not agreed to.
        """
        decision = self._make((issue_id, action, start, end, list(tags) if tags is not None else None, sentence))

        def body() -> Decision:
            blocking = self._blocking(decision, replace_seq)
            if blocking is not None:
                raise AlreadyDecided(blocking)
            return self._insert([decision])[0]

        return self._writing(body)

    def decide_many(self, decisions: list[DecisionInput]) -> tuple[list[Decision], dict[str, Decision]]:
        """decide() for many issues in one transaction: (written, issue_id -> the other
        curator's decision for the issues left alone because someone else decided them)."""
        made = [self._make(d) for d in decisions]

        def body() -> tuple[list[Decision], dict[str, Decision]]:
            left: dict[str, Decision] = {}
            todo = []
            for d in made:
                blocking = self._blocking(d, None)
                if blocking is None:
                    todo.append(d)
                else:
                    left[d.issue_id] = blocking
            return self._insert(todo), left

        return self._writing(body) if made else ([], {})

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

        def body() -> list[Decision]:
            mine = [i for i in dict.fromkeys(issue_ids) if self._fold(self._rows_for(i)).opinion(i, self.curator)]
            return self._insert([self._make((i, "undo")) for i in mine])

        return self._writing(body) if issue_ids else []

    # --- reading ----------------------------------------------------------------------------

    def _rows_for(self, issue_id: str) -> list[Decision]:
        return [_row_to_decision(r) for r in self._read(f"{self._select} WHERE issue_id = ? ORDER BY seq", (issue_id,))]

    @staticmethod
    def _fold(rows: Iterable[Decision]) -> Ledger:
        ledger = Ledger()
        ledger.add(rows)
        return ledger

    def rows_since(self, seq: int) -> list[Decision]:
        """The rows committed after seq, in commit order (by any connection, any process)."""
        return [_row_to_decision(r) for r in self._read(f"{self._select} WHERE seq > ? ORDER BY seq", (seq,))]

    def ledger(self) -> Ledger:
        """The whole log folded (see Ledger); keep it current with sync()."""
        return self._fold(self.rows_since(0))

    def sync(self, ledger: Ledger) -> set[str]:
        """Fold the rows committed since the ledger's last one in; the issue ids that changed.

        One indexed query: cheap enough to poll every second or two (WAL readers never wait
        for writers). A deleted or replaced file is noticed (and rescued) here too, so an open
        UI says so within one poll even when its curator decides nothing.
        """
        if not self.read_only:
            self.check_same_file()
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
            _create_file(tmp)
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
            raise StoreError(f"{dest}: backup failed ({store_error(err, self.path, 'copy')})") from None
        except StoreError:
            tmp.unlink(missing_ok=True)
            raise
        return n

    def __len__(self) -> int:
        return self._read("SELECT COUNT(*) FROM decisions")[0][0]

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> DecisionStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception.

    The rollback is quiet: after some failures (a full disk) SQLite has already rolled the
    transaction back itself, and a second error from ROLLBACK ("no transaction is active")
    must not hide the first, which is the one that tells the user what to do.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error:
                self._rollback()
                raise
        else:
            self._rollback()

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass


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
