"""Assemble the run report from a run directory.

Reads run_dir/metrics.json, config.yaml, issues.parquet, predictions.parquet, corpus/
and review.sqlite (each optional; auditor.reporting.inputs), builds one Document
(auditor.reporting) section by section (auditor.reporting.sections.<name>), draws the
figures, and writes report.md and a self-contained report.html into report_dir.

Numbers the report derives itself (the corpus table, the confusion matrix, the loss
histogram, before/after deltas, ...) are written back to metrics.json["report"], so every
number shown can be found in metrics.json. The "report" section is never read back, so
building twice from the same inputs gives identical files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from auditor.atomic import write_text_atomic
from auditor.metrics import write_section
from auditor.reporting import Document, sections
from auditor.reporting.builder import ReportBuilder, ReportDerived
from auditor.reporting.inputs import RunInputs, load_run, read_config

__all__ = ["ReportPaths", "RunInputs", "build_document", "build_report", "default_report_dir", "load_run"]


@dataclass(frozen=True)
class ReportPaths:
    markdown: Path
    html: Path
    figures: list[Path]


def build_document(inputs: RunInputs, report_dir: Path) -> tuple[Document, ReportDerived, list[Path]]:
    """The report document, the derived numbers for metrics["report"], and the figure files written."""
    report_dir.mkdir(parents=True, exist_ok=True)
    builder = ReportBuilder(inputs, report_dir)
    for name in sections.ORDER:
        sections.load(name).build(builder)
    doc = builder.document()
    return doc, builder.derived, builder.figures


def default_report_dir(run_dir: Path) -> Path:
    """Where a run's report goes by default: the config's report.dir/<name>, i.e. reports/<run name>."""
    cfg, _, _ = read_config(Path(run_dir))
    return cfg.report_dir


def build_report(run_dir: Path, report_dir: Path) -> ReportPaths:
    """Write report_dir/report.md, report_dir/report.html (self-contained) and the PNG figures.

    Every section of metrics.json is optional; missing ones are named in the report.
    Derived numbers go to run_dir/metrics.json["report"].
    """
    from auditor.reporting import html, markdown

    run_dir, report_dir = Path(run_dir), Path(report_dir)
    inputs = load_run(run_dir)
    doc, derived, figures = build_document(inputs, report_dir)
    md_path, html_path = report_dir / "report.md", report_dir / "report.html"
    write_text_atomic(md_path, markdown.render(doc, report_dir))
    write_text_atomic(html_path, html.render(doc))
    derived.figures = [p.name for p in figures]
    write_section(run_dir, derived)
    return ReportPaths(md_path, html_path, figures)
