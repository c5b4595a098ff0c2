"""Adaptive ranking: the review queue re-ranks itself from the curator's decisions.

A curator's first decisions say which issues of *this* corpus are real errors: which kinds,
entity types, languages, which signals were right. Once there are enough of them (at least
`min_wrong` "the label was wrong" = accept/relabel and `min_right` "the label was right" =
keep decisions; skips say nothing), a small L2-regularised logistic regression is fitted on
the decided issues and the open issues are re-ranked by its probability that the label is
wrong, blended with the prior (score) rank. Below the threshold the order is the score order,
unchanged.

Its inputs (decision labels, issue features) come from auditor.review.adaptive_features;
refit records, and `refit` that makes and stores one, are auditor.review.adaptive_refits.

Blend: priority = (1 - w) * prior_rank + w * model_rank, both percentile ranks in [0, 1)
(lower = review sooner), with w = n / (n + half_weight_at) for n = wrong + right decisions:
with the default half_weight_at = 100 the model gets 0.29 of the weight at 40 decisions,
0.5 at 100, 0.67 at 200, 0.83 at 500 and tends to 1.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from auditor.config import AdaptiveConfig
from auditor.review.adaptive_features import IssueFeatures, evidence_columns, issue_features

# inverse L2 strength of the logistic regression (smaller = stronger pull to zero); when the
# model is fitted and how far it is trusted is the user's setting, config.AdaptiveConfig
INVERSE_L2 = 0.5


# --- the model --------------------------------------------------------------------------------


@dataclass
class FittedModel:
    """A logistic regression on standardised features: p(label wrong) = sigmoid(X @ coef + intercept).

    names: (F,) feature names; coef: (F,) weights (> 0 pushes towards "wrong").
    """

    names: list[str]
    coef: np.ndarray
    intercept: float
    n_wrong: int
    n_right: int
    fit_ms: float

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(N, F) -> (N,) probability that the label is wrong."""
        z = X @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

    def weights(self) -> dict[str, float]:
        """Feature -> weight, largest magnitude first."""
        order = np.argsort(-np.abs(self.coef), kind="stable")
        return {self.names[i]: float(self.coef[i]) for i in order}


def fit_model(X: np.ndarray, y: np.ndarray, names: list[str], C: float = INVERSE_L2) -> FittedModel:
    """Fit on decided rows. X: (M, F) features, y: (M,) 1 wrong / 0 right (both classes present).

    Balanced class weights: early decisions are mostly "wrong" (the top of the ranking), and
    the rare "right" ones must still count. lbfgs is deterministic: same decisions, same order.
    """
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(y, dtype=np.int64)
    if len(np.unique(y)) < 2:
        raise ValueError("fit_model needs both wrong (1) and right (0) decisions")
    t0 = time.perf_counter()
    clf = LogisticRegression(C=C, class_weight="balanced", max_iter=500)
    clf.fit(X, y)
    ms = (time.perf_counter() - t0) * 1000
    return FittedModel(list(names), clf.coef_[0].astype(np.float64), float(clf.intercept_[0]),
                       int((y == 1).sum()), int((y == 0).sum()), ms)


def blend_weight(n_decisions: int, settings: AdaptiveConfig) -> float:
    """Weight of the model's rank: n / (n + half_weight_at) (0 with no decisions, -> 1)."""
    n = max(0, int(n_decisions))
    return n / (n + settings.half_weight_at)


def prior_order(issues: pd.DataFrame) -> np.ndarray:
    """(N,) row positions in score order (lower first, NaN last, ties by issue_id)."""
    if not len(issues):
        return np.zeros(0, dtype=np.int64)
    frame = pd.DataFrame({"score": issues["score"].to_numpy(dtype=np.float64),
                          "issue_id": issues["issue_id"].astype(str).to_numpy(), "row": np.arange(len(issues))})
    frame = frame.sort_values(["score", "issue_id"], kind="stable", na_position="last")
    return frame["row"].to_numpy(dtype=np.int64)


def _rank_pct(order: np.ndarray) -> np.ndarray:
    """(N,) position of each row in `order`, divided by N: 0 = first."""
    pct = np.empty(len(order), dtype=np.float64)
    pct[order] = np.arange(len(order)) / max(1, len(order))
    return pct


@dataclass
class AdaptiveRanking:
    """The queue order after a (possible) refit.

    active:   the model was fitted (enough decisions); else priority is the prior rank
    priority: (N,) per table row, lower = review sooner (decided rows included)
    order:    (K,) open rows in review order
    p_wrong:  (N,) model probability that the label is wrong, or None when inactive
    weight:   the model's share of the blend; reason: why inactive ('' when active)
    order_change: how the open issues' order differs from the prior order (active only)
    """

    active: bool
    priority: np.ndarray
    order: np.ndarray
    n_wrong: int
    n_right: int
    weight: float = 0.0
    p_wrong: np.ndarray | None = None
    model: FittedModel | None = None
    reason: str = ""
    order_change: dict = field(default_factory=dict)

    @property
    def n_decisions(self) -> int:
        return self.n_wrong + self.n_right


def order_change(prior: np.ndarray, adapted: np.ndarray, top: int = 100) -> dict:
    """How two orders of the same open rows differ: Spearman rank correlation, share of the
    adapted top `top` already in the prior top `top`, and the median prior position (0-based)
    of the adapted top `top`."""
    n = len(prior)
    if n == 0:
        return {"open": 0, "spearman": None, "top_overlap": None, "top": top, "median_prior_position_of_top": None}
    pos_prior = {int(r): i for i, r in enumerate(prior)}
    adapted_pos = np.arange(n, dtype=np.float64)
    prior_pos = np.array([pos_prior[int(r)] for r in adapted], dtype=np.float64)
    rho = float(np.corrcoef(adapted_pos, prior_pos)[0, 1]) if n > 1 else 1.0
    k = min(top, n)
    overlap = len(set(prior[:k].tolist()) & set(adapted[:k].tolist())) / k
    return {"open": n, "spearman": rho, "top_overlap": overlap, "top": k,
            "median_prior_position_of_top": float(np.median(prior_pos[:k]))}


def adapt_ranking(
    issues: pd.DataFrame,
    labels: np.ndarray,
    settings: AdaptiveConfig = AdaptiveConfig(),
    features: IssueFeatures | None = None,
    open_rows: np.ndarray | None = None,
) -> AdaptiveRanking:
    """Re-rank the open issues from the decisions (module docstring).

    issues: the issue table (N rows); labels: (N,) from decision_labels; features: from
    issue_features(issues) (computed here when None: pass it to refit cheaply); open_rows:
    (N,) bool mask of open rows (default: rows without a label). Below min_wrong/min_right
    decisions the result is inactive and `order` is exactly the prior order of the open rows.
    """
    labels = np.asarray(labels, dtype=np.float64)
    if len(labels) != len(issues):
        raise ValueError(f"labels has {len(labels)} rows, the issue table {len(issues)}")
    is_open = np.isnan(labels) if open_rows is None else np.asarray(open_rows, dtype=bool)
    prior = prior_order(issues)
    prior_pct = _rank_pct(prior)
    n_wrong, n_right = int((labels == 1.0).sum()), int((labels == 0.0).sum())
    static_order = prior[is_open[prior]]
    if n_wrong < settings.min_wrong or n_right < settings.min_right:
        reason = (
            f"{n_wrong} wrong-label and {n_right} keep decisions; the order adapts from "
            f"{settings.min_wrong} and {settings.min_right}"
        )
        return AdaptiveRanking(False, prior_pct, static_order, n_wrong, n_right, reason=reason)

    features = features if features is not None else issue_features(issues)
    evidence_names, evidence = evidence_columns(features, labels)
    # the prior rank itself, log-scaled: the first percent of the score order is far more
    # often wrong than the tenth, which a percentile alone cannot express linearly
    prior_log = np.log(prior_pct + 1.0 / max(1, len(prior_pct)))
    prior_feat = (prior_log - prior_log.mean()) / (prior_log.std() or 1.0)
    X = np.column_stack([features.values, evidence, prior_feat])
    names = features.names + evidence_names + ["prior_log_rank"]
    decided = (labels == 0.0) | (labels == 1.0)
    model = fit_model(X[decided], labels[decided], names, INVERSE_L2)
    p_wrong = model.predict(X)
    # model rank: most likely wrong first, ties in prior order
    model_order = prior[np.argsort(-p_wrong[prior], kind="stable")]
    weight = blend_weight(n_wrong + n_right, settings)
    priority = (1.0 - weight) * prior_pct + weight * _rank_pct(model_order)
    order = prior[np.argsort(priority[prior], kind="stable")]
    order = order[is_open[order]]
    return AdaptiveRanking(True, priority, order, n_wrong, n_right, weight, p_wrong, model,
                           order_change=order_change(static_order, order))
