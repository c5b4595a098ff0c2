"""benchmarks/cleaning_real.py and its simulated curator (benchmarks/curator.py): the pieces on
hand-made data, and the --quick smoke run (synthetic corpus, tiny model) end to end."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import cleaning_real as cr  # noqa: E402
import curator as cu  # noqa: E402


def test_halves_keep_articles_whole_and_balance_sentences():
    docs = np.repeat(np.arange(40), np.random.default_rng(1).integers(1, 30, 40))
    a, b = cr.split_halves(docs, seed=0)
    assert sorted(np.r_[a, b].tolist()) == list(range(len(docs)))
    assert not set(docs[a]) & set(docs[b])
    assert abs(len(a) - len(b)) <= 29  # at most one article apart
    again = cr.split_halves(docs, seed=0)
    assert np.array_equal(again[0], a) and not np.array_equal(cr.split_halves(docs, seed=1)[0], a)


def _row(issue_id, tokens, tags, start, end, suggested):
    return {"issue_id": issue_id, "id": issue_id.split(":")[0], "start": start, "end": end, "tags": tags,
            "given": tags[start:end], "suggested": suggested}


def test_own_decision_accepts_keeps_or_relabels_the_whole_true_entity():
    tokens = ["Japan", "beat", "New", "York", "."]
    given = ["B-LOC", "O", "B-LOC", "O", "O"]
    truth = ["B-ORG", "O", "B-LOC", "I-LOC", "O"]
    assert cu.own_decision(_row("s:0-1", tokens, given, 0, 1, ["B-ORG"]), truth)["action"] == "accept"
    # a wrong suggestion on a word that is wrong: relabel with the truth
    d = cu.own_decision(_row("s:0-1", tokens, given, 0, 1, ["B-PER"]), truth)
    assert (d["action"], d["start"], d["end"], d["tags"]) == ("relabel", 0, 1, ["B-ORG"])
    # a boundary error flagged on one word: the relabel covers the whole true entity
    d = cu.own_decision(_row("s:3-4", tokens, given, 3, 4, ["B-MISC"]), truth)
    assert (d["action"], d["start"], d["end"], d["tags"]) == ("relabel", 2, 4, ["B-LOC", "I-LOC"])
    # given tags right: keep
    assert cu.own_decision(_row("s:1-2", tokens, given, 1, 2, ["B-PER"]), truth)["action"] == "keep"


def _issue_table(rows: list[dict]) -> pd.DataFrame:
    out = []
    for i, r in enumerate(rows):
        tokens, tags = r["tokens"], r["tags"]
        s, e = r["start"], r["end"]
        out.append({
            "issue_id": f"{r['id']}:{s}-{e}", "id": r["id"], "lang": "en", "split": "dev", "start": s, "end": e,
            "kind": "type", "entity_type": "LOC", "surface": " ".join(tokens[s:e]), "given": tags[s:e],
            "suggested": r["suggested"], "score": 0.01 * (i + 1), "model_score": 0.5, "cleanlab_score": 0.5,
            "token_loss": 1.0, "consistency_score": 0.5, "reference_score": float("nan"), "reference_example": "",
            "sequence_loss": 1.0, "sequence_loss_mean": 0.5, "tokens": tokens, "tags": tags, "predicted": tags,
            "token_losses": [0.1] * len(tokens), "given_prob": [0.5] * (e - s), "suggested_prob": [0.5] * (e - s),
        })
    return pd.DataFrame(out)


def _country_corpus(right: tuple[int, ...] = ()):
    """Ten sentences 'Japan beat Ti .' with Japan tagged LOC, ranked s0 first; the truth says ORG
    except in the sentences `right`."""
    rows, truth = [], {}
    for i in range(10):
        tokens, tags = ["Japan", "beat", f"T{i}", "."], ["B-LOC", "O", "O", "O"]
        rows.append({"id": f"s{i}", "tokens": tokens, "tags": tags, "start": 0, "end": 1, "suggested": ["B-ORG"]})
        truth[f"s{i}"] = tags if i in right else ["B-ORG", "O", "O", "O"]
    return _issue_table(rows), truth


def test_group_decision_costs_one_plus_looks_and_excludes_what_it_saw(tmp_path):
    issues, truth = _country_corpus(right=(2,))
    # s0 decided alone; the group decision looks at s1-s3, leaves s2 (right as given) out and
    # accepts s4-s9 unseen; the queue later reaches s2 and keeps it
    store, run = cu.review(issues, truth, None, cu.CuratorSettings("score", True, 3), tmp_path / "a.sqlite")
    assert (run.group_decisions, run.looked, run.excluded) == (1, 3, 1)
    assert run.propagated == {"accept": 6} and run.propagated_right == {"accept": 6}
    assert run.actions == 1 + (1 + 3) + 1 and run.by_action == {"accept": 1, "keep": 1}
    assert store.latest()["s2:0-1"].action == "keep" and len(store.latest()) == 10
    # blind: the other nine accepted unseen, eight of them truly wrong in the suggested way
    issues, truth = _country_corpus(right=(9,))
    store, run = cu.review(issues, truth, None, cu.CuratorSettings("score", True, 0), tmp_path / "b.sqlite")
    assert (run.actions, run.decided, run.group_decisions) == (2, 1, 1)
    assert run.propagated == {"accept": 9} and run.propagated_right == {"accept": 8}
    # no group decisions: one action per issue, all right
    store, run = cu.review(issues, truth, None, cu.CuratorSettings("score", False), tmp_path / "c.sqlite")
    assert run.actions == run.decided == 10 and run.by_action == {"accept": 9, "keep": 1}


def test_a_careful_curator_drops_the_group_decision_when_a_look_finds_a_wrong_member(tmp_path):
    issues, truth = _country_corpus(right=(2, 7))
    store, run = cu.review(issues, truth, None, cu.CuratorSettings("score", True, 3, careful=True), tmp_path / "a.sqlite")
    # s0 decided, looks at s1-s3 find s2 right as given: dropped, s1-s3 decided; then s4's
    # looks at s5-s7 find s7: dropped again; s8, s9 alone. Nothing propagated unseen, all right
    assert run.group_decisions == 0 and run.propagated == {} and run.looked == 6
    assert run.by_action == {"accept": 8, "keep": 2} and run.actions == 10 + 6
    assert store.latest()["s7:0-1"].action == "keep"


def test_a_group_decision_that_saves_nothing_is_not_made(tmp_path):
    issues, truth = _country_corpus()
    _, run = cu.review(issues.head(5), truth, None, cu.CuratorSettings("score", True, 3), tmp_path / "a.sqlite")
    assert run.group_decisions == 0 and run.actions == 5  # 4 others cost 1 + 3 looks: no saving


def test_budget_counts_the_sample_and_stops_the_queue(tmp_path):
    issues, truth = _country_corpus()
    _, run = cu.review(issues, truth, 7, cu.CuratorSettings("score", False), tmp_path / "a.sqlite", spent=4)
    assert run.actions == 7 and run.decided == 3 and run.issues_open == 7
    _, run = cu.review(issues, truth, 3, cu.CuratorSettings("score", False), tmp_path / "b.sqlite", spent=4)
    assert run.decided == 0  # the sample alone is over the budget


def test_decisions_apply_through_the_product(tmp_path):
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

    issues, truth = _country_corpus(right=(9,))
    names = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
    label = Sequence(ClassLabel(names=names))
    ids = [f"s{i}" for i in range(10)]
    ds = Dataset.from_dict(
        {"id": ids, "tokens": list(issues["tokens"]), "ner_tags": [[names.index(t) for t in r] for r in issues["tags"]],
         "lang": ["en"] * 10, "clean_ner_tags": [[names.index(t) for t in truth[i]] for i in ids]},
        features=Features({"id": Value("string"), "tokens": Sequence(Value("string")), "ner_tags": label,
                           "lang": Value("string"), "clean_ner_tags": label}),
    )
    store, run = cu.review(issues, truth, None, cu.CuratorSettings("score", False), tmp_path / "a.sqlite")
    tags = cu.cleaned_tags(DatasetDict({"dev": ds}), issues, store, "dev", run)
    assert tags == ds["clean_ner_tags"]
    assert (run.wrong_sentences_before, run.wrong_sentences_after, run.changed_sentences) == (9, 0, 9)


def test_true_errors_names_each_kind_once():
    given = ["B-LOC", "O", "B-PER", "I-PER", "O", "B-ORG"]
    clean = ["B-ORG", "B-MISC", "B-PER", "O", "O", "O"]
    assert cr.true_errors(given, clean) == [(0, 1, "LOC→ORG"), (2, 4, "boundary"), (5, 6, "ORG→O"), (1, 2, "O→MISC")]


def test_remaining_interval_is_clopper_pearson_on_the_unverified_rest():
    lo, hi = cr.remaining_interval(10, 100, 1100)
    # 90 % Clopper-Pearson for 10/100 is (0.0553, 0.1637): 10 known + that share of the other 1,000
    assert lo == pytest.approx(10 + 0.0553 * 1000, abs=1) and hi == pytest.approx(10 + 0.1637 * 1000, abs=1)
    assert cr.remaining_interval(0, 100, 1100)[0] == 0
    assert cr.remaining_interval(100, 100, 1100)[1] == 1100


@pytest.mark.slow
def test_quick_run_writes_every_table_and_resumes(tmp_path):
    argv = ["--quick", "--work", str(tmp_path), "--taggers", "probe", "--seeds", "0", "--budgets", "0.3", "all",
            "--threads", "1"]
    text = cr.main(argv)
    for heading in ("## Audit of each training half", "## The simulated curator", "## Span coverage",
                    "## Remaining-errors interval", "## Second pass", "## Test F1 by training tags",
                    "## How many verified test sentences"):
        assert heading in text
    assert "| probe | all corrected |" in text and "| probe | curator 0.3 |" in text
    preds = sorted((tmp_path / "preds").rglob("*.json.gz"))
    assert len(preds) == 2 * 4  # two halves x (original, 0.3, all issues, all corrected)
    stamp = {p: p.stat().st_mtime_ns for p in preds}
    assert cr.main(argv) == text  # cached: same numbers, nothing retrained
    assert {p: p.stat().st_mtime_ns for p in preds} == stamp
