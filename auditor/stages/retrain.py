"""The retrain stage: before/after taggers -> models/, metrics.json["retrain"], model cards."""

from __future__ import annotations

from dataclasses import replace

from auditor.distributed import is_main_process
from auditor.metrics import read_metrics, write_section
from auditor.stages.context import RunContext


def run(ctx: RunContext) -> str:
    if not ctx.cfg.retrain.enabled:
        if is_main_process():
            from auditor.evaluation import RetrainResult

            write_section(ctx.run_dir, RetrainResult(disabled=True))
        return "disabled in config"
    from datasets import load_from_disk

    from auditor.evaluation import run_retrain

    main = is_main_process()
    original = ctx.load_corpus()
    cleaned = load_from_disk(str(ctx.cleaned_dir))
    result = run_retrain(original, cleaned, ctx.cfg, ctx.run_dir, progress=ctx.progress)
    if main:
        write_section(ctx.run_dir, result)
        _write_model_cards(ctx, original, result)
    note = f"{len(result.experiments)} experiment(s)"
    if "validation" in original:
        from auditor.analysis import run_analysis

        if main:  # prediction only, no Trainer: rank 0 alone
            run_analysis(ctx.run_dir, split="validation", model="after", progress=ctx.progress)
        note += ", error analysis on validation"
    if ctx.cfg.curve.enabled:
        from auditor.analysis import run_curve

        # trains, so every rank takes part; rank 0 writes
        run_curve(original, cleaned, ctx.cfg, ctx.run_dir, progress=ctx.progress, write=main)
        note += f", learning curve {ctx.cfg.curve.source} -> {ctx.cfg.curve.target}"
    return note


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


def artifacts(ctx: RunContext) -> list:
    """The model folders of the experiments metrics.json["retrain"] records and their test
    predictions (auditor.test_predictions): a deleted one is trained again."""
    from auditor.errors import DataError

    try:
        from auditor.evaluation import RetrainResult

        retrain = read_metrics(ctx.run_dir).section(RetrainResult)
    except DataError:  # a damaged section: the stage runs again and rewrites it
        return []
    names = [e.name for e in retrain.experiments] if retrain is not None else []
    return [ctx.rd.model(m, n) for n in names for m in ("before", "after")] + ([ctx.rd.test_predictions] if names else [])


def input_state(ctx: RunContext) -> str:
    """What the retrain stage reads besides its config: a local model folder's content and the
    verified test file's digest (retrain.verified_test), so a re-verified sentence re-judges."""
    from auditor.stages.crossval import input_state as model_state
    from auditor.stages.inputs import file_digest

    return model_state(ctx) + file_digest(ctx.cfg.retrain.verified_test)
