"""Known clean tags from a corrected copy of the corpus (a truth file), for detection quality.

The truth file (CoNLL or JSONL, see auditor.data.sources) is matched to the corpus by id when
every truth sentence carries an id of the corpus, otherwise by order: it must then hold exactly
the audited sentences, or every sentence of the corpus, in corpus order. Tokens must agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from datasets import DatasetDict

from auditor.data.corpus import CLEAN_COLUMN, label_names
from auditor.data.sources import detect_format, read_file
from auditor.data.validate import RawSentence, check_sentence
from auditor.errors import DataError


def read_truth(path: str | Path, names: Sequence[str]) -> list[RawSentence]:
    """The sentences of a truth file, validated as IOB2 over the corpus label set."""
    fmt = detect_format(path)
    if fmt not in ("conll", "jsonl", "parquet"):
        raise DataError(f"{path}: a truth file must be CoNLL, JSONL or Parquet, not a {fmt} folder")
    sentences = read_file(str(path), fmt, list(names))
    if not sentences:
        raise DataError(f"{path}: the truth file holds no sentence")
    return [check_sentence(s, label_names=list(names)) for s in sentences]


def attach_truth(corpus: DatasetDict, truth: list[RawSentence], audited_ids: Sequence[str]) -> DatasetDict:
    """The corpus with clean_ner_tags from `truth` (a truth sentence's own clean_ner_tags when it has
    them, else its ner_tags; sentences the truth does not cover keep their
    given tags as clean tags). Raises DataError on unmatched sentences or differing tokens."""
    names = label_names(corpus)
    index = {n: i for i, n in enumerate(names)}
    rows = [(split, i, sid) for split, ds in corpus.items() for i, sid in enumerate(ds["id"])]
    position = {sid: k for k, (_, _, sid) in enumerate(rows)}
    if all(s.id is not None and s.id in position for s in truth):
        covered = {s.id for s in truth}
        missing = [sid for sid in audited_ids if sid not in covered]
        if missing:
            raise DataError(
                f"{_file_of(truth[0])}: the truth file has no sentence with id {missing[0]} "
                f"({len(missing)} audited sentence(s) missing); it must cover every audited sentence"
            )
        targets = [position[s.id] for s in truth]
    elif len(truth) == len(audited_ids):
        targets = [position[sid] for sid in audited_ids]
    elif len(truth) == len(rows):
        targets = list(range(len(rows)))
    else:
        raise DataError(
            f"{_file_of(truth[0])}: cannot match the truth file to the corpus: its sentences lack "
            f"corpus ids and it holds {len(truth)} sentences, not the {len(audited_ids)} audited ones "
            f"nor all {len(rows)}; give it the corpus ids or the same order"
        )
    tokens = {split: ds["tokens"] for split, ds in corpus.items()}
    clean = {split: [list(t) for t in ds["ner_tags"]] for split, ds in corpus.items()}
    for s, k in zip(truth, targets):
        split, i, sid = rows[k]
        if list(s.tokens) != list(tokens[split][i]):
            raise DataError(f"{s.where}: truth sentence has other tokens than corpus sentence {sid}")
        clean[split][i] = [index[t] for t in (s.clean if s.clean is not None else s.tags)]
    out = {}
    for split, ds in corpus.items():
        if CLEAN_COLUMN in ds.column_names:
            ds = ds.remove_columns(CLEAN_COLUMN)
        out[split] = ds.add_column(CLEAN_COLUMN, clean[split], feature=ds.features["ner_tags"])
    return DatasetDict(out)


def _file_of(s: RawSentence) -> str:
    """The file part of a sentence's location ("data/x.jsonl:12" -> "data/x.jsonl")."""
    return s.where.rsplit(":", 1)[0]
