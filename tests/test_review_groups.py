"""Systematic groups: same words and same change across sentences and languages; one decision for all."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from auditor.review.groups import find_groups, group_table, largest_groups_first, propagate_decision
from auditor.review.store import DecisionStore


def issue(sid: str, lang: str, tokens: list[str], start: int, end: int, given: list[str], suggested: list[str],
          score: float) -> dict:
    return {
        "issue_id": f"{sid}:{start}-{end}", "id": sid, "lang": lang, "start": start, "end": end,
        "surface": " ".join(tokens[start:end]), "given": given, "suggested": suggested, "score": score,
        "tokens": tokens, "kind": "type",
    }


@pytest.fixture
def issues() -> pd.DataFrame:
    rows = [
        # "England" the team, LOC -> ORG, in English, German and French sentences
        issue("en/1", "en", ["England", "won", "3-1"], 0, 1, ["B-LOC"], ["B-ORG"], 0.10),
        issue("de/7", "de", ["Gegen", "England", "verlor", "man"], 1, 2, ["B-LOC"], ["B-ORG"], 0.30),
        issue("fr/2", "fr", ["L'", "équipe", "d'", "England", "gagne"], 3, 4, ["B-LOC"], ["B-ORG"], 0.50),
        issue("en/9", "en", ["England", "beat", "Wales"], 0, 1, ["B-LOC"], ["B-ORG"], 0.70),
        # the same words with another change: another group
        issue("en/4", "en", ["England", "is", "rainy"], 0, 1, ["B-LOC"], ["B-PER"], 0.20),
        # other casing: its own group unless case-folded
        issue("en/5", "en", ["ENGLAND", "WIN"], 0, 1, ["B-LOC"], ["B-ORG"], 0.40),
        # a two-word group
        issue("de/3", "de", ["Die", "Vereinten", "Nationen", "tagen"], 1, 3, ["B-PER", "I-PER"], ["B-ORG", "I-ORG"], 0.05),
        issue("it/3", "it", ["Vereinten", "Nationen", "a", "Roma"], 0, 2, ["B-PER", "I-PER"], ["B-ORG", "I-ORG"], 0.60),
    ]
    return pd.DataFrame(rows)


def test_same_words_and_change_form_one_group_across_sentences_and_languages(issues):
    g = find_groups(issues)
    gid = dict(zip(issues["issue_id"], g.group_id))
    size = dict(zip(issues["issue_id"], g.size))
    team = {gid["en/1:0-1"], gid["de/7:1-2"], gid["fr/2:3-4"], gid["en/9:0-1"]}
    assert len(team) == 1 and size["de/7:1-2"] == 4
    assert gid["en/4:0-1"] not in team and size["en/4:0-1"] == 1  # other change
    assert gid["en/5:0-1"] not in team  # other casing
    assert gid["de/3:1-3"] == gid["it/3:0-2"] and size["it/3:0-2"] == 2

    folded = find_groups(issues, casefold=True)
    assert folded.size[issues.index[issues["issue_id"] == "en/5:0-1"][0]] == 5


def test_group_ids_do_not_depend_on_row_order(issues):
    before = dict(zip(issues["issue_id"], find_groups(issues).group_id))
    shuffled = issues.sample(frac=1.0, random_state=3).reset_index(drop=True)
    after = dict(zip(shuffled["issue_id"], find_groups(shuffled).group_id))
    assert before == after
    frame = find_groups(issues).frame(issues)
    assert list(frame.columns) == ["issue_id", "group_id", "group_size"] and len(frame) == len(issues)


def test_largest_groups_first_keeps_the_ranking_inside_a_group(issues):
    g = find_groups(issues)
    prior = np.argsort(issues["score"].to_numpy(), kind="stable")
    order = largest_groups_first(g, prior)
    ids = issues["issue_id"].to_numpy()[order].tolist()
    assert ids[:4] == ["en/1:0-1", "de/7:1-2", "fr/2:3-4", "en/9:0-1"]  # the group of 4, by score
    assert ids[4:6] == ["de/3:1-3", "it/3:0-2"]  # then the pair
    assert ids[6:] == ["en/4:0-1", "en/5:0-1"]  # singletons by score

    is_open = np.ones(len(issues), dtype=bool)
    is_open[[0, 1, 2]] = False  # three of the team decided: the pair is now larger
    ids = issues["issue_id"].to_numpy()[largest_groups_first(g, prior, is_open)].tolist()
    assert ids[:2] == ["de/3:1-3", "it/3:0-2"] and "en/1:0-1" not in ids and len(ids) == 5


def test_accepting_one_member_previews_and_decides_the_other_open_members(issues, tmp_path):
    g = find_groups(issues)
    is_open = np.ones(len(issues), dtype=bool)
    is_open[3] = False  # en/9 already decided: left alone
    prior = np.argsort(issues["score"].to_numpy(), kind="stable")
    out = propagate_decision(issues, g, {"issue_id": "en/1:0-1", "action": "accept", "start": 0, "end": 1,
                                         "tags": ["B-ORG"]}, open_mask=is_open, order=prior)
    assert [d["issue_id"] for d in out.decisions] == ["de/7:1-2", "fr/2:3-4"]
    assert out.decisions[0] == {"issue_id": "de/7:1-2", "action": "accept", "start": 1, "end": 2, "tags": ["B-ORG"]}
    assert out.by_lang == {"de": 1, "fr": 1}
    assert out.examples[0].text == "Gegen [ England ] verlor man" and out.examples[0].lang == "de"
    assert out.summary().startswith("accept 2 more")

    with DecisionStore(tmp_path / "review.sqlite", curator="ana") as store:
        assert store.record_many(out.decisions) == 2  # the store takes them as they are
        assert store.latest()["fr/2:3-4"].tags == ["B-ORG"]


def test_keep_and_skip_on_a_group(issues):
    g = find_groups(issues)
    keep = propagate_decision(issues, g, {"issue_id": "it/3:0-2", "action": "keep", "start": None, "end": None, "tags": None})
    assert keep.decisions == [{"issue_id": "de/3:1-3", "action": "keep"}]
    skip = propagate_decision(issues, g, {"issue_id": "it/3:0-2", "action": "skip", "start": None, "end": None, "tags": None})
    assert skip.decisions == [] and skip.by_lang == {}


def test_relabel_carries_the_curators_span_over_where_the_words_match(issues):
    g = find_groups(issues)
    # the curator widens "England" to "England won" on en/1 (made-up, to test the offsets)
    d = {"issue_id": "en/1:0-1", "action": "relabel", "start": 0, "end": 2, "tags": ["B-ORG", "I-ORG"]}
    out = propagate_decision(issues, g, d)
    # nowhere else is "England" followed by "won": not applicable, with a reason
    assert out.decisions == []
    assert set(out.not_applicable) == {"de/7:1-2", "fr/2:3-4", "en/9:0-1"}
    same_span = propagate_decision(issues, g, {**d, "end": 1, "tags": ["B-MISC"]})
    assert {x["issue_id"]: (x["start"], x["end"], x["tags"]) for x in same_span.decisions} == {
        "de/7:1-2": (1, 2, ["B-MISC"]), "fr/2:3-4": (3, 4, ["B-MISC"]), "en/9:0-1": (0, 1, ["B-MISC"]),
    }
    beyond = propagate_decision(issues, g, {"issue_id": "fr/2:3-4", "action": "relabel", "start": 3, "end": 5,
                                            "tags": ["B-ORG", "I-ORG"]})
    assert "en/9:0-1" in beyond.not_applicable  # would need words after "England" that differ


def test_unknown_issue_and_empty_table(issues):
    with pytest.raises(KeyError, match="nope"):
        propagate_decision(issues, find_groups(issues), {"issue_id": "nope", "action": "keep"})
    empty = issues.iloc[:0]
    g = find_groups(empty)
    assert len(g.code) == 0 and len(largest_groups_first(g, np.zeros(0, dtype=np.int64))) == 0
    assert group_table(empty, g).empty


def test_group_table_lists_groups_largest_first(issues):
    g = find_groups(issues)
    is_open = np.ones(len(issues), dtype=bool)
    is_open[0] = False
    table = group_table(issues, g, is_open)
    assert table["size"].tolist() == [4, 2]
    first = table.iloc[0]
    assert (first["surface"], first["change"], first["open"], first["first_issue"]) == ("England", "LOC→ORG", 3, "en/1:0-1")
    assert first["langs"] == "en 2, de 1, fr 1"


# --- one rule for "the same words" --------------------------------------------------------


def test_same_words_is_one_rule_for_groups_bulk_and_relabels():
    import unicodedata

    from auditor.review.groups import same_words

    composed, decomposed = unicodedata.normalize("NFC", "München"), unicodedata.normalize("NFD", "München")
    assert composed != decomposed and same_words([composed], [decomposed])
    assert not same_words(["England"], ["ENGLAND"]) and same_words(["England"], ["ENGLAND"], casefold=True)
    assert not same_words(["New", "York"], ["New"])


def test_a_bulk_relabel_and_a_group_relabel_carry_over_to_the_same_sentences(tmp_path):
    """bulk._item and groups.propagate_decision used to differ (exact words vs normalised):
    an NFD "München" took a group's relabel but not the same bulk relabel."""
    import unicodedata

    from review_rows import issue_row

    from auditor.review.bulk import BulkDecision, plan_bulk, same_words_targets
    from auditor.review.queue import IssueTable, ReviewQueue
    from auditor.review.store import Decision
    from auditor.tables import write_issues

    nfd = unicodedata.normalize("NFD", "München")
    rows = [issue_row("de/train/000001", "Bayern München siegt", "B-ORG B-LOC O", 1, 2, "I-ORG", "boundary", 0.1),
            issue_row("de/train/000002", f"Bayern {nfd} verliert", "B-ORG B-LOC O", 1, 2, "I-ORG", "boundary", 0.2)]
    frame = pd.DataFrame(rows)
    write_issues(frame, tmp_path / "issues.parquet")
    table = IssueTable.load(tmp_path / "issues.parquet")
    relabel = Decision("de/train/000001:1-2", "relabel", 0, 2, ["B-ORG", "I-ORG"], "ana", "2026-01-01T00:00:00Z")
    source = table.row(0)
    bulk = plan_bulk(table, [1], BulkDecision.relabel_like(relabel, source.tokens, source.start))
    group = propagate_decision(frame, find_groups(frame), relabel)
    assert len(bulk) == 1 and bulk.unfit == 0
    assert [d["issue_id"] for d in group.decisions] == [bulk.items[0].issue_id] == ["de/train/000002:1-2"]
    # and the other occurrences a relabel is offered for (b r) follow the same rule
    assert same_words_targets(ReviewQueue(table), "de/train/000001:1-2").tolist() == [1]
