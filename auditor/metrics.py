"""metrics.json: every number the report shows, one section per stage.

Stages update their own section with a read-modify-write under a lock file, then an
atomic rename, so two processes (e.g. two folds on one machine) never lose a section.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
from pathlib import Path
from typing import Any

from auditor.atomic import write_text_atomic
from auditor.errors import DataError
from auditor.run_dir import METRICS as FILENAME


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf: write them as null so every reader can parse the file."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _clean(value.item())
    return value


def read_metrics(run_dir: str | os.PathLike) -> dict:
    """The run's metrics.json ({} when there is none); DataError when it is not a JSON object."""
    path = Path(run_dir) / FILENAME
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: corrupt ({_first_line(err)}); {_REBUILD}") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: not a metrics file (a JSON {type(data).__name__}, not an object); {_REBUILD}")
    return data


# every stage rewrites its own section, and --from load (unlike --force) reuses finished
# cross-validation folds
_REBUILD = "move it away and run the pipeline again with --from load (--force also recomputes the folds) to rebuild it"


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


@contextlib.contextmanager
def _locked(run_dir: Path):
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / f".{FILENAME}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def update_metrics(run_dir: str | os.PathLike, section: str, value: Any) -> None:
    """Replace one top-level section of run_dir/metrics.json."""
    run_dir = Path(run_dir)
    with _locked(run_dir):
        data = read_metrics(run_dir)
        data[section] = _clean(value)
        write_text_atomic(run_dir / FILENAME, json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def drop_metrics(run_dir: str | os.PathLike, sections: list[str]) -> None:
    run_dir = Path(run_dir)
    if not (run_dir / FILENAME).exists():
        return
    with _locked(run_dir):
        data = read_metrics(run_dir)
        for s in sections:
            data.pop(s, None)
        write_text_atomic(run_dir / FILENAME, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
