"""What `auditor run` shows at the end: the JSON summary (--json) and the F1 table."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from auditor.config import PipelineConfig
from auditor.evaluation import RetrainResult
from auditor.metrics import read_metrics
from auditor.pipeline import RunResult


def run_summary(result: RunResult, cfg: PipelineConfig) -> dict:
    """What `auditor run --json` prints: each stage's outcome, the report and every F1."""
    report = cfg.report_dir / "report.html"
    retrain = read_metrics(result.run_dir).section(RetrainResult)
    f1 = [
        {"experiment": e.name, "model": r.model, "labels": r.labels, "lang": r.lang, "f1": r.scores.f1}
        for e in (retrain.experiments if retrain is not None else [])
        for r in e.results
    ]
    return {
        "run_dir": str(result.run_dir),
        "stopped": result.stopped,
        "stages": [{"name": s.name, "status": s.status, "seconds": round(s.seconds, 3), "note": s.note} for s in result.stages],
        "report": {"html": str(report), "markdown": str(report.with_suffix(".md"))} if report.exists() else None,
        "f1": f1,
    }


def f1_summary_table(run_dir: Path) -> Table | None:
    """Entity F1 before and after cleaning from metrics.json, each row naming the labels that
    judge it (auditor.f1_summary owns the table)."""
    from auditor.f1_summary import f1_summary_table as table

    return table(read_metrics(run_dir).section(RetrainResult))
