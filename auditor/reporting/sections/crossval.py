"""Cross-validation: one row per fold (F1, calibration, sizes, time)."""

from __future__ import annotations

from auditor.reporting import Column, Paragraph, Table
from auditor.reporting.builder import ReportBuilder
from auditor.reporting.shared import mean_of, sum_of


def build(b: ReportBuilder) -> None:
    sec, cv = b.section_for("Cross-validation", "crossval", "crossval")
    if not cv:
        return
    folds = cv.get("folds", [])
    wps = cv.get("words_per_second")
    text = f"Mode: {cv.get('mode', '?')}, {len(folds)} folds. Each sentence was scored by a model that never saw it."
    if wps:
        text += f" Prediction speed: {wps:,.0f} words per second."
    sec.blocks.append(Paragraph(text))
    cols = [
        Column("fold", "num", "d"),
        Column("F1", "num"),
        Column("ECE before", "num"),
        Column("ECE after", "num"),
        Column("temperature", "num", ".2f"),
        Column("train", "num", ",d"),
        Column("held out", "num", ",d"),
        Column("seconds", "num", ".1f"),
    ]
    keys = ["fold", "f1", "ece_before", "ece_after", "temperature", "n_train", "n_heldout", "seconds"]
    rows = [[f.get(k) for k in keys] for f in folds]
    kinds = ["" for _ in rows]
    if rows:
        mean = ["mean"] + [mean_of([r[i] for r in rows]) for i in range(1, 5)] + [None, None, sum_of([r[7] for r in rows])]
        rows.append(mean)
        kinds.append("total")
        cols[0] = Column("fold", "text")
        rows = [[str(r[0]) if r[0] is not None else None, *r[1:]] for r in rows]
    b.table(sec, Table("crossval_folds", cols, rows, "ECE = expected calibration error before/after temperature scaling; the last row's seconds are the total.", kinds))
