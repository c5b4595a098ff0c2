"""What cross-validation measured: FoldResult per fold and CrossvalResult, the
metrics.json["crossval"] section.

Apart from modeling/crossval.py, so a reader of the section (the report) does not import
torch to get the record.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar

from auditor.records import fields_from_dict


@dataclass
class FoldResult:
    """What one fold measured.

    f1:          seqeval entity F1 of the fold's model on its holdout (None: empty holdout)
    ece_before:  top-label ECE on the holdout with T = 1; ece_after: with the fitted T
    temperature: the fitted T (1.0 when calibration is off or the holdout is empty)
    n_train:     training sentences; n_heldout: audited sentences it predicted
    seconds:     wall-clock time of the fold (training + prediction; probe: heads only)
    epochs:      probe mode: epochs each head trained before early stopping (None: finetune)
    """

    fold: int
    f1: float | None
    ece_before: float
    ece_after: float
    temperature: float
    n_train: int
    n_heldout: int
    seconds: float
    epochs: list[int] | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FoldResult:
        return cls(**fields_from_dict(cls, d))


@dataclass
class CrossvalResult:
    """All folds' results; predictions is the merged file once every fold is done.

    words_per_second: audited words / (sum of fold seconds + encode_seconds) over the folds present
    encode_seconds:   probe mode: the one-off frozen-encoder pass (0 for finetune)
    """

    SECTION: ClassVar[str] = "crossval"

    mode: str
    folds: list[FoldResult]
    words_per_second: float
    n_folds: int
    encode_seconds: float = 0.0
    predictions: Path | None = None

    @property
    def complete(self) -> bool:
        return self.predictions is not None

    def to_dict(self) -> dict:
        return {
            "mode": self.mode,
            "folds": [f.to_dict() for f in self.folds],
            "words_per_second": self.words_per_second,
            "n_folds": self.n_folds,
            "encode_seconds": self.encode_seconds,
        }

    @classmethod
    def from_dict(cls, d: dict) -> CrossvalResult:
        """metrics.json["crossval"] back (predictions stays None: the section records no paths;
        a section written before n_folds was recorded counts its folds)."""
        folds = [FoldResult.from_dict(f) for f in d.get("folds") or []]
        n_folds = d.get("n_folds", len(folds))
        return cls(**fields_from_dict(cls, d, folds=folds, n_folds=n_folds))
