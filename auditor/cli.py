"""The `auditor` command. Each command parses options and calls one library function;
heavy imports (torch, transformers, textual) happen inside the commands so `--help` is fast.

Errors a user can cause (AuditorError) end as one line on stderr and exit code 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from auditor.errors import AuditorError

app = typer.Typer(
    name="auditor",
    help="Find, review and fix label errors in multilingual NER corpora.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def main() -> None:
    try:
        app()
    except AuditorError as err:
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.secho("interrupted: finished stages are kept; run the same command again to resume", err=True)
        sys.exit(130)


# --- commands are added below, one function each ---------------------------------------

STAGE_HELP = "one of load, crossval, score, review, apply, retrain, report, export"


def _finish_run(result, cfg) -> None:
    from rich.console import Console

    from auditor.pipeline import f1_summary_table

    console = Console()
    if result.stopped:
        console.print(f"[yellow]{result.stopped}[/yellow]")
        return
    table = f1_summary_table(result.run_dir)
    if table is not None:
        console.print(table)
    report = cfg.report_dir / "report.html"
    if report.exists():
        console.print(f"report: {report}  (and {report.with_suffix('.md')})")
    console.print(f"run directory: {result.run_dir}")


@app.command()
def run(
    pipeline: Annotated[Path, typer.Argument(help="a pipeline YAML file, e.g. pipelines/demo.yaml")],
    until: Annotated[Optional[str], typer.Option("--until", help=f"stop after this stage ({STAGE_HELP})")] = None,
    start: Annotated[Optional[str], typer.Option("--from", help="re-run this stage and all later ones")] = None,
    force: Annotated[bool, typer.Option("--force", help="re-run every stage")] = False,
    name: Annotated[Optional[str], typer.Option("--name", help="run name (default: the pipeline's name)")] = None,
    runs_dir: Annotated[Optional[Path], typer.Option("--runs-dir", help="where run folders live")] = None,
) -> None:
    """Run an audit-retrain cycle; unchanged stages are skipped, an interrupted run resumes."""
    from auditor.config import load_config
    from auditor.pipeline import run_pipeline

    overrides: dict = {}
    if name:
        overrides["name"] = name
    if runs_dir:
        overrides["runs_dir"] = str(runs_dir)
    cfg = load_config(pipeline, overrides)
    result = run_pipeline(cfg, until=until, start=start, force=force)
    _finish_run(result, cfg)


@app.command()
def demo(
    runs_dir: Annotated[Path, typer.Option("--runs-dir", help="where the run folder goes")] = Path("runs"),
    name: Annotated[str, typer.Option("--name", help="run name")] = "demo",
    force: Annotated[bool, typer.Option("--force", help="re-run every stage")] = False,
) -> None:
    """The whole cycle on the embedded synthetic corpus with the tiny model, offline, on a CPU.

    In a terminal the review UI opens at the review stage; otherwise decisions come from
    the corpus's recorded clean tags (an oracle curator), and the report says so.
    """
    from importlib.resources import files

    from auditor.config import load_config
    from auditor.pipeline import run_pipeline

    demo_yaml = Path(str(files("auditor") / "demo.yaml"))
    cfg = load_config(demo_yaml, {"name": name, "runs_dir": str(runs_dir)})
    result = run_pipeline(cfg, force=force)
    _finish_run(result, cfg)
