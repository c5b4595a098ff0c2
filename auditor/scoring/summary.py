"""metrics.json["scoring"]: what the score stage found (ScoringSummary).

Its own module, apart from scoring/score.py, so a reader of one number (the review UI's
status line, the report) does not import cleanlab to get the record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from auditor.records import fields_from_dict


@dataclass
class ScoringSummary:
    """What metrics.json["scoring"] holds; see to_dict."""

    SECTION: ClassVar[str] = "scoring"

    n_issues: int
    n_sentences: int
    n_tokens: int
    n_flagged_sentences: int
    by_kind: dict[str, int]
    by_lang: dict[str, int]
    by_type: dict[str, int]
    top_tokens: list[dict] = field(default_factory=list)
    loss_per_tag: list[dict] = field(default_factory=list)
    # the verified sample's evidence (sentences, corrected, weight and its fit), when one is used
    reference: dict | None = None

    def to_dict(self) -> dict:
        return {
            "n_issues": self.n_issues,
            "n_sentences": self.n_sentences,
            "n_tokens": self.n_tokens,
            "n_flagged_sentences": self.n_flagged_sentences,
            "by_kind": dict(self.by_kind),
            "by_lang": dict(self.by_lang),
            "by_type": dict(self.by_type),
            "top_tokens": list(self.top_tokens),
            "loss_per_tag": list(self.loss_per_tag),
            "reference": self.reference,
        }

    @classmethod
    def from_dict(cls, d: dict) -> ScoringSummary:
        return cls(**fields_from_dict(cls, d))
