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
        counting_the_sample,
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
    settled_any = False
    if issues is not None and len(issues):
        settled = _settled(b, issues)
        settled_any = bool(settled.any())
        mine = issues[~settled]
        counts = queue_counts(list(mine["id"]), [_action(decisions.get(iid)) for iid in mine["issue_id"]])
    if settled_any:
        counts = counting_the_sample(counts, sample[1])
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
        f"without replacement). The review corrected {r.fixed:,}"
        + (f" ({sample[1]:,} of them in the verified sample, applied directly)" if settled_any else "")
        + f", so about {r.in_corpus.estimate:,.0f} are left "
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


def _settled(b: ReportBuilder, issues):
    """The issues the run's verified sample settles (review.verified); none when it cannot be
    read (the report's other sections say what is wrong with it)."""
    import numpy as np

    from auditor.errors import DataError
    from auditor.review.verified import settled_issues
    from auditor.run_dir import RunDir

    try:
        return settled_issues(RunDir(b.inputs.run_dir), issues)
    except (DataError, OSError):
        return np.zeros(len(issues), dtype=bool)


def _action(decision) -> str | None:
    action = getattr(decision, "action", None)
    return None if action in (None, "undo") else action
