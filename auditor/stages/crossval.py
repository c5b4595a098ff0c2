"""The crossval stage: K-fold out-of-fold predictions -> predictions.parquet."""

from __future__ import annotations

from auditor.distributed import barrier, is_main_process
from auditor.metrics import write_section
from auditor.stages.context import RunContext


def run(ctx: RunContext) -> str:
    from auditor.artifacts import drop_unreadable_fold_parts
    from auditor.modeling.crossval import FOLDS_DIR, MERGED_FILE, run_crossval

    if is_main_process() and ctx.force and ctx.rd.folds.exists():
        import shutil

        # --force means computed again: fold parts and probe features match their fingerprint,
        # and a fingerprint cannot see every change (a model replaced outside a folder we hash)
        shutil.rmtree(ctx.rd.folds)
    if is_main_process():
        dropped = drop_unreadable_fold_parts(ctx.run_dir)
        if dropped:
            ctx.console.print(f"[yellow]crossval: unreadable fold part(s) {', '.join(dropped)} removed; computing them again[/yellow]")
        if check(ctx):
            # the merge marker says "merged from these parts"; without it the parts are merged again
            (ctx.run_dir / FOLDS_DIR / MERGED_FILE).unlink(missing_ok=True)
    barrier()  # no rank looks at the fold parts while rank 0 clears broken ones
    result = run_crossval(ctx.load_corpus(), ctx.cfg, ctx.run_dir, progress=ctx.progress)
    if is_main_process():
        write_section(ctx.run_dir, result)
    f1s = [f.f1 for f in result.folds if f.f1 is not None]
    mean = f"mean fold F1 {sum(f1s) / len(f1s):.3f}" if f1s else ""
    return f"{result.mode}, {len(result.folds)} folds, {mean}"


def _audited_words(ctx: RunContext) -> int:
    import pyarrow.compute as pc

    corpus = ctx.load_corpus()
    lengths = (pc.list_value_length(corpus[s].data.column("tokens")) for s in ctx.cfg.data.audit if s in corpus)
    return sum(int(pc.sum(x).as_py() or 0) for x in lengths)


def input_state(ctx: RunContext) -> str:
    """A local model folder's content (config, weights, tokenizer); "" for Hub and tiny models."""
    from auditor.stages.inputs import DigestCache, model_digest

    cache = DigestCache(ctx.rd.digests)
    digest = model_digest(ctx.cfg.model.name, cache)
    cache.save()
    return digest


def check(ctx: RunContext) -> str | None:
    from auditor.artifacts import parquet_problem
    from auditor.tables import PREDICTIONS_SCHEMA

    if not ctx.predictions_path.exists():
        return f"{ctx.predictions_path} is missing"
    return parquet_problem(ctx.predictions_path, PREDICTIONS_SCHEMA.names, rows=_audited_words(ctx))
