"""Flat numpy views of a Corpus and of the out-of-fold predictions, aligned word by word.

Every scoring signal works on flat (N,) / (N, K) arrays with sentence offsets, so the
per-token work is vectorised numpy and only flagged sentences are touched in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from datasets import Dataset, DatasetDict

from auditor.data.corpus import CLEAN_COLUMN
from auditor.data.corpus import label_names as corpus_label_names
from auditor.errors import DataError
from auditor.tables import OofPredictions


@dataclass
class CorpusArrays:
    """Every sentence of a corpus (all splits, in split order), flattened.

    ids, splits, langs: (S,) object; offsets: (S+1,) int64 word offsets into the flat arrays;
    tokens: (N,) object; labels: (N,) int64 given tag ids; clean: (N,) int64 clean tag ids when
    any split has clean_ner_tags (-1 in splits without them), else None.
    """

    label_names: list[str]
    ids: np.ndarray
    splits: np.ndarray
    langs: np.ndarray
    offsets: np.ndarray
    tokens: np.ndarray
    labels: np.ndarray
    clean: np.ndarray | None

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


@dataclass
class ScoringFrame:
    """The audited sentences (those present in the predictions), flattened and aligned.

    ids/splits/langs: (S,) object; offsets: (S+1,) int64; sentence: (N,) int64 sentence index of
    each word; tokens: (N,) object; labels: (N,) int64; probs: (N, K) float32 in word order;
    clean: (N,) int64 or None (None unless every audited sentence has clean tags); corpus_pos: (N,) int64 position of each word in CorpusArrays.
    """

    label_names: list[str]
    ids: np.ndarray
    splits: np.ndarray
    langs: np.ndarray
    offsets: np.ndarray
    sentence: np.ndarray
    tokens: np.ndarray
    labels: np.ndarray
    probs: np.ndarray
    clean: np.ndarray | None
    corpus_pos: np.ndarray

    @property
    def n_sentences(self) -> int:
        return len(self.ids)

    @property
    def n_tokens(self) -> int:
        return len(self.labels)

    def per_sentence(self, flat: np.ndarray) -> list[np.ndarray]:
        """Split a flat (N, ...) array into one array per sentence (views, no copy)."""
        return np.split(flat, self.offsets[1:-1])


def _arrow_table(ds: Dataset) -> pa.Table:
    # with_format("arrow") applies any indices mapping left by select/shuffle
    return ds.with_format("arrow")[:]


def _flat_list_column(table: pa.Table, name: str) -> tuple[np.ndarray, pa.Array]:
    col = table.column(name).combine_chunks()
    lengths = pc.list_value_length(col).to_numpy(zero_copy_only=False).astype(np.int64)
    return lengths, col.flatten()


def corpus_arrays(corpus: DatasetDict) -> CorpusArrays:
    """Flatten every split of a Corpus (see auditor.data.corpus) into CorpusArrays."""
    if not isinstance(corpus, DatasetDict) or not corpus:
        raise DataError("scoring needs a corpus (a DatasetDict with at least one split)")
    names = corpus_label_names(corpus)
    with_clean = any(CLEAN_COLUMN in d.column_names for d in corpus.values())
    ids, splits, langs, lengths, tokens, labels, clean = [], [], [], [], [], [], []
    for split, ds in corpus.items():
        missing = {"id", "tokens", "ner_tags", "lang"} - set(ds.column_names)
        if missing:
            raise DataError(f"corpus split '{split}' lacks column(s) {sorted(missing)}")
        table = _arrow_table(ds)
        n_words, flat_tokens = _flat_list_column(table, "tokens")
        n_tags, flat_tags = _flat_list_column(table, "ner_tags")
        if not np.array_equal(n_words, n_tags):
            bad = int(np.flatnonzero(n_words != n_tags)[0])
            raise DataError(f"corpus split '{split}' row {bad}: {n_words[bad]} tokens but {n_tags[bad]} ner_tags")
        ids.append(table.column("id").to_numpy(zero_copy_only=False).astype(object))
        langs.append(table.column("lang").to_numpy(zero_copy_only=False).astype(object))
        splits.append(np.full(table.num_rows, split, dtype=object))
        lengths.append(n_words)
        tokens.append(flat_tokens.to_numpy(zero_copy_only=False).astype(object))
        labels.append(flat_tags.to_numpy(zero_copy_only=False).astype(np.int64))
        if CLEAN_COLUMN in table.column_names:
            clean.append(_flat_list_column(table, CLEAN_COLUMN)[1].to_numpy(zero_copy_only=False).astype(np.int64))
        else:
            clean.append(np.full(len(labels[-1]), -1, dtype=np.int64))  # unknown in this split
    all_lengths = np.concatenate(lengths)
    return CorpusArrays(
        label_names=names,
        ids=np.concatenate(ids),
        splits=np.concatenate(splits),
        langs=np.concatenate(langs),
        offsets=np.concatenate([[0], np.cumsum(all_lengths)]).astype(np.int64),
        tokens=np.concatenate(tokens),
        labels=np.concatenate(labels),
        clean=np.concatenate(clean) if with_clean else None,
    )


def build_frame(arrays: CorpusArrays, preds: OofPredictions) -> ScoringFrame:
    """Align predictions with the corpus: the sentences present in `preds`, in corpus order.

    Raises DataError when the predictions name unknown ids, another label set, or do not
    cover every word of a predicted sentence exactly once.
    """
    if list(preds.label_names) != list(arrays.label_names):
        raise DataError(
            f"predictions have labels {preds.label_names} but the corpus has {arrays.label_names}; "
            "re-run the crossval stage on this corpus"
        )
    if len(preds.ids) == 0:
        raise DataError("the predictions are empty: no audited sentence to score; re-run the crossval stage")
    index = pd.Index(arrays.ids)
    if not index.is_unique:
        dup = index[index.duplicated()][0]
        raise DataError(f"corpus id {dup!r} occurs more than once; ids must be unique across splits")
    sent = index.get_indexer(pd.Index(preds.ids.astype(object)))
    if (sent < 0).any():
        unknown = preds.ids[np.flatnonzero(sent < 0)[0]]
        raise DataError(f"predictions name sentence {unknown!r}, which is not in the corpus; re-run the crossval stage")
    word = np.asarray(preds.word_index, dtype=np.int64)
    order = np.lexsort((word, sent))
    sent, word = sent[order], word[order]
    audited, counts = np.unique(sent, return_counts=True)
    lengths = arrays.lengths[audited]
    expected_word = np.arange(len(word)) - np.repeat(np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    if not np.array_equal(counts, lengths) or not np.array_equal(word, expected_word):
        bad = audited[np.flatnonzero(counts != lengths)[0]] if not np.array_equal(counts, lengths) else None
        if bad is None:
            bad = sent[np.flatnonzero(word != expected_word)[0]]
        raise DataError(
            f"predictions for sentence {arrays.ids[bad]!r} do not cover its {arrays.lengths[bad]} words exactly once; "
            "re-run the crossval stage"
        )
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    corpus_pos = np.repeat(arrays.offsets[audited], lengths) + word
    sentence = np.repeat(np.arange(len(audited)), lengths)
    return ScoringFrame(
        label_names=list(arrays.label_names),
        ids=arrays.ids[audited],
        splits=arrays.splits[audited],
        langs=arrays.langs[audited],
        offsets=offsets,
        sentence=sentence,
        tokens=arrays.tokens[corpus_pos],
        labels=arrays.labels[corpus_pos],
        probs=np.ascontiguousarray(preds.probs[order], dtype=np.float32),
        clean=_audited_clean(arrays, corpus_pos),
        corpus_pos=corpus_pos,
    )


def _audited_clean(arrays: CorpusArrays, corpus_pos: np.ndarray) -> np.ndarray | None:
    """Clean tags of the audited words, or None unless every audited word has one."""
    if arrays.clean is None:
        return None
    clean = arrays.clean[corpus_pos]
    return None if (clean < 0).any() else clean
