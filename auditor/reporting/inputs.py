"""What a report reads from a run directory. Every artifact is optional; one that is present
but unreadable is named in the report rather than stopping it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from auditor.config import PipelineConfig
from auditor.errors import AuditorError, DataError
from auditor.metrics import Metrics, read_metrics
from auditor.run_dir import RunDir


@dataclass
class RunInputs:
    """Everything the report reads; None where the run directory lacks the artifact."""

    run_dir: Path
    metrics: Metrics
    cfg: PipelineConfig
    config_found: bool
    issues: pd.DataFrame | None = None
    predictions: object | None = None  # auditor.tables.OofPredictions
    corpus: object | None = None  # datasets.DatasetDict
    decisions: dict | None = None  # issue_id -> Decision (latest)
    problems: list[str] = field(default_factory=list)  # artifacts present but unreadable


def load_run(run_dir: Path) -> RunInputs:
    """Read what exists of a run directory. A missing directory is a DataError; a missing or
    unreadable artifact only leaves its field None and is noted in `problems`."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: no such run directory (run a pipeline first: auditor run <pipeline.yaml>)")
    metrics = read_metrics(run_dir).without("report")  # our own output; never an input
    cfg, found, problems = read_config(run_dir)
    inputs = RunInputs(run_dir, metrics, cfg, found, problems=problems)
    rd = RunDir(run_dir)
    inputs.issues = _try(inputs, rd.issues, rd.read_issues)
    inputs.predictions = _try(inputs, rd.predictions, rd.read_predictions)
    inputs.corpus = _try(inputs, rd.corpus, rd.read_corpus)
    inputs.decisions = _try(inputs, rd.store, lambda: rd.open_store().latest())
    return inputs


def read_config(run_dir: Path) -> tuple[PipelineConfig, bool, list[str]]:
    rd = RunDir(run_dir)
    try:
        cfg = rd.read_config()
    except AuditorError as err:
        return PipelineConfig(name=_safe_name(rd.name)), False, [f"{rd.config.name} ({str(err).splitlines()[0]})"]
    if cfg is None:
        return PipelineConfig(name=_safe_name(rd.name)), False, []
    return cfg, True, []


def _safe_name(name: str) -> str:
    import re

    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", name).lstrip("._-")
    return cleaned or "run"


def _try(inputs: RunInputs, path: Path, read):
    if not path.exists():
        return None
    try:
        return read()
    except Exception as err:  # a broken artifact must not stop the report; it is named in it
        inputs.problems.append(f"{path.name} ({str(err).splitlines()[0] if str(err) else type(err).__name__})")
        return None

