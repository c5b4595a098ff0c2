"""Adaptive ranking: the queue learns from decisions, stays put below the threshold, keeps its refits."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from auditor.config import AdaptiveConfig
from auditor.review.adaptive import adapt_ranking, blend_weight, fit_model, prior_order
from auditor.review.adaptive_features import decision_labels, group_evidence, issue_features, open_mask, signal_columns
from auditor.review.adaptive_refits import AdaptiveSummary, load_refits, refit, refit_summary
from auditor.review.store import Decision

LANGS = ("de", "fr", "it", "en")
WORDS = [f"w{i}" for i in range(60)]


def make_issues(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """An issue table with random (uninformative) scores and an extra float signal column."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        length = int(rng.integers(1, 3))
        tokens = [str(w) for w in rng.choice(WORDS, 6)]
        start = int(rng.integers(0, 6 - length))
        etype = str(rng.choice(["PER", "ORG", "LOC"]))
        given = [f"B-{etype}"] + [f"I-{etype}"] * (length - 1)
        other = "ORG" if etype != "ORG" else "PER"
        suggested = [f"B-{other}"] + [f"I-{other}"] * (length - 1)
        tags = ["O"] * 6
        tags[start : start + length] = given
        rows.append({
            "issue_id": f"{i:04d}:{start}-{start + length}", "id": f"s{i:04d}", "lang": str(rng.choice(LANGS)),
            "split": "train", "start": start, "end": start + length, "kind": "type", "entity_type": etype,
            "surface": " ".join(tokens[start : start + length]), "given": given, "suggested": suggested,
            "score": float(rng.random()), "cleanlab_score": float(rng.random()), "token_loss": float(rng.exponential()),
            "consistency_score": float(rng.random()), "sequence_loss": float(rng.exponential(3)),
            "sequence_loss_mean": float(rng.exponential()), "tokens": tokens, "tags": tags,
            "predicted": tags if rng.random() < 0.5 else tags[:start] + suggested + tags[start + length:],
            "token_losses": [0.1] * 6, "new_signal": float(rng.random()),
        })
    return pd.DataFrame(rows)


def decide_first(issues: pd.DataFrame, truth: np.ndarray, n: int) -> np.ndarray:
    """Labels of the first n issues in score order (what a curator working the static queue knows)."""
    labels = np.full(len(issues), np.nan)
    first = prior_order(issues)[:n]
    labels[first] = truth[first]
    return labels


def precision_top(order: np.ndarray, truth: np.ndarray, k: int = 50) -> float:
    return float(truth[order[:k]].mean())


def test_the_model_learns_a_planted_pattern_in_a_new_signal_column():
    issues = make_issues()
    truth = (issues["new_signal"] > 0.6).to_numpy(dtype=float)  # the lead's new column says it all
    labels = decide_first(issues, truth, 150)
    static = adapt_ranking(issues, labels, AdaptiveConfig(min_wrong=10**6))
    adapted = adapt_ranking(issues, labels)
    assert not static.active and adapted.active
    assert "new_signal" in adapted.model.names
    assert next(iter(adapted.model.weights())) == "new_signal"  # the largest weight
    assert precision_top(adapted.order, truth) >= 0.9
    assert precision_top(static.order, truth) <= 0.6
    assert adapted.order_change["open"] == len(adapted.order) == 250


def test_the_model_learns_that_one_language_is_wrong():
    issues = make_issues(seed=1)
    truth = (issues["lang"] == "fr").to_numpy(dtype=float)
    labels = decide_first(issues, truth, 200)
    adapted = adapt_ranking(issues, labels)
    assert adapted.active and adapted.model.weights()["lang=fr"] > 0
    assert precision_top(adapted.order, truth) >= 0.8  # base rate 0.25
    # decided rows are not in the queue; every open row is, once
    assert sorted(adapted.order.tolist()) == sorted(np.flatnonzero(np.isnan(labels)).tolist())


@pytest.mark.parametrize(("n_wrong", "n_right"), [(29, 10), (30, 9), (0, 0)])
def test_below_the_decision_threshold_the_order_is_the_score_order(n_wrong, n_right):
    issues = make_issues(120)
    labels = np.full(len(issues), np.nan)
    prior = prior_order(issues)
    labels[prior[:n_wrong]] = 1.0
    labels[prior[n_wrong : n_wrong + n_right]] = 0.0
    ranking = adapt_ranking(issues, labels)
    assert not ranking.active and ranking.model is None and ranking.p_wrong is None
    assert ranking.order.tolist() == [r for r in prior.tolist() if np.isnan(labels[r])]
    assert "30" in ranking.reason and "10" in ranking.reason


def test_threshold_reached_activates_and_blend_grows_with_decisions():
    issues = make_issues(120)
    labels = np.full(len(issues), np.nan)
    prior = prior_order(issues)
    labels[prior[:30]] = 1.0
    labels[prior[30:40]] = 0.0
    assert adapt_ranking(issues, labels).active
    s = AdaptiveConfig()
    weights = [blend_weight(n, s) for n in (0, 40, 100, 200, 500, 10**6)]
    assert weights[0] == 0 and weights[2] == pytest.approx(0.5) and weights == sorted(weights) and weights[-1] < 1


def test_decision_labels_and_open_mask_read_the_latest_decisions():
    issues = make_issues(5)
    ids = issues["issue_id"].tolist()
    latest = {
        ids[0]: Decision(ids[0], "accept", 0, 1, ["B-ORG"], "ana", "t"),
        ids[1]: "relabel",
        ids[2]: "keep",
        ids[3]: "skip",
        "not-in-table": "accept",
    }
    labels = decision_labels(issues, latest)
    assert labels[:3].tolist() == [1.0, 1.0, 0.0] and np.isnan(labels[3:]).all()
    assert open_mask(issues, latest).tolist() == [False, False, False, False, True]  # a skip is not open


def test_group_evidence_never_sees_the_issues_own_label():
    group = np.array([0, 0, 0, 1, 1])
    labels = np.array([1.0, 1.0, np.nan, 0.0, np.nan])
    ev = group_evidence(group, labels)
    assert ev[0] == pytest.approx(np.log(2 / 1))  # one other wrong member
    assert ev[2] == pytest.approx(np.log(3 / 1))  # open: both wrong members count
    assert ev[3] == 0.0 and ev[4] == pytest.approx(np.log(1 / 2))


def test_features_use_float_columns_only_and_survive_missing_values():
    issues = make_issues(50)
    issues.loc[::3, "token_loss"] = np.nan
    cols = signal_columns(issues)
    assert "new_signal" in cols and "score" in cols and "start" not in cols and "end" not in cols
    f = issue_features(issues)
    assert "token_loss_missing" in f.names and np.isfinite(f.values).all()
    assert f.values.shape == (50, len(f.names))
    # the per-word probability lists give the model's confidence; an empty or missing cell is missing
    issues["given_prob"] = [[0.2, 0.9]] + [[]] + [None] + [[0.5]] * 47
    f = issue_features(issues)
    assert {"given_prob_min", "given_prob_min_missing"} <= set(f.names) and np.isfinite(f.values).all()
    # a table without the optional sentence columns still works
    slim = issues.drop(columns=["predicted", "tokens", "tags", "token_losses"])
    assert "model_agrees" not in issue_features(slim).names


def test_sad_paths():
    issues = make_issues(20)
    with pytest.raises(ValueError, match="both"):
        fit_model(np.zeros((4, 2)), np.ones(4), ["a", "b"])
    with pytest.raises(ValueError, match="rows"):
        adapt_ranking(issues, np.full(3, np.nan))
    empty = issues.iloc[:0]
    ranking = adapt_ranking(empty, np.zeros(0))
    assert not ranking.active and len(ranking.order) == 0


def test_a_refit_is_stored_and_survives_a_broken_neighbour(tmp_path):
    issues = make_issues(200)
    truth = (issues["new_signal"] > 0.5).to_numpy()
    prior = prior_order(issues)
    latest = {issues["issue_id"].iat[r]: ("accept" if truth[r] else "keep") for r in prior[:80]}

    ranking, path = refit(issues, latest, run_dir=tmp_path, source="ana")
    assert ranking.active and path == tmp_path / "adaptive" / "refit-0001.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    assert record["n_decisions"] == 80 and record["source"] == "ana"
    assert set(record["weights"]) == set(record["features"]) and "new_signal" in record["signals"]
    assert record["order_change"]["open"] == 120

    (tmp_path / "adaptive" / "refit-0002.json").write_text("{half a fi", encoding="utf-8")  # a crash by hand
    _, second = refit(issues, latest, run_dir=tmp_path, source="bob")
    assert second.name == "refit-0003.json"  # never overwrites
    refits = load_refits(tmp_path)
    assert [r["refit"] for r in refits] == [1, 3] and refits[-1]["source"] == "bob"
    assert not [p for p in (tmp_path / "adaptive").iterdir() if p.name.endswith(".tmp")]

    summary = refit_summary(tmp_path)
    assert summary.refits == 2 and summary.last["refit"] == 3 and summary.last["weights"]
    assert refit_summary(tmp_path / "elsewhere") == AdaptiveSummary(0)
    assert refit_summary(tmp_path / "elsewhere").to_dict() == {"refits": 0}


def test_no_refit_is_stored_below_the_threshold(tmp_path):
    issues = make_issues(50)
    latest = {iid: "accept" for iid in issues["issue_id"][:5]}
    ranking, path = refit(issues, latest, run_dir=tmp_path)
    assert not ranking.active and path is None and load_refits(tmp_path) == []
