"""What `auditor run` shows at the end: the JSON summary (--json) and the F1 table."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from auditor.config import PipelineConfig
from auditor.metrics import read_metrics
from auditor.pipeline import RunResult


def run_summary(result: RunResult, cfg: PipelineConfig) -> dict:
    """What `auditor run --json` prints: each stage's outcome, the report and every F1."""
    report = cfg.report_dir / "report.html"
    retrain = read_metrics(result.run_dir).get("retrain") or {}
    f1 = [
        {"experiment": e["name"], "model": r["model"], "labels": r["labels"], "lang": r["lang"], "f1": r["f1"]}
        for e in retrain.get("experiments") or []
        for r in e["results"]
    ]
    return {
        "run_dir": str(result.run_dir),
        "stopped": result.stopped,
        "stages": [{"name": s.name, "status": s.status, "seconds": round(s.seconds, 3), "note": s.note} for s in result.stages],
        "report": {"html": str(report), "markdown": str(report.with_suffix(".md"))} if report.exists() else None,
        "f1": f1,
    }


def f1_summary_table(run_dir: Path) -> Table | None:
    """Entity F1 per experiment and test language, before and after cleaning, from metrics.json.

    Silver rows are left out when they equal the clean ones (an unnoised test split).
    """
    retrain = read_metrics(run_dir).get("retrain") or {}
    experiments = retrain.get("experiments") or []
    if not experiments:
        return None
    langs = sorted({r["lang"] for e in experiments for r in e["results"]})
    table = Table(title="Entity F1 on the test split, before and after cleaning")
    for col in ("train", "labels", "model"):
        table.add_column(col)
    for lang in langs:
        table.add_column(lang, justify="right")
    for exp in experiments:
        by = {(r["model"], r["labels"], r["lang"]): r["f1"] for r in exp["results"]}
        label_sets = [lab for lab in ("clean", "reviewed", "silver") if any(k[1] == lab for k in by)]
        if "clean" in label_sets and "silver" in label_sets:
            if all(by.get((m, "clean", g)) == by.get((m, "silver", g)) for m in ("before", "after") for g in langs):
                label_sets.remove("silver")
        for labels in label_sets:
            before = [by.get(("before", labels, g)) for g in langs]
            after = [by.get(("after", labels, g)) for g in langs]
            table.add_row(exp["name"], labels, "before", *("-" if b is None else f"{b:.3f}" for b in before))
            cells = []
            for b, a in zip(before, after):
                if a is None:
                    cells.append("-")
                    continue
                d = 0.0 if b is None else a - b
                colour = "green" if d > 0.0005 else "red" if d < -0.0005 else "dim"
                cells.append(f"{a:.3f} [{colour}]{d:+.3f}[/{colour}]")
            table.add_row("", "", "after", *cells, end_section=True)
    return table
