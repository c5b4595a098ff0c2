"""Adaptive queue: when and from how many decisions the review order was re-ranked, and which
signals the curator's decisions favoured (auditor.reporting.adaptive renders it)."""

from __future__ import annotations

from auditor.reporting import Table
from auditor.reporting.adaptive import adaptive_section
from auditor.reporting.builder import ReportBuilder


def build(b: ReportBuilder) -> None:
    sec = adaptive_section(b.m)
    if sec is None:  # the queue never adapted: nothing to say, no empty section
        return
    blocks, sec.blocks = sec.blocks, []
    b.sections.append(sec)
    for block in blocks:
        if isinstance(block, Table):
            b.table(sec, block)  # registered, so every number is also in metrics.json["report"]
        else:
            sec.blocks.append(block)
