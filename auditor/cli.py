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


@app.command()
def inspect(
    source: Annotated[str, typer.Argument(help="a data file, a folder, a pipeline YAML, or `demo`")],
    format: Annotated[
        Optional[str], typer.Option("--format", help="conll | jsonl | parquet | disk | synthetic (default: from the name)")
    ] = None,
    lang: Annotated[Optional[str], typer.Option("--lang", help="only this language (also the language of files without one)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the statistics as JSON")] = False,
) -> None:
    """Corpus statistics: sentences, tokens and entities per split and language, IOB2 problems."""
    import json

    from auditor.data.build import load_corpus_with_report
    from auditor.data.stats import corpus_stats, inspect_config, print_stats

    if format is not None and format not in ("conll", "jsonl", "parquet", "disk", "synthetic"):
        raise AuditorError(f"--format {format}: expected conll, jsonl, parquet, disk or synthetic")
    cfg = inspect_config(source, format, lang)
    loaded = load_corpus_with_report(cfg, progress=not as_json)
    stats = corpus_stats(loaded.corpus, loaded.report)
    if as_json:
        typer.echo(json.dumps(stats.to_dict(), ensure_ascii=False, indent=2))
    else:
        print_stats(stats, title=source)


@app.command()
def tag(
    target: Annotated[Path, typer.Argument(help="a run directory (runs/<name>) or a saved token-classification model folder")],
    text: Annotated[Optional[str], typer.Argument(help="the sentence to tag (or use --file)")] = None,
    file: Annotated[Optional[Path], typer.Option("--file", help="a UTF-8 text file, one sentence per line ('-' = stdin)")] = None,
    model: Annotated[str, typer.Option("--model", help="with a run: the 'before' or 'after' cleaning model")] = "after",
    experiment: Annotated[Optional[str], typer.Option("--experiment", help="with a run: the retrain experiment (default: 'all', else the first)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON (words, tags, confidences, entities) instead of tables")] = False,
) -> None:
    """Tag sentences word by word with a trained model: predicted tag and its probability."""
    import json

    from rich.console import Console

    from auditor.analysis.render import entities_line, tagged_table
    from auditor.analysis.tagging import read_sentences, tag_texts

    if (text is None) == (file is None):
        raise AuditorError("give either a sentence or --file FILE (one sentence per line), not both or neither")
    texts = [text] if text is not None else read_sentences(file)
    result = tag_texts(target, texts, model=model, experiment=experiment)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    console = Console()
    console.print(f"[dim]model: {result.model}[/dim]")
    for i, sentence in enumerate(result.sentences):
        console.print(tagged_table(sentence, title=None if len(texts) == 1 else f"sentence {i + 1}"))
        console.print(entities_line(sentence))


@app.command()
def review(
    run_dir: Annotated[Path, typer.Argument(help="a run folder holding issues.parquet (after the score stage)")],
    curator: Annotated[Optional[str], typer.Option("--curator", help="name on your decisions (default: OS user)")] = None,
    shard: Annotated[Optional[str], typer.Option("--shard", help="review only part i of n of the queue, e.g. 1/3")] = None,
    store: Annotated[Optional[Path], typer.Option("--store", help="decision store (default: RUN_DIR/review.sqlite)")] = None,
) -> None:
    """Review the ranked issues in a terminal UI; every decision is saved as you make it."""
    from auditor.review.app import run_review

    run_review(run_dir, curator=curator, shard=shard, store=store)


@app.command("apply")
def apply_cmd(
    run_dir: Annotated[Path, typer.Argument(help="a run folder with corpus/, issues.parquet and review.sqlite")],
) -> None:
    """Apply the review decisions: writes RUN_DIR/cleaned and RUN_DIR/changelog.parquet."""
    from rich.console import Console

    from auditor.cleaning import apply_run

    result = apply_run(run_dir)
    s = result.summary
    console = Console()
    actions = ", ".join(f"{n} {a}" for a, n in s.by_action.items()) or "none"
    console.print(f"decisions: {s.decisions} ({actions})")
    console.print(f"changed: {s.changed_sentences} sentence(s), {s.changed_tokens} token(s)")
    if s.repaired:
        console.print(f"IOB2 repairs at span edges: {s.repaired} (in the changelog)")
    for c in result.conflicts[:5]:
        console.print(f"[yellow]conflict[/yellow] {c.id}: {c.later} overrides {c.earlier} on words {list(c.words)}")
    if s.stale:
        console.print(f"[yellow]{s.stale} stale decision(s) not applied[/yellow]")
        for st in result.stale[:5]:
            console.print(f"  {st.issue_id}: {st.reason}")
    console.print(f"cleaned corpus: {run_dir / 'cleaned'}; changelog: {run_dir / 'changelog.parquet'}")
