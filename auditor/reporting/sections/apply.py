"""Cleaning: what the applied decisions changed."""

from __future__ import annotations

from auditor.reporting import Column, Paragraph, Table
from auditor.reporting.builder import ReportBuilder
from auditor.reporting.shared import counts_table, details_table


def build(b: ReportBuilder) -> None:
    from auditor.cleaning import ApplySummary

    sec, ap = b.section_for("Cleaning", "apply", ApplySummary)
    if ap is None:
        return
    text = f"{ap.decisions} decisions applied: {ap.changed_sentences} sentences and {ap.changed_tokens} tags changed."
    if ap.stale:
        text += f" {ap.stale} decisions were stale (the sentence they were made on is no longer in the corpus) and were not applied."
    if ap.moved:
        text += f" {ap.moved} decisions were applied to their sentence under a new id (the corpus ids moved)."
    if ap.verified_sentences is not None:
        text += (f" The verified sample was applied directly: {ap.verified_sentences} sentences the curator checked word by "
                 f"word got its tags ({ap.verified_changed} of them changed).")
        if ap.verified_superseded:
            text += (f" {ap.verified_superseded} of the decisions lie inside those sentences and were superseded by the "
                     "sample's tags, not applied.")
        if ap.verified_stale:
            text += f" {ap.verified_stale} lines of the sample no longer match their sentence and were not applied (listed below)."
    sec.blocks.append(Paragraph(text))
    if ap.by_action:
        b.table(sec, counts_table("apply_by_action", "action", ap.by_action))
    details = details_table("apply_details", ap.to_dict(), {"decisions", "by_action", "changed_sentences", "changed_tokens"})
    if details.rows:
        b.table(sec, details)
    # every decision apply could not place: the corpus does not have it, the curator should know which
    if ap.stale_list:
        rows = [[st["issue_id"], st["action"], st["kind"], st["reason"]] for st in ap.stale_list]
        cols = [Column("issue"), Column("decision"), Column("why not applied"), Column("detail")]
        b.table(sec, Table("apply_stale", cols, rows, "Decisions not applied: the sentence they were made on is not in the corpus as it was."))
    # team review: issues curators decided differently, as listed by the apply stage
    if ap.curator_conflict_list:
        rows = [[c["issue_id"], c["applied"], c["overruled"]] for c in ap.curator_conflict_list]
        cols = [Column("issue"), Column("applied (committed last)"), Column("overruled")]
        b.table(sec, Table("apply_curator_conflicts", cols, rows, "Curators disagreed on these issues; the decision committed last was applied."))
