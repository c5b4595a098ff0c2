"""What a report reads from a run directory. Every artifact is optional; one that is present
but unreadable is named in the report rather than stopping it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from auditor.config import PipelineConfig, config_from_dict
from auditor.errors import AuditorError, DataError
from auditor.metrics import read_metrics


@dataclass
class RunInputs:
    """Everything the report reads; None where the run directory lacks the artifact."""

    run_dir: Path
    metrics: dict
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
    metrics = read_metrics(run_dir)
    metrics.pop("report", None)  # our own output; never an input
    cfg, found, problems = read_config(run_dir)
    inputs = RunInputs(run_dir, metrics, cfg, found, problems=problems)
    inputs.issues = _try(inputs, "issues.parquet", lambda p: _read_issues(p))
    inputs.predictions = _try(inputs, "predictions.parquet", lambda p: _read_predictions(p))
    inputs.corpus = _try(inputs, "corpus", lambda p: _read_corpus(p))
    inputs.decisions = _try(inputs, "review.sqlite", lambda p: _read_decisions(p))
    return inputs


def read_config(run_dir: Path) -> tuple[PipelineConfig, bool, list[str]]:
    path = run_dir / "config.yaml"
    if not path.is_file():
        return PipelineConfig(name=_safe_name(run_dir.name)), False, []
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return config_from_dict(raw, str(path)), True, []
    except (yaml.YAMLError, AuditorError, UnicodeDecodeError) as err:
        return PipelineConfig(name=_safe_name(run_dir.name)), False, [f"config.yaml ({str(err).splitlines()[0]})"]


def _safe_name(name: str) -> str:
    import re

    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", name).lstrip("._-")
    return cleaned or "run"


def _try(inputs: RunInputs, name: str, read):
    path = inputs.run_dir / name
    if not path.exists():
        return None
    try:
        return read(path)
    except Exception as err:  # a broken artifact must not stop the report; it is named in it
        inputs.problems.append(f"{name} ({str(err).splitlines()[0] if str(err) else type(err).__name__})")
        return None


def _read_issues(path: Path) -> pd.DataFrame:
    from auditor.tables import read_issues

    return read_issues(path)


def _read_predictions(path: Path):
    from auditor.tables import OofPredictions

    return OofPredictions.read(path)


def _read_corpus(path: Path):
    from datasets import load_from_disk

    return load_from_disk(str(path))


def _read_decisions(path: Path) -> dict:
    from auditor.review.store import DecisionStore

    return DecisionStore(path).latest()
