"""Zero-shot transfer and the fine-tuning learning curve (`auditor curve`), when the run has one."""

from __future__ import annotations

from auditor.reporting import Column, Paragraph, Table
from auditor.reporting import figures as figs
from auditor.reporting.builder import ReportBuilder
from auditor.reporting.shared import fmt


def build(b: ReportBuilder) -> None:
    from auditor.analysis.curve import CurveResult

    cv = b.m.section(CurveResult)
    if cv is None:
        return
    sec = b.section("Zero-shot transfer and fine-tuning curve", "curve")
    src, tgt = cv.source, cv.target
    zs = cv.zero_shot
    sec.blocks.append(
        Paragraph(f"Trained on {src}, tested on {tgt}: zero-shot F1 before cleaning {fmt(zs.get('before'))}, after {fmt(zs.get('after'))}.")
    )
    points = cv.points
    if points:
        # before, after, then any other model name
        models = sorted({p.model for p in points}, key=lambda m: (("before", "after").index(m) if m in ("before", "after") else 2, m))
        sizes = sorted({int(p.size) for p in points})
        f1 = {(int(p.size), p.model): p.f1 for p in points}
        rows = [[s, *[f1.get((s, m)) for m in models]] for s in sizes]
        cols = [Column(f"{tgt} sentences", "num", ",d"), *[Column(f"F1 {m}", "num") for m in models]]
        b.table(sec, Table("curve", cols, rows))
        if b.want_figures:
            series = {m: [f1.get((s, m)) for s in sizes] for m in models}
            path = figs.learning_curve_figure(sizes, series, zs, tgt, b.report_dir / "learning_curve.png")
            b.figure(sec, path, f"F1 on {tgt} against the number of {tgt} training sentences; dashed: zero-shot from {src}.")
