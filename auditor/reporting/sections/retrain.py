"""F1 before and after cleaning, per experiment and test language, and per entity type."""

from __future__ import annotations

from auditor.reporting import Column, Paragraph, Table
from auditor.reporting import figures as figs
from auditor.reporting.builder import ReportBuilder
from auditor.reporting.shared import mean_of


def build(b: ReportBuilder) -> None:
    from auditor.evaluation import RetrainResult, primary_labels
    from auditor.judgement import disagreements

    sec = b.section("F1 before and after cleaning", "retrain")
    result = b.m.section(RetrainResult)
    if result is None or not result.experiments:
        if result is not None and result.disabled:
            sec.blocks.append(Paragraph("Retraining is disabled in this run's config (retrain.enabled: false).", note=True))
        else:
            b.missing_note(sec, "retrain")
        return
    label_sets = result.label_sets()
    shown = result.shown_label_sets()
    primary = primary_labels(result)
    # first, before any table: a silver verdict with the wrong sign is the thing to know
    for d in disagreements(result):
        sec.blocks.append(Paragraph(d.sentence()))
    sec.blocks.append(
        Paragraph(
            "Each experiment trains one tagger on the original training data (before) and one on the "
            "cleaned data (after), same model, settings and seed, and tests both on each language's test "
            "split (entity-level micro F1, seqeval). "
            + _final_tagger(b.cfg)
            + " Test tags: "
            + "; ".join(_label_text(result, s) for s in label_sets)
            + "."
        )
    )
    for labels in label_sets:
        if labels not in shown:  # silver equal to clean
            sec.blocks.append(
                Paragraph("The silver test tags equal the clean ones (the test split carries no noise): one table for both.")
            )
            continue
        b.table(sec, f1_delta_table(result, labels))
    if any(e.intervals for e in result.experiments):
        b.table(sec, interval_table(result))
    b.table(sec, per_type_table(result, primary))
    if b.want_figures:
        path = figs.f1_before_after(f1_bars(result, primary), primary, b.report_dir / "f1_before_after.png")
        b.figure(sec, path, f"Entity F1 per test language before and after cleaning ({primary} test tags).")


_LABEL_TEXT = {
    "silver": "silver = the test tags as given (as noisy as the training data was)",
    "clean": "clean = the known clean tags (the true error rate of each model)",
    "reviewed": "reviewed = the test tags after review",
    "verified": "verified = a curator's tags of {n} random test sentences (retrain.verified_test; silver test "
    "tags share the corpus's conventions and can mark a corrected convention down)",
}


def _label_text(result, labels: str) -> str:
    from auditor.judgement import verified_sentences

    if labels != "verified":
        return _LABEL_TEXT[labels]
    n = max((verified_sentences(result, e.name) for e in result.experiments), default=0)
    if result.verified_weighted:
        return (f"verified = a curator's tags of {n} test sentences drawn mostly where the before and after taggers "
                "disagree, each weighted by the test sentences it stands for (retrain.verified_test from `auditor sample "
                "--where disagree`; silver test tags share the corpus's conventions and can mark a corrected convention down)")
    return _LABEL_TEXT[labels].format(n=n)


def _retrain_cells(result, labels: str) -> tuple[list[str], dict[tuple[str, str, str], object]]:
    """Test languages in first-seen order and (experiment, model, lang) -> Scores for one label set."""
    langs: list[str] = []
    cells = {}
    for exp in result.experiments:
        for r in exp.results:
            if r.labels == labels:
                cells[(exp.name, r.model, r.lang)] = r.scores
                if r.lang not in langs:
                    langs.append(r.lang)
    return langs, cells


def f1_delta_table(result, labels: str) -> Table:
    """Per experiment: a before row, an after row and a delta row; columns = test languages + mean."""
    langs, cells = _retrain_cells(result, labels)
    rows, kinds = [], []
    for exp in result.experiments:
        per_model = {}
        for model in ("before", "after"):
            vals = [cells[(exp.name, model, lang)].f1 if (exp.name, model, lang) in cells else None for lang in langs]
            if any(v is not None for v in vals):
                per_model[model] = vals
                rows.append([exp.name, model, *vals, mean_of(vals)])
                kinds.append("")
        if len(per_model) == 2:
            delta = [a - b if a is not None and b is not None else None for a, b in zip(per_model["after"], per_model["before"])]
            mean_delta = rows[-1][-1] - rows[-2][-1] if rows[-1][-1] is not None and rows[-2][-1] is not None else None
            rows.append([exp.name, "Δ", *delta, mean_delta])
            kinds.append("delta")
    cols = [Column("trained on"), Column("model"), *[Column(lang, "num") for lang in langs], Column("mean", "num")]
    return Table(f"f1_{labels}", cols, rows, f"Entity F1 per test language, judged on {_judge(result, labels)}.", kinds)


def _judge(result, labels: str) -> str:
    """"the silver test tags", "40 verified test sentences", ... for a caption."""
    from auditor.judgement import judged_on, verified_sentences

    if labels == "verified":
        return judged_on(labels, max(verified_sentences(result, e.name) for e in result.experiments), result.verified_weighted)
    return "the " + judged_on(labels)


def interval_table(result) -> Table:
    """Per experiment, test language and label set: F1 before and after with bootstrap
    intervals (sentences resampled) and after - before with its paired interval."""
    from auditor.evaluation import LABEL_SETS, N_BOOT
    from auditor.judgement import judged_on

    rows, level = [], 0.9
    # one set of rows for silver and clean when they are the same tags (an unnoised test split)
    hidden = set(result.label_sets()) - set(result.shown_label_sets())
    shown = [s for s in LABEL_SETS if s not in hidden]
    for exp in result.experiments:
        for lang in exp.test:
            for labels in shown:
                before, after = exp.interval("before", labels, lang), exp.interval("after", labels, lang)
                delta = exp.interval("delta", labels, lang)
                if before is None:
                    continue
                level = before.level
                rows.append([
                    exp.name, lang,
                    judged_on(labels, before.n_sentences, result.verified_weighted) if labels == "verified" else judged_on(labels),
                    before.n_sentences, before.f1, _span(before, ".3f"),
                    after.f1 if after else None, _span(after, ".3f") if after else None,
                    delta.f1 if delta else None, _span(delta, "+.3f") if delta else None,
                ])
    pct = f"{level:.0%}"
    cols = [Column("trained on"), Column("test"), Column("judged on"), Column("sentences", "num", "d"),
            Column("before", "num"), Column(f"before {pct}"), Column("after", "num"), Column(f"after {pct}"),
            Column("Δ", "delta"), Column(f"Δ {pct} (paired)")]
    return Table(
        "f1_intervals", cols, rows,
        f"Entity F1 with {pct} bootstrap intervals (test sentences resampled {N_BOOT} times"
        + ("; the weighted verified sentences within their strata" if result.verified_weighted else "")
        + "); Δ's interval resamples the same sentences for both taggers. A Δ interval that includes 0 is within the "
        "test's sampling noise.",
    )


def _span(iv, fmt: str) -> str:
    return f"{iv.low:{fmt}} to {iv.high:{fmt}}"


def per_type_table(result, labels: str) -> Table:
    """F1 per entity type before, after and the difference: one row per (experiment, test language),
    three columns per type."""
    langs, cells = _retrain_cells(result, labels)
    types = sorted({t for s in cells.values() for t in s.per_type})
    rows = []
    for exp in result.experiments:
        for lang in langs:
            before, after = cells.get((exp.name, "before", lang)), cells.get((exp.name, "after", lang))
            if before is None and after is None:
                continue
            row = [exp.name, lang]
            for t in types:
                b = before.per_type[t].f1 if before and t in before.per_type else None
                a = after.per_type[t].f1 if after and t in after.per_type else None
                row += [b, a, a - b if a is not None and b is not None else None]
            rows.append(row)
    cols = [Column("trained on"), Column("test")]
    for t in types:
        cols += [Column(f"{t} before", "num"), Column(f"{t} after", "num"), Column(f"{t} Δ", "delta")]
    return Table(f"per_type_{labels}", cols, rows, f"F1 per entity type, judged on {_judge(result, labels)}.")


def f1_bars(result, labels: str) -> list[figs.F1Bars]:
    langs, cells = _retrain_cells(result, labels)
    out = []
    for exp in result.experiments:
        test = [lang for lang in langs if any((exp.name, m, lang) in cells for m in ("before", "after"))]
        f1 = {(m, lang): cells[(exp.name, m, lang)].f1 for m in ("before", "after") for lang in test if (exp.name, m, lang) in cells}
        out.append(figs.F1Bars(exp.name, test, [f1.get(("before", lang)) for lang in test], [f1.get(("after", lang)) for lang in test]))
    return out


def _final_tagger(cfg) -> str:
    """Which tagger the final before/after models are (the retrain settings, else training's)."""
    from pathlib import Path

    name = Path(cfg.model.name).name if cfg.model.name != "tiny" else "the built-in tiny model"
    t = cfg.retrain.training or cfg.training
    frozen = ", word embeddings frozen" if t.freeze_word_embeddings else ""
    return f"Final taggers: {name}, fine-tuned for {t.epochs:g} epochs (batch {t.batch_size}, learning rate {t.learning_rate:g}{frozen})."
