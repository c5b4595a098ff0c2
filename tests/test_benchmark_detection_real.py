"""benchmarks/detection_real.py's ranking variants, on the real out-of-fold fixture of test_detection."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import detection_real as dr  # noqa: E402
from test_detection import _real_oof_corpus  # noqa: E402

from auditor.config import ScoringConfig  # noqa: E402
from auditor.scoring.detection import evaluate_detection  # noqa: E402
from auditor.scoring.score import score_corpus  # noqa: E402


def test_ranking_variants_are_measured_on_the_same_predictions():
    corpus, preds = _real_oof_corpus()
    cfg = ScoringConfig()
    issues = score_corpus(corpus, preds, cfg, progress=False).issues
    out = dr.extra_rankings(corpus, preds, issues, cfg)
    rep = evaluate_detection(corpus, issues, preds, cfg, ks=(100,))
    # the default model signal alone is the collapsed quality with the soft minimum
    assert out["collapsed/softmin"]["sentence_ap"] == pytest.approx(rep.row("sentence", "model").ap)
    assert out["self_confidence/min"]["sentence_ap"] == pytest.approx(rep.row("sentence", "cleanlab").ap, abs=1e-6)
    assert 0 < out["_coverage"]["span_recall"] <= 1
