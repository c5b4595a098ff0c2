"""The decision store: append-only, committed per decision, safe with two writers, and it
never touches a file that is not one of its own."""

from __future__ import annotations

import getpass
import multiprocessing as mp
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from auditor.errors import AuditorError, StoreError
from auditor.review.queue import Shard
from auditor.review.store import SCHEMA_VERSION, AlreadyDecided, Decision, DecisionStore


@pytest.fixture
def store(tmp_path: Path) -> DecisionStore:
    s = DecisionStore(tmp_path / "review.sqlite", curator="ana")
    yield s
    s.close()


def _rows(path: Path) -> list[tuple]:
    """The table as another process would see it (a separate connection)."""
    with sqlite3.connect(path) as conn:
        return conn.execute('SELECT issue_id, action, start, "end", tags, curator FROM decisions ORDER BY seq').fetchall()


def test_record_is_committed_before_returning(store: DecisionStore, tmp_path: Path) -> None:
    d = store.record("de/train/1:2-4", "accept", 2, 4, ["B-ORG", "I-ORG"])
    assert d == Decision("de/train/1:2-4", "accept", 2, 4, ["B-ORG", "I-ORG"], "ana", d.at)
    assert d.at.endswith("+00:00") and "T" in d.at
    assert _rows(tmp_path / "review.sqlite") == [("de/train/1:2-4", "accept", 2, 4, '["B-ORG", "I-ORG"]', "ana")]


def test_latest_row_wins_and_history_keeps_everything(store: DecisionStore) -> None:
    store.record("a", "accept", 0, 1, ["B-PER"])
    store.record("b", "keep")
    store.record("a", "relabel", 0, 2, ["B-ORG", "I-ORG"])
    store.record("c", "skip")
    latest = store.latest()
    assert {k: v.action for k, v in latest.items()} == {"a": "relabel", "b": "keep", "c": "skip"}
    assert latest["a"].tags == ["B-ORG", "I-ORG"] and (latest["a"].start, latest["a"].end) == (0, 2)
    assert [(d.issue_id, d.action) for d in store.history()] == [
        ("a", "accept"), ("b", "keep"), ("a", "relabel"), ("c", "skip"),
    ]


def test_undo_appends_a_reversal_and_reopens_the_issue(store: DecisionStore) -> None:
    store.record("a", "accept", 0, 1, ["B-PER"])
    store.record("b", "keep")
    reversal = store.undo("a")
    assert reversal.action == "undo" and reversal.tags is None
    assert set(store.latest()) == {"b"}
    assert [d.action for d in store.history()] == ["accept", "keep", "undo"]
    with pytest.raises(StoreError, match="no decision of ana to undo"):
        store.undo("a")
    store.record("a", "keep")  # decided again after the undo
    assert store.latest()["a"].action == "keep"


def test_record_many_is_one_transaction(store: DecisionStore, tmp_path: Path) -> None:
    n = store.record_many([("a", "accept", 0, 1, ["B-ORG"]), {"issue_id": "b", "action": "keep"}, ("c", "skip")])
    assert n == 3 and len(_rows(tmp_path / "review.sqlite")) == 3
    # one bad decision: none of the batch is written
    with pytest.raises(ValueError):
        store.record_many([("d", "keep"), ("e", "accept", 0, 2, ["B-ORG"])])  # 1 tag for 2 words
    assert {r[0] for r in _rows(tmp_path / "review.sqlite")} == {"a", "b", "c"}


@pytest.mark.parametrize(
    "args",
    [
        ("a", "approve"),  # unknown action
        ("a", "accept"),  # no span
        ("a", "accept", 2, 2, []),  # empty span
        ("a", "relabel", 0, 1, ["ORG"]),  # not IOB2
        ("a", "keep", 0, 1, ["O"]),  # keep takes no tags
    ],
)
def test_invalid_decisions_are_refused(store: DecisionStore, args: tuple) -> None:
    with pytest.raises(ValueError):
        store.record(*args)
    assert len(store) == 0


def test_default_curator_is_the_os_user(tmp_path: Path) -> None:
    with DecisionStore(tmp_path / "s.sqlite") as s:
        assert s.record("a", "keep").curator == getpass.getuser()


def test_reopened_store_keeps_decisions_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "folder" / "review.sqlite"
    with DecisionStore(path, curator="ana") as s:
        s.record("a", "keep")
    with DecisionStore(path, curator="ben") as s:
        s.record("b", "skip")
        assert {k: v.curator for k, v in s.latest().items()} == {"a": "ana", "b": "ben"}
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert dict(conn.execute("SELECT key, value FROM meta"))["schema_version"] == str(SCHEMA_VERSION)


# --- files that are not ours -------------------------------------------------------------


def _foreign_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE people (name TEXT)")
        conn.execute("INSERT INTO people VALUES ('ada')")
    sqlite3.connect(path).close()


def _other_kind(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        conn.execute("INSERT INTO meta VALUES ('kind', 'someone-elses-tool')")


def _corrupt_sqlite(path: Path) -> None:
    DecisionStore(path).close()
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # header intact, schema page garbage
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_text("issue_id,action\nx,accept\n"), "not an SQLite file"),
        (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200)), "not an SQLite file"),
        (_foreign_sqlite, "no meta table"),
        (_other_kind, "not an auditor decision store"),
        (_corrupt_sqlite, "decision store"),
    ],
    ids=["csv", "png", "foreign-sqlite", "other-tool-meta", "corrupt-sqlite"],
)
def test_foreign_or_corrupt_file_fails_and_is_left_untouched(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "review.sqlite"
    make(path)
    for extra in tmp_path.glob("review.sqlite-*"):  # leave only the main file
        extra.unlink()
    before = path.read_bytes()
    with pytest.raises(StoreError, match=message) as err:
        DecisionStore(path, curator="ana")
    assert "\n" not in str(err.value) and str(path) in str(err.value)
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("review.sqlite-*"))  # no journal left beside it either


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "review.sqlite"
    DecisionStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="newer than this auditor"):
        DecisionStore(path)


def test_folder_instead_of_file(tmp_path: Path) -> None:
    (tmp_path / "review.sqlite").mkdir()
    (tmp_path / "review.sqlite" / "x").write_text("x")
    with pytest.raises(StoreError, match="is a folder"):
        DecisionStore(tmp_path / "review.sqlite")


# --- concurrency ---------------------------------------------------------------------------


def _writer(path: str, curator: str, n: int, start: mp.Event) -> None:
    store = DecisionStore(path, curator=curator)
    start.wait()
    for i in range(n):
        if i % 50 == 49:
            store.record_many([(f"{curator}-{i}-{j}", "keep") for j in range(3)])
        else:
            store.record(f"{curator}-{i}", "accept", 0, 1, ["B-ORG"])
    store.close()


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "review.sqlite")
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    n = 300
    procs = [ctx.Process(target=_writer, args=(path, name, n, start)) for name in ("ana", "ben")]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with DecisionStore(path) as s:
        history = s.history()
        latest = s.latest()
    per_process = n + (n // 50) * 2  # each record_many writes 3 rows instead of 1
    assert len(history) == 2 * per_process
    for name in ("ana", "ben"):
        mine = [d.issue_id for d in history if d.curator == name]
        assert len(mine) == per_process
        # each writer's rows are in the order it wrote them
        singles = [int(i.split("-")[1]) for i in mine if i.count("-") == 1]
        assert singles == sorted(singles)
    assert len(latest) == 2 * per_process


def test_waits_for_a_writer_holding_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "review.sqlite"
    store = DecisionStore(path, curator="ana")
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO decisions (issue_id, action, curator, at) VALUES ('x', 'keep', 'ben', 'now')")
    release = threading.Timer(0.4, lambda: other.execute("COMMIT"))
    release.start()
    t = time.monotonic()
    store.record("a", "keep")  # blocks until the other writer commits, then succeeds
    assert time.monotonic() - t >= 0.3
    release.join()
    other.close()
    assert [d.issue_id for d in store.history()] == ["x", "a"]
    store.close()


# --- shards --------------------------------------------------------------------------------


def test_shard_parsing() -> None:
    assert Shard.parse("2/3") == Shard(2, 3)
    for bad in ("0/3", "4/3", "a/b", "3", ""):
        with pytest.raises(AuditorError, match="--shard"):
            Shard.parse(bad)


def test_shards_split_sentences_between_curators_deterministically() -> None:
    import numpy as np

    ids = np.array([f"de/train/{i:06d}" for i in range(3000)], dtype=object)
    masks = [Shard(i, 3).mask(ids) for i in (1, 2, 3)]
    assert (np.sum(masks, axis=0) == 1).all()  # every sentence in exactly one shard
    assert all(800 < m.sum() < 1200 for m in masks)  # roughly even
    assert (Shard(2, 3).mask(ids) == masks[1]).all()  # same split every time


def test_a_lock_held_too_long_is_one_clear_error(tmp_path: Path, monkeypatch) -> None:
    import auditor.review.store as store_module

    monkeypatch.setattr(store_module, "_BUSY_TIMEOUT_S", 0.05)
    monkeypatch.setattr(store_module, "_MAX_ATTEMPTS", 3)
    path = tmp_path / "review.sqlite"
    store = DecisionStore(path, curator="ana")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(StoreError, match="locked") as err:
        store.record("a", "keep")
    assert "\n" not in str(err.value)
    other.execute("ROLLBACK")
    other.close()
    assert store.history() == []  # nothing half-written; the next try works
    store.record("a", "keep")
    assert len(store) == 1
    store.close()


# --- several curators ----------------------------------------------------------------------


def _pair(tmp_path: Path) -> tuple[DecisionStore, DecisionStore]:
    path = tmp_path / "review.sqlite"
    return DecisionStore(path, curator="alice"), DecisionStore(path, curator="bob")


def test_undo_withdraws_only_the_undoers_own_decision(tmp_path: Path) -> None:
    path = tmp_path / "review.sqlite"
    with DecisionStore(path, curator="carol") as carol, DecisionStore(path, curator="bob") as bob:
        carol.record("x", "keep")
        bob.record("x", "accept", 0, 1, ["B-ORG"])
        carol.undo("x")
        d = bob.latest()["x"]
        assert (d.action, d.curator, d.overrules) == ("accept", "bob", ())  # bob's decision stands
        with pytest.raises(StoreError, match="no decision of carol to undo"):
            carol.undo("x")
        bob.undo("x")
        assert carol.latest() == {}
    # an undo row by someone without a decision there (older auditors wrote those) withdraws nothing
    with DecisionStore(path, curator="bob") as bob:
        bob.record("y", "keep")
        bob.record_many([{"issue_id": "y", "action": "undo", "curator": "dave"}])
        assert bob.latest()["y"].action == "keep"


def test_decide_never_overwrites_another_curator_unasked(tmp_path: Path) -> None:
    alice, bob = _pair(tmp_path)
    theirs = alice.decide("x", "accept", 0, 1, ["B-ORG"])
    with pytest.raises(AlreadyDecided) as err:
        bob.decide("x", "keep")
    assert err.value.decision.curator == "alice" and err.value.decision.seq == theirs.seq
    assert len(bob) == 1  # nothing written
    bob.decide("x", "keep", replace_seq=theirs.seq)  # bob agreed to replace exactly that decision
    assert bob.latest()["x"].curator == "bob"
    with pytest.raises(AlreadyDecided):  # alice now meets bob's decision in turn
        alice.decide("x", "accept", 0, 1, ["B-ORG"], replace_seq=theirs.seq)
    alice.decide("x", "skip")  # a skip never asks: it hides nobody's decision
    assert bob.latest()["x"].action == "keep"
    bob.decide("x", "relabel", 0, 1, ["B-LOC"])  # one's own decision is replaced without asking
    written, left = alice.decide_many([("x", "keep"), ("y", "keep")])
    assert [d.issue_id for d in written] == ["y"] and left["x"].action == "relabel"
    alice.close(), bob.close()


def test_conflicts_are_curators_whose_decisions_differ(tmp_path: Path) -> None:
    alice, bob = _pair(tmp_path)
    alice.record("x", "keep")
    bob.record("x", "accept", 0, 2, ["B-ORG", "I-ORG"])
    ledger = alice.ledger()
    d = ledger.decision("x")
    assert ledger.conflict("x") and d.curator == "bob" and [o.curator for o in d.overrules] == ["alice"]
    alice.record("x", "relabel", 0, 2, ["B-ORG", "I-ORG"])  # the same tags as bob's accept: agreement
    assert not alice.ledger().conflict("x") and alice.latest()["x"].curator == "alice"
    bob.record("y", "keep")
    alice.record("y", "skip")  # a skip is no opinion on the tags
    assert not alice.ledger().conflicts() and alice.latest()["y"].action == "keep"
    alice.close(), bob.close()


def test_sync_folds_in_only_what_was_committed_since(tmp_path: Path) -> None:
    alice, bob = _pair(tmp_path)
    ledger = bob.ledger()
    assert bob.sync(ledger) == set()
    alice.record("x", "keep")
    alice.record("y", "skip")
    assert bob.sync(ledger) == {"x", "y"} and ledger.seq == 2
    assert bob.sync(ledger) == set()
    alice.undo("y")
    assert bob.sync(ledger) == {"y"} and ledger.decision("y") is None
    alice.close(), bob.close()


def _steady_writer(path: str, n: int, started) -> None:
    store = DecisionStore(path, curator="writer")
    started.set()
    for i in range(n):
        store.record(f"w-{i}", "keep")
    store.close()


def test_backup_while_another_process_writes(tmp_path: Path) -> None:
    path = tmp_path / "review.sqlite"
    with DecisionStore(path, curator="ana") as s:
        s.record_many([(f"a-{i}", "skip") for i in range(200)])
    ctx = mp.get_context("spawn")
    started = ctx.Event()
    writer = ctx.Process(target=_steady_writer, args=(str(path), 400, started))
    writer.start()
    started.wait(60)
    copies = []
    with DecisionStore(path, curator="ana") as s:
        for k in range(3):
            copies.append(tmp_path / f"copy-{k}.sqlite")
            s.backup(copies[-1])
    writer.join(120)
    assert writer.exitcode == 0
    for copy in copies:
        assert not copy.with_name(copy.name + "-wal").exists()  # one self-contained file
        with DecisionStore(copy) as c:
            rows = c.history()
        # a consistent snapshot: everything written before it, then a gap-free prefix of the writer's rows
        assert [d.issue_id for d in rows[:200]] == [f"a-{i}" for i in range(200)]
        assert [d.issue_id for d in rows[200:]] == [f"w-{i}" for i in range(len(rows) - 200)]
        assert [d.seq for d in rows] == list(range(1, len(rows) + 1))
    with pytest.raises(StoreError, match="exists already"):
        with DecisionStore(path) as s:
            s.backup(copies[0])


MOUNTS = """\
/dev/sda1 / ext4 rw,relatime 0 0
server:/export/team /net/team nfs4 rw,relatime,vers=4.2 0 0
//nas/share /net/smb\\040share cifs rw 0 0
tmpfs /net/team/local tmpfs rw 0 0
"""


def test_network_filesystems_are_detected_from_the_mount_table(tmp_path: Path) -> None:
    from auditor.review.store import filesystem_type, network_warning

    assert filesystem_type("/net/team/runs/demo/review.sqlite", MOUNTS) == "nfs4"
    assert filesystem_type("/net/smb share/run/review.sqlite", MOUNTS) == "cifs"
    assert filesystem_type("/net/team/local/review.sqlite", MOUNTS) == "tmpfs"  # the longest mount point wins
    assert filesystem_type("/srv/ana/review.sqlite", MOUNTS) == "ext4"
    warning = network_warning("/net/team/runs/demo/review.sqlite", MOUNTS)
    assert "\n" not in warning and "nfs4" in warning and "SSH" in warning
    assert network_warning("/srv/ana/review.sqlite", MOUNTS) is None
    assert filesystem_type(tmp_path / "review.sqlite") is not None or not Path("/proc/self/mounts").exists()
