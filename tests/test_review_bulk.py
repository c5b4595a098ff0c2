"""Bulk and group plans (auditor.review.bulk.plan_bulk): what one decision repeated over a set
of issues writes on each, before anything is written; the store takes the plan as it is."""

from __future__ import annotations

import pyarrow as pa
import pytest
from review_rows import issue_row

from auditor.review.bulk import BulkDecision, apply_bulk, plan_bulk
from auditor.review.queue import IssueTable
from auditor.review.store import DecisionStore

ENGLAND = [
    # "England" the team, LOC -> ORG, in English, German and French sentences (ranked by score)
    ("en/train/000001", "England won 3-1", "B-LOC O O", 0, 1, "B-ORG", "type", 0.10),
    ("de/train/000007", "Gegen England verlor man", "O B-LOC O O", 1, 2, "B-ORG", "type", 0.30),
    ("fr/train/000002", "L' équipe d' England gagne", "O O O B-LOC O", 3, 4, "B-ORG", "type", 0.50),
    ("en/train/000009", "England beat Wales", "B-LOC O B-LOC", 0, 1, "B-ORG", "type", 0.70),
]


@pytest.fixture
def table() -> IssueTable:
    import pandas as pd

    return IssueTable(pa.Table.from_pandas(pd.DataFrame([issue_row(*r) for r in ENGLAND]), preserve_index=False))


def test_accept_writes_each_members_own_suggestion_in_rank_order(table, tmp_path):
    members = table.groups.members(0)
    assert members.tolist() == [0, 1, 2, 3]
    plan = plan_bulk(table, members[::-1][:3], BulkDecision.accept(), examples=None)  # any order in
    assert [i.issue_id for i in plan.items] == ["de/train/000007:1-2", "fr/train/000002:3-4", "en/train/000009:0-1"]
    assert (plan.items[0].start, plan.items[0].end, plan.items[0].tags) == (1, 2, ("B-ORG",))
    assert plan.by_lang == {"de": 1, "en": 1, "fr": 1} and plan.complete
    assert plan.changes == {(("B-LOC",), ("B-ORG",)): 3}
    with DecisionStore(tmp_path / "review.sqlite", curator="ana") as store:
        assert len(apply_bulk(store, plan).written) == 3
        assert store.latest()["fr/train/000002:3-4"].tags == ["B-ORG"]


def test_keep_writes_no_span_and_examples_are_capped(table):
    plan = plan_bulk(table, [1, 2, 3], BulkDecision.keep(), examples=2)
    assert [(i.start, i.end, i.tags) for i in plan.items] == [(None, None, None)] * 3
    assert len(plan.examples) == 2 and not plan.complete


def test_relabel_is_carried_over_only_where_the_words_around_the_span_match(table):
    # the curator widens "England" to "England won" on the first sentence
    wide = BulkDecision("relabel", "en/train/000001:0-1", ("England", "won", "3-1"), 0, 0, 2, ("B-ORG", "I-ORG"))
    plan = plan_bulk(table, [1, 2, 3], wide)
    assert len(plan) == 0 and plan.unfit == 3  # nowhere else is "England" followed by "won"
    same = BulkDecision("relabel", "en/train/000001:0-1", ("England", "won", "3-1"), 0, 0, 1, ("B-MISC",))
    plan = plan_bulk(table, [1, 2, 3], same)
    assert {i.issue_id: (i.start, i.end, i.tags) for i in plan.items} == {
        "de/train/000007:1-2": (1, 2, ("B-MISC",)), "fr/train/000002:3-4": (3, 4, ("B-MISC",)),
        "en/train/000009:0-1": (0, 1, ("B-MISC",)),
    }


def test_only_keeps_the_ticked_members_with_their_examples(table):
    plan = plan_bulk(table, [1, 2, 3], BulkDecision.accept(), examples=None)
    part = plan.only(["en/train/000009:0-1", "de/train/000007:1-2"])
    assert [i.issue_id for i in part.items] == ["de/train/000007:1-2", "en/train/000009:0-1"]
    assert [e.lang for e in part.examples] == ["de", "en"] and part.by_lang == {"de": 1, "en": 1}


def test_an_unknown_action_is_refused(table):
    with pytest.raises(ValueError, match="accept, keep or relabel"):
        plan_bulk(table, [1], BulkDecision("skip"))
