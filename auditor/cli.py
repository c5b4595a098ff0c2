"""The `auditor` command. Each command parses options and calls one library function;
heavy imports (torch, transformers, textual) happen inside the commands so `--help` is fast.

Errors a user can cause (AuditorError) end as one line on stderr and exit code 2.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

from auditor.errors import AuditorError, os_error_line
from auditor.run_dir import RunDir


class _Interrupted(Exception):
    """Ctrl-C inside a command. Typer turns a KeyboardInterrupt into a silent exit 130 before
    main() sees it, so it travels past Typer under this name instead."""


def _caused_by_interrupt(err: BaseException) -> bool:
    """True when Ctrl-C is somewhere in err's chain: an import the interrupt cut short fails
    with e.g. ImportError("initialization failed") raised from the KeyboardInterrupt."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, KeyboardInterrupt):
            return True
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return False


class _Group(TyperGroup):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise _Interrupted() from None
        except Exception as err:
            if _caused_by_interrupt(err):
                raise _Interrupted() from None
            raise


def _forget_caught_interrupt() -> None:
    """CPython remembers a KeyboardInterrupt that escaped any exec() of a string (scikit-learn
    and scipy run some at import) even after it was caught, and `python -m auditor` then dies
    by SIGINT after our exit(130). Every exec() of a string starts by clearing that memory."""
    exec("pass")


app = typer.Typer(
    name="auditor",
    help="Find, review and fix label errors in multilingual NER corpora.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_Group,
)


def main() -> None:
    import os

    from auditor.progress import quiet_logs_environment
    from auditor.runtime import prepare_openmp_environment

    # the stages report their own progress; datasets' per-map bars are noise around them
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    # both are read once, when torch/tqdm are first imported: that is inside the commands
    prepare_openmp_environment()
    quiet_logs_environment()
    try:
        app()
    except AuditorError as err:
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        sys.exit(2)
    except OSError as err:  # permissions, a full or read-only disk: the user's to fix
        typer.secho(f"error: {os_error_line(err)}", fg=typer.colors.RED, err=True)
        sys.exit(2)
    except (KeyboardInterrupt, _Interrupted):
        typer.secho("interrupted: finished stages are kept; run the same command again to resume", err=True)
        _forget_caught_interrupt()
        sys.exit(130)


# --- commands are added below, one function each ---------------------------------------

STAGE_HELP = "one of load, crossval, score, review, apply, retrain, judge, report, export"
JsonOption = Annotated[bool, typer.Option("--json", help="print the results as one JSON document on stdout")]
ThreadsOption = Annotated[
    int | None,
    typer.Option("--threads", min=0, help="torch CPU threads (default: runtime.threads; 0 = from the CPUs this process may use)"),
]


def _apply_threads(threads: int | None, cfg=None, announce: bool = False) -> None:
    """The thread policy, once, before any heavy work: --threads, else the config's runtime.threads."""
    from auditor.runtime import apply_thread_policy

    policy = apply_thread_policy(threads if threads is not None else (cfg.runtime.threads if cfg is not None else None))
    if announce:
        typer.secho(f"runtime: {policy.describe()}", err=True, dim=True)


def _finish_run(result, cfg, as_json: bool = False) -> None:
    from auditor.distributed import is_main_process
    from auditor.output import console as make_console
    from auditor.output import print_json
    from auditor.summary import f1_summary_table, run_summary

    if not is_main_process():  # under torchrun, rank 0 speaks for every process
        return
    if as_json:
        print_json(run_summary(result, cfg))
        return
    console = make_console()
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
    if cfg.scoring.reference.file is None:
        # the one thing a corpus-trained model cannot see is a wrong convention; say how to fix that
        console.print(
            f"[dim]errors the model agrees with: `auditor sample {result.run_dir} --out verified.jsonl`, "
            "check it with `auditor verify verified.jsonl`, set scoring.reference.file (README: A verified sample)[/dim]"
        )


@app.command()
def run(
    pipeline: Annotated[Path, typer.Argument(help="a pipeline YAML file, e.g. pipelines/demo.yaml")],
    until: Annotated[str | None, typer.Option("--until", help=f"stop after this stage ({STAGE_HELP})")] = None,
    start: Annotated[str | None, typer.Option("--from", help="re-run this stage and all later ones")] = None,
    force: Annotated[bool, typer.Option("--force", help="re-run every stage")] = False,
    name: Annotated[str | None, typer.Option("--name", help="run name (default: the pipeline's name)")] = None,
    runs_dir: Annotated[Path | None, typer.Option("--runs-dir", help="where run folders live")] = None,
    threads: ThreadsOption = None,
    as_json: JsonOption = False,
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
    _apply_threads(threads, cfg, announce=True)
    result = run_pipeline(cfg, until=until, start=start, force=force)
    _finish_run(result, cfg, as_json)


@app.command()
def demo(
    runs_dir: Annotated[Path, typer.Option("--runs-dir", help="where the run folder goes")] = Path("runs"),
    name: Annotated[str, typer.Option("--name", help="run name")] = "demo",
    force: Annotated[bool, typer.Option("--force", help="re-run every stage")] = False,
    threads: ThreadsOption = None,
    as_json: JsonOption = False,
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
    _apply_threads(threads, cfg, announce=True)
    result = run_pipeline(cfg, force=force)
    _finish_run(result, cfg, as_json)


@app.command()
def inspect(
    source: Annotated[str, typer.Argument(help="a data file, a folder, a pipeline YAML, or `demo`")],
    format: Annotated[
        str | None, typer.Option("--format", help="conll | jsonl | parquet | disk | synthetic | spacy | prodigy | labelstudio | doccano | brat (default: from the name and content)")
    ] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="only this language (also the language of files without one)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the statistics as JSON")] = False,
) -> None:
    """Corpus statistics: sentences, tokens and entities per split and language, IOB2 problems."""
    import json

    from auditor.data.build import load_corpus_with_report
    from auditor.data.sniff import inspect_config
    from auditor.data.sources import TOOL_FORMATS
    from auditor.data.stats import corpus_stats, print_stats

    if format is not None and format not in ("conll", "jsonl", "parquet", "disk", "synthetic", *TOOL_FORMATS):
        raise AuditorError(f"--format {format}: expected conll, jsonl, parquet, disk, synthetic or {', '.join(TOOL_FORMATS)}")
    cfg = inspect_config(source, format, lang)
    loaded = load_corpus_with_report(cfg, progress=not as_json)
    stats = corpus_stats(loaded.corpus, loaded.report, cfg.train_splits)
    if as_json:
        typer.echo(json.dumps(stats.to_dict(), ensure_ascii=False, indent=2))
    else:
        from auditor.output import console

        out = console()
        print_stats(stats, console=out, title=source)
        for line in loaded.report.rare_types:  # a typo tag (B-PRE) invents a type: say where
            out.print(f"[yellow]rare entity type: {line}[/yellow]")


@app.command()
def tag(
    target: Annotated[Path, typer.Argument(help="a run directory (runs/<name>) or a saved token-classification model folder")],
    text: Annotated[str | None, typer.Argument(help="the sentence to tag (or use --file)")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="a UTF-8 text file, one sentence per line ('-' = stdin)")] = None,
    model: Annotated[str, typer.Option("--model", help="with a run: the 'before' or 'after' cleaning model")] = "after",
    experiment: Annotated[str | None, typer.Option("--experiment", help="with a run: the retrain experiment (default: 'all', else the first)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON (words, tags, confidences, entities) instead of tables")] = False,
    threads: ThreadsOption = None,
) -> None:
    """Tag sentences word by word with a trained model: predicted tag and its probability."""
    import json

    from auditor.analysis.render import entities_line, tagged_table
    from auditor.analysis.tagging import read_sentences, tag_texts
    from auditor.output import console as make_console

    if (text is None) == (file is None):
        raise AuditorError("give either a sentence or --file FILE (one sentence per line), not both or neither")
    texts = [text] if text is not None else read_sentences(file)
    _apply_threads(threads)
    # a long file takes a while on a CPU: show the prediction bar (stderr, so --json stays clean)
    result = tag_texts(target, texts, model=model, experiment=experiment, progress=len(texts) > 50)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    console = make_console()
    console.print(f"[dim]model: {result.model}[/dim]")
    for i, sentence in enumerate(result.sentences):
        console.print(tagged_table(sentence, title=None if len(texts) == 1 else f"sentence {i + 1}"))
        console.print(entities_line(sentence))


@app.command()
def review(
    run_dir: Annotated[Path, typer.Argument(help="a run folder holding issues.parquet (after the score stage)")],
    curator: Annotated[str | None, typer.Option("--curator", help="name on your decisions (default: OS user)")] = None,
    shard: Annotated[str | None, typer.Option("--shard", help="review only part i of n of the queue, e.g. 1/3")] = None,
    store: Annotated[Path | None, typer.Option("--store", help="decision store (default: RUN_DIR/review.sqlite)")] = None,
    stats: Annotated[bool, typer.Option("--stats", help="print decisions per curator, language, kind and the conflicts; no UI")] = False,
    backup: Annotated[
        Path | None, typer.Option("--backup", help="copy the store to this new file, consistently, even while curators work; no UI")
    ] = None,
    adaptive: Annotated[
        bool | None,
        typer.Option("--adaptive/--no-adaptive", help="start in the adaptive order (default: the run's review.adaptive.enabled; key o toggles)"),
    ] = None,
) -> None:
    """Review the ranked issues in a terminal UI; every decision is saved as you make it."""
    from auditor.review.app import run_adaptive_config, run_review, store_path
    from auditor.review.store import file_identity
    from auditor.stages.review import check_store_survived

    if stats or backup:
        from auditor.review.stats import print_stats, review_stats
        from auditor.review.store import DecisionStore

        path = store_path(run_dir, store)
        if not path.is_file():
            raise AuditorError(f"{path}: no decision store yet (nobody has reviewed this run)")
        with DecisionStore(path, read_only=True) as s:  # reading only: works on a read-only mount
            if backup:
                n = s.backup(backup)
                typer.echo(f"backed up {n} rows to {backup}")
            if stats:
                print_stats(review_stats(s, RunDir(run_dir).issues), path)
        return
    opened = file_identity(store_path(run_dir, store))
    run_review(run_dir, curator=curator, shard=shard, store=store, adaptive=run_adaptive_config(run_dir, adaptive))
    check_store_survived(store_path(run_dir, store), opened)


@app.command("apply")
def apply_cmd(
    run_dir: Annotated[Path, typer.Argument(help="a run folder with corpus/, issues.parquet and review.sqlite")],
    as_json: JsonOption = False,
) -> None:
    """Apply the review decisions: writes RUN_DIR/cleaned and RUN_DIR/changelog.parquet."""
    from auditor.output import console as make_console
    from auditor.output import print_json
    from auditor.stages.apply import apply_run, verified_note

    result = apply_run(RunDir(run_dir))
    s = result.summary
    if as_json:
        print_json({
            **s.to_dict(),
            "conflicts": [{"id": c.id, "words": list(c.words), "earlier": c.earlier, "later": c.later} for c in result.conflicts],
            "stale_decisions": [st.to_dict() for st in result.stale],
            "cleaned": str(RunDir(run_dir).cleaned),
            "changelog": str(RunDir(run_dir).changelog),
        })
        return
    console = make_console()
    actions = ", ".join(f"{n} {a}" for a, n in s.by_action.items()) or "none"
    console.print(f"decisions: {s.decisions} ({actions})")
    console.print(f"changed: {s.changed_sentences} sentence(s), {s.changed_tokens} token(s)")
    if s.verified_sentences is not None:
        console.print(verified_note(s).removeprefix("; "))
    if s.repaired:
        console.print(f"IOB2 repairs at span edges: {s.repaired} (in the changelog)")
    for c in result.conflicts[:5]:
        console.print(f"[yellow]conflict[/yellow] {c.id}: {c.later} overrides {c.earlier} on words {list(c.words)}")
    if s.stale:
        console.print(f"[yellow]{s.stale} stale decision(s) not applied[/yellow]")
        for st in result.stale:  # every one: each is a decision the corpus does not have
            console.print(f"  {st.issue_id} ({st.action}): {st.reason}")
    console.print(f"cleaned corpus: {RunDir(run_dir).cleaned}; changelog: {RunDir(run_dir).changelog}")


@app.command()
def analyze(
    run_dir: Annotated[Path, typer.Argument(help="a run directory (runs/<name>) with a trained model")],
    split: Annotated[str, typer.Option("--split", help="the corpus split to analyse")] = "validation",
    model: Annotated[str, typer.Option("--model", help="the 'before' or 'after' cleaning model")] = "after",
    experiment: Annotated[str | None, typer.Option("--experiment", help="the retrain experiment (default: 'all', else the first)")] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="only this language's sentences")] = None,
    sentences: Annotated[int, typer.Option("--sentences", help="how many of the worst sentences to print", min=0)] = 3,
    threads: ThreadsOption = None,
    as_json: JsonOption = False,
) -> None:
    """The chapter's error analysis: loss by token and tag, confusion matrix, worst sentences.

    Writes the tables to metrics.json["analysis"] and the confusion matrix figure to
    <run>/analysis/confusion_<split>.png.
    """
    from auditor.analysis.error_analysis import run_analysis
    from auditor.analysis.render import confusion_table, loss_table, sentence_table
    from auditor.output import console as make_console
    from auditor.output import print_json

    _apply_threads(threads)
    result = run_analysis(run_dir, split=split, model=model, experiment=experiment, lang=lang, progress=not as_json)
    d = result.to_dict()
    if as_json:
        print_json({**d, "figure": str(result.figure) if result.figure else None})
        return
    console = make_console()
    where = f", {lang}" if lang else ""
    console.print(
        f"[bold]{model}[/bold] model of experiment '{result.experiment}' on {split}{where}: "
        f"{result.n_sentences} sentences, {result.n_words} words, word accuracy {result.accuracy:.3f}"
    )
    console.print(loss_table(d["top_tokens"], "token", "Tokens with the highest summed loss (nats)"))
    console.print(loss_table(d["loss_per_tag"], "tag", "Loss per gold tag (nats)"))
    console.print(confusion_table(d["confusion"]["labels"], d["confusion"]["matrix"], "Normalized confusion matrix"))
    for s in d["worst_sentences"][:sentences]:
        console.print(sentence_table(s))
    console.print(f"figure: {result.figure}\ntables: {RunDir(run_dir).metrics} (section \"analysis\")")


@app.command()
def curve(
    pipeline: Annotated[Path, typer.Argument(help="a pipeline YAML file (model, training, data)")],
    target: Annotated[str | None, typer.Option("--target", help="the language to fine-tune on (default: curve.target)")] = None,
    source: Annotated[str | None, typer.Option("--source", help="zero-shot source language(s), e.g. de or de+fr (default: curve.source)")] = None,
    sizes: Annotated[str | None, typer.Option("--sizes", help="training sizes, comma-separated, e.g. 250,500,1000")] = None,
    run: Annotated[Path | None, typer.Option("--run", help="the run directory (its corpus, cleaned corpus and models); default: the pipeline's")] = None,
    threads: ThreadsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Learning curve: F1 on the target language vs fine-tuning sentences, against zero-shot
    transfer from the source, before and after cleaning when the run has a cleaned corpus."""
    from auditor.analysis.curve import run_curve
    from auditor.analysis.render import curve_table
    from auditor.config import load_config
    from auditor.output import console as make_console
    from auditor.output import print_json

    overrides: dict = {"curve": {}}
    if target:
        overrides["curve"]["target"] = target
    if source:
        overrides["curve"]["source"] = source
    if sizes:
        try:
            overrides["curve"]["sizes"] = [int(s) for s in sizes.split(",") if s.strip()]
        except ValueError:
            raise AuditorError(f"--sizes: expected comma-separated integers such as 250,500,1000, got '{sizes}'") from None
    cfg = load_config(pipeline, overrides)
    _apply_threads(threads, cfg)
    run_dir = run or cfg.run_dir
    if run is not None and not run.is_dir():
        raise AuditorError(f"--run {run}: no such run directory")
    rd = RunDir(run_dir)
    if rd.corpus.is_dir():
        corpus = rd.read_corpus()
    else:
        from auditor.data.build import load_corpus

        corpus = load_corpus(cfg.data, progress=True)
    cleaned = rd.read_cleaned() if rd.cleaned.is_dir() else None
    result = run_curve(corpus, cleaned, cfg, run_dir, progress=not as_json)
    if as_json:
        print_json(result.to_dict())
        return
    console = make_console()
    console.print(curve_table(result))
    if result.sizes and max(cfg.curve.sizes) > max(result.sizes):
        console.print(f"[yellow]sizes above {max(result.sizes)} (all of {result.target}'s training sentences) were capped[/yellow]")
    console.print(f"figure: {result.figure}\nnumbers: {RunDir(run_dir).metrics} (section \"curve\")")


@app.command("evaluate-detection")
def evaluate_detection_cmd(
    run_dir: Annotated[Path, typer.Argument(help="a scored run directory (issues.parquet, predictions.parquet, corpus/)")],
    truth: Annotated[
        Path | None, typer.Option("--truth", help="a corrected copy of the corpus (CoNLL/JSONL) with the clean tags")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """How well the issues find known label errors: AP, AUROC, precision/recall@k per method.

    Clean tags come from --truth or from the corpus's clean_ner_tags (the synthetic corpus).
    The table is printed and stored in RUN_DIR/metrics.json under "detection".
    """
    from rich.table import Table

    from auditor.output import console as make_console
    from auditor.output import print_json
    from auditor.scoring.detection import evaluate_run_dir

    report = evaluate_run_dir(run_dir, truth)
    if as_json:
        print_json(report.to_dict())
        return
    header, rows = report.table_rows()
    table = Table(
        title=f"detection quality (noise rate {report.noise_rate:.3f}: {report.n_error_sentences} of "
        f"{report.n_sentences} sentences, {report.n_error_spans} error spans, {report.n_issues} issues)"
    )
    for h in header:
        table.add_column(h, justify="left" if h in ("level", "method") else "right")
    for r in rows:
        table.add_row(*r)
    console = make_console()
    console.print(table)
    console.print(f"stored in {RunDir(run_dir).metrics} (section \"detection\")")


class Where(StrEnum):
    """Where `auditor sample --where` draws most of a test sample (auditor.sample_design)."""

    disagree = "disagree"


@app.command("sample")
def sample_cmd(
    run_dir: Annotated[Path, typer.Argument(help="a run folder holding corpus/ (after the load stage)")],
    out: Annotated[Path, typer.Option("--out", help="the JSONL file to write (one sentence per line)")],
    n: Annotated[int, typer.Option("--n", min=1, help="how many random audited sentences")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="which random sample")] = 0,
    split: Annotated[
        str | None, typer.Option("--split", help="draw from this split, stratified by language (default: the audited splits)")
    ] = None,
    where: Annotated[
        Where | None,
        typer.Option("--where", help="disagree: draw most of a test sample where the run's before and after taggers "
                     "disagree, each sentence weighted by what it stands for (needs --split test and a retrained run)"),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="replace an existing --out file")] = False,
) -> None:
    """Draw a random sample of audited sentences for a curator to verify.

    Check them with `auditor verify FILE` (or edit ner_tags and set "verified": true by hand),
    then set scoring.reference.file to it and run again: the sample's corrections go to the top
    of the queue, and words like the ones it corrects are doubted everywhere. With `--split test`
    the sample judges the cleaning instead: set retrain.verified_test to it, and the retrain
    stage scores F1 on its verified sentences beside the silver test tags. With `--where
    disagree` (after a retrain) that sample is drawn mostly where the before and after taggers
    tag a sentence differently, the only sentences that can move F1 between them; each
    sentence is weighted by the test sentences it stands for, so the F1 stays the whole test
    split's, and the sign of a small change needs far fewer checks."""
    from auditor.data.sample import draw_sample, require_splits, write_sample
    from auditor.sample_design import STRATUM, is_focus

    if out.exists() and not force:
        raise AuditorError(f"{out} exists (it may hold a curator's corrections); choose another --out or add --force")
    if where is not None and split != "test":
        raise AuditorError("--where disagree draws test sentences; add --split test")
    rd = RunDir(run_dir)
    if not rd.corpus.is_dir():
        raise AuditorError(f"{run_dir}: no corpus/ folder; run the load stage first (auditor run PIPELINE --until load)")
    cfg = rd.read_config()
    splits = [split] if split else cfg.data.audit if cfg is not None else ["train"]
    corpus = rd.read_corpus()
    focus = None
    if where is not None:
        from auditor.test_predictions import disagreement_mask, read_test_predictions

        require_splits(corpus, splits)  # before reading the split's ids
        focus = disagreement_mask(read_test_predictions(rd.test_predictions), list(corpus[split]["id"]))
    rows = draw_sample(corpus, splits, n, seed, by_language=split is not None, focus=focus)
    write_sample(out, rows)
    key = "retrain.verified_test" if split == "test" else "scoring.reference.file"
    drawn = "" if focus is None else (
        f" ({sum(1 for r in rows if is_focus(r.extra[STRATUM]))} of the {int(focus.sum())} "
        f"where the taggers disagree, weighted)"
    )
    typer.echo(
        f"wrote {len(rows)} sentences of {', '.join(splits)}{drawn} to {out}; check them with `auditor verify {out}`, "
        f"then set {key}: {out}"
    )


@app.command("verify")
def verify_cmd(
    sample: Annotated[Path, typer.Argument(help="a sample file from `auditor sample` (JSONL)")],
    types: Annotated[
        str | None, typer.Option("--types", help="entity types to offer, e.g. PER,ORG,LOC,MISC (default: those in the file)")
    ] = None,
) -> None:
    """Check a random sample in a terminal UI: relabel what is wrong, mark each sentence verified.

    Every change is saved to the file at once; reopening resumes at the first unchecked
    sentence. The verified sentences then feed scoring.reference.file."""
    from auditor.review.dialogs import split_values
    from auditor.review.verify import run_verify

    run_verify(sample, list(split_values(types)) if types else None)


@app.command("export")
def export_cmd(
    run_dir: Annotated[Path, typer.Argument(help="a run folder holding cleaned/ (after apply)")],
    fmt: Annotated[str, typer.Option("--format", help="hf | parquet | conll | jsonl | spacy | prodigy | labelstudio | doccano | brat")] = "hf",
    out: Annotated[Path | None, typer.Option("--out", help="destination folder (default: RUN_DIR/export/FORMAT)")] = None,
    force: Annotated[bool, typer.Option("--force", help="replace an earlier export in --out")] = False,
    push: Annotated[str | None, typer.Option("--push-to-hub", help="also upload to this Hub repo (private)")] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="export a trained model of the run instead: before | after")
    ] = None,
    experiment: Annotated[str | None, typer.Option("--experiment", help="with --model: which experiment's model")] = None,
) -> None:
    """Export the cleaned corpus with a dataset card (and the changelog), or with --model a
    retrained tagger with its model card; optionally push either to the Hub."""
    from auditor.stages.export import export_run

    if model is not None:
        _export_model(run_dir, model, experiment, out, force, push)
        return
    rd = RunDir(run_dir)
    (done,) = export_run(rd, {fmt: out or rd.export / fmt}, force=force, push=push)
    typer.echo(f"exported {fmt}: {done.path}")
    if done.url:
        typer.echo(f"pushed (private): {done.url}")


def _export_model(run_dir: Path, model: str, experiment: str | None, out: Path | None, force: bool, push: str | None):
    from auditor.analysis import find_model
    from auditor.export import export_model
    from auditor.modeling.card import push_model

    ref = find_model(run_dir, model=model, experiment=experiment)
    dest = out or RunDir(run_dir).export / f"model-{model}-{ref.experiment or ref.path.name}"
    # --force replaces only an earlier export, never a folder of the user's
    export_model(ref.path, dest, force, model=model, experiment=ref.experiment or ref.path.name)
    typer.echo(f"exported model ({model}, {ref.experiment or ref.path.name}): {dest}")
    if push:
        url = push_model(dest, push, private=True)
        typer.echo(f"pushed (private): {url}")


@app.command("report")
def report_cmd(
    run_dir: Annotated[Path, typer.Argument(help="a run folder (runs/<name>)")],
    out: Annotated[Path | None, typer.Option("--out", help="report folder (default: reports/<run name>)")] = None,
) -> None:
    """Write report.md, a self-contained report.html and the figures for a run."""
    from auditor.stages.report import report_run

    paths = report_run(RunDir(run_dir), out)
    typer.echo(f"markdown: {paths.markdown}")
    typer.echo(f"html:     {paths.html}")
    for fig in paths.figures:
        typer.echo(f"figure:   {fig}")


@app.command("crossval")
def crossval_cmd(
    pipeline: Annotated[Path, typer.Argument(help="a pipeline YAML file")],
    fold: Annotated[
        list[int] | None, typer.Option("--fold", help="run only this fold (repeatable), e.g. one per cluster job")
    ] = None,
    run_dir: Annotated[Path | None, typer.Option("--run-dir", help="default: the pipeline's runs/<name>")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bars")] = False,
    threads: ThreadsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Out-of-fold word probabilities; merged into RUN_DIR/predictions.parquet once every fold is done."""
    from auditor.config import load_config
    from auditor.data.build import load_corpus
    from auditor.modeling.crossval import run_crossval

    cfg = load_config(pipeline)
    _apply_threads(threads, cfg, announce=True)
    target = run_dir or cfg.run_dir
    from auditor.artifacts import drop_unreadable_fold_parts

    for part in drop_unreadable_fold_parts(target):  # else every merge would fail on it again
        typer.echo(f"{part}: unreadable, removed; computing it again", err=True)
    result = run_crossval(load_corpus(cfg.data), cfg, target, folds=fold, progress=not quiet)
    if as_json:
        from auditor.output import print_json

        print_json({**result.to_dict(), "n_folds": result.n_folds, "complete": result.complete,
                    "predictions": str(result.predictions) if result.predictions else None})
        return
    for f in result.folds:
        f1 = "-" if f.f1 is None else f"{f.f1:.3f}"
        typer.echo(
            f"fold {f.fold}: F1 {f1}  ECE {f.ece_before:.3f} -> {f.ece_after:.3f} (T={f.temperature:.2f})  "
            f"train {f.n_train}  held-out {f.n_heldout}  {f.seconds:.1f}s"
        )
    if result.complete:
        typer.echo(f"{result.mode}: {result.words_per_second:.0f} words/s; predictions: {result.predictions}")
    else:
        done = {f.fold for f in result.folds}
        missing = [k for k in range(result.n_folds) if k not in done]
        typer.echo(f"waiting for fold(s) {missing}; the merge happens when the last one finishes")


# the Label Studio / Prodigy round trip of flagged issues (auditor/cli_interchange.py)
from auditor.cli_interchange import register as _register_interchange  # noqa: E402

_register_interchange(app)
