"""The apply stage: the latest decisions applied to corpus/ -> cleaned/ + changelog.parquet.

`apply_run` is the one body: the pipeline's apply stage and `auditor apply` both call it, so
both refuse a run without a corpus or without a decision store, with the same line. When the
run's config names a verified sample (scoring.reference.file), its verified sentences get the
curator's tags too (auditor.cleaning); the file is read before anything is written, so a
missing one ends in one line and leaves the previous cleaning as it was, and its digest joins
the stage's input (`input_state`), so editing the sample re-runs apply."""

from __future__ import annotations

from auditor.errors import DataError
from auditor.metrics import write_section
from auditor.run_dir import RunDir
from auditor.stages.context import RunContext


def apply_run(rd: RunDir):
    """RUN_DIR/corpus + issues.parquet + review.sqlite -> RUN_DIR/cleaned + changelog.parquet and
    metrics.json["apply"]; the ApplyResult. DataError when the folder has no corpus or no store;
    AuditorError when an empty store would undo the decisions of the current cleaning."""
    from auditor.run_lock import run_lock

    with run_lock(rd, "auditor apply"):
        return _apply(rd)


def _apply(rd: RunDir):
    from auditor.cleaning import apply_decisions, guard_against_emptying, save_cleaned

    if not rd.corpus.is_dir():
        raise DataError(f"{rd.path}: no corpus/ folder, so not a run directory (run `auditor run PIPELINE` first)")
    issues = rd.read_issues()
    if not rd.store.is_file():
        raise DataError(f"{rd.store}: no decisions yet; review the issues first: auditor review {rd.path}")
    from auditor.review.verified import run_sample

    sample = run_sample(rd)
    with rd.open_store(read_only=True) as store:
        decisions, rows = store.latest(), len(store)
    guard_against_emptying(rd.path, rd.store, rows)
    if sample is None:
        result = apply_decisions(rd.read_corpus(), issues, decisions)
    else:
        result = apply_decisions(rd.read_corpus(), issues, decisions, sample.rows, sample.audited, sample.path.name)
    save_cleaned(result, rd.path)
    write_section(rd.path, result.summary)
    return result


def run(ctx: RunContext) -> str:
    summary = apply_run(ctx.rd).summary
    stale = f", {summary.stale} stale decisions not applied" if summary.stale else ""
    return f"{summary.changed_sentences} sentences changed{stale}{verified_note(summary)}"


def verified_note(summary) -> str:
    """What the verified sample did (an ApplySummary), for the stage's note and `auditor apply`
    ("" without one)."""
    if summary.verified_sentences is None:
        return ""

    def n(count: int, what: str) -> str:
        return f"{count} {what}{'' if count == 1 else 's'}"

    note = f"; verified sample: {n(summary.verified_sentences, 'sentence')} applied, {summary.verified_changed} changed"
    if summary.verified_superseded:
        note += f", {n(summary.verified_superseded, 'decision')} in them superseded"
    if summary.verified_stale:
        note += f", {n(summary.verified_stale, 'line')} not applied (listed)"
    return note


def input_state(ctx: RunContext) -> str:
    """Digest of the verified sample apply writes into cleaned/ ("" without one): a corrected
    sentence in the file re-runs apply."""
    from auditor.stages.inputs import file_digest

    return file_digest(ctx.cfg.scoring.reference.file)


def check(ctx: RunContext) -> str | None:
    from auditor.artifacts import dataset_problem, parquet_problem
    from auditor.cleaning import CHANGELOG_SCHEMA

    return dataset_problem(ctx.cleaned_dir) or parquet_problem(ctx.rd.changelog, CHANGELOG_SCHEMA.names)
