"""Overview: what ran (data, model, cross-validation, review policy) and what could not be read."""

from __future__ import annotations

from auditor.reporting import Column, Paragraph, Table
from auditor.reporting.builder import ReportBuilder


def build(b: ReportBuilder) -> None:
    sec = b.section("Overview", "overview")
    cfg = b.cfg
    d = cfg.data
    langs = ", ".join(f"{k} ({v:g})" if v < 1 else k for k, v in d.languages.items())
    rows = [
        ["data source", d.source if d.source != "hub" else f"hub: {d.dataset} {d.config}"],
        ["languages", langs],
        ["audited splits", ", ".join(d.audit)],
        ["model", cfg.model.name],
        ["cross-validation", f"{cfg.crossval.mode}, {cfg.crossval.folds} folds"],
        ["review policy", cfg.review.policy + (f" (unattended: {cfg.review.unattended})" if cfg.review.policy == "interactive" else "")],
    ]
    if b.inputs.config_found:
        b.table(sec, Table("overview", [Column("setting"), Column("value")], rows))
    else:
        # the defaults would be a guess: better say nothing about the settings
        sec.blocks.append(Paragraph("No readable config.yaml in the run directory: the run's settings are unknown.", note=True))
    for p in b.inputs.problems:
        sec.blocks.append(Paragraph(f"Could not read {p}.", note=True))
