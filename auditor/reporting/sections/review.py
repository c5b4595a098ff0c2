"""Review: who or what decided, and how."""

from __future__ import annotations

from collections import Counter

from auditor.reporting import Column, Paragraph, Table
from auditor.reporting.builder import ReportBuilder
from auditor.reporting.shared import counts_table, details_table

POLICY_STATEMENTS = {
    "oracle": (
        "No human reviewed these issues: the oracle policy took every decision from the known clean "
        "tags. The results show what a perfect curator would achieve, not what a person did."
    ),
    "threshold": (
        "No human reviewed these issues: the threshold policy accepted every suggestion whose score "
        "was at or below the threshold and left the rest undecided."
    ),
}


def build(b: ReportBuilder) -> None:
    from auditor.review.summary import ReviewSummary

    sec, rv = b.section_for("Review", "review", ReviewSummary)
    if rv is not None:
        sec.blocks.append(Paragraph(f"Policy: {rv.policy}. {rv.decided} of {rv.total} issues decided."))
        # the review stage's own statement names the policy's details; ours is the fallback
        statement = rv.note or POLICY_STATEMENTS.get(rv.policy)
        if statement:
            sec.blocks.append(Paragraph(statement, note=True))
        if rv.by_action:
            b.table(sec, counts_table("review_by_action", "action", rv.by_action))
        details = details_table("review_details", rv.to_dict(), {"policy", "total", "decided", "by_action", "note"})
        if details.rows:
            b.table(sec, details)
    decisions = b.inputs.decisions
    if decisions and any(d.action != "undo" for d in decisions.values()):
        # an undo row reopens the issue: it is not a decision
        by = Counter((d.curator or "?", d.action) for d in decisions.values() if d.action != "undo")
        curators = sorted({c for c, _ in by})
        actions = sorted({a for _, a in by})
        rows = [[c, *[by.get((c, a), 0) for a in actions], sum(by.get((c, a), 0) for a in actions)] for c in curators]
        cols = [Column("curator"), *[Column(a, "num", "d") for a in actions], Column("total", "num", "d")]
        b.table(sec, Table("review_curators", cols, rows, "Latest decision per issue, by curator (review.sqlite)."))
    elif rv is not None and rv.policy == "interactive":
        sec.blocks.append(Paragraph("No review.sqlite in the run directory: the curators' log is not available.", note=True))
