"""Systematic groups: same words and same change across sentences and languages; one decision for all."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from auditor.review.groups import find_groups, largest_groups_first


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


def test_an_empty_table_has_no_groups(issues):
    empty = issues.iloc[:0]
    g = find_groups(empty)
    assert len(g.code) == 0 and len(largest_groups_first(g, np.zeros(0, dtype=np.int64))) == 0
