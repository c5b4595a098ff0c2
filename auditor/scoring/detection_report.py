"""Detection quality against known clean labels: MethodRow per ranking and DetectionReport,
the metrics.json["detection"] section (computed by scoring/detection.py).

Apart from detection.py, so a reader of the section (the report) does not import cleanlab
and scikit-learn to get the record.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

from auditor.records import fields_from_dict


@dataclass
class MethodRow:
    """Detection quality of one ranking: AP, AUROC and precision/recall at each k."""

    method: str
    ap: float
    auroc: float
    precision_at: dict[str, float]
    recall_at: dict[str, float]

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "ap": self.ap,
            "auroc": self.auroc,
            "precision_at": dict(self.precision_at),
            "recall_at": dict(self.recall_at),
        }

    @classmethod
    def from_dict(cls, d: dict) -> MethodRow:
        return cls(**fields_from_dict(cls, d))


@dataclass
class DetectionReport:

    SECTION: ClassVar[str] = "detection"
    noise_rate: float  # share of audited sentences whose given tags differ from the clean tags
    n_sentences: int
    n_error_sentences: int
    n_error_spans: int
    n_issues: int
    ks: tuple[int, ...]
    sentence: list[MethodRow] = field(default_factory=list)
    span: list[MethodRow] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "noise_rate": self.noise_rate,
            "n_sentences": self.n_sentences,
            "n_error_sentences": self.n_error_sentences,
            "n_error_spans": self.n_error_spans,
            "n_issues": self.n_issues,
            "ks": list(self.ks),
            "sentence": [r.to_dict() for r in self.sentence],
            "span": [r.to_dict() for r in self.span],
        }

    @classmethod
    def from_dict(cls, d: dict) -> DetectionReport:
        """metrics.json["detection"] back; a section written before "ks" was recorded takes
        them from its rows' precision_at keys."""
        sentence = [MethodRow.from_dict(r) for r in d.get("sentence") or []]
        span = [MethodRow.from_dict(r) for r in d.get("span") or []]
        ks = d.get("ks")
        if ks is None:
            ks = [int(k) for k in next((r.precision_at for r in [*sentence, *span]), {})]
        return cls(**fields_from_dict(cls, d, ks=tuple(int(k) for k in ks), sentence=sentence, span=span))

    def row(self, level: str, method: str) -> MethodRow:
        return next(r for r in getattr(self, level) if r.method == method)

    def table_rows(self) -> tuple[list[str], list[list[str]]]:
        """Header and rows (level, method, AP, AUROC, P@k..., R@k...) as formatted strings."""
        header = ["level", "method", "AP", "AUROC"] + [f"P@{k}" for k in self.ks] + [f"R@{k}" for k in self.ks]
        rows = []
        for level in ("sentence", "span"):
            for r in getattr(self, level):
                rows.append(
                    [level, r.method, _fmt(r.ap), _fmt(r.auroc)]
                    + [_fmt(r.precision_at[str(k)]) for k in self.ks]
                    + [_fmt(r.recall_at[str(k)]) for k in self.ks]
                )
        return header, rows

    def to_markdown(self) -> str:
        header, rows = self.table_rows()
        lines = [
            f"noise rate {self.noise_rate:.3f}: {self.n_error_sentences} of {self.n_sentences} sentences, "
            f"{self.n_error_spans} error spans, {self.n_issues} issues",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "|".join("---" for _ in header) + "|",
        ]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines) + "\n"


def _fmt(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.3f}"
