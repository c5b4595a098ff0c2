"""Is an artifact found on disk fit to be reused? A stage whose artifact is truncated or
unreadable (a full disk, a copy cut short, a crash outside our atomic writes) runs again
instead of being skipped, and a later stage never trips over it.

Each check returns None when the artifact is fine, else one line saying what is wrong.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path


def parquet_problem(path: Path, columns: Iterable[str] = (), rows: int | None = None) -> str | None:
    """Problem of a Parquet file: unreadable footer (truncated), missing columns, other row count.

    Only the footer is read, so the check costs milliseconds whatever the file's size.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path)
    except (OSError, pa.ArrowException) as err:
        return f"{path} is unreadable ({_first_line(err)})"
    missing = sorted(set(columns) - set(meta.schema.to_arrow_schema().names))
    if missing:
        return f"{path} lacks columns {missing}"
    if rows is not None and meta.num_rows != rows:
        return f"{path} has {meta.num_rows} rows, expected {rows}"
    return None


def dataset_problem(folder: Path) -> str | None:
    """Problem of a save_to_disk folder: it does not load (a truncated or missing Arrow file)."""
    from datasets import load_from_disk

    try:
        load_from_disk(str(folder))
    except Exception as err:  # datasets raises FileNotFoundError, ArrowInvalid, OSError, ValueError...
        return f"{folder} is unreadable ({type(err).__name__}: {_first_line(err)})"
    return None


def drop_unreadable_fold_parts(run_dir: Path) -> list[str]:
    """Remove every fold part whose predictions cannot be read, so the crossval stage computes
    that fold again instead of failing on it at every merge. Returns the folders removed."""
    from auditor.errors import DataError
    from auditor.modeling.crossval import FOLDS_DIR, PART_FILE
    from auditor.tables import OofPredictions

    dropped = []
    for part in sorted((Path(run_dir) / FOLDS_DIR).glob("fold-*/" + PART_FILE)):
        try:
            OofPredictions.read(part)
        except (DataError, ValueError):
            shutil.rmtree(part.parent)
            dropped.append(part.parent.name)
    return dropped


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
