"""Out-of-fold predictions joined with the corpus: what the audit models think of the given tags."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class OofView:
    """Out-of-fold predictions joined with the given tags, one entry per predicted sentence.

    ids/langs: (S,) sentences in id order; given/predicted: label indices per sentence;
    word_losses: -log p(given) per word (nats); losses: (S,) their sums.
    """

    label_names: list[str]
    ids: list[str]
    langs: list[str]
    tokens: list[list[str]]
    given: list[np.ndarray]
    predicted: list[np.ndarray]
    word_losses: list[np.ndarray]
    losses: np.ndarray
    clean: list[np.ndarray] | None = None  # known clean label indices, when the corpus has them
    skipped: int = 0  # sentences whose prediction length does not match the corpus


def oof_view(predictions, corpus) -> OofView:
    """Join predictions (OofPredictions) with the corpus's given tags by sentence id."""
    names = predictions.label_names
    corpus_names = None
    from auditor.data.corpus import CLEAN_COLUMN, has_clean_tags

    with_clean = has_clean_tags(corpus)
    rows: dict[str, tuple[list[str], list[int], str, list[int] | None]] = {}
    for ds in corpus.values():
        corpus_names = list(ds.features["ner_tags"].feature.names)
        clean_col = ds[CLEAN_COLUMN] if with_clean else [None] * len(ds)
        for i, tokens, tags, lang, clean in zip(ds["id"], ds["tokens"], ds["ner_tags"], ds["lang"], clean_col):
            rows[i] = (tokens, tags, lang, clean)
    # map corpus label indices onto the predictions' label order (same set, maybe other order)
    remap = np.array([names.index(n) if n in names else -1 for n in (corpus_names or [])])
    view = OofView(list(names), [], [], [], [], [], [], np.zeros(0), clean=[] if with_clean else None)
    losses = []
    for sid, probs in sorted(predictions.by_sentence().items()):
        row = rows.get(sid)
        if row is None or len(row[1]) != len(probs) or (len(row[1]) and remap[row[1]].min() < 0):
            view.skipped += 1
            continue
        tokens, tags, lang, clean = row
        given = remap[np.asarray(tags, dtype=int)]
        word_losses = -np.log(np.clip(probs[np.arange(len(given)), given], 1e-12, None))
        view.ids.append(sid)
        view.langs.append(lang)
        view.tokens.append(list(tokens))
        if view.clean is not None:
            view.clean.append(remap[np.asarray(clean, dtype=int)])
        view.given.append(given)
        view.predicted.append(probs.argmax(axis=1))
        view.word_losses.append(word_losses)
        losses.append(float(word_losses.sum()))
    view.losses = np.asarray(losses, dtype=float)
    return view


def normalized_confusion(view: OofView) -> np.ndarray:
    """(K, K) confusion of given (rows) vs predicted (cols) labels, each row summing to 1 (0 if empty)."""
    from sklearn.metrics import confusion_matrix

    k = len(view.label_names)
    if not view.ids:
        return np.zeros((k, k))
    y_true = np.concatenate(view.given)
    y_pred = np.concatenate(view.predicted)
    return confusion_matrix(y_true, y_pred, labels=list(range(k)), normalize="true")
