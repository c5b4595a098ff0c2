"""`auditor verify`: a curator checks a random sample sentence by sentence; every change is in
the file at once, reopening resumes at the first unchecked sentence, the verified lines are
what scoring.reference reads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from review_rows import keys_missing_from_help

from auditor.data.sample import SampleRow, read_sample, write_sample
from auditor.errors import DataError
from auditor.review.verify import VerifyApp, entity_at
from auditor.scoring.reference import read_verified_sample

pytestmark = pytest.mark.anyio
LABELS = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]


def _row(sid: str, text: str, tags: str) -> SampleRow:
    t = tags.split()
    return SampleRow(sid, text.split(), t, list(t), "en", extra={"types": ["LOC", "ORG", "PER"]})


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "sample.jsonl"
    write_sample(path, [
        _row("en/dev/1", "Japan beat Syria 2-1 .", "B-LOC O B-LOC O O"),
        _row("en/dev/2", "Talks in Geneva with Anna Berg .", "O O B-LOC O B-PER I-PER O"),
        _row("en/dev/3", "The United Nations met .", "O B-PER I-PER O O"),
    ])
    return path


def test_entity_under_the_cursor():
    tags = "O B-PER I-PER O B-LOC B-LOC".split()
    assert entity_at(tags, 2) == (1, 3) and entity_at(tags, 1) == (1, 3)
    assert entity_at(tags, 0) == (0, 1)  # an O word alone
    assert entity_at(tags, 5) == (5, 6)  # B-LOC B-LOC: two entities


async def test_verify_marks_the_sentence_and_moves_to_the_next_unchecked(sample: Path) -> None:
    app = VerifyApp(sample)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("v")
        rows = read_sample(sample)
        assert [r.verified for r in rows] == [True, False, False]
        assert app.screen.current == 1
        assert "1/3 verified, 0 of them corrected" in str(app.screen.query_one("#verify-progress").render())


async def test_relabel_then_verify_writes_the_curators_tags(sample: Path) -> None:
    app = VerifyApp(sample)
    async with app.run_test(size=(100, 30)) as pilot:
        # "Japan" (word 0) is a team: ORG; the dialog opens on the entity under the cursor
        await pilot.press("r", "o", "enter")
        row = read_sample(sample)[0]
        assert row.tags == "B-ORG O B-LOC O O".split() and not row.verified  # changed, not yet verified
        assert "changed, not yet verified" in str(app.screen.query_one("#sample").render())
        await pilot.press("right", "right", "r", "o", "enter", "v")
        row = read_sample(sample)[0]
        assert row.tags == "B-ORG O B-ORG O O".split() and row.verified
        assert row.given == "B-LOC O B-LOC O O".split()  # as drawn, for showing what changed
    verified = read_verified_sample(sample, LABELS)
    assert list(verified.tags) == ["en/dev/1"] and verified.tags["en/dev/1"].tolist() == [3, 0, 3, 0, 0]


async def test_a_relabel_keeps_the_tags_valid_iob2(sample: Path) -> None:
    app = VerifyApp(sample)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("n", "n", "right", "r", "o", "enter")  # the entity under the cursor: "United Nations", PER -> ORG
        assert read_sample(sample)[2].tags == "O B-ORG I-ORG O O".split()
        await pilot.press("r", "x", "enter")  # and then no entity at all
        assert read_sample(sample)[2].tags == ["O"] * 5


async def test_undo_restores_the_drawn_tags_and_unverifies(sample: Path) -> None:
    app = VerifyApp(sample)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("r", "o", "enter", "v", "p", "u")
        row = read_sample(sample)[0]
        assert row.tags == row.given and not row.verified


async def test_reopening_resumes_at_the_first_unchecked_sentence(sample: Path) -> None:
    async with VerifyApp(sample).run_test() as pilot:
        await pilot.press("v", "v")
    app = VerifyApp(sample)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.screen.current == 2
        await pilot.press("g")  # every other sentence is verified: g stays
        assert app.screen.current == 2


async def test_help_lists_every_verify_key(sample: Path) -> None:
    from auditor.review.bindings import VERIFY_HELP
    from auditor.review.dialogs import HelpScreen
    from auditor.review.verify import VerifyScreen

    assert keys_missing_from_help(VerifyScreen.BINDINGS + VerifyApp.BINDINGS, VERIFY_HELP) == []
    app = VerifyApp(sample)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen) and app.screen.sections is VERIFY_HELP
        await pilot.press("escape")
        assert isinstance(app.screen, VerifyScreen)


def test_an_empty_or_bad_file_fails_before_the_ui(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(DataError, match="holds no sentence; draw a sample"):
        VerifyApp(empty)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a"}\n')
    with pytest.raises(DataError, match=r"bad.jsonl:1: not a JSON object with 'id' and 'ner_tags'"):
        VerifyApp(bad)


def test_verify_without_a_terminal_is_one_line(sample: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "auditor", "verify", str(sample)], capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0
    assert "auditor verify needs a terminal" in result.stderr


def test_verify_screen_snapshot(sample: Path, snap_compare) -> None:
    assert snap_compare(VerifyApp(sample), terminal_size=(80, 24), press=["r", "o", "enter"])


async def test_the_relabel_dialog_shows_the_tags_as_they_stand_without_a_loss_row(sample: Path) -> None:
    from auditor.review.dialogs import RelabelScreen

    app = VerifyApp(sample)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("r")
        assert isinstance(app.screen, RelabelScreen)
        text = str(app.screen.query_one("#relabel-view").render())
        assert "now" in text.split() and "given" not in text.split() and "loss" not in text.split()


async def test_two_curators_on_one_sample_keep_each_others_work(sample: Path) -> None:
    from dataclasses import replace

    from auditor.data.sample import save_row

    app = VerifyApp(sample)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        # a colleague, in their own `auditor verify`, relabels and verifies the third sentence
        theirs = read_sample(sample)[2]
        save_row(sample, replace(theirs, tags="O B-ORG I-ORG O O".split(), verified=True))
        await pilot.press("v")  # this curator verifies the first
        rows = read_sample(sample)
        assert [r.verified for r in rows] == [True, False, True]
        assert rows[2].tags == "O B-ORG I-ORG O O".split()  # not overwritten by a stale copy
        assert app.screen.rows[2].verified  # and shown here after the save
        assert "2/3 verified, 1 of them corrected" in str(app.screen.query_one("#verify-progress").render())


# --- issue 24, row 10: a save that fails keeps the change and says why --------------------------


async def test_a_failed_save_keeps_the_change_says_why_and_saves_on_retry(sample: Path) -> None:
    app = VerifyApp(sample)
    async with app.run_test(size=(100, 30)) as pilot:
        good = sample.read_text()
        lines = good.splitlines()
        sample.write_text("\n".join([lines[0], lines[1][:-5], lines[2]]) + "\n")  # a colleague's bad hand edit
        await pilot.press("v")
        await pilot.pause()
        assert app.is_running and app.screen.rows[0].verified  # still open, the change still in memory
        notes = [n.message for n in app._notifications]
        assert any("not saved" in m and f"{sample}:2" in m for m in notes), notes
        assert "not saved" in str(app.screen.query_one("#verify-progress").render())
        sample.write_text(good)  # the line is fixed
        await pilot.press("v")  # the next save writes the earlier change too
        await pilot.pause()
        assert [r.verified for r in read_sample(sample)] == [True, True, False]
        assert "not saved" not in str(app.screen.query_one("#verify-progress").render())


async def test_an_os_error_while_saving_keeps_the_ui_open(sample: Path) -> None:
    lock = sample.parent / f".{sample.name}.lock"
    lock.mkdir()  # the lock cannot be opened: an OSError on every save, as a full disk gives
    app = VerifyApp(sample)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("v")
        await pilot.pause()
        assert app.is_running and app.screen.rows[0].verified
        assert any("not saved" in n.message for n in app._notifications)
        await pilot.press("q")  # quitting with an unsaved change asks first
        await pilot.pause()
        assert app.is_running
        assert any("unsaved" in n.message for n in app._notifications)
        lock.rmdir()
        await pilot.press("v")  # on the next unchecked sentence: both changes are written
        await pilot.pause()
        assert [r.verified for r in read_sample(sample)] == [True, True, False]
