"""The adaptive unattended oracle and its review loop (policies.review_in_batches)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from auditor.config import AdaptiveConfig, ReviewConfig, SyntheticConfig
from auditor.data.corpus import CLEAN_COLUMN, label_names
from auditor.data.iob import spans
from auditor.data.synthetic import generate_synthetic
from auditor.review.adaptive import prior_order
from auditor.review.adaptive_refits import load_refits
from auditor.review.policies import apply_policy, oracle_labels, review_in_batches
from auditor.review.store import DecisionStore


@pytest.fixture(scope="module")
def corpus():
    return generate_synthetic(SyntheticConfig(sentences={"train": 100}, noise_rate=0.3), ["de", "fr"], seed=0)


def entity_issues(corpus, seed: int = 0) -> pd.DataFrame:
    """One issue per given entity of the train split, suggesting another type. The score is
    random (an uninformative static ranking); the float column `planted` tells wrong labels
    (given != clean on the span) from right ones, for the adaptive model to find."""
    rng = np.random.default_rng(seed)
    names = label_names(corpus)
    rows = []
    for r in corpus["train"]:
        given = [names[t] for t in r["ner_tags"]]
        clean = [names[t] for t in r[CLEAN_COLUMN]]
        for start, end, etype in spans(given):
            other = "ORG" if etype != "ORG" else "PER"
            wrong = given[start:end] != clean[start:end]
            rows.append({
                "issue_id": f"{r['id']}:{start}-{end}", "id": r["id"], "lang": r["lang"], "split": "train",
                "start": start, "end": end, "kind": "type", "entity_type": etype,
                "surface": " ".join(r["tokens"][start:end]), "given": given[start:end],
                "suggested": [f"B-{other}"] + [f"I-{other}"] * (end - start - 1),
                "score": float(rng.random()), "planted": float(wrong) + 0.3 * float(rng.random()),
                "tokens": r["tokens"], "tags": given,
            })
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def issues(corpus):
    return entity_issues(corpus)


def adaptive_cfg(**kw) -> ReviewConfig:
    adaptive = AdaptiveConfig(enabled=True, min_wrong=5, min_right=5, batch=25)
    return ReviewConfig(policy="oracle", top_fraction=0.3, adaptive=adaptive, **kw)


def test_oracle_labels_follow_the_clean_tags(corpus, issues):
    y = oracle_labels(issues, corpus)
    names = label_names(corpus)
    clean = {r["id"]: [names[t] for t in r[CLEAN_COLUMN]] for r in corpus["train"]}
    expect = [float(list(g) != clean[i][s:e]) for i, s, e, g in zip(issues["id"], issues["start"], issues["end"], issues["given"])]
    assert y.tolist() == expect and 0 < y.mean() < 0.5
    stale = issues.assign(tokens=issues["tokens"].map(lambda t: ["x"] * len(t)))
    assert np.isnan(oracle_labels(stale.iloc[:3], corpus)).all()


def test_adaptive_oracle_decides_the_budget_and_finds_more_errors_than_the_score_order(corpus, issues, tmp_path):
    budget = int(np.ceil(0.3 * len(issues)))
    with DecisionStore(tmp_path / "a.sqlite") as store:
        summary = apply_policy(issues, corpus, adaptive_cfg(), store, run_dir=tmp_path / "run")
        adaptive = store.latest()
    with DecisionStore(tmp_path / "s.sqlite") as store:
        static = apply_policy(issues, corpus, ReviewConfig(policy="oracle", top_fraction=0.3), store)
        static_latest = store.latest()
    assert summary.decided == summary.considered == budget == static.decided
    assert summary.adaptive["refits"] >= 1 and summary.adaptive["batch"] == 25
    assert "re-ranking the queue" in summary.note and "adaptive" in summary.to_dict()
    changed = sum(d.action != "keep" for d in adaptive.values())
    changed_static = sum(d.action != "keep" for d in static_latest.values())
    assert changed > 1.5 * changed_static  # the planted signal was learned
    refits = load_refits(tmp_path / "run")
    assert len(refits) == summary.adaptive["refits"] and refits[-1]["source"] == "policy:oracle"
    assert "planted" in refits[-1]["signals"]


def test_adaptive_oracle_rerun_is_a_no_op_and_respects_curators(corpus, issues, tmp_path):
    human_id = issues["issue_id"].iat[int(prior_order(issues)[0])]
    with DecisionStore(tmp_path / "r.sqlite", curator="ana") as store:
        store.record(human_id, "skip")
        first = apply_policy(issues, corpus, adaptive_cfg(), store)
        again = apply_policy(issues, corpus, adaptive_cfg(), store)
        assert first.recorded > 0 and again.recorded == 0  # same config, same decisions
        assert first.human == 1 and store.latest()[human_id].curator == "ana"
        # switching adaptation off withdraws the policy decisions the static order does not make
        static = apply_policy(issues, corpus, ReviewConfig(policy="oracle", top_fraction=0.3), store)
        top = set(issues["issue_id"].to_numpy()[prior_order(issues)[: static.considered]]) - {human_id}
        assert {k for k, d in store.latest().items() if d.curator == "policy:oracle"} == top


def test_adaptation_off_or_full_fraction_is_the_plain_oracle(corpus, issues, tmp_path):
    with DecisionStore(tmp_path / "x.sqlite") as store:
        full = apply_policy(issues, corpus, adaptive_cfg().model_copy(update={"top_fraction": 1.0}), store,
                            run_dir=tmp_path / "run")
    assert full.adaptive is None and full.decided == len(issues) and load_refits(tmp_path / "run") == []


def test_review_loop_stale_rows_budget_and_adaptation(issues):
    truth = (issues["planted"] >= 1.0).to_numpy(dtype=float)
    prior = prior_order(issues)
    stale_row = int(prior[3])

    def decide(row):
        return None if row == stale_row else truth[row]

    # thresholds never met: the score order, 40 decisions, the stale row not counted
    trace = review_in_batches(issues, decide, budget=40, batch=15, settings=AdaptiveConfig(min_wrong=10**6))
    assert trace.reviewed == [int(r) for r in prior[:41] if r != stale_row]  # the static order, 40 decisions
    assert trace.stale == [stale_row] and trace.refits == 0

    adaptive = review_in_batches(issues, decide, budget=120, batch=20, settings=AdaptiveConfig(min_wrong=5, min_right=5))
    assert adaptive.refits >= 1 and len(adaptive.reviewed) == 120
    assert truth[adaptive.reviewed].sum() > truth[trace.reviewed].sum() * 2
