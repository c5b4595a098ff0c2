"""`auditor export-issues` and `auditor import-decisions`: review in Label Studio or Prodigy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from auditor.errors import AuditorError


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def export_issues_cmd(
    run_dir: Annotated[Path, typer.Argument(help="a run folder with issues.parquet (after the score stage)")],
    fmt: Annotated[str, typer.Option("--format", help="labelstudio | prodigy")] = "labelstudio",
    out: Annotated[Path | None, typer.Option("--out", help="the tasks file to write (default: issues.json for labelstudio, issues.jsonl for prodigy)")] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="only these languages (comma-separated)")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="only these kinds: type, boundary, missing, spurious")] = None,
    entity_type: Annotated[str | None, typer.Option("--type", help="only these entity types (comma-separated)")] = None,
    max_score: Annotated[float | None, typer.Option("--max-score", help="only issues scoring at most this")] = None,
    text: Annotated[str, typer.Option("--text", help="only sentences containing this text")] = "",
    status: Annotated[str, typer.Option("--status", help="open | all | decided | skipped | conflicts")] = "open",
    limit: Annotated[int | None, typer.Option("--limit", help="at most this many, most suspicious first", min=1)] = None,
) -> None:
    """Write the run's open issues (or a filter of them) as Label Studio or Prodigy tasks: the
    suggestion pre-filled, the given tags and why-text in the task, the issue id to come back by."""
    from auditor.review.queue import STATUS_CHOICES, IssueFilter
    from auditor.review.roundtrip import export_issues

    if status not in STATUS_CHOICES:
        raise AuditorError(f"--status {status!r} is not one of {', '.join(STATUS_CHOICES)}")
    flt = IssueFilter(langs=_csv(lang), kinds=_csv(kind), entity_types=_csv(entity_type), max_score=max_score, text=text, status=status)
    out = out or Path("issues.json" if fmt == "labelstudio" else "issues.jsonl")
    n = export_issues(run_dir, fmt, out, flt, limit)
    typer.echo(f"exported {n} issue{'s' if n != 1 else ''} ({flt.describe()}) as {fmt} tasks: {out}")


def import_decisions_cmd(
    run_dir: Annotated[Path, typer.Argument(help="the run folder the issues were exported from")],
    file: Annotated[Path, typer.Argument(help="the tool's export: Label Studio JSON or Prodigy JSONL (db-out)")],
    curator: Annotated[str | None, typer.Option("--curator", help="who decided, where the file names nobody")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="replace other curators' decisions on these issues")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Turn the answers of an exported-issues file into decisions in RUN_DIR/review.sqlite
    (accept / keep / relabel inferred from the answer); what cannot be placed is listed."""
    import json

    from auditor.review.roundtrip import import_decisions

    report = import_decisions(run_dir, file, curator, replace)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        written = ", ".join(f"{k}: {v}" for k, v in sorted(report.written.items())) or "none"
        typer.echo(f"decisions written: {written}; unchanged: {report.unchanged}")
        for reason, n in sorted(report.skipped.items()):
            typer.echo(f"skipped {n} ({reason})")
        for title, rows in (("replaced", report.replaced), ("not placed", report.unplaced), ("left alone", report.blocked)):
            if rows:
                typer.echo(f"{title} ({len(rows)}):")
                for row in rows:
                    typer.echo(f"  {row}")
        if report.written:
            typer.echo(f"next: auditor apply {run_dir}")
    if report.unplaced or report.blocked:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("export-issues")(export_issues_cmd)
    app.command("import-decisions")(import_decisions_cmd)
