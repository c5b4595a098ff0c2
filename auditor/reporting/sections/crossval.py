"""Cross-validation: one row per fold (F1, calibration, sizes, time)."""

from __future__ import annotations

from pathlib import Path

from auditor.reporting import Column, Paragraph, Table
from auditor.reporting.builder import ReportBuilder
from auditor.reporting.shared import mean_of, sum_of


def out_of_fold_tagger(cfg, mode: str | None) -> str:
    """One sentence naming the tagger that produced the out-of-fold probabilities."""
    name = Path(cfg.model.name).name if cfg.model.name != "tiny" else "the built-in tiny model"
    if mode == "probe":
        p = cfg.crossval.probe
        return (
            f"Tagger: frozen {name} (hidden states of its last {p.layers} layers, {p.mix} mix, {p.pooling} sub-word) "
            f"with a {p.head} head per fold"
            + (f" ({p.hidden_size} hidden units)" if p.head != "logreg" else "")
            + (f", {p.ensemble} seeds averaged" if p.ensemble > 1 else "")
            + "."
        )
    if mode == "finetune":
        t = cfg.training
        frozen = ", word embeddings frozen" if t.freeze_word_embeddings else ""
        return f"Tagger: {name} fine-tuned per fold ({t.epochs:g} epochs, batch {t.batch_size}, learning rate {t.learning_rate:g}{frozen})."
    return ""


def build(b: ReportBuilder) -> None:
    from auditor.modeling.crossval_result import CrossvalResult

    sec, cv = b.section_for("Cross-validation", "crossval", CrossvalResult)
    if cv is None:
        return
    folds = cv.folds
    wps = cv.words_per_second
    text = f"Mode: {cv.mode}, {len(folds)} folds. Each sentence was scored by a model that never saw it. "
    text += out_of_fold_tagger(b.cfg, cv.mode)
    if wps:
        text += f" Prediction speed: {wps:,.0f} words per second."
    sec.blocks.append(Paragraph(text))
    cols = [
        Column("fold", "num", "d"),
        Column("F1", "num"),
        Column("ECE before", "num"),
        Column("ECE after", "num"),
        Column("temperature", "num", ".2f"),
        Column("train", "num", ",d"),
        Column("held out", "num", ",d"),
        Column("seconds", "num", ".1f"),
    ]
    keys = ["fold", "f1", "ece_before", "ece_after", "temperature", "n_train", "n_heldout", "seconds"]
    rows = [[getattr(f, k) for k in keys] for f in folds]
    kinds = ["" for _ in rows]
    if rows:
        mean = ["mean"] + [mean_of([r[i] for r in rows]) for i in range(1, 5)] + [None, None, sum_of([r[7] for r in rows])]
        rows.append(mean)
        kinds.append("total")
        cols[0] = Column("fold", "text")
        rows = [[str(r[0]) if r[0] is not None else None, *r[1:]] for r in rows]
    b.table(sec, Table("crossval_folds", cols, rows, "ECE = expected calibration error before/after temperature scaling; the last row's seconds are the total.", kinds))
