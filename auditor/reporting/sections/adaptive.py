"""The report's "Adaptive review order" section: how the queue re-ranked itself from decisions.

Reads only metrics.json["adaptive"] (auditor.review.adaptive_refits.AdaptiveSummary, written by the
review stage from run_dir/adaptive/refit-*.json): when and from how many decisions the order
was adapted, how far it moved from the score order, and which features the curator's
decisions favoured (the last refit's weights).

`build` appends the section (when the queue adapted at all) and registers its tables (keys
"adaptive_refits", "adaptive_weights") like any other, so their numbers are in
metrics.json["report"].
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from auditor.reporting import Column, Paragraph, Section, Table
from auditor.reporting.builder import ReportBuilder

if TYPE_CHECKING:
    from auditor.review.adaptive_refits import AdaptiveSummary

TITLE = "Adaptive review order"
ANCHOR = "adaptive"
MAX_REFIT_ROWS = 12  # the first, the last and evenly spaced ones in between
TOP_WEIGHTS = 10


def _refit_rows(history: list[dict]) -> list[dict]:
    if len(history) <= MAX_REFIT_ROWS:
        return history
    step = (len(history) - 1) / (MAX_REFIT_ROWS - 1)
    picks = sorted({round(i * step) for i in range(MAX_REFIT_ROWS)})
    return [history[i] for i in picks]


def _feature_text(name: str) -> str:
    """'lang=de' -> 'language de'; 'group_evidence' -> a phrase a reader understands."""
    plain = {
        "group_evidence": "decisions on the same words and change",
        "surface_evidence": "decisions on the same words (any change)",
        "model_agrees": "the model's tags equal the suggestion",
        "span_words": "span length",
        "surface_issues": "issues with the same words",
        "surface_corpus_frequency": "corpus frequency of the words",
        "group_size": "systematic group size",
    }
    if name in plain:
        return plain[name]
    if "=" in name:
        column, value = name.split("=", 1)
        column = {"lang": "language", "kind": "kind", "entity_type": "entity type", "change": "change"}.get(column, column)
        return f"{column} {value}"
    return name


def adaptive_section(data: AdaptiveSummary | None) -> Section | None:
    """The section of metrics.json["adaptive"], or None when the run's queue never adapted
    (no refits recorded)."""
    if data is None or not data.refits:
        return None
    last = data.last
    history = data.history
    sec = Section(TITLE, ANCHOR)
    change = last.get("order_change") or {}
    moved = ""
    if change.get("top_overlap") is not None:
        moved = (
            f" After it, {change['top_overlap']:.0%} of the first {change['top']} open issues were also among the "
            f"first {change['top']} by score (rank correlation {change['spearman']:.2f} with the score order)."
        )
    sec.blocks.append(
        Paragraph(
            f"The review queue re-ranked itself {data.refits} time(s) from the curators' decisions. The last "
            f"refit ({last.get('at', '?')}, by {last.get('source', '?')}) learned from {last.get('n_decisions')} "
            f"decisions ({last.get('n_wrong')} labels changed, {last.get('n_right')} kept); the model set "
            f"{(last.get('blend_weight') or 0):.0%} of the order, the score the rest.{moved}"
        )
    )
    rows = []
    for r in _refit_rows(history):
        oc = r.get("order_change") or {}
        rows.append([r.get("refit"), r.get("at"), r.get("source"), r.get("n_decisions"), r.get("n_wrong"),
                     r.get("n_right"), r.get("blend_weight"), oc.get("spearman"), oc.get("top_overlap"),
                     oc.get("median_prior_position_of_top")])
    sec.blocks.append(
        Table(
            "adaptive_refits",
            [Column("refit", "num", "d"), Column("at"), Column("by"), Column("decisions", "num", "d"),
             Column("changed", "num", "d"), Column("kept", "num", "d"), Column("model share", "num", ".2f"),
             Column("rank corr. with score", "num", ".2f"), Column("top-100 overlap", "num", ".2f"),
             Column("median score rank of new top 100", "num", ".0f")],
            rows,
            caption="Refits of the adaptive order (at most 12 shown: first, last, evenly spaced). Overlap and "
            "rank correlation compare the open issues' adapted order with their score order.",
        )
    )
    weights = list((last.get("weights") or {}).items())[:TOP_WEIGHTS]
    if weights:
        sec.blocks.append(
            Table(
                "adaptive_weights",
                [Column("feature"), Column("weight", "num", "+.2f"), Column("the decisions favoured")],
                [[_feature_text(name), w, "label wrong when high" if w > 0 else "label right when high"]
                 for name, w in weights],
                caption="Largest weights of the last refit (standardised features; a positive weight means the "
                "curators changed the label more often where the feature is high).",
            )
        )
    return sec


def build(b: ReportBuilder) -> None:
    from auditor.review.adaptive_refits import AdaptiveSummary

    sec = adaptive_section(b.m.section(AdaptiveSummary))
    if sec is None:  # the queue never adapted: nothing to say, no empty section
        return
    blocks, sec.blocks = sec.blocks, []
    b.sections.append(sec)
    for block in blocks:
        if isinstance(block, Table):
            b.table(sec, block)  # registered, so every number is also in metrics.json["report"]
        else:
            sec.blocks.append(block)
