"""Adaptive ranking: the review queue re-ranks itself from the curator's decisions.

A curator's first decisions say which issues of *this* corpus are real errors: which kinds,
entity types, languages, which signals were right. Once there are enough of them (at least
`min_wrong` "the label was wrong" = accept/relabel and `min_right` "the label was right" =
keep decisions; skips say nothing), a small L2-regularised logistic regression is fitted on
the decided issues and the open issues are re-ranked by its probability that the label is
wrong, blended with the prior (score) rank. Below the threshold the order is the score order,
unchanged.

Features of an issue (all from the issue table, so the UI never needs the corpus or a model):

- every float column of the issue table (score, cleanlab_score, token_loss,
  consistency_score, sequence_loss, ... and any signal column added later; integer columns
  are positions, not evidence, and are left out), each mapped to its percentile rank within
  the table so that heavy-tailed losses and [0, 1] scores weigh alike; a missing value
  (NaN) becomes 0.5 plus a `<column>_missing` indicator;
- span length, surface-form frequency in the issue table (case-folded), systematic group
  size (auditor.review.groups), whether the model's own tags agree with the suggestion,
  the model's confidence from the per-word list columns when the table has them (lowest
  probability of a given tag, mean probability of the suggested tags), optionally the
  surface's corpus frequency;
- one-hot kind, entity type, language and change ('LOC→ORG');
- the log of the issue's prior (score-order) percentile rank;
- per refit, the decided-group evidence: smoothed log-odds log((w + 1) / (r + 1)) of the
  wrong (w) and right (r) decisions on *other* members of the issue's group (leave-one-out,
  so a decided issue never sees its own label), and the same over every issue with the same
  case-folded words whatever the change (a word the curator keeps correcting).

All features but the group evidence are standardised over the whole table (unsupervised), so
a fitted weight reads as "per standard deviation" and the report can compare them.

Blend: priority = (1 - w) * prior_rank + w * model_rank, both percentile ranks in [0, 1)
(lower = review sooner), with w = n / (n + half_weight_at) for n = wrong + right decisions:
with the default half_weight_at = 100 the model gets 0.29 of the weight at 40 decisions,
0.5 at 100, 0.67 at 200, 0.83 at 500 and tends to 1.

Refits are stored as run_dir/adaptive/refit-XXXX.json (decisions, features, fitted weights,
time, how the order changed), each written atomically and never overwritten.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from auditor.config import AdaptiveConfig
from auditor.review.groups import change_text, find_groups, normalise_surface

WRONG_ACTIONS = ("accept", "relabel")  # the curator changed the label: it was wrong
RIGHT_ACTIONS = ("keep",)  # the curator kept it: it was right
CATEGORICAL = ("kind", "entity_type", "lang")
# per-word probability lists of the issue table -> one confidence number per issue
PROB_LISTS = (("given_prob", "given_prob_min", "min"), ("suggested_prob", "suggested_prob_mean", "mean"))
MAX_LEVELS = 20  # one-hot levels per categorical column (rarer values share "other")
REFIT_DIR = "adaptive"
_REFIT_NAME = re.compile(r"^refit-(\d+)\.json$")


# inverse L2 strength of the logistic regression (smaller = stronger pull to zero); when the
# model is fitted and how far it is trusted is the user's setting, config.AdaptiveConfig
INVERSE_L2 = 0.5


# --- decisions --------------------------------------------------------------------------------


def decision_labels(issues: pd.DataFrame, latest: Mapping[str, Any]) -> np.ndarray:
    """(N,) float64 per issue-table row: 1.0 label wrong (accept/relabel), 0.0 right (keep),
    NaN undecided or skipped.

    latest: issue_id -> a store Decision (its .action is read) or an action string, e.g.
    DecisionStore.latest(); ids not in the table are ignored.
    """
    out = np.full(len(issues), np.nan)
    index = {iid: i for i, iid in enumerate(issues["issue_id"].tolist())}
    for issue_id, d in latest.items():
        i = index.get(issue_id)
        if i is None:
            continue
        action = d if isinstance(d, str) else d.action
        if action in WRONG_ACTIONS:
            out[i] = 1.0
        elif action in RIGHT_ACTIONS:
            out[i] = 0.0
    return out


def open_mask(issues: pd.DataFrame, latest: Mapping[str, Any]) -> np.ndarray:
    """(N,) bool: rows with no current decision (a skip counts as seen, not open)."""
    decided = set(latest)
    return np.array([iid not in decided for iid in issues["issue_id"].tolist()], dtype=bool)


# --- features ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueFeatures:
    """The table part of the features, computed once per issue table.

    names:   (F,) feature names
    values:  (N, F) float64, standardised over the table (constant features are dropped)
    group:   (N,) int64 systematic-group code of each row (for the decided-group evidence)
    signals: the issue-table float columns used (the numeric signals)
    surface: (N,) int64 code of the case-folded words (for the same-words evidence)
    """

    names: list[str]
    values: np.ndarray
    group: np.ndarray
    signals: list[str]
    surface: np.ndarray | None = None


def signal_columns(issues: pd.DataFrame) -> list[str]:
    """The scalar float columns of the issue table: every numeric signal, whatever its name."""
    return [c for c in issues.columns if pd.api.types.is_float_dtype(issues[c].dtype)]


def _percentile(x: np.ndarray) -> np.ndarray:
    """(N,) -> (N,) average rank / N in (0, 1]; NaN stays NaN."""
    return pd.Series(x).rank(pct=True, method="average").to_numpy(dtype=np.float64)


def _one_hot(values: pd.Series, prefix: str) -> tuple[list[str], list[np.ndarray]]:
    text = values.astype(str).to_numpy(dtype=object)
    counts = pd.Series(text).value_counts()
    keep = list(counts.index[:MAX_LEVELS])
    names, cols = [], []
    for level in keep:
        names.append(f"{prefix}={level}")
        cols.append((text == level).astype(np.float64))
    if len(counts) > MAX_LEVELS:
        names.append(f"{prefix}=other")
        cols.append((~np.isin(text, keep)).astype(np.float64))
    return names, cols


def _model_agrees(issues: pd.DataFrame) -> np.ndarray:
    """(N,) 1.0 where the model's tags on the span equal the suggestion (the suggestion is the
    model's, not only the consistency check's)."""
    return np.array(
        [
            float(list(p)[int(s) : int(e)] == list(t))
            for p, s, e, t in zip(issues["predicted"], issues["start"], issues["end"], issues["suggested"])
        ]
    )


def _reduce(values, how: str) -> float:
    """min/mean of a per-word list cell; NaN for a missing or empty cell."""
    if values is None or (isinstance(values, float) and np.isnan(values)):
        return np.nan
    arr = np.asarray(list(values), dtype=np.float64)
    if not len(arr) or np.isnan(arr).all():
        return np.nan
    return float(np.nanmin(arr) if how == "min" else np.nanmean(arr))


def issue_features(issues: pd.DataFrame, corpus_counts: Mapping[str, int] | None = None) -> IssueFeatures:
    """Features of every issue-table row (module docstring); cheap to reuse across refits.

    issues: the issue table (auditor.tables.ISSUE_COLUMNS; extra float columns are used, a
    missing optional column such as `predicted` only drops its feature); corpus_counts:
    optional case-folded surface -> occurrences in the corpus.
    """
    n = len(issues)
    names: list[str] = []
    cols: list[np.ndarray] = []
    signals = signal_columns(issues)
    for c in signals:
        raw = issues[c].to_numpy(dtype=np.float64)
        pct = _percentile(raw)
        missing = np.isnan(pct)
        names.append(c)
        cols.append(np.where(missing, 0.5, pct))
        if missing.any():
            names.append(f"{c}_missing")
            cols.append(missing.astype(np.float64))
    if {"start", "end"} <= set(issues.columns):
        names.append("span_words")
        cols.append(np.log((issues["end"] - issues["start"]).to_numpy(dtype=np.float64).clip(1)))
    groups = find_groups(issues) if {"surface", "given", "suggested"} <= set(issues.columns) else None
    surface_code = None
    if "surface" in issues.columns:
        folded = issues["surface"].map(lambda s: normalise_surface(s, casefold=True))
        surface_code = pd.factorize(folded)[0].astype(np.int64)
        names.append("surface_issues")
        cols.append(np.log1p(folded.map(folded.value_counts()).to_numpy(dtype=np.float64)))
        if corpus_counts is not None:
            names.append("surface_corpus_frequency")
            cols.append(np.log1p(folded.map(lambda s: corpus_counts.get(s, 0)).to_numpy(dtype=np.float64)))
    if groups is not None:
        names.append("group_size")
        cols.append(np.log1p(groups.size.astype(np.float64)))
    if {"predicted", "start", "end", "suggested"} <= set(issues.columns):
        names.append("model_agrees")
        cols.append(_model_agrees(issues))
    for column, name, reduce in PROB_LISTS:
        if column in issues.columns:
            raw = np.array([_reduce(v, reduce) for v in issues[column]], dtype=np.float64)
            missing = np.isnan(raw)
            if not missing.all():
                names.append(name)
                cols.append(np.where(missing, np.nanmedian(raw), raw))
                if missing.any():
                    names.append(f"{name}_missing")
                    cols.append(missing.astype(np.float64))
    for c in CATEGORICAL:
        if c in issues.columns:
            more_names, more_cols = _one_hot(issues[c], c)
            names += more_names
            cols += more_cols
    if {"given", "suggested"} <= set(issues.columns):
        change = pd.Series([change_text(g, s) for g, s in zip(issues["given"], issues["suggested"])])
        more_names, more_cols = _one_hot(change, "change")
        names += more_names
        cols += more_cols

    values = np.column_stack(cols) if cols else np.zeros((n, 0))
    mean = values.mean(axis=0) if n else np.zeros(values.shape[1])
    std = values.std(axis=0) if n else np.zeros(values.shape[1])
    varying = std > 1e-12
    values = (values[:, varying] - mean[varying]) / std[varying]
    group = groups.code if groups is not None else np.arange(n, dtype=np.int64)
    return IssueFeatures([nm for nm, v in zip(names, varying) if v], values, group, signals, surface_code)


def evidence_columns(features: IssueFeatures, labels: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The per-refit features: names and (N, E) leave-one-out evidence from decided issues."""
    names, cols = ["group_evidence"], [group_evidence(features.group, labels)]
    if features.surface is not None:
        names.append("surface_evidence")
        cols.append(group_evidence(features.surface, labels))
    return names, np.column_stack(cols)


def group_evidence(group: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(N,) leave-one-out log((w + 1) / (r + 1)) over the other decided members of each row's group.

    group: (N,) int codes; labels: (N,) 1.0 wrong, 0.0 right, NaN undecided.
    """
    if not len(group):
        return np.zeros(0)
    wrong = (labels == 1.0).astype(np.float64)
    right = (labels == 0.0).astype(np.float64)
    w = np.bincount(group, weights=wrong)[group] - wrong
    r = np.bincount(group, weights=right)[group] - right
    return np.log((w + 1.0) / (r + 1.0))


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


# --- refit records ----------------------------------------------------------------------------


def refit_record(ranking: AdaptiveRanking, features: IssueFeatures, source: str, **extra: Any) -> dict:
    """What one refit used and learned, for run_dir/adaptive/refit-XXXX.json and the report."""
    if not ranking.active or ranking.model is None:
        raise ValueError("no refit to record: the ranking is not active")
    model = ranking.model
    return {
        "at": _now(),
        "source": source,
        "n_decisions": ranking.n_decisions,
        "n_wrong": ranking.n_wrong,
        "n_right": ranking.n_right,
        "blend_weight": ranking.weight,
        "signals": list(features.signals),
        "features": list(model.names),
        "weights": model.weights(),
        "intercept": model.intercept,
        "fit_ms": model.fit_ms,
        "order_change": dict(ranking.order_change),
        **extra,
    }


def _now() -> str:
    from auditor.review.store import now_utc

    return now_utc()


def refit_dir(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / REFIT_DIR


def save_refit(run_dir: str | os.PathLike, record: dict) -> Path:
    """Write the record as the next refit-XXXX.json; returns its path.

    Written to a temporary file, then hard-linked to the first free number: the link is
    atomic and fails if the name exists, so two processes (two curators) never overwrite
    each other's refit and no reader ever sees half a file.
    """
    folder = refit_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".refit-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(record, fh, indent=2, ensure_ascii=False, default=_json_default)
            fh.write("\n")
        number = _last_number(folder) + 1
        while True:
            final = folder / f"refit-{number:04d}.json"
            try:
                os.link(tmp, final)
                return final
            except FileExistsError:
                number += 1
    finally:
        os.unlink(tmp)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def refit_number(path: Path) -> int | None:
    """The number of a refit-XXXX.json file (None: not a refit file)."""
    m = _REFIT_NAME.match(Path(path).name)
    return int(m.group(1)) if m else None


def _last_number(folder: Path) -> int:
    return max((n for p in folder.iterdir() if (n := refit_number(p)) is not None), default=0)


def load_refits(run_dir: str | os.PathLike) -> list[dict]:
    """Every readable refit record in number order, each with its "refit" number added.
    An unreadable file (foreign, truncated by hand) is skipped, not fatal: it is history."""
    folder = refit_dir(run_dir)
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.iterdir()):
        number = refit_number(path)
        if number is None:
            continue
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict):
            out.append({**record, "refit": number})
    return sorted(out, key=lambda r: r["refit"])


def refit_summary(run_dir: str | os.PathLike, top_weights: int = 8) -> dict:
    """metrics.json["adaptive"]: every refit in brief plus the last one's weights in full."""
    refits = load_refits(run_dir)
    if not refits:
        return {"refits": 0}
    last = refits[-1]
    return {
        "refits": len(refits),
        "history": [
            {
                "refit": r["refit"], "at": r.get("at"), "source": r.get("source"),
                "n_decisions": r.get("n_decisions"), "n_wrong": r.get("n_wrong"), "n_right": r.get("n_right"),
                "blend_weight": r.get("blend_weight"), "order_change": r.get("order_change", {}),
                "top_weights": dict(list((r.get("weights") or {}).items())[:top_weights]),
            }
            for r in refits
        ],
        "last": {k: last.get(k) for k in ("refit", "at", "source", "n_decisions", "n_wrong", "n_right",
                                          "blend_weight", "signals", "weights", "intercept", "order_change")},
    }


def refit(
    issues: pd.DataFrame,
    latest: Mapping[str, Any],
    settings: AdaptiveConfig = AdaptiveConfig(),
    run_dir: str | os.PathLike | None = None,
    source: str = "review",
    features: IssueFeatures | None = None,
) -> tuple[AdaptiveRanking, Path | None]:
    """One call for the UI or a policy: decisions -> re-ranked open issues (+ stored refit).

    latest: DecisionStore.latest(); run_dir: where the refit record goes (None: not stored;
    nothing is stored while inactive). Pure CPU work of a few tens of milliseconds for
    thousands of issues: run it in a worker thread and swap the order in when it returns.
    """
    features = features if features is not None else issue_features(issues)
    labels = decision_labels(issues, latest)
    ranking = adapt_ranking(issues, labels, settings, features, open_rows=open_mask(issues, latest))
    path = None
    if ranking.active and run_dir is not None:
        path = save_refit(run_dir, refit_record(ranking, features, source))
    return ranking, path
