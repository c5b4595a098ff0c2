"""The queue's order in the review UI (Textual's Pilot): `o` adaptive order refitted in a
worker thread, `G` largest groups first, `A` one decision for a whole group, ×N marks, the
group filter, and an SVG snapshot of the groups-first view."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from review_rows import issue_row

from auditor.config import AdaptiveConfig
from auditor.review.app import open_review
from auditor.review.dialogs import FilterScreen, GroupScreen
from auditor.review.queue import OPEN
from auditor.review.store import DecisionStore
from auditor.review.widgets import IssueList
from auditor.tables import write_issues

pytestmark = pytest.mark.anyio

LANGS = ("de", "fr", "it", "en")
# small thresholds and a model that gets nearly all the weight: a few decisions re-rank visibly
FAST = AdaptiveConfig(min_wrong=4, min_right=4, half_weight_at=1, batch=3)


def open_app(run_dir: Path, **kw):
    return open_review(run_dir, curator="ana", **kw)


def order_text(app) -> str:
    return app.screen.query_one("#order").text


def ids_in_view(app) -> list[str]:
    return [str(app.table.issue_ids[r]) for r in app.queue.view]


@pytest.fixture
def lang_run(tmp_path: Path) -> Path:
    """40 singleton issues in four languages, scores interleaving them; French labels are
    the wrong ones (what the decisions below teach the model)."""
    rows = []
    for i in range(40):
        lang = LANGS[i % 4]
        rows.append((f"{lang}/train/{i:06d}", f"Wort{i} in Stadt{i}", "B-PER O B-LOC", 0, 1, "B-ORG", "type",
                     round(0.01 * (i + 1), 3)))
    run = tmp_path / "run"
    write_issues(make_issues_from(rows), run / "issues.parquet")
    return run


def make_issues_from(rows):
    import pandas as pd

    return pd.DataFrame([issue_row(*r) for r in rows])


def decide_first(run: Path, n: int) -> list[str]:
    """The first n issues in score order decided as a curator who finds the French ones wrong."""
    ids = [f"{LANGS[i % 4]}/train/{i:06d}:0-1" for i in range(n)]
    with DecisionStore(run / "review.sqlite", curator="ben") as s:
        s.record_many([
            (iid, "accept", 0, 1, ["B-ORG"]) if iid.startswith("fr/") else (iid, "keep") for iid in ids
        ])
    return ids


async def settle(app, pilot) -> None:
    """Let the refit worker finish and its result reach the screen."""
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


# --- adaptive order --------------------------------------------------------------------------


async def test_o_with_too_few_decisions_says_why_and_keeps_the_score_order(lang_run: Path) -> None:
    decide_first(lang_run, 8)  # 2 French (wrong), 6 kept: 2 of the 4 changed labels needed
    app = open_app(lang_run, adaptive=FAST)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert order_text(app) == "order: score"
        before = app.queue.view.copy()
        await pilot.press("o")
        await settle(app, pilot)
        assert order_text(app) == "order: score — adaptive: waiting for 4 changed labels (2 so far)"
        assert np.array_equal(app.queue.view, before)
        assert not (lang_run / "adaptive").exists()
        await pilot.press("o")
        assert order_text(app) == "order: score"


async def test_o_refits_in_the_background_and_re_ranks_the_open_issues(lang_run: Path, monkeypatch) -> None:
    import threading

    import auditor.review.screens as screens

    threads = []

    def refit_noting_the_thread(*args, **kw):
        threads.append(threading.current_thread() is threading.main_thread())
        return real_refit(*args, **kw)

    real_refit = screens.refit
    monkeypatch.setattr(screens, "refit", refit_noting_the_thread)
    decided = decide_first(lang_run, 16)  # 4 wrong (French), 12 kept
    app = open_app(lang_run, adaptive=FAST)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        current = app.queue.current().issue_id
        assert current == "de/train/000016:0-1"  # the first open issue
        await pilot.press("o")
        await settle(app, pilot)
        record = json.loads((lang_run / "adaptive" / "refit-0001.json").read_text(encoding="utf-8"))
        assert record["n_decisions"] == 16 and record["source"] == "ana"
        text = order_text(app)
        assert text.startswith("order: adaptive, refit #1 from 16 decisions at "), text
        assert app.queue.current().issue_id == current  # the cursor stayed on its issue
        open_ids = [i for i in ids_in_view(app) if i not in decided]
        assert open_ids != sorted(open_ids, key=lambda i: int(i.split("/")[2][:6]))  # not the score order
        assert all(i.startswith("fr/") for i in open_ids[:6])  # the model learnt that French is wrong
        assert ids_in_view(app)[-16:] == decided  # decided issues after the open ones, in score order

        # the next decision goes on at the top of the new order; 3 decisions later, the next refit
        await pilot.press("k")
        assert app.queue.current().issue_id == open_ids[0]
        await pilot.press("a", "a")
        await settle(app, pilot)
        assert (lang_run / "adaptive" / "refit-0002.json").is_file()
        assert "refit #2 from 19 decisions" in order_text(app)
        assert threads == [False, False]  # both refits ran off the UI thread
        await pilot.press("o")  # back to the score order
        assert order_text(app) == "order: score"
        assert app.queue.view.tolist() == list(range(40))


async def test_adaptive_enabled_in_the_config_starts_adapted(lang_run: Path) -> None:
    decide_first(lang_run, 16)
    (lang_run / "config.yaml").write_text(
        "review:\n  adaptive: {enabled: true, min_wrong: 4, min_right: 4, half_weight_at: 1, batch: 5}\n", encoding="utf-8"
    )
    app = open_app(lang_run)  # the options come from the run's config.yaml
    assert app.adaptive.enabled and app.adaptive.batch == 5
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert "order: adaptive, refit #1 from 16 decisions" in order_text(app)
        assert (lang_run / "adaptive" / "refit-0001.json").is_file()


def test_review_adaptive_flag_overrides_only_whether_the_queue_starts_adapted(lang_run: Path) -> None:
    from auditor.review.app import run_adaptive_config

    assert run_adaptive_config(lang_run).enabled is False  # no config.yaml: off
    assert run_adaptive_config(lang_run, True).enabled is True
    (lang_run / "config.yaml").write_text(
        "review:\n  adaptive: {enabled: true, min_wrong: 4, min_right: 3, batch: 7}\n", encoding="utf-8"
    )
    off = run_adaptive_config(lang_run, False)
    assert off.enabled is False and off.batch == 7 and off.min_right == 3
    assert run_adaptive_config(lang_run).enabled is True


# --- groups ----------------------------------------------------------------------------------


async def test_group_marks_on_rows_and_in_the_detail(run_dir: Path) -> None:
    app = open_app(run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        queue = app.screen.query_one("#queue", IssueList)
        rows = [queue._row(r, False, 80).plain for r in range(8)]
        assert ["×4" in r for r in rows] == [False, True, True, True, True, False, False, False]
        assert "group ×" not in str(app.screen.query_one("#sentence").render())
        await pilot.press("n")
        assert "group ×4" in str(app.screen.query_one("#sentence").render())


async def test_G_puts_the_largest_group_first_and_back(run_dir: Path) -> None:
    app = open_app(run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("G")
        assert order_text(app) == "order: largest groups first · score"
        assert app.queue.view.tolist() == [1, 2, 3, 4, 0, 5, 6, 7]  # the United Nations PER→ORG group, then singletons
        assert app.queue.current_rank() == 1  # the first open issue of the new order
        await pilot.press("a")  # decided issues stay where they are until the order changes
        assert app.queue.view.tolist() == [1, 2, 3, 4, 0, 5, 6, 7] and app.queue.current_rank() == 2
        await pilot.press("G")
        assert order_text(app) == "order: score" and app.queue.view.tolist() == list(range(8))


async def test_A_previews_decides_every_open_member_and_u_undoes_them_all(run_dir: Path) -> None:
    with DecisionStore(run_dir / "review.sqlite", curator="ben") as s:
        s.record("it/train/000004:0-2", "keep")  # decided already: left alone
    app = open_app(run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f", *"de", "enter")  # the group reaches beyond the filter
        assert ids_in_view(app)[:2] == ["de/train/000005:3-5", "de/train/000002:1-3"]
        await pilot.press("n", "A")
        assert isinstance(app.screen, GroupScreen)
        title = str(app.screen.query_one(".dialog-title").render())
        assert title == "Group: “United Nations” PER→ORG, 3 open issues"
        section = str(app.screen.query_one("#group-summary").render())
        assert "3 of 3 open issues ticked: de 1, en 1, fr 1" in section and "×4 in all" in section
        hint = str(app.screen.query_one(".dialog-hint").render())
        assert "enter/a accept the ticked   k keep the ticked" in hint  # an open issue: its suggestion, or keep
        assert "least sure first" in hint
        # every open member is listed, ticked, the worst-ranked first (where a mixed group
        # shows its other use)
        members = app.screen.query_one("#group-members")
        assert [members.get_option_at_index(i).value for i in range(members.option_count)] == [
            "fr/train/000003:1-3", "de/train/000002:1-3", "en/train/000001:1-3",
        ]
        await pilot.press("enter")
        latest = DecisionStore(run_dir / "review.sqlite").latest()
        assert {i: d.action for i, d in latest.items()} == {
            "it/train/000004:0-2": "keep", "de/train/000002:1-3": "accept", "en/train/000001:1-3": "accept",
            "fr/train/000003:1-3": "accept",
        }
        assert latest["fr/train/000003:1-3"].tags == ["B-ORG", "I-ORG"]
        await pilot.press("u")
        latest = DecisionStore(run_dir / "review.sqlite").latest()
        assert {i: d.action for i, d in latest.items()} == {"it/train/000004:0-2": "keep"}
        assert app.queue.current().issue_id == "de/train/000002:1-3"  # back on the undone one in view


async def test_A_repeats_the_curators_own_decision_and_refuses_singletons(run_dir: Path) -> None:
    app = open_app(run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("A")  # #1 is alone in its group
        assert not isinstance(app.screen, GroupScreen)
        assert any("No group" in n.message for n in app._notifications)
        await pilot.press("n", "k", "p")  # keep #2, back on it
        await pilot.press("A")
        section = str(app.screen.query_one("#group-summary").render())
        hint = str(app.screen.query_one(".dialog-hint").render())
        assert "Keep the given tags" in section and "accept" not in hint  # only what was decided
        await pilot.press("enter")
    latest = DecisionStore(run_dir / "review.sqlite").latest()
    assert sorted(i for i, d in latest.items() if d.action == "keep") == [
        "de/train/000002:1-3", "en/train/000001:1-3", "fr/train/000003:1-3", "it/train/000004:0-2",
    ]
    assert len(latest) == 4


async def test_A_keeps_a_whole_group_whose_suggestion_is_wrong(run_dir: Path) -> None:
    app = open_app(run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n", "A", "k")
    latest = DecisionStore(run_dir / "review.sqlite").latest()
    assert {d.action for d in latest.values()} == {"keep"} and len(latest) == 4


async def test_filter_groups_only(run_dir: Path) -> None:
    app = open_app(run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f")
        assert isinstance(app.screen, FilterScreen)
        app.screen.query_one("#f-group").value = "grouped"
        await pilot.press("enter")
        assert app.queue.filter.grouped and app.queue.view.tolist() == [1, 2, 3, 4]
        assert "groups ×2+ (4)" in str(app.screen.query_one("#progress").render())
        assert all(app.queue.status[r] == OPEN for r in app.queue.view)


def test_groups_first_snapshot(run_dir: Path, snap_compare) -> None:
    with DecisionStore(run_dir / "review.sqlite", curator="ana") as s:
        s.record("de/train/000005:3-5", "accept", 3, 5, ["O", "O"])
    assert snap_compare(open_app(run_dir), terminal_size=(80, 24), press=["G"])


ENGLAND = [
    # "England" LOC->ORG: the football team is ORG, the country stays LOC
    ("en/train/000101", "England beat Wales 2-0", "B-LOC O B-LOC O", 0, 1, "B-ORG", "type", 0.01),
    ("en/train/000102", "He moved to England in 1990", "O O O B-LOC O O", 3, 4, "B-ORG", "type", 0.02),
    ("en/train/000103", "England drew with Scotland", "B-LOC O O B-LOC", 0, 1, "B-ORG", "type", 0.03),
    ("en/train/000104", "Rain fell across England", "O O O B-LOC", 3, 4, "B-ORG", "type", 0.04),
    ("en/train/000105", "England won the cup", "B-LOC O O O", 0, 1, "B-ORG", "type", 0.05),
]


async def test_A_decides_the_group_except_the_members_left_out(tmp_path: Path) -> None:
    import pandas as pd

    run = tmp_path / "run"
    write_issues(pd.DataFrame([issue_row(*r) for r in ENGLAND]), run / "issues.parquet")
    app = open_app(run)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("A")
        assert isinstance(app.screen, GroupScreen)
        # the country, not the team: #2 and #4 (listed 4th and 2nd: least sure first) are left out with space
        await pilot.press("down", "space", "down", "down", "space")
        summary = str(app.screen.query_one("#group-summary").render())
        assert "3 of 5 open issues ticked: en 3" in summary and "2 left out: they stay open" in summary
        await pilot.press("up", "up", "space", "down", "space")  # take #2 back, leave #3 out
        await pilot.press("up", "space")  # and #2 out again
        assert sorted(app.screen.ticked()) == ["en/train/000101:0-1", "en/train/000105:0-1"]
        await pilot.press("up", "space", "space")  # #1 out and back in
        await pilot.press("enter")
        assert not isinstance(app.screen, GroupScreen)
        latest = DecisionStore(run / "review.sqlite").latest()
        assert {i: d.action for i, d in latest.items()} == {"en/train/000101:0-1": "accept", "en/train/000105:0-1": "accept"}
        left = [r for r in range(5) if app.queue.status[r] == OPEN]
        assert [str(app.queue.table.issue_ids[r]) for r in left] == [
            "en/train/000102:3-4", "en/train/000103:0-1", "en/train/000104:3-4",
        ]
        await pilot.press("u")  # the group decision without its exceptions is undone as one step
        assert DecisionStore(run / "review.sqlite").latest() == {}


async def test_A_with_nothing_ticked_decides_nothing(tmp_path: Path) -> None:
    import pandas as pd

    run = tmp_path / "run"
    write_issues(pd.DataFrame([issue_row(*r) for r in ENGLAND[:2]]), run / "issues.parquet")
    app = open_app(run)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("A", "space", "down", "space", "enter")
        assert isinstance(app.screen, GroupScreen)  # nothing to decide: the dialog stays
        assert any("No member is ticked" in n.message for n in app._notifications)
        await pilot.press("escape")
    assert DecisionStore(run / "review.sqlite").latest() == {}


def test_group_preview_snapshot(tmp_path: Path, snap_compare) -> None:
    import pandas as pd

    run = tmp_path / "run"
    write_issues(pd.DataFrame([issue_row(*r) for r in ENGLAND]), run / "issues.parquet")
    assert snap_compare(open_app(run), terminal_size=(80, 24), press=["A", "down", "space"])
