"""Detection quality against known clean labels (only runs on such corpora have it)."""

from __future__ import annotations

from auditor.reporting import Column, Paragraph, Table
from auditor.reporting import figures as figs
from auditor.reporting.builder import ReportBuilder


def build(b: ReportBuilder) -> None:
    det = b.m.get("detection")
    if not det:
        return  # only exists with known clean labels; listed among the missing sections
    sec = b.section("Detection quality (against known clean labels)", "detection")
    sec.blocks.append(
        Paragraph(
            f"Noise rate {det.get('noise_rate', 0):.1%}: {det.get('n_error_sentences', '?')} sentences and "
            f"{det.get('n_error_spans', '?')} spans carry a known error. AP = average precision of the ranking, "
            "P@k/R@k = precision/recall among the k top-ranked items."
        )
    )
    for level in ("span", "sentence"):
        rows = det.get(level) or []
        if rows:
            b.table(sec, detection_table(f"detection_{level}", level, rows))
    level = "span" if det.get("span") else "sentence"
    if b.want_figures and det.get(level):
        path = figs.detection_figure(detection_curves(det[level]), level, b.report_dir / "detection.png")
        b.figure(sec, path, f"Precision and recall of detection at the top k ranked {level}s, per method.")


def detection_table(key: str, level: str, rows: list[dict]) -> Table:
    ks = []
    for r in rows:
        ks += [k for k in (r.get("precision_at") or {}) if k not in ks]
    cols = [Column("method"), Column("AP", "num"), Column("AUROC", "num")]
    cols += [Column(f"P@{k}", "num") for k in ks] + [Column(f"R@{k}", "num") for k in ks]
    out = [
        [r["method"], r.get("ap"), r.get("auroc"), *[(r.get("precision_at") or {}).get(k) for k in ks], *[(r.get("recall_at") or {}).get(k) for k in ks]]
        for r in rows
    ]
    return Table(key, cols, out, f"Ranking known-wrong {level}s first: per detection method.")


def detection_curves(rows: list[dict]) -> list[figs.DetectionCurve]:
    curves = []
    for r in rows:
        ks = sorted((r.get("precision_at") or {}), key=lambda k: int(k))
        curves.append(
            figs.DetectionCurve(r["method"], [int(k) for k in ks], [r["precision_at"].get(k) for k in ks], [(r.get("recall_at") or {}).get(k) for k in ks])
        )
    return curves
