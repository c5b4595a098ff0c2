"""The review UI driven by keys (Textual's Pilot): every action lands in SQLite, undo, relabel,
filters, bulk, resume, a killed session loses nothing, and SVG snapshots of the main screen."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from review_rows import ROWS, keys_missing_from_help, make_issues

from auditor.errors import DataError, StoreError
from auditor.review.app import ReviewApp, open_review
from auditor.review.bindings import assign_type_keys
from auditor.review.dialogs import FilterScreen
from auditor.review.queue import OPEN, IssueFilter
from auditor.review.store import DecisionStore
from auditor.tables import write_issues

# async tests run on asyncio through anyio's pytest plugin (installed with Textual)
pytestmark = pytest.mark.anyio


def app_for(run_dir: Path, **kw) -> ReviewApp:
    return open_review(run_dir, curator="ana", **kw)


def rows(run_dir: Path) -> list[tuple]:
    """(issue_id, action, start, end, tags) of every decision, read by a fresh connection."""
    with DecisionStore(run_dir / "review.sqlite") as s:
        return [(d.issue_id, d.action, d.start, d.end, d.tags) for d in s.history()]


def current_id(app: ReviewApp) -> str:
    return app.queue.current().issue_id


# --- deciding ------------------------------------------------------------------------------


async def test_each_key_records_its_decision_and_advances(run_dir: Path) -> None:
    app = app_for(run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert current_id(app) == "de/train/000005:3-5"  # lowest score first
        await pilot.press("a")
        assert current_id(app) == "en/train/000001:1-3"
        await pilot.press("k")
        await pilot.press("s")
        assert current_id(app) == "fr/train/000003:1-3"
    assert rows(run_dir) == [
        ("de/train/000005:3-5", "accept", 3, 5, ["O", "O"]),
        ("en/train/000001:1-3", "keep", None, None, None),
        ("de/train/000002:1-3", "skip", None, None, None),
    ]
    assert all(d.curator == "ana" for d in DecisionStore(run_dir / "review.sqlite").history())


async def test_undo_reopens_the_last_decision_and_goes_back_to_it(run_dir: Path) -> None:
    app = app_for(run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("a", "k")
        await pilot.press("u")
        assert current_id(app) == "en/train/000001:1-3"
        assert app.queue.status[1] == OPEN
        await pilot.press("a")
    assert [r[:2] for r in rows(run_dir)] == [
        ("de/train/000005:3-5", "accept"),
        ("en/train/000001:1-3", "keep"),
        ("en/train/000001:1-3", "undo"),
        ("en/train/000001:1-3", "accept"),
    ]
    latest = DecisionStore(run_dir / "review.sqlite").latest()
    assert {k: v.action for k, v in latest.items()} == {"de/train/000005:3-5": "accept", "en/train/000001:1-3": "accept"}


async def test_relabel_moves_boundaries_and_picks_a_type(run_dir: Path) -> None:
    app = app_for(run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")  # The United Nations met in Geneva . (issue 1-3)
        await pilot.press("r")
        await pilot.press("left")  # start 1 -> 0: "The United Nations"
        await pilot.press("shift+right", "shift+left", "shift+left")  # end 3 -> 4 -> 3 -> 2
        await pilot.press("o")  # ORG
        await pilot.press("enter")
        assert current_id(app) == "de/train/000002:1-3"
    # the decision covers the issue's span too, so the dropped word "Nations" becomes O
    assert rows(run_dir) == [("en/train/000001:1-3", "relabel", 0, 3, ["B-ORG", "I-ORG", "O"])]


async def test_relabel_as_o_and_cancel(run_dir: Path) -> None:
    app = app_for(run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r", "p", "escape")  # cancelled: nothing recorded, still on the issue
        assert current_id(app) == "de/train/000005:3-5"
        await pilot.press("r", "x", "enter")
    assert rows(run_dir) == [("de/train/000005:3-5", "relabel", 3, 5, ["O", "O"])]


def test_type_keys_are_unique_and_mnemonic() -> None:
    assert assign_type_keys(["LOC", "ORG", "PER"]) == {"l": "LOC", "o": "ORG", "p": "PER"}
    keys = assign_type_keys(["PER", "PERSON", "ORG", "OTHER", "DATE", "X", "Q"])
    assert len(keys) == 7 and set(keys.values()) == {"PER", "PERSON", "ORG", "OTHER", "DATE", "X", "Q"}
    assert keys["p"] == "PER" and keys["e"] == "PERSON" and keys["o"] == "ORG" and keys["t"] == "OTHER"
    assert not {"x", "0", "q"} & set(keys)  # x/0 mean O; q quits


async def test_label_set_comes_from_the_table(tmp_path: Path) -> None:
    run = tmp_path / "run"
    extra = ("en/train/000009", "Hamlet by Shakespeare", "B-WORK O B-PER", 0, 1, "B-MISC", "type", 0.9)
    write_issues(make_issues(ROWS + [extra]), run / "issues.parquet")
    app = app_for(run)
    assert sorted(app.type_keys.values()) == ["LOC", "MISC", "ORG", "PER", "WORK"]


# --- resume, kill --------------------------------------------------------------------------


async def test_reopening_resumes_at_the_first_unreviewed_issue(run_dir: Path) -> None:
    with DecisionStore(run_dir / "review.sqlite", curator="ben") as s:
        s.record("de/train/000005:3-5", "keep")
        s.record("en/train/000001:1-3", "skip")
        s.record("fr/train/000003:1-3", "keep")
    app = app_for(run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert current_id(app) == "de/train/000002:1-3"
        await pilot.press("a")
        assert current_id(app) == "it/train/000004:0-2"  # skips the decided one
        await pilot.press("home", "g")
        assert current_id(app) == "it/train/000004:0-2"


KILL_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from auditor.review.app import open_review
    from auditor.review.queue import OPEN

    async def main():
        app = open_review(sys.argv[1], curator="kim")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            while True:
                rank = app.queue.current_rank()
                if app.queue.status[rank] != OPEN:
                    break
                await pilot.press("a" if rank % 2 else "k")
                if app.queue.status[rank] != OPEN:  # the UI shows it decided
                    print(app.table.issue_ids[rank], flush=True)
            print("all decided", flush=True)
            await asyncio.sleep(60)

    asyncio.run(main())
    """
)


def test_sigkill_mid_session_loses_no_decision(tmp_path: Path) -> None:
    run = tmp_path / "run"
    many = [(f"de/train/{i:06d}", "Die United Nations tagten", "O B-PER I-PER O", 1, 3, "B-ORG I-ORG", "type", i / 100)
            for i in range(60)]
    write_issues(make_issues(many), run / "issues.parquet")
    script = tmp_path / "session.py"
    script.write_text(KILL_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(run)], stdout=subprocess.PIPE, text=True)
    seen = []
    try:
        while len(seen) < 12:
            line = proc.stdout.readline()
            assert line, "the review session ended early"
            seen.append(line.strip())
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # mid-session: it is still pressing keys
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    latest = DecisionStore(run / "review.sqlite").latest()
    assert set(seen) <= set(latest)
    assert len(latest) < 60  # killed before the end
    for issue_id in seen:
        rank = int(issue_id.split("/")[2][:6])
        assert latest[issue_id].action == ("accept" if rank % 2 else "keep")


# --- filters and bulk --------------------------------------------------------------------------


async def test_filter_screen_by_language_kind_and_score(run_dir: Path) -> None:
    app = app_for(run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f")
        assert isinstance(app.screen, FilterScreen)
        await pilot.press(*"de,fr", "enter")
        assert [app.table.issue_ids[r] for r in app.queue.view] == [
            "de/train/000005:3-5", "de/train/000002:1-3", "fr/train/000003:1-3",
            "fr/train/000007:0-2", "de/train/000008:0-5",
        ]
        await pilot.press("f", "tab", *"type", "tab", "tab", *"0.15", "enter")  # lang de,fr + kind + min score
        assert [app.table.issue_ids[r] for r in app.queue.view] == ["fr/train/000003:1-3"]
        await pilot.press("a")  # decisions still work on a filtered view
        await pilot.press("escape")  # clears the filter
        assert len(app.queue.view) == len(ROWS)
    assert rows(run_dir) == [("fr/train/000003:1-3", "accept", 1, 3, ["B-ORG", "I-ORG"])]


async def test_bad_score_in_filter_is_explained(run_dir: Path) -> None:
    app = app_for(run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f", "tab", "tab", "tab", *"lots", "enter")
        assert isinstance(app.screen, FilterScreen)
        assert "score must be a number" in str(app.screen.query_one("#filter-error").render())
        await pilot.press("escape")
        assert not app.queue.filter.active


async def test_search_words_and_status_filter(run_dir: Path) -> None:
    app = app_for(run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("/", *"united nations", "enter")
        assert len(app.queue.view) == 5
        await pilot.press("escape", "a", "k")
        screen = app.review
        screen.apply_filter(IssueFilter(status="open"))
        await pilot.pause()
        assert len(app.queue.view) == len(ROWS) - 2
        screen.apply_filter(IssueFilter(entity_types=("LOC",), max_score=0.5))
        assert [app.table.issue_ids[r] for r in app.queue.view] == ["en/train/000006:0-2"]


async def test_bulk_accept_touches_exactly_the_open_issues_with_the_same_change(run_dir: Path) -> None:
    with DecisionStore(run_dir / "review.sqlite", curator="ben") as s:
        s.record("it/train/000004:0-2", "keep")  # decided already: bulk must leave it alone
    app = app_for(run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")  # en/train/000001: United Nations PER -> ORG
        await pilot.press("b")
        assert "3 open issues" in str(app.screen.query_one("#bulk-accept").render())
        await pilot.press("enter")
    decided = {r[0]: r for r in rows(run_dir) if r[1] == "accept"}
    assert sorted(decided) == ["de/train/000002:1-3", "en/train/000001:1-3", "fr/train/000003:1-3"]
    assert decided["de/train/000002:1-3"][2:] == (1, 3, ["B-ORG", "I-ORG"])
    latest = DecisionStore(run_dir / "review.sqlite").latest()
    assert latest["it/train/000004:0-2"].action == "keep"  # untouched
    assert "en/train/000006:0-2" not in latest  # LOC -> ORG is another change


async def test_bulk_keep_cancel_and_undo_as_a_whole(run_dir: Path) -> None:
    app = app_for(run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n", "b", "escape")
        assert rows(run_dir) == []
        await pilot.press("b", "k")
        assert len(rows(run_dir)) == 4
        await pilot.press("u")
        assert DecisionStore(run_dir / "review.sqlite").latest() == {}
        assert current_id(app) == "en/train/000001:1-3"


# --- errors and CLI -----------------------------------------------------------------------------


def test_missing_issue_table_and_foreign_store(tmp_path: Path, run_dir: Path) -> None:
    with pytest.raises(DataError, match="no issue table"):
        open_review(tmp_path / "empty")
    foreign = run_dir / "review.sqlite"
    foreign.write_text("not a database\n")
    with pytest.raises(StoreError, match="not a decision store"):
        open_review(run_dir)
    assert foreign.read_text() == "not a database\n"


def test_cli_reports_a_foreign_store_in_one_line(run_dir: Path) -> None:
    store = run_dir / "mine.db"
    store.write_bytes(b"hello")
    result = subprocess.run(
        [sys.executable, "-m", "auditor", "review", str(run_dir), "--store", str(store), "--stats"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "not a decision store" in result.stderr
    assert store.read_bytes() == b"hello"


async def test_shard_shows_only_its_sentences(run_dir: Path) -> None:
    parts = [open_review(run_dir, curator="ana", shard=f"{i}/2").table for i in (1, 2)]
    ids = [set(p.issue_ids) for p in parts]
    assert not ids[0] & ids[1] and len(ids[0] | ids[1]) == len(ROWS)


async def test_progress_line_counts_decisions(run_dir: Path) -> None:
    app = app_for(run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("a", "a", "k", "s")
        text = str(app.screen.query_one("#progress").render())
        # a skip is not done: 3 of 8 decided, the skip counted on its own
        assert text.startswith("3/8 decided") and "✓2" in text and "=1" in text and "»1 skipped" in text
        assert " left" in text and "—" not in text  # a pace after 3+ decisions


async def test_help_screen_lists_every_key(run_dir: Path) -> None:
    from auditor.review.bindings import HELP
    from auditor.review.dialogs import HelpScreen
    from auditor.review.screens import ReviewScreen

    assert keys_missing_from_help(ReviewScreen.BINDINGS + ReviewApp.BINDINGS, HELP) == []
    app = app_for(run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert app.screen is app.review


# --- snapshots --------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_main_screen_snapshot(run_dir: Path, snap_compare, size) -> None:
    with DecisionStore(run_dir / "review.sqlite", curator="ana") as s:
        s.record("de/train/000005:3-5", "accept", 3, 5, ["O", "O"])
    assert snap_compare(app_for(run_dir), terminal_size=size)


def test_relabel_screen_snapshot(run_dir: Path, snap_compare) -> None:
    assert snap_compare(app_for(run_dir), terminal_size=(80, 24), press=["n", "r", "left", "o"])


AT = "2026-01-31T12:03:00.000+00:00"  # fixed times: the screen shows them


def _team_decisions(run_dir: Path) -> None:
    rows = [
        {"issue_id": "de/train/000005:3-5", "action": "keep", "curator": "alice", "at": AT},
        {"issue_id": "de/train/000005:3-5", "action": "accept", "start": 3, "end": 5, "tags": ["O", "O"],
         "curator": "bob", "at": AT.replace("03:00", "04:00")},
        {"issue_id": "fr/train/000003:1-3", "action": "relabel", "start": 0, "end": 3,
         "tags": ["B-ORG", "I-ORG", "I-ORG"], "curator": "alice", "at": AT},
    ]
    with DecisionStore(run_dir / "review.sqlite", curator="ana") as s:
        s.record_many(rows)


def test_team_screen_snapshot(run_dir: Path, snap_compare) -> None:
    """A conflict (alice kept, bob accepted later) seen by a third curator, 160x48."""
    _team_decisions(run_dir)
    assert snap_compare(app_for(run_dir), terminal_size=(160, 48), press=["home"])


def test_bulk_preview_snapshot(run_dir: Path, snap_compare) -> None:
    assert snap_compare(app_for(run_dir), terminal_size=(80, 24), press=["n", "b"])


def test_help_screen_snapshot(run_dir: Path, snap_compare) -> None:
    assert snap_compare(app_for(run_dir), terminal_size=(80, 24), press=["question_mark"])


async def test_empty_issue_table_opens_and_ignores_decision_keys(tmp_path: Path) -> None:
    run = tmp_path / "run"
    write_issues(make_issues()[:0], run / "issues.parquet")
    app = app_for(run)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("a", "k", "r", "s", "u", "b", "n", "g", "o", "G", "A")
        assert "No issue to show" in str(app.screen.query_one("#sentence").render())
    assert rows(run) == []


def test_real_command_under_a_pty_survives_sigkill(run_dir: Path) -> None:
    """`auditor review` in a real terminal: keys reach the store, a SIGKILL loses nothing."""
    import pty
    import time

    pid, fd = pty.fork()
    if pid == 0:  # child: the real CLI on the pty
        os.environ.update(TERM="xterm-256color", COLUMNS="80", LINES="24")
        os.execv(sys.executable, [sys.executable, "-m", "auditor", "review", str(run_dir), "--curator", "pty"])
    store_path = run_dir / "review.sqlite"

    screen = bytearray()

    def drain() -> None:  # keep reading the screen so the app never blocks on a full pty
        import select

        while select.select([fd], [], [], 0.05)[0]:
            try:
                screen.extend(os.read(fd, 65536))
            except OSError:
                return

    def wait_for(n: int) -> list:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            drain()
            if store_path.exists():
                with DecisionStore(store_path) as s:
                    history = s.history()
                if len(history) >= n:
                    return history
        raise AssertionError(f"fewer than {n} decisions reached the store")

    try:
        deadline = time.monotonic() + 30
        while b"relabel" not in screen and time.monotonic() < deadline:  # the footer is drawn
            drain()
        assert b"relabel" in screen, bytes(screen[-500:])
        for n, key in enumerate([b"a", b"k", b"s"], start=1):
            os.write(fd, key)
            history = wait_for(n)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)
    assert [(d.action, d.curator) for d in history] == [("accept", "pty"), ("keep", "pty"), ("skip", "pty")]
    assert [d.issue_id for d in DecisionStore(store_path).history()] == [
        "de/train/000005:3-5", "en/train/000001:1-3", "de/train/000002:1-3",
    ]


async def test_a_failed_write_is_shown_and_the_issue_stays(run_dir: Path, monkeypatch) -> None:
    import sqlite3

    import auditor.review.store as store_module

    monkeypatch.setattr(store_module, "_BUSY_TIMEOUT_S", 0.05)
    monkeypatch.setattr(store_module, "_MAX_ATTEMPTS", 2)
    app = app_for(run_dir)
    other = sqlite3.connect(run_dir / "review.sqlite", isolation_level=None)
    async with app.run_test(size=(80, 24)) as pilot:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        await pilot.press("a")
        assert current_id(app) == "de/train/000005:3-5"  # not advanced: nothing was saved
        assert app.queue.status[0] == OPEN
        assert any("cannot write" in n.message for n in app._notifications)
        other.execute("ROLLBACK")
        await pilot.press("a")
        assert current_id(app) == "en/train/000001:1-3"
    other.close()
    assert [r[:2] for r in rows(run_dir)] == [("de/train/000005:3-5", "accept")]
