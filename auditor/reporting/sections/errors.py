"""Error analysis of the out-of-fold predictions: confusion matrix, loss distribution,
the tokens and sentences with the highest loss."""

from __future__ import annotations

import numpy as np

from auditor.reporting import Column, Paragraph, Section, Table, TaggedSentence
from auditor.reporting import figures as figs
from auditor.reporting.builder import ReportBuilder
from auditor.reporting.oof import OofView, normalized_confusion
from auditor.reporting.shared import loss_table


def build(b: ReportBuilder) -> None:
    """The out-of-fold view: what the audit models think of the given tags."""
    sec = b.section("Error analysis (out-of-fold)", "errors")
    view = b.view()
    top_n, n_sent = b.cfg.report.top_tokens, b.cfg.report.top_sentences
    if view is not None and view.ids:
        if view.skipped:
            sec.blocks.append(Paragraph(f"{view.skipped} predicted sentences did not match the corpus and were left out.", note=True))
        b.confusion(sec, "confusion", view.label_names, normalized_confusion(view), "out-of-fold predictions")
        _loss_histogram(b, sec, view)
    else:
        sec.blocks.append(
            Paragraph("No out-of-fold predictions with their corpus: no confusion matrix or loss distribution.", note=True)
        )
    from auditor.scoring.summary import ScoringSummary

    scoring = b.m.section(ScoringSummary)
    if scoring is not None and scoring.top_tokens:
        caption = "Tokens with the highest summed loss of their given tags (nats)."
        b.table(sec, loss_table("top_tokens", "token", caption, scoring.top_tokens[:top_n]))
    if scoring is not None and scoring.loss_per_tag:
        b.table(sec, loss_table("loss_per_tag", "tag", "Loss per given tag (nats).", scoring.loss_per_tag))

    sentences = _worst_sentences(b, view, n_sent)
    if sentences:
        sub = b.section(f"Highest-loss sentences (top {len(sentences)})", "worst", level=3)
        sub.blocks.append(
            Paragraph(
                "Each word with its given (silver) tag, the out-of-fold prediction"
                + (", the known clean tag (bold where the given tag is wrong)" if sentences[0].clean is not None else "")
                + " and the word's loss in nats; words where given and predicted tags differ are marked."
            )
        )
        sub.blocks.extend(sentences)
        b.derived["worst_sentences"] = [_sentence_dict(s) for s in sentences]


def _loss_histogram(b: ReportBuilder, sec: Section, view: OofView) -> None:
    flagged = np.array([i in b.flagged_ids for i in view.ids], dtype=bool)
    edges = np.histogram_bin_edges(view.losses, bins=30)
    all_counts, _ = np.histogram(view.losses, bins=edges)
    flagged_counts, _ = np.histogram(view.losses[flagged], bins=edges)
    b.derived["loss_histogram"] = {
        "edges": edges.tolist(),
        "not_flagged": (all_counts - flagged_counts).tolist(),
        "flagged": flagged_counts.tolist(),
    }
    rows = [
        ["all sentences", len(view.losses), float(np.mean(view.losses)), float(np.median(view.losses)), float(np.max(view.losses))],
    ]
    if flagged.any():
        f = view.losses[flagged]
        rows.append(["flagged", int(flagged.sum()), float(np.mean(f)), float(np.median(f)), float(np.max(f))])
    if (~flagged).any() and flagged.any():
        u = view.losses[~flagged]
        rows.append(["not flagged", int((~flagged).sum()), float(np.mean(u)), float(np.median(u)), float(np.max(u))])
    cols = [Column("sentences"), Column("count", "num", ",d"), Column("mean", "num"), Column("median", "num"), Column("max", "num")]
    b.table(sec, Table("sequence_loss", cols, rows, "Sequence loss = sum of the word cross-entropies of the given tags (nats)."))
    if b.want_figures:
        path = figs.loss_histogram(edges, all_counts - flagged_counts, flagged_counts, b.report_dir / "sequence_loss.png")
        b.figure(sec, path, "Distribution of sequence losses; sentences with at least one flagged issue stacked in orange.")


def _worst_sentences(b: ReportBuilder, view: OofView | None, n: int) -> list[TaggedSentence]:
    if view is not None and view.ids:
        order = sorted(range(len(view.ids)), key=lambda i: (-view.losses[i], view.ids[i]))[:n]
        names = view.label_names
        flagged = b.flagged_ids
        return [
            TaggedSentence(
                id=view.ids[i],
                lang=view.langs[i],
                loss=float(view.losses[i]),
                tokens=view.tokens[i],
                given=[names[k] for k in view.given[i]],
                predicted=[names[k] for k in view.predicted[i]],
                losses=[float(x) for x in view.word_losses[i]],
                flagged=view.ids[i] in flagged,
                clean=[names[k] for k in view.clean[i]] if view.clean is not None else None,
            )
            for i in order
        ]
    issues = b.inputs.issues
    if issues is not None and len(issues):
        first = issues.sort_values(["sequence_loss", "id"], ascending=[False, True]).drop_duplicates("id").head(n)
        return [
            TaggedSentence(
                id=r.id, lang=r.lang, loss=float(r.sequence_loss), tokens=list(r.tokens), given=list(r.tags),
                predicted=list(r.predicted), losses=[float(x) for x in r.token_losses], flagged=True,
            )
            for r in first.itertuples()
        ]
    return []


def _sentence_dict(s: TaggedSentence) -> dict:
    return {
        "id": s.id, "lang": s.lang, "loss": s.loss, "tokens": s.tokens, "given": s.given,
        "predicted": s.predicted, "losses": s.losses, "clean": s.clean, "flagged": s.flagged,
    }
