"""The runner of the audit-retrain cycle: stages over a run directory (their bodies are in
auditor.stages, one module each).

    load -> crossval -> score -> review -> apply -> retrain -> judge -> report -> export

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

from auditor.atomic import write_text_atomic
from auditor.config import PipelineConfig
from auditor.distributed import is_main_process, share_from_main, world_size
from auditor.errors import AuditorError
from auditor.metrics import drop_metrics
from auditor.run_dir import RunDir
from auditor.run_lock import run_lock
from auditor.stages import apply, crossval, export, judge, load, report, retrain, review, score
from auditor.stages.context import RunContext, StopPipeline

__all__ = ["PIPELINE", "STAGES", "RunContext", "RunResult", "Stage", "StageReport", "StopPipeline", "run_pipeline"]

STAGES = ("load", "crossval", "score", "review", "apply", "retrain", "judge", "report", "export")


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
    # dotted config keys inside config_keys that do not feed this stage (another stage reads
    # them): they hash as unset, so changing one skips this stage
    ignored_config: tuple[str, ...] = ()
    # metrics.json sections the stage writes: dropped before it runs, so a section it no longer
    # writes (curve disabled, no clean tags for detection) does not outlive it
    sections: tuple[str, ...] = ()
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


def _paths(*paths: Callable[[RunDir], Path]) -> Callable[[RunContext], list[Path]]:
    """Artifacts as RunDir properties (e.g. RunDir.issues)."""
    return lambda ctx: [p.fget(ctx.rd) for p in paths]


PIPELINE: dict[str, Stage] = {
    s.name: s
    for s in [
        Stage(
            "load", ("data",), (), load.run, _paths(RunDir.corpus), check=load.check, input_state=load.input_state,
            sections=("corpus",),
        ),
        Stage(
            "crossval", ("model", "crossval", "training"), ("load",), crossval.run, _paths(RunDir.predictions),
            check=crossval.check, input_state=crossval.input_state, sections=("crossval",), all_ranks=True,
        ),
        Stage(
            "score", ("scoring",), ("crossval",), score.run, _paths(RunDir.issues), check=score.check,
            input_state=score.reference_digest, sections=("scoring", "detection"),
        ),
        # the store is the review's artifact: if it vanishes, the review runs again (a policy
        # re-decides, a curator is asked) instead of apply emptying the cleaning
        Stage(
            "review", ("review",), ("score",), review.run, _paths(RunDir.store), output_state=review.decision_digest,
            sections=("review", "adaptive"),
        ),
        Stage(
            "apply", (), ("review",), apply.run, _paths(RunDir.cleaned, RunDir.changelog), check=apply.check,
            input_state=apply.input_state, sections=("apply",),
        ),
        Stage(
            "retrain", ("retrain", "training", "model", "curve"), ("apply",), retrain.run, retrain.artifacts,
            check=retrain.check, input_state=retrain.input_state, ignored_config=retrain.IGNORED_CONFIG,
            sections=("analysis", "curve"), all_ranks=True,
        ),
        # scores the kept test predictions: more verified test sentences re-judge, never retrain
        Stage("judge", ("retrain", "training"), ("retrain",), judge.run, lambda ctx: [], input_state=judge.input_state,
              sections=("retrain",)),
        Stage(
            "report", ("report",), ("judge",), report.run, lambda ctx: [ctx.cfg.report_dir / "report.html"],
            sections=("report",),
        ),
        Stage("export", ("export",), ("apply",), export.run, lambda ctx: [ctx.export_dir / f for f in ctx.cfg.export.formats]),
    ]
}


# --- the runner ----------------------------------------------------------------------


def _hash(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _stamp_path(ctx: RunContext, stage: str) -> Path:
    return ctx.rd.stamp(stage)


def _read_stamp(ctx: RunContext, stage: str) -> dict | None:
    path = _stamp_path(ctx, stage)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _input_hash(ctx: RunContext, stage: Stage, outputs: dict[str, str]) -> str:
    from auditor import __version__

    sections = {k: getattr(ctx.cfg, k).model_dump(mode="json") for k in stage.config_keys}
    for dotted in stage.ignored_config:
        top, _, key = dotted.partition(".")
        if top in sections and key in sections[top]:
            sections[top][key] = None
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
    ctx = RunContext(cfg, cfg.run_dir, console, progress=progress and main, interactive=interactive and main, force=force)
    lo, hi = _select(start, until)
    if not main:
        return _run_stages(ctx, lo, hi, start, force)
    # one writer per run folder: a second `auditor run` (or apply, export) waits for this one
    with run_lock(ctx.rd, "auditor run", say=lambda line: console.print(f"[yellow]{line}[/yellow]"), create=True):
        ctx.rd.write_config(cfg)
        return _run_stages(ctx, lo, hi, start, force)


def _run_stages(ctx: RunContext, lo: int, hi: int, start: str | None, force: bool) -> RunResult:
    main, console = is_main_process(), ctx.console
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
        if main and stage.sections:
            drop_metrics(ctx.run_dir, list(stage.sections))
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
