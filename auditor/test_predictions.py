"""The retrain stage's tags on the test split, and where the before and after taggers disagree.

Only the sentences where the two taggers tag differently can move F1 between them, so a
verified test sample drawn mostly from those (``auditor sample --split test --where
disagree``, weighted by auditor.sample_design) settles the sign of a change with far fewer
checked sentences than a uniform one. The retrain stage writes every experiment's test
predictions to ``test-predictions.parquet`` (RunDir.test_predictions); this module reads them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from auditor.atomic import atomic_path
from auditor.errors import DataError

SCHEMA = pa.schema(
    [
        ("experiment", pa.string()),
        ("model", pa.string()),
        ("id", pa.string()),
        ("tags", pa.list_(pa.string())),
    ]
)


@dataclass(frozen=True)
class TestPrediction:
    """One tagger's tags of one test sentence: experiment name, model ("before"/"after")."""

    __test__ = False  # not a pytest class, whatever its name

    experiment: str
    model: str
    id: str
    tags: list[str]


def write_test_predictions(path: str | os.PathLike, rows: list[TestPrediction]) -> None:
    """All rows, atomically (a killed run leaves the previous file or none)."""
    table = pa.Table.from_pylist(
        [{"experiment": r.experiment, "model": r.model, "id": r.id, "tags": list(r.tags)} for r in rows], schema=SCHEMA
    )
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_test_predictions(path: str | os.PathLike) -> list[TestPrediction]:
    """The rows of a test-predictions file; DataError (one line) when missing or foreign."""
    p = Path(path)
    if not p.is_file():
        raise DataError(
            f"{p} does not exist: the run has no test predictions yet; run the pipeline through the retrain stage "
            "(a run from before they were kept: `auditor run PIPELINE --from retrain`)"
        )
    try:
        table = pq.read_table(p)
    except (OSError, pa.ArrowInvalid) as err:
        raise DataError(f"{p}: cannot read test predictions ({err}); run the retrain stage again") from None
    missing = set(SCHEMA.names) - set(table.column_names)
    if missing:
        raise DataError(f"{p}: not a test-predictions file (no column(s) {sorted(missing)}); run the retrain stage again")
    return [TestPrediction(r["experiment"], r["model"], r["id"], list(r["tags"])) for r in table.to_pylist()]


def by_tagger(rows: list[TestPrediction]) -> dict[tuple[str, str], dict[str, list[str]]]:
    """(experiment, model) -> sentence id -> that tagger's tags."""
    out: dict[tuple[str, str], dict[str, list[str]]] = {}
    for r in rows:
        out.setdefault((r.experiment, r.model), {})[r.id] = list(r.tags)
    return out


def disagreement_mask(rows: list[TestPrediction], ids: list[str]) -> np.ndarray:
    """(len(ids),) bool: True where, in any experiment, the after tagger's tags of that test
    sentence differ from the before tagger's. ids: the test split's sentence ids, in order.

    Raises DataError when no experiment has both taggers (nothing was cleaned, or retrain
    trained "before" only) or a prediction names a sentence the test split lacks."""
    by_key = by_tagger(rows)
    experiments = sorted({e for e, m in by_key if m == "before" and (e, "after") in by_key})
    if not experiments:
        raise DataError("the run's test predictions hold no experiment with both a before and an after tagger; "
                        "run apply and retrain with a cleaned corpus first")
    position = {sid: i for i, sid in enumerate(ids)}
    mask = np.zeros(len(ids), dtype=bool)
    for exp in experiments:
        before, after = by_key[(exp, "before")], by_key[(exp, "after")]
        for sid, tags in after.items():
            if sid not in position:
                raise DataError(f"test prediction of sentence {sid!r} (experiment {exp}) is not in the test split; "
                                "run the retrain stage again")
            if before.get(sid) != tags:
                mask[position[sid]] = True
    return mask
