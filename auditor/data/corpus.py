"""The Corpus shape (DESIGN.md): a DatasetDict with id, tokens, ner_tags, lang.

`ner_tags` is Sequence(ClassLabel) with the label set read from the data. A corpus
with known clean labels (the synthetic corpus, or one given a truth file) also has
`clean_ner_tags` with the same ClassLabel.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from datasets import ClassLabel, Dataset, DatasetDict, Features, Value
from datasets import Sequence as HFSequence

CLEAN_COLUMN = "clean_ner_tags"


def corpus_features(label_names: Sequence[str], with_clean: bool = False) -> Features:
    labels = ClassLabel(names=list(label_names))
    cols = {
        "id": Value("string"),
        "tokens": HFSequence(Value("string")),
        "ner_tags": HFSequence(labels),
        "lang": Value("string"),
    }
    if with_clean:
        cols[CLEAN_COLUMN] = HFSequence(labels)
    return Features(cols)


def sort_label_names(names: Iterable[str]) -> list[str]:
    """O first, then B-/I- pairs by entity type in alphabetical order (stable across runs)."""
    names = set(names) | {"O"}
    types = sorted({n[2:] for n in names if n != "O"})
    out = ["O"]
    for t in types:
        out += [f"B-{t}", f"I-{t}"]
    return out


def label_names(ds: Dataset | DatasetDict) -> list[str]:
    """The label set of a corpus or split, in ClassLabel order."""
    if isinstance(ds, DatasetDict):
        ds = next(iter(ds.values()))
    return list(ds.features["ner_tags"].feature.names)


def entity_types(names: Sequence[str]) -> list[str]:
    return sorted({n[2:] for n in names if n != "O"})


def has_clean_tags(ds: Dataset | DatasetDict) -> bool:
    if isinstance(ds, DatasetDict):
        return all(CLEAN_COLUMN in d.column_names for d in ds.values())
    return CLEAN_COLUMN in ds.column_names


def dataset_from_records(records: list[dict], label_names: Sequence[str]) -> Dataset:
    """Records with id, tokens, ner_tags (tag strings), lang[, clean_ner_tags] -> Dataset."""
    with_clean = bool(records) and CLEAN_COLUMN in records[0]
    index = {n: i for i, n in enumerate(label_names)}
    rows = {k: [] for k in corpus_features(label_names, with_clean)}
    for r in records:
        rows["id"].append(r["id"])
        rows["tokens"].append(list(r["tokens"]))
        rows["ner_tags"].append([index[t] if isinstance(t, str) else int(t) for t in r["ner_tags"]])
        rows["lang"].append(r["lang"])
        if with_clean:
            rows[CLEAN_COLUMN].append([index[t] if isinstance(t, str) else int(t) for t in r[CLEAN_COLUMN]])
    return Dataset.from_dict(rows, features=corpus_features(label_names, with_clean))


def make_id(lang: str, split: str, index: int) -> str:
    return f"{lang}/{split}/{index:06d}"
