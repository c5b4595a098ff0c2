"""The judge stage: the retrain stage's test predictions scored on every label set the run
has -> metrics.json["retrain"] and the saved models' cards.

A stage of its own, apart from training, so that a change to what judges (more verified test
sentences, retrain.verified_test) re-scores the same taggers' tags in seconds instead of
training them again: slow on a GPU, and it would also give other taggers than the ones a
`--where disagree` sample was drawn for.
"""

from __future__ import annotations

from dataclasses import replace

from auditor.metrics import read_metrics, write_section
from auditor.stages.context import RunContext


def run(ctx: RunContext) -> str:
    from auditor.evaluation import RetrainResult

    if not ctx.cfg.retrain.enabled:
        write_section(ctx.run_dir, RetrainResult(disabled=True))
        return "retrain disabled in config"
    from datasets import load_from_disk

    from auditor.evaluation import judge_retrain
    from auditor.test_predictions import read_test_predictions

    original = ctx.load_corpus()
    cleaned = load_from_disk(str(ctx.cleaned_dir))
    result = judge_retrain(original, cleaned, ctx.cfg, read_test_predictions(ctx.rd.test_predictions))
    write_section(ctx.run_dir, result)
    _write_model_cards(ctx, original, result)
    weighted = " (verified: weighted)" if result.verified_weighted else ""
    return f"{len(result.experiments)} experiment(s) judged on {', '.join(result.shown_label_sets())} test tags{weighted}"


def input_state(ctx: RunContext) -> str:
    """The verified test file's digest (retrain.verified_test): a re-verified sentence re-judges."""
    from auditor.stages.inputs import file_digest

    return file_digest(ctx.cfg.retrain.verified_test)


def _write_model_cards(ctx: RunContext, original, result) -> None:
    """Each saved model carries a card: base model, data, cleaning applied, F1 per language
    on the most trustworthy label set the model was evaluated on (evaluation.primary_labels)."""
    from auditor.cleaning import ApplySummary
    from auditor.evaluation import RetrainResult, primary_labels
    from auditor.modeling.card import write_model_card

    apply = read_metrics(ctx.run_dir).section(ApplySummary)
    datasets = [ctx.cfg.data.dataset] if ctx.cfg.data.source == "hub" else []
    for exp in result.experiments:
        n_train = sum(
            sum(1 for lang in original[split]["lang"] if lang in exp.train)
            for split in ctx.cfg.data.train_splits
            if split in original
        )
        for model in ("before", "after"):
            model_dir = ctx.rd.model(model, exp.name)
            if not (model_dir / "config.json").is_file():
                continue
            rows = [r for r in exp.results if r.model == model]
            labels = primary_labels(RetrainResult([replace(exp, results=rows)]))
            write_model_card(
                model_dir,
                base_model=ctx.cfg.model.name,
                languages=exp.train,
                train_sentences=n_train,
                cleaning=apply.to_dict() if apply is not None and model == "after" else None,
                f1_by_lang={r.lang: r.scores.f1 for r in rows if r.labels == labels},
                datasets=datasets,
                name=f"{ctx.cfg.name}-{exp.name}-{model}",
            )


