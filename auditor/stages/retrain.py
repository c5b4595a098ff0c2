"""The retrain stage: before/after taggers -> models/ and their tags of the test split
(test-predictions.parquet), the error analysis and the learning curve. Scoring those tags is
the judge stage's (auditor.stages.judge), so a re-verified test sample re-judges without
training again."""

from __future__ import annotations

from auditor.distributed import is_main_process
from auditor.stages.context import RunContext

# what the retrain stage's cache key leaves out: the judge stage reads it, training does not
IGNORED_CONFIG = ("retrain.verified_test",)


def run(ctx: RunContext) -> str:
    if not ctx.cfg.retrain.enabled:
        return "disabled in config"
    from datasets import load_from_disk

    from auditor.evaluation import train_retrain

    main = is_main_process()
    original = ctx.load_corpus()
    cleaned = load_from_disk(str(ctx.cleaned_dir))
    kept = train_retrain(original, cleaned, ctx.cfg, ctx.run_dir, progress=ctx.progress)
    n = len({r.experiment for r in kept})
    note = f"{n} experiment(s), {len({r.id for r in kept})} test sentences tagged"
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


def artifacts(ctx: RunContext) -> list:
    """The test predictions and the model folders of the experiments they hold: a deleted one
    is trained again."""
    if not ctx.cfg.retrain.enabled:
        return []
    return [ctx.rd.test_predictions] + [ctx.rd.model(m, e) for m, e in _kept(ctx)]


def _kept(ctx: RunContext) -> list[tuple[str, str]]:
    from auditor.errors import DataError
    from auditor.test_predictions import read_test_predictions

    try:
        rows = read_test_predictions(ctx.rd.test_predictions)
    except DataError:  # missing or damaged: check() says so and the stage runs again
        return []
    return sorted({(r.model, r.experiment) for r in rows})


def check(ctx: RunContext) -> str | None:
    """Why the kept test predictions cannot be reused (unreadable), or None."""
    from auditor.errors import DataError
    from auditor.test_predictions import read_test_predictions

    if not ctx.cfg.retrain.enabled or not ctx.rd.test_predictions.is_file():
        return None
    try:
        read_test_predictions(ctx.rd.test_predictions)
    except DataError as err:
        return str(err)
    return None


def input_state(ctx: RunContext) -> str:
    """What the retrain stage reads besides its config: a local model folder's content."""
    from auditor.stages.crossval import input_state as model_state

    return model_state(ctx)
