"""The report stage: report.html and report.md from the run folder."""

from __future__ import annotations

from auditor.stages.context import RunContext


def run(ctx: RunContext) -> str:
    paths = report_run(ctx.rd, ctx.cfg.report_dir)
    return f"{paths.html}"


def report_run(rd, out=None):
    """The report of a run folder into out (default: the run's report.dir); the ReportPaths."""
    from auditor.reporting.build import build_report, default_report_dir

    return build_report(rd.path, out or default_report_dir(rd.path))
