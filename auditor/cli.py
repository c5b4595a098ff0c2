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
