"""The export stage: cleaned/ in each of export.formats, pushed to the Hub when
export.push_to_hub names a repository.

`export_run` is the one body: the pipeline's export stage and `auditor export` both call it,
so both refuse a run without cleaned/ with the same line and both push when asked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from auditor.errors import AuditorError
from auditor.run_dir import RunDir
from auditor.stages.context import RunContext


@dataclass
class Exported:
    fmt: str
    path: Path
    url: str | None = None  # where it was pushed


def export_run(rd: RunDir, targets: dict[str, Path], *, force: bool = False, push: str | None = None) -> list[Exported]:
    """Write cleaned/ in each format to its folder (targets: format -> folder) with its dataset
    card; with push, upload it (the hf export when there is one, else the corpus) to that Hub
    repository (private). Every failure is one AuditorError line."""
    from auditor.export import ALL_FORMATS
    from auditor.run_lock import run_lock

    for fmt in targets:
        if fmt not in ALL_FORMATS:
            raise AuditorError(f"--format {fmt!r} is not one of {', '.join(ALL_FORMATS)}")
    with run_lock(rd, "auditor export"):
        return _export(rd, targets, force, push)


def _export(rd: RunDir, targets: dict[str, Path], force: bool, push: str | None) -> list[Exported]:
    from auditor.export import export_corpus, push_to_hub

    if not rd.cleaned.is_dir():
        raise AuditorError(f"{rd.path}: no cleaned corpus (cleaned/); run `auditor apply {rd.path}` first")
    cleaned = rd.read_cleaned()
    done = [Exported(fmt, export_corpus(cleaned, fmt, dest, force=force, run_dir=rd.path)) for fmt, dest in targets.items()]
    if push:
        hf = next((e for e in done if e.fmt == "hf"), None)
        target = hf or done[0]
        target.url = push_to_hub(hf.path if hf else cleaned, push, private=True)
    return done


def run(ctx: RunContext) -> str:
    exp = ctx.cfg.export
    done = export_run(ctx.rd, {fmt: ctx.export_dir / fmt for fmt in exp.formats}, force=True, push=exp.push_to_hub)
    pushed = [f"pushed (private): {e.url}" for e in done if e.url]
    return ", ".join([str(e.path) for e in done] + pushed)
