"""What the adaptive ranking (auditor.review.adaptive) learns from: the curator's decisions as
labels, and the features of every issue.

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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from auditor.review.groups import change_text, find_groups, normalise_surface

WRONG_ACTIONS = ("accept", "relabel")  # the curator changed the label: it was wrong
RIGHT_ACTIONS = ("keep",)  # the curator kept it: it was right
CATEGORICAL = ("kind", "entity_type", "lang")
# per-word probability lists of the issue table -> one confidence number per issue
PROB_LISTS = (("given_prob", "given_prob_min", "min"), ("suggested_prob", "suggested_prob_mean", "mean"))
MAX_LEVELS = 20  # one-hot levels per categorical column (rarer values share "other")


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
