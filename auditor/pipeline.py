"""The audit-retrain cycle as stages over a run directory.

    load -> crossval -> score -> review -> apply -> retrain -> report -> export

Each stage reads its inputs from runs/<name>/ and writes its artifact there (atomically).
A stage records a stamp (runs/<name>/.stages/<stage>.json) holding the hash of what it
consumed: the config sections it depends on plus the output hashes of the stages it
reads. A stage whose input hash matches its stamp and whose artifacts exist is skipped,
so a second run is instant and a crashed run resumes at the first unfinished stage.

The review stage is special: its output is the curators' decision log, which changes
outside the pipeline (``auditor review``); its output hash is the digest of the latest
decisions, so new decisions re-run apply and everything after it.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from auditor.atomic import atomic_path, write_text_atomic
from auditor.config import PipelineConfig
from auditor.distributed import barrier, is_main_process, share_from_main, world_size
from auditor.errors import AuditorError
from auditor.metrics import read_metrics, update_metrics
from auditor.verified_test import file_digest

STAGES = ("load", "crossval", "score", "review", "apply", "retrain", "report", "export")


class StopPipeline(Exception):
    """A stage asks the run to stop cleanly (e.g. review needed, no terminal)."""


@dataclass
class RunContext:
    cfg: PipelineConfig
    run_dir: Path
    console: Console
    progress: bool = True
    interactive: bool = False

    @property
    def corpus_dir(self) -> Path:
        return self.run_dir / "corpus"

    @property
    def predictions_path(self) -> Path:
        return self.run_dir / "predictions.parquet"

    @property
    def issues_path(self) -> Path:
        return self.run_dir / "issues.parquet"

    @property
    def store_path(self) -> Path:
        return self.run_dir / "review.sqlite"

    @property
    def cleaned_dir(self) -> Path:
        return self.run_dir / "cleaned"

    @property
    def export_dir(self) -> Path:
        return Path(self.cfg.export.out) if self.cfg.export.out else self.run_dir / "export"

    def load_corpus(self):
        from datasets import disable_caching, load_from_disk

        # stages derive tables in memory; cache files would land inside corpus/
        disable_caching()

        return load_from_disk(str(self.corpus_dir))


@dataclass
class Stage:
    name: str
    # config sections (top-level keys of PipelineConfig) whose values feed this stage
    config_keys: tuple[str, ...]
    # stages whose outputs this stage reads
    deps: tuple[str, ...]
    run: Callable[[RunContext], str | None]
    artifacts: Callable[[RunContext], list[Path]]
    # extra state that changes the stage's output without re-running it (review decisions)
    output_state: Callable[[RunContext], str] | None = None
    # why artifacts that exist cannot be reused (truncated, unreadable), or None; the stage
    # then runs again instead of being skipped
    check: Callable[[RunContext], str | None] | None = None
    # extra input outside the config (a file the config names): its digest joins the input hash
    input_state: Callable[[RunContext], str] | None = None
    # trains with the HF Trainer, which under torchrun/accelerate needs every process (DDP);
    # other stages run in rank 0 alone
    all_ranks: bool = False


@dataclass
class StageReport:
    name: str
    status: str  # ran | skipped | stopped | failed
    seconds: float
    note: str = ""


@dataclass
class RunResult:
    run_dir: Path
    stages: list[StageReport] = field(default_factory=list)
    stopped: str | None = None


# --- stage bodies --------------------------------------------------------------------


def _run_load(ctx: RunContext) -> str:
    from auditor.data.build import load_corpus_with_report
    from auditor.data.stats import corpus_stats, findings_note

    loaded = load_corpus_with_report(ctx.cfg.data)
    corpus = loaded.corpus
    with atomic_path(ctx.corpus_dir, is_dir=True) as tmp:
        corpus.save_to_disk(str(tmp))
    stats = corpus_stats(corpus, loaded.report, ctx.cfg.data.train_splits)
    update_metrics(ctx.run_dir, "corpus", stats.to_dict())
    n = sum(len(s) for s in corpus.values())
    findings = findings_note(stats)
    if findings:
        ctx.console.print(f"[yellow]load: {findings}[/yellow]")
    return f"{n} sentences, splits {', '.join(corpus)}" + (f"; {findings}" if findings else "")


def _run_crossval(ctx: RunContext) -> str:
    from auditor.artifacts import drop_unreadable_fold_parts
    from auditor.modeling.crossval import FOLDS_DIR, MERGED_FILE, run_crossval

    if is_main_process():
        dropped = drop_unreadable_fold_parts(ctx.run_dir)
        if dropped:
            ctx.console.print(f"[yellow]crossval: unreadable fold part(s) {', '.join(dropped)} removed; computing them again[/yellow]")
        if _check_predictions(ctx):
            # the merge marker says "merged from these parts"; without it the parts are merged again
            (ctx.run_dir / FOLDS_DIR / MERGED_FILE).unlink(missing_ok=True)
    barrier()  # no rank looks at the fold parts while rank 0 clears broken ones
    result = run_crossval(ctx.load_corpus(), ctx.cfg, ctx.run_dir, progress=ctx.progress)
    if is_main_process():
        update_metrics(ctx.run_dir, "crossval", result.to_dict())
    f1s = [f.f1 for f in result.folds if f.f1 is not None]
    mean = f"mean fold F1 {sum(f1s) / len(f1s):.3f}" if f1s else ""
    return f"{result.mode}, {len(result.folds)} folds, {mean}"


def _run_score(ctx: RunContext) -> str:
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
    result = score_corpus(corpus, preds, ctx.cfg.scoring, progress=ctx.progress, evidence_splits=evidence, vectors=vectors)
    write_issues(result.issues, ctx.issues_path)
    update_metrics(ctx.run_dir, "scoring", result.summary.to_dict())
    note = f"{len(result.issues)} issues"
    ref = result.summary.reference
    if ref is not None:
        note += (
            f"; verified sample: {ref['verified_sentences']} sentences, {ref['corrected_sentences']} corrected, "
            f"evidence weight {ref['weight']:g}"
        )
    audited = {s: corpus[s] for s in ctx.cfg.data.audit if s in corpus}
    if audited and all(has_clean_tags(d) for d in audited.values()):
        from auditor.scoring.detection import evaluate_detection

        report = evaluate_detection(corpus, result.issues, preds, ctx.cfg.scoring, evidence_splits=evidence, vectors=vectors)
        update_metrics(ctx.run_dir, "detection", report.to_dict())
        combined = next((r for r in report.to_dict()["span"] if r["method"] == "combined"), None)
        if combined:
            note += f", span AP {combined['ap']:.3f} against known clean tags"
    return note


def _reference_digest(ctx: RunContext) -> str:
    """Digest of the verified sample the score stage reads ("" without one; a missing file
    gets its own digest so the stage runs and reports it)."""
    path = ctx.cfg.scoring.reference.file
    if path is None:
        return ""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except OSError:
        return "missing"


def _decision_digest(ctx: RunContext) -> str:
    if not ctx.store_path.exists():
        return "no-store"
    from auditor.review.store import DecisionStore

    latest = DecisionStore(ctx.store_path).latest()
    h = hashlib.sha256()
    for issue_id in sorted(latest):
        d = latest[issue_id]
        h.update(json.dumps([issue_id, d.action, d.start, d.end, d.tags]).encode())
    return h.hexdigest()


def _run_review(ctx: RunContext) -> str:
    from auditor.review.policies import apply_policy
    from auditor.review.store import DecisionStore
    from auditor.tables import read_issues

    review = ctx.cfg.review
    policy = review.policy
    if policy == "interactive" and not ctx.interactive:
        if review.unattended == "stop":
            store_has = ctx.store_path.exists() and bool(DecisionStore(ctx.store_path).latest())
            if not store_has:
                raise StopPipeline(
                    f"scoring done; review the issues with: auditor review {ctx.run_dir} "
                    f"then run the same command again to apply, retrain and report"
                )
            n = len(DecisionStore(ctx.store_path).latest())
            update_metrics(ctx.run_dir, "review", _store_summary(ctx, "interactive"))
            return f"{n} decisions from curators"
        policy = review.unattended
    if policy == "interactive":
        from auditor.review.app import run_review
        from auditor.review.store import file_identity

        opened = file_identity(ctx.store_path)
        run_review(ctx.run_dir, curator=review.curator, adaptive=review.adaptive)
        check_store_survived(ctx.store_path, opened)
        update_metrics(ctx.run_dir, "review", _store_summary(ctx, "interactive"))
        _adaptive_metrics(ctx)
        return f"{len(DecisionStore(ctx.store_path).latest())} decisions"
    issues = read_issues(ctx.issues_path)
    store = DecisionStore(ctx.store_path, curator=review.curator)
    summary = apply_policy(
        issues, ctx.load_corpus(), review.model_copy(update={"policy": policy}), store, run_dir=ctx.run_dir
    )
    update_metrics(ctx.run_dir, "review", summary.to_dict())
    _adaptive_metrics(ctx)
    return f"policy {policy}: {summary.decided} of {summary.total} issues decided"


def _adaptive_metrics(ctx: RunContext) -> None:
    """metrics.json["adaptive"] from run_dir/adaptive/refit-*.json, when the queue ever adapted."""
    from auditor.review.adaptive import refit_summary

    summary = refit_summary(ctx.run_dir)
    if summary["refits"]:
        update_metrics(ctx.run_dir, "adaptive", summary)


def check_store_survived(store_path: Path, opened: tuple[int, int] | None) -> None:
    """AuditorError when the decision store was deleted or replaced while the review UI had it
    open (`opened`: its file_identity before the UI started, None if it did not exist yet)."""
    from auditor.review.store import file_identity

    now = file_identity(store_path)
    if now is None or (opened is not None and now != opened):
        raise AuditorError(
            f"{store_path}: deleted or replaced while the review was open; decisions made in that session are "
            f"not in it (look for {store_path.name}.rescued-* next to it and move it to {store_path.name}), "
            "then run the same command again"
        )


def _store_summary(ctx: RunContext, policy: str) -> dict:
    from collections import Counter

    from auditor.review.store import DecisionStore
    from auditor.tables import read_issues

    latest = DecisionStore(ctx.store_path).latest()
    total = len(read_issues(ctx.issues_path, columns=["issue_id"]))
    return {
        "policy": policy,
        "total": total,
        "decided": len(latest),
        "by_action": dict(Counter(d.action for d in latest.values())),
        "curators": sorted({d.curator for d in latest.values()}),
    }


def _run_apply(ctx: RunContext) -> str:
    from auditor.cleaning import apply_decisions, guard_against_emptying, save_cleaned
    from auditor.review.store import DecisionStore
    from auditor.tables import read_issues

    decisions, rows = {}, None
    if ctx.store_path.exists():
        with DecisionStore(ctx.store_path) as store:
            decisions, rows = store.latest(), len(store)
    guard_against_emptying(ctx.run_dir, ctx.store_path, rows)
    result = apply_decisions(ctx.load_corpus(), read_issues(ctx.issues_path), decisions)
    save_cleaned(result, ctx.run_dir)
    summary = result.summary.to_dict()
    update_metrics(ctx.run_dir, "apply", summary)
    stale = f", {summary['stale']} stale decisions not applied" if summary.get("stale") else ""
    return f"{summary['changed_sentences']} sentences changed{stale}"


def _run_retrain(ctx: RunContext) -> str:
    if not ctx.cfg.retrain.enabled:
        if is_main_process():
            update_metrics(ctx.run_dir, "retrain", {"experiments": [], "disabled": True})
        return "disabled in config"
    from datasets import load_from_disk

    from auditor.evaluation import run_retrain

    main = is_main_process()
    original = ctx.load_corpus()
    cleaned = load_from_disk(str(ctx.cleaned_dir))
    result = run_retrain(original, cleaned, ctx.cfg, ctx.run_dir, progress=ctx.progress)
    retrain = result.to_dict()
    if main:
        update_metrics(ctx.run_dir, "retrain", retrain)
        _write_model_cards(ctx, original, retrain)
    note = f"{len(retrain['experiments'])} experiment(s)"
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


def _write_model_cards(ctx: RunContext, original, retrain: dict) -> None:
    """Each saved model carries a card: base model, data, cleaning applied, F1 per language."""
    from auditor.modeling.card import write_model_card

    apply = read_metrics(ctx.run_dir).get("apply") or {}
    datasets = [ctx.cfg.data.dataset] if ctx.cfg.data.source == "hub" else []
    for exp in retrain["experiments"]:
        n_train = sum(
            sum(1 for lang in original[split]["lang"] if lang in exp["train"])
            for split in ctx.cfg.data.train_splits
            if split in original
        )
        for model in ("before", "after"):
            model_dir = ctx.run_dir / "models" / model / exp["name"]
            if not (model_dir / "config.json").is_file():
                continue
            rows = [r for r in exp["results"] if r["model"] == model]
            labels = next((lab for lab in ("clean", "reviewed", "silver") if any(r["labels"] == lab for r in rows)), None)
            write_model_card(
                model_dir,
                base_model=ctx.cfg.model.name,
                languages=exp["train"],
                train_sentences=n_train,
                cleaning=apply if model == "after" else None,
                f1_by_lang={r["lang"]: r["f1"] for r in rows if r["labels"] == labels},
                datasets=datasets,
                name=f"{ctx.cfg.name}-{exp['name']}-{model}",
            )


def _run_report(ctx: RunContext) -> str:
    from auditor.reporting.build import build_report

    paths = build_report(ctx.run_dir, ctx.cfg.report_dir)
    return f"{paths.html}"


def _run_export(ctx: RunContext) -> str:
    from datasets import load_from_disk

    from auditor.export import export_corpus

    cleaned = load_from_disk(str(ctx.cleaned_dir))
    written = []
    for fmt in ctx.cfg.export.formats:
        out = ctx.export_dir / fmt
        export_corpus(cleaned, fmt, out, force=True, run_dir=ctx.run_dir)
        written.append(str(out))
    return ", ".join(written)


def _paths(*names: str) -> Callable[[RunContext], list[Path]]:
    return lambda ctx: [ctx.run_dir / n for n in names]


def _check_corpus(ctx: RunContext) -> str | None:
    from auditor.artifacts import dataset_problem

    return dataset_problem(ctx.corpus_dir)


def _audited_words(ctx: RunContext) -> int:
    import pyarrow.compute as pc

    corpus = ctx.load_corpus()
    lengths = (pc.list_value_length(corpus[s].data.column("tokens")) for s in ctx.cfg.data.audit if s in corpus)
    return sum(int(pc.sum(x).as_py() or 0) for x in lengths)


def _check_predictions(ctx: RunContext) -> str | None:
    from auditor.artifacts import parquet_problem
    from auditor.tables import PREDICTIONS_SCHEMA

    if not ctx.predictions_path.exists():
        return f"{ctx.predictions_path} is missing"
    return parquet_problem(ctx.predictions_path, PREDICTIONS_SCHEMA.names, rows=_audited_words(ctx))


def _check_issues(ctx: RunContext) -> str | None:
    from auditor.artifacts import parquet_problem
    from auditor.tables import ISSUE_COLUMNS

    return parquet_problem(ctx.issues_path, ISSUE_COLUMNS)


def _check_cleaned(ctx: RunContext) -> str | None:
    from auditor.artifacts import dataset_problem, parquet_problem
    from auditor.cleaning import CHANGELOG_SCHEMA

    return dataset_problem(ctx.cleaned_dir) or parquet_problem(ctx.run_dir / "changelog.parquet", CHANGELOG_SCHEMA.names)


PIPELINE: dict[str, Stage] = {
    s.name: s
    for s in [
        Stage("load", ("data",), (), _run_load, _paths("corpus"), check=_check_corpus),
        Stage(
            "crossval", ("model", "crossval", "training"), ("load",), _run_crossval, _paths("predictions.parquet"),
            check=_check_predictions, all_ranks=True,
        ),
        Stage(
            "score", ("scoring",), ("crossval",), _run_score, _paths("issues.parquet"), check=_check_issues,
            input_state=_reference_digest,
        ),
        # the store is the review's artifact: if it vanishes, the review runs again (a policy
        # re-decides, a curator is asked) instead of apply emptying the cleaning
        Stage("review", ("review",), ("score",), _run_review, _paths("review.sqlite"), output_state=_decision_digest),
        Stage("apply", (), ("review",), _run_apply, _paths("cleaned", "changelog.parquet"), check=_check_cleaned),
        Stage(
            "retrain", ("retrain", "training", "model", "curve"), ("apply",), _run_retrain, lambda ctx: [], all_ranks=True,
            input_state=lambda ctx: file_digest(ctx.cfg.retrain.verified_test),
        ),
        Stage("report", ("report",), ("retrain",), _run_report, lambda ctx: [ctx.cfg.report_dir / "report.html"]),
        Stage("export", ("export",), ("apply",), _run_export, lambda ctx: [ctx.export_dir]),
    ]
}


# --- the runner ----------------------------------------------------------------------


def _hash(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _stamp_path(ctx: RunContext, stage: str) -> Path:
    return ctx.run_dir / ".stages" / f"{stage}.json"


def _read_stamp(ctx: RunContext, stage: str) -> dict | None:
    path = _stamp_path(ctx, stage)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _input_hash(ctx: RunContext, stage: Stage, outputs: dict[str, str]) -> str:
    from auditor import __version__

    sections = {k: getattr(ctx.cfg, k).model_dump(mode="json") for k in stage.config_keys}
    key = {"stage": stage.name, "version": __version__, "config": sections, "deps": [outputs[d] for d in stage.deps]}
    extra = stage.input_state(ctx) if stage.input_state else ""
    if extra:  # only when there is one, so runs without it keep their stamps
        key["extra"] = extra
    return _hash(key)


def _select(start: str | None, until: str | None) -> tuple[int, int]:
    for s in (start, until):
        if s is not None and s not in PIPELINE:
            raise AuditorError(f"unknown stage '{s}'; stages are: {', '.join(STAGES)}")
    lo = STAGES.index(start) if start else 0
    hi = STAGES.index(until) if until else len(STAGES) - 1
    if lo > hi:
        raise AuditorError(f"--from {start} comes after --until {until}")
    return lo, hi


def run_pipeline(
    cfg: PipelineConfig,
    *,
    until: str | None = None,
    start: str | None = None,
    force: bool = False,
    interactive: bool | None = None,
    progress: bool = True,
    console: Console | None = None,
) -> RunResult:
    """Run the cycle; skip stages whose inputs are unchanged.

    ``start`` re-runs that stage and every later one even when unchanged; ``force`` re-runs
    all; ``until`` stops after that stage. Returns what each stage did.

    Under `torchrun`/`accelerate launch` every process calls this: rank 0 decides what runs
    and writes every file; the training stages (crossval, retrain) run in all ranks, the
    others in rank 0 while the rest wait for their outcome (auditor.distributed).
    """
    main = is_main_process()
    if console is None:
        from auditor.output import console as make_console

        console = make_console(stderr=True)
    if not main:
        console = Console(quiet=True)  # one process speaks for all
    if interactive is None:
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
    ctx = RunContext(cfg, cfg.run_dir, console, progress=progress and main, interactive=interactive and main)
    lo, hi = _select(start, until)
    if main:
        ctx.run_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(ctx.run_dir / "config.yaml", cfg.to_yaml())
    result = RunResult(ctx.run_dir)
    outputs: dict[str, str] = {}
    for i, name in enumerate(STAGES):
        stage = PIPELINE[name]
        tag = f"\\[{i + 1}/{len(STAGES)}] {name:<9}"
        in_hash = _input_hash(ctx, stage, outputs)
        rerun = force or (start is not None and i >= lo)
        done = share_from_main(_is_done(ctx, stage, in_hash, check=not rerun and i <= hi, tag=tag) if main else None)
        if i > hi or (done and not rerun):
            if not done:
                # an unfinished stage after --until: nothing downstream can be trusted
                break
            outputs[name] = share_from_main(_output_hash(ctx, stage, in_hash) if main else None)
            if i <= hi:
                result.stages.append(StageReport(name, "skipped", 0.0, "unchanged"))
                console.print(f"[dim]{tag} skipped (unchanged)[/dim]")
            continue
        console.print(f"[bold]{tag}[/bold] running ...")
        t0 = time.perf_counter()
        status, note = _execute(ctx, stage)
        secs = time.perf_counter() - t0
        if status == "stopped":
            result.stages.append(StageReport(name, "stopped", secs, note))
            result.stopped = note
            console.print(f"[yellow]{tag} stopped: {note}[/yellow]")
            return result
        if main:
            stamp_file = _stamp_path(ctx, name)
            stamp_file.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(stamp_file, json.dumps({"input": in_hash, "seconds": round(secs, 3), "note": note}))
        # also the barrier after the stage: nobody reads on before rank 0 has written
        outputs[name] = share_from_main(_output_hash(ctx, stage, in_hash) if main else None)
        result.stages.append(StageReport(name, "ran", secs, note))
        console.print(f"[green]{tag} done in {_fmt_secs(secs)}[/green]  {note}")
    return result


def _is_done(ctx: RunContext, stage: Stage, in_hash: str, check: bool, tag: str) -> bool:
    """The stage ran on these inputs and its artifacts are there (and, with check, readable)."""
    stamp = _read_stamp(ctx, stage.name)
    done = stamp is not None and stamp.get("input") == in_hash and all(p.exists() for p in stage.artifacts(ctx))
    if done and check and stage.check is not None and (problem := stage.check(ctx)):
        ctx.console.print(f"[yellow]{tag} {problem}; running it again[/yellow]")
        return False
    return done


def _execute(ctx: RunContext, stage: Stage) -> tuple[str, str]:
    """("ran", note) or ("stopped", why). A stage that does not train runs in rank 0 only;
    the other ranks get its outcome, or an error naming rank 0's failure instead of waiting
    forever for a stage that will never finish."""
    if stage.all_ranks or world_size() <= 1:
        return _outcome(ctx, stage)
    if not is_main_process():
        status, note = share_from_main(None)
        if status == "failed":
            raise AuditorError(f"stage {stage.name} failed in rank 0: {note}")
        return status, note
    try:
        outcome = _outcome(ctx, stage)
    except BaseException as err:
        share_from_main(("failed", str(err).splitlines()[0] if str(err) else type(err).__name__))
        raise
    return share_from_main(outcome)


def _outcome(ctx: RunContext, stage: Stage) -> tuple[str, str]:
    try:
        return "ran", stage.run(ctx) or ""
    except StopPipeline as stop:
        return "stopped", str(stop)


def _output_hash(ctx: RunContext, stage: Stage, in_hash: str) -> str:
    if stage.output_state is None:
        return in_hash
    return _hash([in_hash, stage.output_state(ctx)])


def _fmt_secs(secs: float) -> str:
    return f"{secs:.1f} s" if secs < 120 else f"{secs / 60:.1f} min"


def run_summary(result: RunResult, cfg: PipelineConfig) -> dict:
    """What `auditor run --json` prints: each stage's outcome, the report and every F1."""
    report = cfg.report_dir / "report.html"
    retrain = read_metrics(result.run_dir).get("retrain") or {}
    f1 = [
        {"experiment": e["name"], "model": r["model"], "labels": r["labels"], "lang": r["lang"], "f1": r["f1"]}
        for e in retrain.get("experiments") or []
        for r in e["results"]
    ]
    return {
        "run_dir": str(result.run_dir),
        "stopped": result.stopped,
        "stages": [{"name": s.name, "status": s.status, "seconds": round(s.seconds, 3), "note": s.note} for s in result.stages],
        "report": {"html": str(report), "markdown": str(report.with_suffix(".md"))} if report.exists() else None,
        "f1": f1,
    }


def f1_summary_table(run_dir: Path) -> Table | None:
    """Entity F1 before and after cleaning from metrics.json (auditor.f1_summary)."""
    from auditor.f1_summary import f1_summary_table as table

    return table(read_metrics(run_dir).get("retrain") or {})
