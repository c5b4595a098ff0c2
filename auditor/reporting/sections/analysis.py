"""Error analysis of the final tagger (`auditor analyze`), when the run has one."""

from __future__ import annotations

import numpy as np

from auditor.reporting import Paragraph, TaggedSentence
from auditor.reporting.builder import ReportBuilder
from auditor.reporting.shared import loss_table


def build(b: ReportBuilder) -> None:
    """`auditor analyze`: the chapter's error analysis of a final tagger on a held-out split."""
    an = b.m.get("analysis")
    if not an:
        return  # optional; named among the missing sections
    sec = b.section("Error analysis of the final tagger", "analysis")
    what = f"the {an.get('model', '?')} tagger" + (f" of experiment {an['experiment']}" if an.get("experiment") else "")
    where = f"the {an.get('split', '?')} split" + (f" ({an['lang']})" if an.get("lang") else "")
    acc = an.get("accuracy")
    acc_text = f", word accuracy {acc:.3f}" if isinstance(acc, (int, float)) else ""
    sec.blocks.append(
        Paragraph(f"{what[0].upper()}{what[1:]} on {where}: {an.get('n_sentences', '?')} sentences, {an.get('n_words', '?')} words{acc_text}.")
    )
    conf = an.get("confusion") or {}
    if conf.get("matrix"):
        matrix = np.asarray(conf["matrix"], dtype=float)
        b.confusion(sec, "analysis_confusion", conf["labels"], matrix, "final tagger's predictions")
    if an.get("top_tokens"):
        caption = "Tokens with the highest summed loss (nats)."
        b.table(sec, loss_table("analysis_top_tokens", "token", caption, an["top_tokens"][: b.cfg.report.top_tokens]))
    if an.get("loss_per_tag"):
        b.table(sec, loss_table("analysis_loss_per_tag", "tag", "Loss per gold tag (nats).", an["loss_per_tag"]))
    worst = an.get("worst_sentences") or []
    if worst:
        sub = b.section("The final tagger's highest-loss sentences", "analysis-worst", level=3)
        sub.blocks.append(Paragraph("Each word with its gold tag, the tagger's prediction and the word's loss in nats."))
        sub.blocks.extend(
            TaggedSentence(
                id=w["id"], lang=w.get("lang") or w["id"].split("/")[0], loss=float(sum(w.get("losses") or [0.0])),
                tokens=list(w["tokens"]), given=list(w["labels"]), predicted=list(w["predictions"]),
                losses=[float(x) for x in w["losses"]] if w.get("losses") else None, given_name="gold",
            )
            for w in worst[: b.cfg.report.top_sentences]
        )
        b.derived["analysis_sentence_losses"] = [float(sum(w.get("losses") or [0.0])) for w in worst[: b.cfg.report.top_sentences]]
