"""metrics.json read back as typed records (auditor.metrics.Metrics): every section's record
round-trips, old runs' sections still load, a damaged section is one DataError line, and a
real pipeline run's file reads back with every section present."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from auditor.analysis.curve import CurvePoint, CurveResult
from auditor.analysis.error_analysis import AnalysisResult, LossRow, WorstSentence
from auditor.cleaning import ApplySummary
from auditor.config import config_from_dict
from auditor.data.stats import CorpusStats
from auditor.errors import DataError
from auditor.evaluation import EvalRow, ExperimentResult, F1Interval, IntervalRow, RetrainResult, Scores, TypeScores
from auditor.metrics import read_metrics, update_metrics, write_section
from auditor.modeling.crossval_result import CrossvalResult, FoldResult
from auditor.reporting.builder import SECTIONS, ReportDerived
from auditor.review.adaptive_refits import AdaptiveSummary
from auditor.review.policies import PolicySummary
from auditor.review.summary import ReviewSummary
from auditor.scoring.detection_report import DetectionReport, MethodRow
from auditor.scoring.summary import ScoringSummary

# every record of metrics.json, one per section
RECORDS = (CorpusStats, CrossvalResult, ScoringSummary, DetectionReport, ReviewSummary, AdaptiveSummary,
           ApplySummary, RetrainResult, AnalysisResult, CurveResult, ReportDerived)


def _retrain() -> RetrainResult:
    per_type = {"PER": TypeScores(0.5, 0.25, 1 / 3, 4)}
    rows = [EvalRow(m, "clean", "de", Scores(0.6, 0.5, 0.55, 10, per_type)) for m in ("before", "after")]
    iv = [IntervalRow("delta", "clean", "de", F1Interval(0.05, -0.01, 0.1, 40))]
    return RetrainResult([ExperimentResult("all", ["de", "fr"], ["de"], rows, iv)])


def _policy() -> ReviewSummary:
    return PolicySummary("oracle", "policy:oracle", 9, 9, 8, 8, 1, 0, {"accept": 6, "keep": 2}, 1.0,
                         adaptive={"batch": 3, "refits": 2}).section()


SAMPLES = {
    "corpus": CorpusStats(["O", "B-PER", "I-PER"], ["PER"], {"train": {"de": 3}}, {"train": {"de": 20}},
                          {"train": {"PER": 2}}, iob_violations=1, iob_locations=["x.conll:3"],
                          noisy_sentences={"train": 1}, noise_kinds={"train": {"type": 1}}),
    "crossval": CrossvalResult("probe", [FoldResult(0, 0.81, 0.1, 0.03, 1.4, 20, 10, 2.5, [7, 9]),
                                         FoldResult(1, None, 0.0, 0.0, 1.0, 30, 0, 0.5)], 1234.5, 2, 3.25),
    "scoring": ScoringSummary(9, 60, 480, 7, {"type": 9}, {"de": 9}, {"PER": 9},
                              [{"token": "Nations", "count": 3, "mean": 1.5, "sum": 4.5}],
                              [{"tag": "O", "count": 400, "mean": 0.1, "sum": 40.0}],
                              {"verified_sentences": 40, "corrected_sentences": 4, "weight": 1.0}),
    "detection": DetectionReport(0.3, 30, 9, 10, 9, (5, 10),
                                 [MethodRow("combined", 0.7, 0.9, {"5": 0.8, "10": 0.6}, {"5": 0.4, "10": 0.6})],
                                 [MethodRow("cleanlab", 0.55, 0.8, {"5": 0.6, "10": 0.4}, {"5": 0.3, "10": 0.4})]),
    "review": _policy(),
    "adaptive": AdaptiveSummary(2, [{"refit": 1, "n_decisions": 40}, {"refit": 2, "n_decisions": 80}],
                                {"refit": 2, "weights": {"lang=de": 0.5}}),
    "apply": ApplySummary(9, {"accept": 7, "keep": 2}, 7, 8, 1, stale_kinds={"sentence changed": 1},
                          stale_list=[{"issue_id": "de/train/000001:0-1", "action": "accept", "kind": "sentence changed",
                                       "reason": "its words changed"}], moved=2),
    "retrain": _retrain(),
    "curve": CurveResult("de", "fr", "clean", [10, 30], {"before": 0.5, "after": 0.55},
                         [CurvePoint(10, "before", 0.4), CurvePoint(30, "after", 0.6)], {"before": "models/before/de"},
                         Path("analysis/curve_de_fr.png")),
    "report": ReportDerived({"corpus": {"columns": ["split"], "rows": [["train"]]}}, {"flagged_sentence_share": 0.15},
                            ["curve"], ["f1_before_after.png"]),
}


def _analysis() -> AnalysisResult:
    return AnalysisResult(
        "validation", "after", "all", 4, 20, [LossRow("Nations", 2, 1.25, 2.5)], [LossRow("O", 18, 0.1, 1.8)],
        ["O", "B-PER"], np.array([[0.9, 0.1], [0.25, 0.75]]),
        [WorstSentence("de/validation/000001", "de", ["Die", "UN"], ["O", "B-ORG"], ["O", "B-PER"], [0.01, 2.5])],
        lang="de", figure=Path("analysis/confusion_validation.png"), accuracy=0.9,
    )


def test_every_section_has_one_record_that_names_it():
    assert sorted(r.SECTION for r in RECORDS) == sorted({*SECTIONS, "adaptive", "report"})
    assert set(SAMPLES) | {"analysis"} == {r.SECTION for r in RECORDS}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_a_section_round_trips(name, tmp_path):
    x = SAMPLES[name]
    record = type(x)
    assert record.from_dict(x.to_dict()) == x
    write_section(tmp_path, x)  # through the file, as every reader gets it
    assert json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))[name] == json.loads(json.dumps(x.to_dict()))
    assert read_metrics(tmp_path).section(record) == x


def test_the_analysis_section_round_trips(tmp_path):
    x = _analysis()
    back = AnalysisResult.from_dict(x.to_dict())
    assert back.to_dict() == x.to_dict() and np.array_equal(back.confusion, x.confusion)
    assert back.worst_sentences == x.worst_sentences and back.top_tokens == x.top_tokens and back.figure == x.figure
    write_section(tmp_path, x)
    assert read_metrics(tmp_path).section(AnalysisResult).to_dict() == x.to_dict()


def test_both_kinds_of_review_keep_their_own_keys():
    unattended = _policy().to_dict()
    assert list(unattended)[:3] == ["policy", "unattended", "curator"] and "curators" not in unattended
    assert unattended["human_decisions_kept"] == 1 and "No human reviewed" in unattended["note"]
    by_curators = ReviewSummary("interactive", 9, 2, {"accept": 2}, curators=["ana"])
    assert by_curators.to_dict() == {"policy": "interactive", "total": 9, "decided": 2, "by_action": {"accept": 2},
                                     "curators": ["ana"]}
    assert ReviewSummary.from_dict(by_curators.to_dict()) == by_curators


def test_a_disabled_retrain_is_its_own_state():
    off = RetrainResult(disabled=True)
    assert off.to_dict() == {"experiments": [], "disabled": True}  # what the stage always wrote
    assert RetrainResult.from_dict(off.to_dict()) == off and not RetrainResult.from_dict({"experiments": []}).disabled


def test_old_sections_still_load(tmp_path):
    """Sections written before a field existed, or with a field this version does not know."""
    old = {
        "crossval": {"mode": "finetune", "folds": [{"fold": 0, "f1": 0.8, "ece_before": 0.1, "ece_after": 0.05,
                                                    "temperature": 1.2, "n_train": 20, "n_heldout": 10, "seconds": 1}],
                     "words_per_second": 100.0, "gpu": "none"},
        "detection": {"noise_rate": 0.3, "n_sentences": 30, "n_error_sentences": 9, "n_error_spans": 10,
                      "n_issues": 9, "span": [{"method": "combined", "ap": 0.7, "auroc": None,
                                               "precision_at": {"10": 0.6, "50": 0.5}, "recall_at": {"10": 0.2, "50": 0.5}}]},
        "apply": {"decisions": 3, "by_action": {"accept": 3}, "changed_sentences": 2, "changed_tokens": 3, "stale": 0},
        "retrain": {"experiments": [{"name": "de", "train": ["de"], "test": ["de"], "results": []}]},
    }
    (tmp_path / "metrics.json").write_text(json.dumps(old), encoding="utf-8")
    m = read_metrics(tmp_path)
    cv = m.section(CrossvalResult)
    assert cv.n_folds == 1 and cv.encode_seconds == 0.0 and cv.folds[0].epochs is None
    det = m.section(DetectionReport)
    assert det.ks == (10, 50) and det.sentence == [] and det.span[0].auroc is None  # NaN was written as null
    ap = m.section(ApplySummary)
    assert ap.moved == 0 and ap.stale_list == [] and ap.curator_conflicts == 0
    assert m.section(RetrainResult).experiments[0].intervals == [] and m.section(CurveResult) is None
    assert "curve" not in m and m.present == set(old)


@pytest.mark.parametrize(
    "section, record, why",
    [
        ({"folds": [], "words_per_second": 1.0}, CrossvalResult, "missing field 'mode'"),
        ({"decisions": "nine", "by_action": {}, "changed_sentences": 0, "changed_tokens": 0, "stale": 0},
         ApplySummary, "decisions is a str"),
        ([1, 2], RetrainResult, "a JSON list, not an object"),
        ({"experiments": [{"name": "de"}]}, RetrainResult, "missing field 'train'"),
    ],
)
def test_a_damaged_section_is_one_clear_line(tmp_path, section, record, why):
    update_metrics(tmp_path, record.SECTION, section)
    m = read_metrics(tmp_path)
    with pytest.raises(DataError) as err:
        m.section(record)
    text = str(err.value)
    assert len(text.splitlines()) == 1 and f'section "{record.SECTION}" is damaged' in text and why in text
    assert str(tmp_path / "metrics.json") in text and "--from load" in text
    assert m.section(ScoringSummary) is None  # the other sections are still readable


@pytest.mark.slow
def test_a_pipeline_run_reads_back_into_every_record(tmp_path):
    from auditor.pipeline import run_pipeline

    cfg = config_from_dict({
        "name": "typed",
        "runs_dir": str(tmp_path / "runs"),
        "report": {"dir": str(tmp_path / "reports"), "figures": False},
        "data": {"source": "synthetic", "languages": {"de": 1.0, "fr": 1.0},
                 "synthetic": {"sentences": {"train": 60, "validation": 10, "test": 16}, "noise_rate": 0.3}},
        "model": {"name": "tiny", "max_length": 48, "stride": 12,
                  "tiny": {"vocab_size": 400, "hidden_size": 16, "num_layers": 1, "num_heads": 2, "intermediate_size": 32}},
        "crossval": {"mode": "finetune", "folds": 2},
        "training": {"epochs": 1, "batch_size": 32, "learning_rate": 2.0e-3},
        "review": {"policy": "oracle", "top_fraction": 0.9,
                   "adaptive": {"enabled": True, "min_wrong": 1, "min_right": 1, "batch": 2}},
        "retrain": {"experiments": [{"train": ["de"], "test": "all"}]},
        "curve": {"enabled": True, "source": "de", "target": "fr", "sizes": [5]},
        "export": {"formats": ["jsonl"]},
    })
    result = run_pipeline(cfg, interactive=False, progress=False, console=Console(quiet=True))
    assert not result.stopped
    metrics = read_metrics(cfg.run_dir)
    assert metrics.present == {r.SECTION for r in RECORDS}
    raw = json.loads((cfg.run_dir / "metrics.json").read_text(encoding="utf-8"))
    for record in RECORDS:
        typed = metrics.section(record)
        assert isinstance(typed, record), record.SECTION
        if record is not AnalysisResult:  # NaN and rounding aside, what was written is what is read
            assert record.from_dict(typed.to_dict()) == typed, record.SECTION
        assert set(typed.to_dict()) >= set(raw[record.SECTION]), record.SECTION
    assert metrics.section(ReviewSummary).unattended and metrics.section(AdaptiveSummary).refits >= 1
    assert metrics.section(RetrainResult).experiments[0].name == "de"
