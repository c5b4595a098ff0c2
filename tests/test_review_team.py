"""Several curators on one run: two apps on one store file see each other's decisions after a
refresh tick, never overwrite each other unasked, undo only their own decisions; bulk under a
filter with a preview, repeating a relabel; and the team commands (--stats, --backup, no
terminal)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from review_rows import ROWS, make_issues

from auditor.review import bindings
from auditor.review.app import open_review
from auditor.review.dialogs import BulkScreen, FilterScreen, ReplaceScreen
from auditor.review.queue import IssueFilter
from auditor.review.store import DecisionStore
from auditor.tables import write_issues

pytestmark = pytest.mark.anyio

UN_EN, UN_DE, UN_FR, UN_IT = "en/train/000001:1-3", "de/train/000002:1-3", "fr/train/000003:1-3", "it/train/000004:0-2"


def history(run_dir: Path) -> list[tuple]:
    with DecisionStore(run_dir / "review.sqlite") as s:
        return [(d.issue_id, d.action, d.curator) for d in s.history()]


def latest(run_dir: Path) -> dict[str, tuple]:
    with DecisionStore(run_dir / "review.sqlite") as s:
        return {k: (d.action, d.curator) for k, d in s.latest().items()}


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector).render())


# --- shared truth --------------------------------------------------------------------------


async def test_each_app_sees_the_others_decisions_after_a_refresh_tick(run_dir: Path) -> None:
    ana, ben = open_review(run_dir, curator="ana"), open_review(run_dir, curator="ben")
    async with ana.run_test(size=(80, 24)) as pa, ben.run_test(size=(80, 24)) as pb:
        assert any(t._interval == bindings.POLL_SECONDS for t in ben.review._timers)  # the tick is set
        await pa.press("a")  # ana accepts #1
        assert ben.queue.decision(0) is None  # ben has not looked yet
        ben.review.poll()  # the refresh tick
        await pb.pause()
        d = ben.queue.decision(0)
        assert (d.action, d.curator) == ("accept", "ana")
        # ben stands on #1: his screen says who decided it and what, with the stored tags
        detail = text_of(ben, "#sentence")
        assert "accepted by ana" in detail and "decided" in detail
        assert any("ana just accepted this issue" in n.message for n in ben._notifications)
        assert "1/8 decided" in text_of(ben, "#progress")


async def test_deciding_what_someone_else_decided_asks_first(run_dir: Path) -> None:
    ana, ben = open_review(run_dir, curator="ana"), open_review(run_dir, curator="ben")
    async with ana.run_test(size=(80, 24)) as pa, ben.run_test(size=(80, 24)) as pb:
        await pa.press("a")  # ana accepts #1 ...
        await pb.press("k")  # ... ben, not refreshed yet, presses keep on it: asked, not written
        assert isinstance(ben.screen, ReplaceScreen)
        assert "decided by ana: accept O O" in str(ben.screen.query_one("#replace-text").render()).replace("\n", " ")
        await pb.press("n")  # leave ana's decision
        assert latest(run_dir) == {"de/train/000005:3-5": ("accept", "ana")}
        assert ben.queue.current().issue_id == "de/train/000005:3-5"  # still there, now shown decided
        await pb.press("k", "y")  # asked again; this time replace
        assert latest(run_dir)["de/train/000005:3-5"] == ("keep", "ben")
        # two curators, different outcomes: a conflict, counted and filterable on both screens
        assert "!1 conflict" in text_of(ben, "#progress")
        ana.review.poll()
        await pa.pause()
        assert ana.queue.conflict[0] and "!1 conflict" in text_of(ana, "#progress")
        ana.review.apply_filter(IssueFilter(status="conflicts"))
        assert [ana.table.issue_ids[r] for r in ana.queue.view] == ["de/train/000005:3-5"]
        assert "curators disagree" in text_of(ana, "#sentence")


async def test_undo_only_undoes_the_curators_own_decision(run_dir: Path) -> None:
    # carol keeps #2, bob accepts it after her; carol's undo must not reopen it
    with DecisionStore(run_dir / "review.sqlite", curator="carol") as carol:
        carol.record(UN_EN, "keep")
    with DecisionStore(run_dir / "review.sqlite", curator="bob") as bob:
        bob.record(UN_EN, "accept", 1, 3, ["B-ORG", "I-ORG"])
    app = open_review(run_dir, curator="carol")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")  # to #2
        assert app.queue.current().issue_id == UN_EN
        await pilot.press("u")
        assert any("bob's accept stands" in n.message for n in app._notifications)
        assert app.queue.decision(1).curator == "bob"
        await pilot.press("u")  # nothing of carol's is left there
        assert any("Nothing of yours to undo here (bob's decision stands)" in n.message for n in app._notifications)
    assert history(run_dir) == [(UN_EN, "keep", "carol"), (UN_EN, "accept", "bob"), (UN_EN, "undo", "carol")]
    assert latest(run_dir) == {UN_EN: ("accept", "bob")}


async def test_bulk_leaves_issues_decided_meanwhile_by_others_alone(run_dir: Path) -> None:
    app = open_review(run_dir, curator="ana")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n", "b")  # United Nations PER -> ORG: en, de, fr, it open
        assert isinstance(app.screen, BulkScreen)
        with DecisionStore(run_dir / "review.sqlite", curator="ben") as ben:
            ben.record(UN_DE, "keep")  # while ana looks at the preview
        await pilot.press("enter")
        assert any("left alone (decided meanwhile by ben)" in n.message for n in app._notifications)
    assert latest(run_dir) == {
        UN_EN: ("accept", "ana"), UN_DE: ("keep", "ben"), UN_FR: ("accept", "ana"), UN_IT: ("accept", "ana"),
    }


# --- bulk: filter, preview, repeating a relabel --------------------------------------------


async def test_bulk_respects_the_filter_and_previews_per_language(run_dir: Path) -> None:
    app = open_review(run_dir, curator="ana")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f", *"de fr", "enter")  # en/it out of view
        await pilot.press("n")  # de/train/000002: United Nations PER -> ORG
        assert app.queue.current().issue_id == UN_DE
        await pilot.press("b")
        preview = text_of(app, "#bulk-accept")
        assert "2 open issues: de 1, fr 1" in preview and "B-PER I-PER → B-ORG I-ORG" in preview
        assert "#3 de" in preview and "#4 fr" in preview  # the first sentences, by issue number
        assert "within the filter: lang de,fr" in str(app.screen.query(".dialog-hint").last().render())
        await pilot.press("enter")
    assert latest(run_dir) == {UN_DE: ("accept", "ana"), UN_FR: ("accept", "ana")}  # not en, not it


REPEAT_ROWS = [
    ("it/train/000010", "La Unione europea ha deciso", "O B-LOC I-LOC O O", 1, 3, "B-ORG O", "boundary", 0.01),
    ("it/train/000011", "Unione europea e Italia", "B-LOC I-LOC O B-LOC", 0, 2, "B-ORG O", "boundary", 0.02),
    ("it/train/000012", "con la Unione europea", "O O B-ORG O", 2, 4, "B-ORG O", "boundary", 0.03),
    ("de/train/000013", "Die Unione europea tagte", "O B-LOC I-LOC O", 1, 3, "B-ORG O", "boundary", 0.04),
    ("it/train/000014", "Unione Sovietica", "B-LOC I-LOC", 0, 2, "B-ORG I-ORG", "type", 0.05),
]


async def test_bulk_repeats_the_last_relabel_on_the_other_occurrences(tmp_path: Path) -> None:
    run = tmp_path / "run"
    write_issues(make_issues(REPEAT_ROWS), run / "issues.parquet")
    app = open_review(run, curator="ana")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r", "enter")  # the suggestion says B-ORG O; ana makes it B-ORG I-ORG
        await pilot.press("f", *"IT", "enter")  # only Italian sentences
        await pilot.press("b")
        preview = text_of(app, "#bulk-relabel")
        assert "Your last relabel, #1 “Unione europea” → B-ORG I-ORG" in preview.replace("\n", " ")
        assert "2 open issues: it 2" in preview  # not the German one (filter), not Unione Sovietica
        await pilot.press("r")
    with DecisionStore(run / "review.sqlite") as s:
        got = {k: (d.action, d.start, d.end, d.tags) for k, d in s.latest().items()}
    assert got == {
        "it/train/000010:1-3": ("relabel", 1, 3, ["B-ORG", "I-ORG"]),
        "it/train/000011:0-2": ("relabel", 0, 2, ["B-ORG", "I-ORG"]),
        "it/train/000012:2-4": ("relabel", 2, 4, ["B-ORG", "I-ORG"]),
    }


async def test_bulk_undo_withdraws_the_whole_bulk(run_dir: Path) -> None:
    app = open_review(run_dir, curator="ana")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n", "b", "k", "u")
    assert latest(run_dir) == {}
    assert [a for _, a, _ in history(run_dir)].count("undo") == 4


# --- filter, search, moving ------------------------------------------------------------------


async def test_search_ignores_case_and_accents(tmp_path: Path) -> None:
    run = tmp_path / "run"
    rows = ROWS + [("de/train/000020", "Der FC Bayern München spielt", "O B-ORG I-ORG I-ORG O", 1, 4,
                    "B-ORG I-ORG B-LOC", "boundary", 0.7)]
    write_issues(make_issues(rows), run / "issues.parquet")
    app = open_review(run, curator="ana")
    async with app.run_test(size=(80, 24)) as pilot:
        for query in ("munchen", "MÜNCHEN", "bayern munchen"):
            app.review.apply_filter(IssueFilter(text=query))
            await pilot.pause()
            assert [app.table.issue_ids[r] for r in app.queue.view] == ["de/train/000020:1-4"], query
        await pilot.press("escape", "/", *"zurich", "enter")  # Kanton Zürich
        assert [app.table.issue_ids[r] for r in app.queue.view] == ["de/train/000008:0-5"]


async def test_language_codes_in_any_case_separated_by_spaces_or_commas(run_dir: Path) -> None:
    app = open_review(run_dir, curator="ana")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f", *"FR it", "enter")
        assert sorted({str(app.table.lang[r]) for r in app.queue.view}) == ["fr", "it"]
        await pilot.press("f", "ctrl+r", *"fr,XX", "enter")  # an unknown code is said, not ignored
        assert isinstance(app.screen, FilterScreen)
        assert "no language 'XX' in this queue; known: de, en, fr, it" in text_of(app, "#filter-error")


async def test_enter_on_the_status_field_applies_and_ctrl_r_clears_without_closing(run_dir: Path) -> None:
    app = open_review(run_dir, curator="ana")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f", *"de")
        await pilot.press("ctrl+r")  # clears the fields; the dialog stays
        assert isinstance(app.screen, FilterScreen)
        assert app.screen.query_one("#f-lang").value == ""
        await pilot.press(*"fr", "tab", "tab", "tab", "tab", "tab", "tab")  # to the status field
        assert app.screen.focused.id == "f-status"
        await pilot.press("enter")
        assert not isinstance(app.screen, FilterScreen)
        assert app.queue.filter == IssueFilter(langs=("fr",))


async def test_a_filter_starts_at_its_most_suspicious_open_issue(run_dir: Path) -> None:
    with DecisionStore(run_dir / "review.sqlite", curator="ben") as s:
        s.record("fr/train/000003:1-3", "keep")
    app = open_review(run_dir, curator="ana")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("end")  # the last issue: #8, de
        await pilot.press("f", *"fr", "enter")
        # not the fr issue nearest #8: the first open fr issue in rank order (#3 is decided)
        assert app.queue.current().issue_id == "fr/train/000007:0-2"


async def test_goto_number_and_next_issue_of_the_same_kind(run_dir: Path) -> None:
    app = open_review(run_dir, curator="ana")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("number_sign", *"6", "enter")
        assert app.queue.current().number == 6 and app.queue.current().kind == "type"
        await pilot.press("right_square_bracket")  # next open "type": wraps to #2
        assert app.queue.current().number == 2
        await pilot.press("number_sign", *"99", "enter")
        assert any("there is no issue #99 (the queue has 8)" in n.message for n in app._notifications)


async def test_issue_numbers_are_the_same_in_every_shard(run_dir: Path) -> None:
    whole = open_review(run_dir, curator="ana").table
    number = {str(i): int(n) for i, n in zip(whole.issue_ids, whole.number)}
    for k in (1, 2):
        part = open_review(run_dir, curator="ana", shard=f"{k}/2").table
        assert part.sharded
        assert {str(i): int(n) for i, n in zip(part.issue_ids, part.number)} == {str(i): number[str(i)] for i in part.issue_ids}
    app = open_review(run_dir, curator="ana", shard="1/2")
    missing = next(n for n in range(1, 9) if app.table.rank_of_number(n) is None)
    assert "not in this shard's queue" in app.queue.goto_number(missing)


async def test_arrow_keys_move_the_queue_even_when_the_sentence_overflows(tmp_path: Path) -> None:
    run = tmp_path / "run"
    long = " ".join(f"Wort{i}" for i in range(60))
    rows = [(f"de/train/{i:06d}", long, " ".join(["O"] * 60), 5, 6, "B-LOC", "missing", i / 10) for i in range(5)]
    write_issues(make_issues(rows), run / "issues.parquet")
    app = open_review(run, curator="ana")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down", "down", "end", "up", "home", "pagedown")
        assert app.queue.cursor == 4


# --- the team commands -------------------------------------------------------------------------


def _cli(*args, stdin=subprocess.DEVNULL) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, timeout=120, stdin=stdin)


def test_review_without_a_terminal_stops_at_once_with_one_line(run_dir: Path) -> None:
    result = _cli("review", str(run_dir))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().count("\n") == 0 and "needs a terminal" in result.stderr
    assert not (run_dir / "review.sqlite").exists()  # nothing created


def test_review_of_a_wrong_folder_says_so_before_asking_for_a_terminal(tmp_path: Path) -> None:
    result = _cli("review", str(tmp_path / "no-such-run"))
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0
    assert "no issue table; run the score stage first" in result.stderr and "terminal" not in result.stderr


def test_stats_per_curator_language_kind_and_conflicts(run_dir: Path) -> None:
    with DecisionStore(run_dir / "review.sqlite", curator="ana") as ana, DecisionStore(run_dir / "review.sqlite", curator="ben") as ben:
        ana.record(UN_EN, "accept", 1, 3, ["B-ORG", "I-ORG"])
        ana.record(UN_DE, "keep")
        ben.record(UN_DE, "accept", 1, 3, ["B-ORG", "I-ORG"])  # disagrees with ana: a conflict
        ben.record(UN_FR, "skip")
    result = _cli("review", str(run_dir), "--stats")
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())  # the console wraps at 80 columns
    assert "4 rows (0 undos); 2 issues decided of 8 issues, 1 conflict" in out
    assert "Decisions per curator" in out and "Per language and per kind" in out
    assert f"conflict {UN_DE}: ben accept B-ORG I-ORG (applies, committed later) over ana keep" in out
    from auditor.review.stats import review_stats

    with DecisionStore(run_dir / "review.sqlite") as s:
        stats = review_stats(s, run_dir / "issues.parquet")
    assert dict(stats.by_curator["ana"]) == {"accept": 1, "keep": 1} and dict(stats.by_curator["ben"]) == {"accept": 1, "skip": 1}
    assert dict(stats.applied) == {"ana": 1, "ben": 1}
    assert dict(stats.by_lang["de"]) == {"accept": 1} and dict(stats.by_kind["type"]) == {"accept": 2, "skip": 1}


def test_backup_command_and_stats_on_a_missing_store(run_dir: Path, tmp_path: Path) -> None:
    result = _cli("review", str(run_dir), "--stats")
    assert result.returncode == 2 and "no decision store yet" in result.stderr
    with DecisionStore(run_dir / "review.sqlite", curator="ana") as s:
        s.record(UN_EN, "keep")
    copy = tmp_path / "copy.sqlite"
    result = _cli("review", str(run_dir), "--backup", str(copy))
    assert result.returncode == 0 and "backed up 1 rows" in result.stdout
    with DecisionStore(copy) as s:
        assert [(d.issue_id, d.action) for d in s.history()] == [(UN_EN, "keep")]
    again = _cli("review", str(run_dir), "--backup", str(copy))
    assert again.returncode == 2 and "exists already" in again.stderr and again.stderr.count("\n") == 1


async def test_a_network_filesystem_warning_is_shown_in_the_app(run_dir: Path, monkeypatch) -> None:
    import auditor.review.app as app_module

    monkeypatch.setattr(app_module, "network_warning", lambda path: f"warning: {path} is on a network file system (nfs4)")
    app = open_review(run_dir, curator="ana")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert any("network file system" in n.message for n in app._notifications)


def test_the_report_lists_the_curator_conflicts_apply_found(tmp_path: Path) -> None:
    from test_reporting import full_metrics, make_run

    from auditor.reporting.build import build_report

    metrics = full_metrics()
    metrics["apply"] = {**metrics["apply"], "curator_conflicts": 1, "curator_conflict_list": [
        {"issue_id": UN_DE, "applied": "ben: accept B-ORG I-ORG", "overruled": "ana: keep", "curators": ["ben", "ana"]},
    ]}
    run, _ = make_run(tmp_path, metrics, with_artifacts=False)
    md = build_report(run, tmp_path / "out").markdown.read_text()
    assert f"| {UN_DE} | ben: accept B-ORG I-ORG | ana: keep |" in md
