"""The decision store when its file is not what it should be: deleted or replaced under an open
UI, older or damaged, on a read-only file system or a full disk; and its log is append-only in
fact (issue 24, rows 4, 7, 8, 15, 18)."""

from __future__ import annotations

import functools
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from auditor.errors import StoreError
from auditor.review.store import SCHEMA_VERSION, DecisionStore

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(tmp_path: Path) -> DecisionStore:
    s = DecisionStore(tmp_path / "review.sqlite", curator="ana")
    yield s
    s.close()


def _rescued(folder: Path) -> list[Path]:
    return sorted(folder.glob("review.sqlite.rescued-*"))


# --- row 4: every write path and the poll notice a deleted or replaced file ----------------------


@pytest.mark.parametrize("write", [
    lambda s: s.decide("b:0-1", "keep"),
    lambda s: s.decide_many([("b:0-1", "keep"), ("c:0-1", "keep")]),
    lambda s: s.undo_many(["a:0-1"]),
    lambda s: s.sync(s.ledger()),
], ids=["decide", "decide_many", "undo_many", "poll"])
@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_every_ui_path_rescues_a_deleted_or_replaced_store(tmp_path: Path, store: DecisionStore, write, how: str) -> None:
    path = tmp_path / "review.sqlite"
    store.decide("a:0-1", "accept", 0, 1, ["B-PER"])
    for p in tmp_path.glob("review.sqlite*"):
        p.unlink()
    if how == "replaced":
        DecisionStore(path, curator="bob").close()
    with pytest.raises(StoreError, match="deleted or replaced while open"):
        write(store)
    rescued = _rescued(tmp_path)
    assert len(rescued) == 1
    with DecisionStore(rescued[0]) as copy:
        assert [(d.issue_id, d.action) for d in copy.history()] == [("a:0-1", "accept")]
    # nothing went into the lost inode, and asking again neither writes nor makes a second copy
    with pytest.raises(StoreError, match="deleted or replaced while open"):
        store.decide("d:0-1", "keep")
    assert len(_rescued(tmp_path)) == 1
    with DecisionStore(rescued[0]) as copy:
        assert len(copy) == 1


# --- row 7: older and damaged stores ----------------------------------------------------------------

_V0 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE decisions (seq INTEGER PRIMARY KEY, issue_id TEXT NOT NULL, action TEXT NOT NULL,
    start INTEGER, "end" INTEGER, tags TEXT, curator TEXT NOT NULL, at TEXT NOT NULL);
INSERT INTO meta VALUES ('kind', 'auditor-decisions');
INSERT INTO decisions (issue_id, action, start, "end", tags, curator, at)
    VALUES ('en/train/000001:0-1', 'accept', 0, 1, '["B-PER"]', 'ana', '2026-01-01T00:00:00.000+00:00');
"""


def _old_store(path: Path, version: str | None) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(_V0)
    if version is not None:
        conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (version,))
    conn.commit()
    conn.close()
    return path


@pytest.mark.parametrize("version", [None, "1"], ids=["no-schema-version", "schema-1"])
def test_an_older_store_migrates_and_keeps_its_decisions(tmp_path: Path, version: str | None) -> None:
    path = _old_store(tmp_path / "review.sqlite", version)
    with DecisionStore(path, curator="bob") as s:
        assert [(d.issue_id, d.action, d.tags, d.sentence) for d in s.history()] == [
            ("en/train/000001:0-1", "accept", ["B-PER"], None)
        ]
        s.record("en/train/000002:0-1", "keep", sentence="abc")
        assert s.history()[-1].sentence == "abc"
    conn = sqlite3.connect(path)
    assert dict(conn.execute("SELECT key, value FROM meta"))["schema_version"] == str(SCHEMA_VERSION)
    conn.close()


def test_an_older_store_reads_without_migrating_when_read_only(tmp_path: Path) -> None:
    path = _old_store(tmp_path / "review.sqlite", None)
    before = path.read_bytes()
    with DecisionStore(path, read_only=True) as s:
        assert [d.issue_id for d in s.history()] == ["en/train/000001:0-1"]
        with pytest.raises(StoreError, match="opened read-only"):
            s.record("x:0-1", "keep")
    assert path.read_bytes() == before


def test_a_store_without_its_decisions_table_stops_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "review.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); "
                       "INSERT INTO meta VALUES ('kind', 'auditor-decisions'), ('schema_version', '1');")
    conn.close()
    with pytest.raises(StoreError, match="without its decisions table"):
        DecisionStore(path)


def _damage(path: Path) -> None:
    """Overwrite a page in the middle of the file, as a bad disk block or a cut copy would."""
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    data[3 * page: 3 * page + 2000] = b"\x55" * 2000
    path.write_bytes(bytes(data))


def _big_store(path: Path) -> Path:
    with DecisionStore(path, curator="ana") as s:
        s.record_many([(f"en/train/{i:06d}:0-1", "keep") for i in range(3000)])
    return path


@pytest.mark.parametrize("read_only", [False, True])
def test_a_damaged_store_ends_in_one_line_not_a_traceback(tmp_path: Path, read_only: bool) -> None:
    path = _big_store(tmp_path / "review.sqlite")
    _damage(path)
    with pytest.raises(StoreError, match=r"damaged .*restore it from a backup") as err:
        with DecisionStore(path, read_only=read_only) as s:
            s.latest()
    assert "\n" not in str(err.value) and "move it away" not in str(err.value)


def test_stats_and_apply_on_damaged_or_old_store_say_one_line(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    _damage(_big_store(run / "review.sqlite"))
    out = subprocess.run([sys.executable, "-m", "auditor", "review", str(run), "--stats"], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=tmp_path)
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    assert "damaged" in out.stderr and len(out.stderr.strip().splitlines()) == 1


# --- row 15: the log is append-only in fact --------------------------------------------------------


def test_history_cannot_be_rewritten_with_sql(store: DecisionStore, tmp_path: Path) -> None:
    store.record("a:0-1", "accept", 0, 1, ["B-PER"])
    conn = sqlite3.connect(tmp_path / "review.sqlite")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE decisions SET action = 'keep'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM decisions")
    conn.close()
    assert [d.action for d in store.history()] == ["accept"]


def test_a_migrated_store_is_append_only_too(tmp_path: Path) -> None:
    path = _old_store(tmp_path / "review.sqlite", "1")
    DecisionStore(path).close()
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE decisions SET tags = NULL")
    conn.close()


# --- rows 8 and 18: a read-only file system, a full disk (real ones, in a user namespace) ----------


@functools.cache
def _namespaces() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt 2>/dev/null || "
                            "mount -t tmpfs -o size=64k tmpfs \"$0\"", "/tmp"], capture_output=True)
    return probe.returncode == 0


needs_namespaces = pytest.mark.skipif(not _namespaces(), reason="needs unprivileged user and mount namespaces")


def _run_in_namespace(shell: str, script: str, folder: Path) -> subprocess.CompletedProcess:
    """Run `shell` (mounts) then the Python script inside a fresh user+mount namespace."""
    code = folder / "script.py"
    code.write_text(textwrap.dedent(script))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = f"{shell} && exec {sys.executable} {code}"
    return subprocess.run(["unshare", "-rm", "sh", "-c", cmd], capture_output=True, text=True, env=env, timeout=120)


@needs_namespaces
def test_stats_apply_and_backup_read_a_store_on_a_read_only_file_system(tmp_path: Path) -> None:
    data, ro = tmp_path / "data", tmp_path / "ro"
    data.mkdir(), ro.mkdir()
    with DecisionStore(data / "review.sqlite", curator="ana") as s:
        s.record("a:0-1", "accept", 0, 1, ["B-PER"])
        s.record("b:0-1", "keep")
    out = tmp_path / "copy.sqlite"
    result = _run_in_namespace(
        f"mount --bind {data} {ro} && mount -o remount,ro,bind {ro}",
        f"""
        from auditor.review.store import DecisionStore
        from auditor.errors import StoreError
        with DecisionStore({str(ro / 'review.sqlite')!r}, read_only=True) as s:
            print(sorted(s.latest()), len(s))
            print(s.backup({str(out)!r}))
        try:
            DecisionStore({str(ro / 'review.sqlite')!r}, curator="bob")
        except StoreError as err:
            print("rw:", err)
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "['a:0-1', 'b:0-1'] 2" and lines[1] == "2"
    assert lines[2].startswith("rw:") and "read-only file system" in lines[2] and "move it away" not in lines[2]
    assert sorted(p.name for p in data.iterdir()) == ["review.sqlite"]


@needs_namespaces
def test_cli_stats_on_a_read_only_file_system(tmp_path: Path) -> None:
    data, ro = tmp_path / "data", tmp_path / "ro"
    data.mkdir(), ro.mkdir()
    with DecisionStore(data / "review.sqlite", curator="ana") as s:
        s.record("a:0-1", "keep")
    result = _run_in_namespace(
        f"mount --bind {data} {ro} && mount -o remount,ro,bind {ro}",
        f"""
        import sys
        from auditor.cli import main
        sys.argv = ["auditor", "review", {str(ro)!r}, "--stats"]
        main()
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "1 issues decided" in " ".join(result.stdout.split()), result.stdout


@needs_namespaces
def test_a_full_disk_says_no_space_left(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    result = _run_in_namespace(
        f"mount -t tmpfs -o size=256k tmpfs {disk}",
        f"""
        from auditor.review.store import DecisionStore
        from auditor.errors import StoreError
        s = DecisionStore({str(disk / 'review.sqlite')!r}, curator="ana")
        s.record("a:0-1", "keep")
        fill = open({str(disk / 'fill')!r}, "wb", buffering=0)
        try:
            while True:
                fill.write(b"x" * 512)
        except OSError:
            pass
        for attempt in (lambda: s.record_many([(f"z{{i}}:0-1", "relabel", 0, 1, ["B-LOC"]) for i in range(20000)]),
                        lambda: s.decide("b:0-1", "keep")):
            try:
                attempt()
                print("written")
            except StoreError as err:
                print(err)
        print(sorted(s.latest()))
        import os
        try:
            DecisionStore({str(disk / 'new.sqlite')!r}, curator="ana")
            print("opened")
        except StoreError as err:
            print(err, os.path.exists({str(disk / 'new.sqlite')!r}))
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    big, one, latest, new = result.stdout.splitlines()[-4:]
    assert "No space left on device" in new and new.endswith("False"), new  # nothing half-made left behind
    assert "No space left on device" in big and "rollback" not in big, big
    assert "No space left on device" in one or one == "written"
    assert latest.startswith("['a:0-1'")
