"""The two tables that cross stage boundaries: out-of-fold predictions and issues.

Both are Parquet files in the run directory. The writers are atomic; the readers check
the columns so a foreign or stale file fails with one clear line.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from auditor.atomic import atomic_path
from auditor.errors import DataError

PREDICTIONS_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("word_index", pa.int32()),
        ("fold", pa.int16()),
        ("probs", pa.list_(pa.float32())),
    ]
)


@dataclass
class OofPredictions:
    """Out-of-fold word-level class probabilities, one row per word.

    ids:         (N,) example id of each word's sentence, rows grouped by sentence
    word_index:  (N,) position of the word in its sentence, 0..n_words-1
    fold:        (N,) fold whose held-out part contained the sentence
    probs:       (N, K) float32, rows sum to 1, K = len(label_names)
    label_names: the corpus label set, in ClassLabel order
    """

    ids: np.ndarray
    word_index: np.ndarray
    fold: np.ndarray
    probs: np.ndarray
    label_names: list[str]

    def __post_init__(self) -> None:
        n = len(self.ids)
        if not (len(self.word_index) == len(self.fold) == self.probs.shape[0] == n):
            raise ValueError("OofPredictions columns have different lengths")
        if self.probs.ndim != 2 or self.probs.shape[1] != len(self.label_names):
            raise ValueError(f"probs must be (N, {len(self.label_names)}), got {self.probs.shape}")

    def by_sentence(self) -> dict[str, np.ndarray]:
        """id -> (n_words, K) probabilities in word order."""
        out: dict[str, np.ndarray] = {}
        if len(self.ids) == 0:
            return out
        order = np.lexsort((self.word_index, self.ids))
        ids = self.ids[order]
        probs = self.probs[order]
        bounds = np.flatnonzero(ids[1:] != ids[:-1]) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [len(ids)]])
        for s, e in zip(starts, ends):
            out[str(ids[s])] = probs[s:e]
        return out

    @classmethod
    def concat(cls, parts: list[OofPredictions]) -> OofPredictions:
        if not parts:
            raise ValueError("nothing to concatenate")
        return cls(
            ids=np.concatenate([p.ids for p in parts]),
            word_index=np.concatenate([p.word_index for p in parts]),
            fold=np.concatenate([p.fold for p in parts]),
            probs=np.concatenate([p.probs for p in parts]).astype(np.float32),
            label_names=parts[0].label_names,
        )

    def to_arrow(self) -> pa.Table:
        k = self.probs.shape[1]
        flat = pa.array(self.probs.astype(np.float32).reshape(-1))
        offsets = pa.array(np.arange(0, (len(self.ids) + 1) * k, k, dtype=np.int32))
        table = pa.Table.from_arrays(
            [
                pa.array(self.ids.astype(str), pa.string()),
                pa.array(self.word_index.astype(np.int32)),
                pa.array(self.fold.astype(np.int16)),
                pa.ListArray.from_arrays(offsets, flat),
            ],
            schema=PREDICTIONS_SCHEMA,
        )
        return table.replace_schema_metadata({"label_names": json.dumps(self.label_names)})

    def write(self, path: str | os.PathLike) -> None:
        with atomic_path(path) as tmp:
            pq.write_table(self.to_arrow(), tmp)

    @classmethod
    def read(cls, path: str | os.PathLike) -> OofPredictions:
        path = Path(path)
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowInvalid) as err:
            raise DataError(f"{path}: cannot read predictions ({err}); re-run the crossval stage") from None
        missing = {f.name for f in PREDICTIONS_SCHEMA} - set(table.column_names)
        meta = table.schema.metadata or {}
        if missing or b"label_names" not in meta:
            raise DataError(f"{path}: not an auditor predictions file (missing {sorted(missing) or 'label_names'})")
        label_names = json.loads(meta[b"label_names"])
        k = len(label_names)
        flat = pc.list_flatten(table.column("probs")).to_numpy(zero_copy_only=False)
        return cls(
            ids=np.asarray(table.column("id").to_numpy(zero_copy_only=False), dtype=object),
            word_index=table.column("word_index").to_numpy(),
            fold=table.column("fold").to_numpy(),
            probs=flat.reshape(-1, k).astype(np.float32),
            label_names=label_names,
        )


# One row per flagged span. Sentence-wide columns (tokens, tags, predicted, token_losses)
# travel with the issue so the review UI never needs the corpus or the model.
ISSUE_COLUMNS: dict[str, pa.DataType] = {
    "issue_id": pa.string(),  # "<id>:<start>-<end>", stable across re-scoring
    "id": pa.string(),  # example id, e.g. de/train/000123
    "lang": pa.string(),
    "split": pa.string(),
    "start": pa.int32(),  # first word of the span
    "end": pa.int32(),  # one past the last word
    "kind": pa.string(),  # type | boundary | missing | spurious
    "entity_type": pa.string(),  # PER/ORG/... of the given or suggested entity
    "surface": pa.string(),  # the span's words joined by spaces
    "given": pa.list_(pa.string()),  # given tags of the span
    "suggested": pa.list_(pa.string()),  # suggested tags of the span (valid IOB2)
    "score": pa.float64(),  # combined, in [0, 1]; lower = more likely wrong
    "model_score": pa.float64(),  # the model's word quality (scoring.word_quality) of the span's worst word
    "cleanlab_score": pa.float64(),  # cleanlab label quality of the span's worst token
    "token_loss": pa.float64(),  # max cross-entropy (nats) of a given tag in the span
    "consistency_score": pa.float64(),  # share of the surface form's occurrences labelled like this one
    # a verified sample's evidence (auditor.scoring.reference) at the span's worst word: 0 = the
    # curator corrected it in the sample, below 1 = similar verified words were corrected; NaN = no sample
    "reference_score": pa.float64(),
    # the verified word that doubt rests on: '“Japan” in “Japan beat Syria 2-1 .” (B-LOC→B-ORG)'; "" = none
    "reference_example": pa.string(),
    "sequence_loss": pa.float64(),  # sum of token losses over the sentence (nats)
    "sequence_loss_mean": pa.float64(),
    "tokens": pa.list_(pa.string()),  # the whole sentence
    "tags": pa.list_(pa.string()),  # given tags of the whole sentence
    "predicted": pa.list_(pa.string()),  # model tags of the whole sentence (valid IOB2)
    "token_losses": pa.list_(pa.float64()),  # per word of the whole sentence (nats)
    "given_prob": pa.list_(pa.float64()),  # per word of the span: the model's probability of the given tag
    "suggested_prob": pa.list_(pa.float64()),  # per word of the span: ... of the suggested tag
}
ISSUES_SCHEMA = pa.schema(list(ISSUE_COLUMNS.items()))
ISSUE_KINDS = ("type", "boundary", "missing", "spurious")


def rank_issues(df: pd.DataFrame) -> pd.DataFrame:
    """The issue table in review order: score (lower first), then the span's worst token loss
    (higher first), then a hash of issue_id, so exact ties interleave languages and splits
    instead of following the alphabet of their ids."""
    tiebreak = pd.util.hash_pandas_object(df["issue_id"], index=False).to_numpy() if len(df) else np.zeros(0, np.uint64)
    order = np.lexsort((tiebreak, -df["token_loss"].to_numpy(dtype=np.float64), df["score"].to_numpy(dtype=np.float64)))
    return df.iloc[order].reset_index(drop=True)


# columns added after the first issue files were written: filled in when absent, so older runs
# and hand-made tables stay readable (NaN scores, empty per-word lists)
OPTIONAL_ISSUE_COLUMNS = ("model_score", "reference_score", "reference_example", "given_prob", "suggested_prob")


def with_optional_columns(df: pd.DataFrame) -> pd.DataFrame:
    """df with every OPTIONAL_ISSUE_COLUMNS column present (defaults where absent)."""
    df = df.copy()
    for col in ("model_score", "reference_score"):
        if col not in df.columns:
            df[col] = np.nan
    if "reference_example" not in df.columns:
        df["reference_example"] = ""
    for col in ("given_prob", "suggested_prob"):
        values = df[col] if col in df.columns else [None] * len(df)
        df[col] = pd.Series(
            [list(v) if isinstance(v, (list, tuple, np.ndarray)) else [] for v in values], index=df.index, dtype=object
        )
    return df


def write_issues(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write the issue table ranked by score (lower first); columns as ISSUE_COLUMNS."""
    df = with_optional_columns(df)
    missing = set(ISSUE_COLUMNS) - set(df.columns)
    if missing:
        raise ValueError(f"issue table lacks columns {sorted(missing)}")
    df = rank_issues(df)
    table = pa.Table.from_pandas(df[list(ISSUE_COLUMNS)], schema=ISSUES_SCHEMA, preserve_index=False)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_issues(path: str | os.PathLike, columns: list[str] | None = None) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no issue table; run the score stage first (auditor run <pipeline> --until score)")
    try:
        table = pq.read_table(path, columns=columns)
    except (OSError, pa.ArrowInvalid) as err:
        raise DataError(f"{path}: cannot read the issue table ({err}); re-run the score stage") from None
    want = set(columns or ISSUE_COLUMNS) - set(OPTIONAL_ISSUE_COLUMNS)
    missing = want - set(table.column_names)
    if missing:
        raise DataError(f"{path}: not an auditor issue table (missing {sorted(missing)})")
    df = table.to_pandas()
    return df if columns is not None else with_optional_columns(df)


@dataclass
class SentenceVectors:
    """Word vectors of some sentences, by sentence id.

    ids: (S,) sentence ids; offsets: (S + 1,) int64, sentence i = vectors[offsets[i]:offsets[i + 1]];
    vectors: (n_words, D) float16 or float32."""

    ids: np.ndarray
    offsets: np.ndarray
    vectors: np.ndarray

    def aligned(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """(sum(lengths), D) float32 vectors of the sentences `ids` (in that order); DataError
        when one is missing or has another number of words."""
        position = {str(s): i for i, s in enumerate(self.ids)}
        rows = []
        for sid, n in zip(ids, lengths):
            i = position.get(str(sid))
            if i is None or self.offsets[i + 1] - self.offsets[i] != n:
                raise DataError(f"no word vectors for sentence {sid!r}; re-run the crossval stage")
            rows.append(np.arange(self.offsets[i], self.offsets[i + 1]))
        index = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        return np.asarray(self.vectors[index], dtype=np.float32)
