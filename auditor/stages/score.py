"""The score stage: issues.parquet from the predictions (and a verified sample)."""

from __future__ import annotations

from auditor.metrics import write_section
from auditor.stages.context import RunContext


def run(ctx: RunContext) -> str:
    from auditor.data.corpus import has_clean_tags
    from auditor.scoring.score import score_corpus
    from auditor.tables import OofPredictions, write_issues

    corpus = ctx.load_corpus()
    preds = OofPredictions.read(ctx.predictions_path)
    evidence = sorted(set(ctx.cfg.data.audit) | set(ctx.cfg.data.train_splits))
    vectors = None
    if ctx.cfg.scoring.reference.file is not None:
        from auditor.modeling.crossval import audited_word_vectors

        vectors = audited_word_vectors(corpus, ctx.cfg, ctx.run_dir, progress=ctx.progress)
    decided = _decided_words(ctx, corpus) if ctx.cfg.scoring.reference.decisions else None
    result = score_corpus(
        corpus, preds, ctx.cfg.scoring, progress=ctx.progress, evidence_splits=evidence, vectors=vectors, decided=decided
    )
    write_issues(result.issues, ctx.issues_path)
    write_section(ctx.run_dir, result.summary)
    note = f"{len(result.issues)} issues"
    ref = result.summary.reference
    if ref is not None:
        note += (
            f"; verified sample: {ref['verified_sentences']} sentences, {ref['corrected_sentences']} corrected, "
            f"evidence weight {ref['weight']:g}"
        )
        if "decided_words" in ref:
            note += f"; second pass: {ref['decided_words']} decided words, {ref['decided_corrected_words']} corrected"
    audited = {s: corpus[s] for s in ctx.cfg.data.audit if s in corpus}
    if audited and all(has_clean_tags(d) for d in audited.values()):
        from auditor.scoring.detection import evaluate_detection

        report = evaluate_detection(corpus, result.issues, preds, ctx.cfg.scoring, evidence_splits=evidence, vectors=vectors)
        write_section(ctx.run_dir, report)
        combined = next((r for r in report.span if r.method == "combined"), None)
        if combined is not None and combined.ap is not None:
            note += f", span AP {combined.ap:.3f} against known clean tags"
    return note


def _decided_words(ctx: RunContext, corpus):
    """The review's decided words (auditor.cleaning.decided_words), placed by apply's own rules
    on this corpus; None before any decision. The issue table of the last pass places the
    decisions recorded before the store remembered their sentences."""
    import pandas as pd

    from auditor.cleaning import apply_decisions, decided_words
    from auditor.review.store import DecisionStore
    from auditor.tables import ISSUE_COLUMNS, read_issues

    if not ctx.store_path.exists():
        return None
    latest = DecisionStore(ctx.store_path).latest()
    if not latest:
        return None
    issues = read_issues(ctx.issues_path) if ctx.issues_path.exists() else pd.DataFrame(columns=ISSUE_COLUMNS)
    return decided_words(apply_decisions(corpus, issues, latest))


def reference_digest(ctx: RunContext) -> str:
    """Digest of the verified sample the score stage reads ("" without one; a missing file
    gets its own digest so the stage runs and reports it), and of the review's decisions when
    a second pass reads them (scoring.reference.decisions): new decisions re-score."""
    from auditor.stages.inputs import file_digest

    digest = file_digest(ctx.cfg.scoring.reference.file)
    if ctx.cfg.scoring.reference.decisions:
        from auditor.stages.review import decision_digest

        digest += ":" + decision_digest(ctx)
    return digest


def check(ctx: RunContext) -> str | None:
    from auditor.artifacts import parquet_problem
    from auditor.tables import ISSUE_COLUMNS

    return parquet_problem(ctx.issues_path, ISSUE_COLUMNS)
