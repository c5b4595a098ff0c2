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
from auditor.errors import AuditorError
from auditor.metrics import read_metrics, update_metrics

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
    from auditor.data.build import load_corpus
    from auditor.data.stats import corpus_stats

    corpus = load_corpus(ctx.cfg.data)
    with atomic_path(ctx.corpus_dir, is_dir=True) as tmp:
        corpus.save_to_disk(str(tmp))
    stats = corpus_stats(corpus)
    update_metrics(ctx.run_dir, "corpus", stats.to_dict())
    n = sum(len(s) for s in corpus.values())
    return f"{n} sentences, splits {', '.join(corpus)}"


def _run_crossval(ctx: RunContext) -> str:
    from auditor.modeling.crossval import run_crossval

    result = run_crossval(ctx.load_corpus(), ctx.cfg, ctx.run_dir, progress=ctx.progress)
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
    result = score_corpus(corpus, preds, ctx.cfg.scoring, progress=ctx.progress)
    write_issues(result.issues, ctx.issues_path)
    update_metrics(ctx.run_dir, "scoring", result.summary.to_dict())
    note = f"{len(result.issues)} issues"
    audited = {s: corpus[s] for s in ctx.cfg.data.audit if s in corpus}
    if audited and all(has_clean_tags(d) for d in audited.values()):
        from auditor.scoring.detection import evaluate_detection

        report = evaluate_detection(corpus, result.issues, preds, ctx.cfg.scoring)
        update_metrics(ctx.run_dir, "detection", report.to_dict())
        combined = next((r for r in report.to_dict()["span"] if r["method"] == "combined"), None)
        if combined:
            note += f", span AP {combined['ap']:.3f} against known clean tags"
    return note


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

        run_review(ctx.run_dir, curator=review.curator)
        update_metrics(ctx.run_dir, "review", _store_summary(ctx, "interactive"))
        return f"{len(DecisionStore(ctx.store_path).latest())} decisions"
    issues = read_issues(ctx.issues_path)
    store = DecisionStore(ctx.store_path, curator=review.curator)
    summary = apply_policy(issues, ctx.load_corpus(), review.model_copy(update={"policy": policy}), store)
    update_metrics(ctx.run_dir, "review", summary.to_dict())
    return f"policy {policy}: {summary.decided} of {summary.total} issues decided"


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
    from auditor.cleaning import apply_decisions, save_cleaned
    from auditor.review.store import DecisionStore
    from auditor.tables import read_issues

    decisions = DecisionStore(ctx.store_path).latest() if ctx.store_path.exists() else {}
    result = apply_decisions(ctx.load_corpus(), read_issues(ctx.issues_path), decisions)
    save_cleaned(result, ctx.run_dir)
    summary = result.summary.to_dict()
    update_metrics(ctx.run_dir, "apply", summary)
    stale = f", {summary['stale']} stale decisions not applied" if summary.get("stale") else ""
    return f"{summary['changed_sentences']} sentences changed{stale}"


def _run_retrain(ctx: RunContext) -> str:
    if not ctx.cfg.retrain.enabled:
        update_metrics(ctx.run_dir, "retrain", {"experiments": [], "disabled": True})
        return "disabled in config"
    from datasets import load_from_disk

    from auditor.evaluation import run_retrain

    original = ctx.load_corpus()
    cleaned = load_from_disk(str(ctx.cleaned_dir))
    result = run_retrain(original, cleaned, ctx.cfg, ctx.run_dir, progress=ctx.progress)
    retrain = result.to_dict()
    update_metrics(ctx.run_dir, "retrain", retrain)
    _write_model_cards(ctx, original, retrain)
    note = f"{len(retrain['experiments'])} experiment(s)"
    if "validation" in original:
        from auditor.analysis import run_analysis

        run_analysis(ctx.run_dir, split="validation", model="after", progress=ctx.progress)
        note += ", error analysis on validation"
    if ctx.cfg.curve.enabled:
        from auditor.analysis import run_curve

        run_curve(original, cleaned, ctx.cfg, ctx.run_dir, progress=ctx.progress)
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


PIPELINE: dict[str, Stage] = {
    s.name: s
    for s in [
        Stage("load", ("data",), (), _run_load, _paths("corpus")),
        Stage("crossval", ("model", "crossval", "training"), ("load",), _run_crossval, _paths("predictions.parquet")),
        Stage("score", ("scoring",), ("crossval",), _run_score, _paths("issues.parquet")),
        Stage("review", ("review",), ("score",), _run_review, lambda ctx: [], output_state=_decision_digest),
        Stage("apply", (), ("review",), _run_apply, _paths("cleaned")),
        Stage("retrain", ("retrain", "training", "model", "curve"), ("apply",), _run_retrain, lambda ctx: []),
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
    return _hash({"stage": stage.name, "version": __version__, "config": sections, "deps": [outputs[d] for d in stage.deps]})


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
    """
    if console is None:
        from auditor.output import console as make_console

        console = make_console(stderr=True)
    if interactive is None:
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
    ctx = RunContext(cfg, cfg.run_dir, console, progress=progress, interactive=interactive)
    ctx.run_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(ctx.run_dir / "config.yaml", cfg.to_yaml())
    lo, hi = _select(start, until)
    result = RunResult(ctx.run_dir)
    outputs: dict[str, str] = {}
    for i, name in enumerate(STAGES):
        stage = PIPELINE[name]
        in_hash = _input_hash(ctx, stage, outputs)
        stamp = _read_stamp(ctx, name)
        done = stamp is not None and stamp.get("input") == in_hash and all(p.exists() for p in stage.artifacts(ctx))
        rerun = force or (start is not None and i >= lo)
        if i > hi or (done and not rerun):
            if not done:
                # an unfinished stage after --until: nothing downstream can be trusted
                break
            outputs[name] = _output_hash(ctx, stage, in_hash)
            if i <= hi:
                result.stages.append(StageReport(name, "skipped", 0.0, "unchanged"))
                console.print(f"[dim]\\[{i + 1}/{len(STAGES)}] {name:<9} skipped (unchanged)[/dim]")
            continue
        console.print(f"[bold]\\[{i + 1}/{len(STAGES)}] {name:<9}[/bold] running ...")
        t0 = time.perf_counter()
        try:
            note = stage.run(ctx) or ""
        except StopPipeline as stop:
            secs = time.perf_counter() - t0
            result.stages.append(StageReport(name, "stopped", secs, str(stop)))
            result.stopped = str(stop)
            console.print(f"[yellow]\\[{i + 1}/{len(STAGES)}] {name:<9} stopped: {stop}[/yellow]")
            return result
        secs = time.perf_counter() - t0
        out_hash = _output_hash(ctx, stage, in_hash)
        stamp_file = _stamp_path(ctx, name)
        stamp_file.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(stamp_file, json.dumps({"input": in_hash, "seconds": round(secs, 3), "note": note}))
        outputs[name] = out_hash
        result.stages.append(StageReport(name, "ran", secs, note))
        console.print(f"[green]\\[{i + 1}/{len(STAGES)}] {name:<9} done in {_fmt_secs(secs)}[/green]  {note}")
    return result


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
    """Entity F1 per experiment and test language, before and after cleaning, from metrics.json.

    Silver rows are left out when they equal the clean ones (an unnoised test split).
    """
    retrain = read_metrics(run_dir).get("retrain") or {}
    experiments = retrain.get("experiments") or []
    if not experiments:
        return None
    langs = sorted({r["lang"] for e in experiments for r in e["results"]})
    table = Table(title="Entity F1 on the test split, before and after cleaning")
    for col in ("train", "labels", "model"):
        table.add_column(col)
    for lang in langs:
        table.add_column(lang, justify="right")
    for exp in experiments:
        by = {(r["model"], r["labels"], r["lang"]): r["f1"] for r in exp["results"]}
        label_sets = [lab for lab in ("clean", "reviewed", "silver") if any(k[1] == lab for k in by)]
        if "clean" in label_sets and "silver" in label_sets:
            if all(by.get((m, "clean", g)) == by.get((m, "silver", g)) for m in ("before", "after") for g in langs):
                label_sets.remove("silver")
        for labels in label_sets:
            before = [by.get(("before", labels, g)) for g in langs]
            after = [by.get(("after", labels, g)) for g in langs]
            table.add_row(exp["name"], labels, "before", *("-" if b is None else f"{b:.3f}" for b in before))
            cells = []
            for b, a in zip(before, after):
                if a is None:
                    cells.append("-")
                    continue
                d = 0.0 if b is None else a - b
                colour = "green" if d > 0.0005 else "red" if d < -0.0005 else "dim"
                cells.append(f"{a:.3f} [{colour}]{d:+.3f}[/{colour}]")
            table.add_row("", "", "after", *cells, end_section=True)
    return table
