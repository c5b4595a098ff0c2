"""Error analysis of the final tagger (`auditor analyze`), when the run has one."""

from __future__ import annotations

import math

from auditor.reporting import Paragraph, TaggedSentence
from auditor.reporting.builder import ReportBuilder
from auditor.reporting.shared import loss_table


def build(b: ReportBuilder) -> None:
    """`auditor analyze`: the chapter's error analysis of a final tagger on a held-out split."""
    from auditor.analysis.error_analysis import AnalysisResult

    an = b.m.section(AnalysisResult)
    if an is None:
        return  # optional; named among the missing sections
    sec = b.section("Error analysis of the final tagger", "analysis")
    what = f"the {an.model} tagger" + (f" of experiment {an.experiment}" if an.experiment else "")
    where = f"the {an.split} split" + (f" ({an.lang})" if an.lang else "")
    acc_text = f", word accuracy {an.accuracy:.3f}" if math.isfinite(an.accuracy) else ""
    sec.blocks.append(
        Paragraph(f"{what[0].upper()}{what[1:]} on {where}: {an.n_sentences} sentences, {an.n_words} words{acc_text}.")
    )
    if an.confusion.size:
        b.confusion(sec, "analysis_confusion", an.labels, an.confusion, "final tagger's predictions")
    if an.top_tokens:
        caption = "Tokens with the highest summed loss (nats)."
        rows = _rows(an.top_tokens[: b.cfg.report.top_tokens], "token")
        b.table(sec, loss_table("analysis_top_tokens", "token", caption, rows))
    if an.loss_per_tag:
        b.table(sec, loss_table("analysis_loss_per_tag", "tag", "Loss per gold tag (nats).", _rows(an.loss_per_tag, "tag")))
    worst = an.worst_sentences[: b.cfg.report.top_sentences]
    if worst:
        sub = b.section("The final tagger's highest-loss sentences", "analysis-worst", level=3)
        sub.blocks.append(Paragraph("Each word with its gold tag, the tagger's prediction and the word's loss in nats."))
        sub.blocks.extend(
            TaggedSentence(
                id=w.id, lang=w.lang or w.id.split("/")[0], loss=w.loss,
                tokens=list(w.tokens), given=list(w.labels), predicted=list(w.predictions),
                losses=[float(x) for x in w.losses] if w.losses else None, given_name="gold",
            )
            for w in worst
        )
        b.derived["analysis_sentence_losses"] = [w.loss for w in worst]


def _rows(items, what: str) -> list[dict]:
    """LossRows as the rows loss_table reads."""
    return [{what: r.key, "count": r.count, "mean": r.mean, "sum": r.sum} for r in items]
