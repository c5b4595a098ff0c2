"""The load stage: the data the pipeline file names -> corpus/ and metrics.json["corpus"]."""

from __future__ import annotations

from auditor.atomic import atomic_path
from auditor.metrics import write_section
from auditor.stages.context import RunContext


def run(ctx: RunContext) -> str:
    from auditor.data.build import load_corpus_with_report
    from auditor.data.stats import corpus_stats, findings_note

    loaded = load_corpus_with_report(ctx.cfg.data)
    corpus = loaded.corpus
    with atomic_path(ctx.corpus_dir, is_dir=True) as tmp:
        corpus.save_to_disk(str(tmp))
    stats = corpus_stats(corpus, loaded.report, ctx.cfg.data.train_splits)
    write_section(ctx.run_dir, stats)
    n = sum(len(s) for s in corpus.values())
    findings = findings_note(stats)
    if findings:
        ctx.console.print(f"[yellow]load: {findings}[/yellow]")
    for line in loaded.report.rare_types:
        ctx.console.print(f"[yellow]load: {line}[/yellow]")
    if loaded.report.rare_types:
        findings = "; ".join(filter(None, [findings, f"{len(loaded.report.rare_types)} rare entity type(s)"]))
    return f"{n} sentences, splits {', '.join(corpus)}" + (f"; {findings}" if findings else "")


def input_state(ctx: RunContext) -> str:
    """The content of the data and truth files and of a disk folder the data block names."""
    from auditor.stages.inputs import DigestCache, data_digest

    cache = DigestCache(ctx.rd.digests)
    digest = data_digest(ctx.cfg, cache)
    cache.save()
    return digest


def check(ctx: RunContext) -> str | None:
    from auditor.artifacts import dataset_problem

    return dataset_problem(ctx.corpus_dir)
