"""Errors left: from the random verified sample and the decisions, how many wrong sentences
the corpus and the open queue still hold (auditor.scoring.remaining). Only runs with a
verified sample (scoring.reference.file) have it."""

from __future__ import annotations

from auditor.reporting import Column, Paragraph, Table
from auditor.reporting.builder import ReportBuilder


def build(b: ReportBuilder) -> None:
    from auditor.scoring.remaining import (
        RECENT,
        QueueCounts,
        from_metrics,
        queue_counts,
        remaining_errors,
    )
    from auditor.scoring.summary import ScoringSummary

    sample = from_metrics(b.m.section(ScoringSummary))
    if sample is None:
        return  # without a random verified sample there is nothing to estimate from
    sec = b.section("Errors left", "remaining")
    issues, decisions = b.inputs.issues, b.inputs.decisions or {}
    counts = QueueCounts()
    if issues is not None and len(issues):
        actions = [_action(decisions.get(iid)) for iid in issues["issue_id"]]
        counts = queue_counts(list(issues["id"]), actions)
    try:
        r = remaining_errors(*sample, counts)
    except ValueError as err:
        sec.blocks.append(Paragraph(f"No estimate: {err}.", note=True))
        return
    n, x, big_n = sample
    pct = f"{r.total.level:.0%}"
    text = (
        f"Counted in sentences with at least one wrong tag. From the random verified sample ({n:,} of {big_n:,} "
        f"audited sentences checked, {x:,} of them corrected): about {r.total.estimate:,.0f} audited sentences "
        f"had an error before review ({pct}: {r.total.low:,}–{r.total.high:,}, an exact interval for sampling "
        f"without replacement). The review corrected {r.fixed:,}, so about {r.in_corpus.estimate:,.0f} are left "
        f"({pct}: {r.in_corpus.low:,}–{r.in_corpus.high:,})."
    )
    if r.in_queue is not None:
        text += (
            f" About {r.in_queue.estimate:,.0f} of them are in the {r.open_sentences:,} sentences the open queue still "
            f"holds ({pct}: {r.in_queue.low:,}–{r.in_queue.high:,}; from the share of the last {counts.recent_decided} "
            "decided sentences that were corrected, so an upper-side estimate: the queue is ranked). The rest are "
            "errors the queue does not flag."
        )
    sec.blocks.append(Paragraph(text))
    rows = [["before review", r.total.estimate, r.total.low, r.total.high],
            ["left in the corpus", r.in_corpus.estimate, r.in_corpus.low, r.in_corpus.high]]
    if r.in_queue is not None:
        rows.append(["left in the open queue", r.in_queue.estimate, r.in_queue.low, r.in_queue.high])
    cols = [Column("sentences with an error"), Column("estimate", "num", ".0f"), Column(f"{pct} low", "num", "d"),
            Column(f"{pct} high", "num", "d")]
    b.table(sec, Table("remaining_errors", cols, rows,
                       f"Wrong sentences estimated from the verified sample; the queue's from its last {RECENT} decided sentences."))


def _action(decision) -> str | None:
    action = getattr(decision, "action", None)
    return None if action in (None, "undo") else action
