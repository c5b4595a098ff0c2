"""Refit records of the adaptive ranking (auditor.review.adaptive) and the one call that makes
one: decisions -> re-ranked open issues -> run_dir/adaptive/refit-XXXX.json.

Refits are stored as run_dir/adaptive/refit-XXXX.json (decisions, features, fitted weights,
time, how the order changed), each written atomically and never overwritten.
refit_summary (an AdaptiveSummary) is what metrics.json["adaptive"] (and so the report) holds of them.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from auditor.config import AdaptiveConfig
from auditor.records import fields_from_dict
from auditor.review.adaptive import AdaptiveRanking, adapt_ranking
from auditor.review.adaptive_features import IssueFeatures, decision_labels, issue_features, open_mask

REFIT_DIR = "adaptive"
_REFIT_NAME = re.compile(r"^refit-(\d+)\.json$")


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


@dataclass
class AdaptiveSummary:
    """metrics.json["adaptive"]: refits (how many), history (each refit in brief: refit, at,
    source, n_decisions, n_wrong, n_right, blend_weight, order_change, top_weights) and last
    (the last refit with its signals, weights and intercept in full). Rows stay dicts: they
    are the refit records' own fields, which refit_record owns."""

    SECTION: ClassVar[str] = "adaptive"

    refits: int
    history: list[dict] = field(default_factory=list)
    last: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        if not self.refits:
            return {"refits": 0}
        return {"refits": self.refits, "history": [dict(r) for r in self.history], "last": dict(self.last)}

    @classmethod
    def from_dict(cls, d: dict) -> AdaptiveSummary:
        return cls(**fields_from_dict(cls, d))


def refit_summary(run_dir: str | os.PathLike, top_weights: int = 8) -> AdaptiveSummary:
    """metrics.json["adaptive"]: every refit in brief plus the last one's weights in full."""
    refits = load_refits(run_dir)
    if not refits:
        return AdaptiveSummary(0)
    last = refits[-1]
    return AdaptiveSummary(
        refits=len(refits),
        history=[
            {
                "refit": r["refit"], "at": r.get("at"), "source": r.get("source"),
                "n_decisions": r.get("n_decisions"), "n_wrong": r.get("n_wrong"), "n_right": r.get("n_right"),
                "blend_weight": r.get("blend_weight"), "order_change": r.get("order_change", {}),
                "top_weights": dict(list((r.get("weights") or {}).items())[:top_weights]),
            }
            for r in refits
        ],
        last={k: last.get(k) for k in ("refit", "at", "source", "n_decisions", "n_wrong", "n_right",
                                       "blend_weight", "signals", "weights", "intercept", "order_change")},
    )


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
