"""The F1 table `auditor run` prints at the end: before and after cleaning, per test language,
each row saying which test labels judge it, and a plain sentence where they disagree."""

from __future__ import annotations

from rich.table import Table

from auditor.evaluation import F1Interval, RetrainResult
from auditor.judgement import NO_CHANGE, disagreements, judged_on, verified_sentences

# the order rows are shown in: the most trustworthy judge first
ROW_ORDER = ("clean", "verified", "reviewed", "silver")


def f1_summary_table(result: RetrainResult | None) -> Table | None:
    """Entity F1 per experiment and test language, before and after cleaning, from
    metrics.json["retrain"]; None when nothing was retrained.

    Silver rows are left out when they equal the clean ones (an unnoised test split; the
    report's rule, RetrainResult.shown_label_sets). Verified rows show the bootstrap interval
    of F1; every after row shows after - before with its paired interval. The caption names
    each disagreement of silver and verified."""
    if result is None or not result.experiments:
        return None
    shown = result.shown_label_sets()
    langs = sorted({r.lang for e in result.experiments for r in e.results})
    level = next((r.interval.level for e in result.experiments for r in e.intervals), None)
    brackets = f" ({level:.0%} bootstrap intervals in brackets)" if level is not None else ""
    table = Table(title=f"Entity F1 on the test split, before and after cleaning{brackets}", caption_justify="left")
    for col in ("train", "judged on", "model"):
        table.add_column(col)
    for lang in langs:
        table.add_column(lang, justify="right")
    for exp in result.experiments:
        by = {(r.model, r.labels, r.lang): r.scores.f1 for r in exp.results}
        label_sets = [lab for lab in ROW_ORDER if lab in shown and any(k[1] == lab for k in by)]
        for labels in label_sets:
            n = verified_sentences(result, exp.name) if labels == "verified" else None
            before_cells = []
            for g in langs:
                b = by.get(("before", labels, g))
                iv = exp.interval("before", labels, g) if labels == "verified" else None
                before_cells.append("-" if b is None else f"{b:.3f}" + (_span(iv, signed=False) if iv else ""))
            table.add_row(exp.name, judged_on(labels, n, result.verified_weighted), "before", *before_cells)
            cells = []
            for g in langs:
                a, b = by.get(("after", labels, g)), by.get(("before", labels, g))
                if a is None:
                    cells.append("-")
                    continue
                d = 0.0 if b is None else a - b
                colour = "green" if d > NO_CHANGE else "red" if d < -NO_CHANGE else "dim"
                iv = exp.interval("delta", labels, g)
                cells.append(f"{a:.3f} [{colour}]{d:+.3f}[/{colour}]" + (_span(iv, signed=True) if iv else ""))
            table.add_row("", "", "after", *cells, end_section=True)
    notes = [d.sentence() for d in disagreements(result)]
    if notes:
        table.caption = "\n".join(f"[bold yellow]{n}[/bold yellow]" for n in notes)
    return table


def _span(iv: F1Interval, signed: bool) -> str:
    fmt = "+.3f" if signed else ".3f"
    return f" [dim]\\[{iv.low:{fmt}}, {iv.high:{fmt}}][/dim]"
