"""Detection quality against known clean labels (only runs on such corpora have it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auditor.reporting import Column, Paragraph, Table
from auditor.reporting import figures as figs
from auditor.reporting.builder import ReportBuilder

if TYPE_CHECKING:
    from auditor.scoring.detection_report import MethodRow


def build(b: ReportBuilder) -> None:
    from auditor.scoring.detection_report import DetectionReport

    det = b.m.section(DetectionReport)
    if det is None:
        return  # only exists with known clean labels; listed among the missing sections
    sec = b.section("Detection quality (against known clean labels)", "detection")
    sec.blocks.append(
        Paragraph(
            f"Noise rate {det.noise_rate or 0:.1%}: {det.n_error_sentences} sentences and "
            f"{det.n_error_spans} spans carry a known error. AP = average precision of the ranking, "
            "P@k/R@k = precision/recall among the k top-ranked items."
        )
    )
    for level in ("span", "sentence"):
        rows = getattr(det, level)
        if rows:
            b.table(sec, detection_table(f"detection_{level}", level, rows))
    level = "span" if det.span else "sentence"
    if b.want_figures and getattr(det, level):
        path = figs.detection_figure(detection_curves(getattr(det, level)), level, b.report_dir / "detection.png")
        b.figure(sec, path, f"Precision and recall of detection at the top k ranked {level}s, per method.")


def detection_table(key: str, level: str, rows: list[MethodRow]) -> Table:
    ks = []
    for r in rows:
        ks += [k for k in r.precision_at if k not in ks]
    cols = [Column("method"), Column("AP", "num"), Column("AUROC", "num")]
    cols += [Column(f"P@{k}", "num") for k in ks] + [Column(f"R@{k}", "num") for k in ks]
    out = [
        [r.method, r.ap, r.auroc, *[r.precision_at.get(k) for k in ks], *[r.recall_at.get(k) for k in ks]]
        for r in rows
    ]
    return Table(key, cols, out, f"Ranking known-wrong {level}s first: per detection method.")


def detection_curves(rows: list[MethodRow]) -> list[figs.DetectionCurve]:
    curves = []
    for r in rows:
        ks = sorted(r.precision_at, key=lambda k: int(k))
        curves.append(
            figs.DetectionCurve(r.method, [int(k) for k in ks], [r.precision_at.get(k) for k in ks], [r.recall_at.get(k) for k in ks])
        )
    return curves
