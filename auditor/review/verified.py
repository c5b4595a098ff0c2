"""Which sentences the verified sample settles: the one rule the queue, `auditor export-issues`
and `auditor apply` share (and a benchmark can reuse).

A line of the sample file (auditor.data.sample) settles a sentence when it is marked verified,
its id names the sentence and its words are the sentence's words (a hand-made line that gives
no words: the same number of words). The curator checked every word of it, so its tags are
final: apply writes them into cleaned/, and the queue starts the sentence's issues decided
("verified in the sample") instead of asking again. A line whose words differ from the sentence
of its id (the corpus changed since the sample was drawn) settles nothing; apply lists it.

Only scoring.reference.file is such a sample: a verified test sample (retrain.verified_test)
judges the retrained tagger and is never applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from auditor.data.sample import SampleRow, read_sample
from auditor.errors import DataError
from auditor.run_dir import RunDir

# the changelog's action for tags written from the verified sample, and its curator when the
# sample file names none
VERIFIED_ACTION = "verified-sample"
VERIFIED_SOURCE = "verified sample"
# the queue's word for an issue the sample settled
VERIFIED_STATUS = "verified in the sample"


def verified_rows(rows: Iterable[SampleRow]) -> dict[str, SampleRow]:
    """id -> row, for the lines the curator marked verified (the others settle nothing)."""
    return {r.id: r for r in rows if r.verified}


def matches(row: SampleRow, tokens: Sequence[str]) -> bool:
    """The line is about this sentence: the same words (a line without words: as many)."""
    return list(tokens) == row.tokens if row.tokens else len(tokens) == len(row.tags)


def verified_issue_mask(issues: pd.DataFrame | pa.Table, rows: Iterable[SampleRow]) -> np.ndarray:
    """(N,) bool over the issue rows: the issue lies in a sentence the sample settles.

    issues: the issue table (its "id" and "tokens" columns; a DataFrame or an Arrow table);
    rows: the sample file's lines (read_sample)."""
    verified = verified_rows(rows)
    if isinstance(issues, pa.Table):
        ids = np.asarray(issues.column("id").to_pylist(), dtype=object)
    else:
        ids = np.asarray(issues["id"].tolist(), dtype=object)
    mask = np.zeros(len(ids), dtype=bool)
    if not verified or not len(ids):
        return mask
    # only the few issues of sampled sentences have their words read
    for i in np.flatnonzero(np.isin(ids, list(verified))):
        tokens = issues.column("tokens")[int(i)].as_py() if isinstance(issues, pa.Table) else issues["tokens"].iloc[int(i)]
        mask[i] = matches(verified[str(ids[i])], list(tokens))
    return mask


@dataclass(frozen=True)
class RunSample:
    """A run's verified sample: the file, its lines and the splits the run audits."""

    path: Path
    rows: list[SampleRow]
    audited: tuple[str, ...]


def run_sample(rd: RunDir) -> RunSample | None:
    """The run's verified sample (scoring.reference.file of RUN_DIR/config.yaml, read through
    RunDir.read_config); None when the run has none. DataError (one line) when the file is
    missing or unreadable."""
    cfg = rd.read_config()
    name = cfg.scoring.reference.file if cfg is not None else None
    if not name:
        return None
    path = Path(name)
    if not path.is_file():
        path = path.absolute()  # the run may have been made from another folder: say where
        raise DataError(
            f"{path}: the run's verified sample (scoring.reference.file) is missing; restore the file, "
            "or remove scoring.reference.file from the pipeline and run it again"
        )
    try:
        rows = read_sample(path)
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: the run's verified sample (scoring.reference.file) cannot be read ({err})") from None
    return RunSample(path, rows, tuple(cfg.data.audit))


def settled_issues(rd: RunDir, issues: pd.DataFrame | pa.Table) -> np.ndarray:
    """(N,) bool over the run's issue rows: the issues its verified sample settles (all False
    without a sample). DataError (one line) when the configured file is missing or unreadable:
    the review stage, export-issues and the review UI (which shows the line instead) share it."""
    sample = run_sample(rd)
    if sample is None:
        return np.zeros(len(issues) if isinstance(issues, pd.DataFrame) else issues.num_rows, dtype=bool)
    if isinstance(issues, pa.Table):
        issues = issues.select(["id", "tokens"])  # the only columns the rule reads
    return verified_issue_mask(issues, sample.rows)
