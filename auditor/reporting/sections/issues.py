"""Issues found: counts by language, kind and entity type."""

from __future__ import annotations

import pandas as pd

from auditor.reporting import Column, Paragraph, Table
from auditor.reporting.builder import ReportBuilder
from auditor.reporting.shared import counts_table


def build(b: ReportBuilder) -> None:
    from auditor.scoring.summary import ScoringSummary

    sec, sc = b.section_for("Issues found", "issues", ScoringSummary)
    if sc is not None:
        n_sent, n_flag = sc.n_sentences, sc.n_flagged_sentences
        share = ""
        if n_sent and n_flag is not None:
            b.derived["flagged_sentence_share"] = n_flag / n_sent
            share = f" ({n_flag / n_sent:.1%} of {n_sent:,})"
        sec.blocks.append(
            Paragraph(f"{sc.n_issues:,} issues in {n_flag if n_flag is not None else '?'} sentences{share}.")
        )
        ref = sc.reference
        if ref:
            fit = ref.get("fit_sentence_ap") or {}
            how = (
                f"fitted on the sample: at this weight its own wrong sentences are found with AP "
                f"{fit.get(str(ref['weight']), float('nan')):.3f}, without the evidence {fit.get('0.0', float('nan')):.3f}"
                if fit
                else "as configured"
            )
            spread = (
                "words like the ones it corrects are doubted elsewhere"
                if ref["weight"] > 0
                else "the evidence did not find the sample's own errors better than the model, so it doubts no other word"
            )
            sec.blocks.append(
                Paragraph(
                    f"A verified sample of {ref['verified_sentences']:,} sentences ({ref['corrected_sentences']:,} of them "
                    f"corrected by the curator) weighed in: its corrections lead the queue; {spread}. "
                    f"Evidence weight {ref['weight']:g}, {how}."
                )
            )
        for key, title in (("by_lang", "language"), ("by_kind", "kind"), ("by_type", "entity type")):
            if getattr(sc, key):
                b.table(sec, counts_table(f"issues_{key}", title, getattr(sc, key)))
    issues = b.inputs.issues
    if issues is not None and len(issues):
        cross = pd.crosstab(issues["lang"], issues["kind"])
        rows = [[lang, *[int(v) for v in cross.loc[lang]], int(cross.loc[lang].sum())] for lang in cross.index]
        cols = [Column("language"), *[Column(k, "num", "d") for k in cross.columns], Column("total", "num", "d")]
        b.table(sec, Table("issues_lang_kind", cols, rows, "Issues by language and kind (from issues.parquet)."))
    elif issues is None and sc is not None:
        sec.blocks.append(Paragraph("issues.parquet is missing: no per-issue breakdown.", note=True))
