"""Cleaning: what the applied decisions changed."""

from __future__ import annotations

from auditor.reporting import Column, Paragraph, Table
from auditor.reporting.builder import ReportBuilder
from auditor.reporting.shared import counts_table, details_table


def build(b: ReportBuilder) -> None:
    sec, ap = b.section_for("Cleaning", "apply", "apply")
    if not ap:
        return
    text = (
        f"{ap.get('decisions', 0)} decisions applied: {ap.get('changed_sentences', 0)} sentences and "
        f"{ap.get('changed_tokens', 0)} tags changed."
    )
    if ap.get("stale"):
        text += f" {ap['stale']} decisions were stale (the sentence they were made on is no longer in the corpus) and were not applied."
    if ap.get("moved"):
        text += f" {ap['moved']} decisions were applied to their sentence under a new id (the corpus ids moved)."
    sec.blocks.append(Paragraph(text))
    if ap.get("by_action"):
        b.table(sec, counts_table("apply_by_action", "action", ap["by_action"]))
    details = details_table("apply_details", ap, {"decisions", "by_action", "changed_sentences", "changed_tokens"})
    if details.rows:
        b.table(sec, details)
    # every decision apply could not place: the corpus does not have it, the curator should know which
    if ap.get("stale_list"):
        rows = [[st["issue_id"], st["action"], st["kind"], st["reason"]] for st in ap["stale_list"]]
        cols = [Column("issue"), Column("decision"), Column("why not applied"), Column("detail")]
        b.table(sec, Table("apply_stale", cols, rows, "Decisions not applied: the sentence they were made on is not in the corpus as it was."))
    # team review: issues curators decided differently, as listed by the apply stage
    if ap.get("curator_conflict_list"):
        rows = [[c["issue_id"], c["applied"], c["overruled"]] for c in ap["curator_conflict_list"]]
        cols = [Column("issue"), Column("applied (committed last)"), Column("overruled")]
        b.table(sec, Table("apply_curator_conflicts", cols, rows, "Curators disagreed on these issues; the decision committed last was applied."))
