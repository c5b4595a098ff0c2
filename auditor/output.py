"""What the commands print, for people and for machines.

On a terminal, rich formats tables to the terminal's width. Off a terminal (a pipe, a log
file, CI) rich would assume 80 columns and squeeze wide tables until every number reads
``0.…``; here such output gets no colour and as much width as it needs, so each table
prints at its natural width. ``--json`` output goes through ``print_json``.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from rich.console import Console

# Wide enough for any table the commands print; nothing we print expands to the full width.
UNLIMITED_WIDTH = 10_000


def console(stderr: bool = False) -> Console:
    """A console on stdout (or stderr): the terminal's width there, unlimited width elsewhere."""
    probe = Console(stderr=stderr)
    if probe.is_terminal:
        return probe
    return Console(stderr=stderr, width=UNLIMITED_WIDTH)


def _finite(obj: Any) -> Any:
    """NaN and infinities become null: JSON has no spelling for them."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def to_json(data: Any) -> str:
    return json.dumps(_finite(data), ensure_ascii=False, indent=2, default=str)


def print_json(data: Any) -> None:
    """Machine-readable output on stdout: one JSON document, nothing else."""
    sys.stdout.write(to_json(data) + "\n")
    sys.stdout.flush()
