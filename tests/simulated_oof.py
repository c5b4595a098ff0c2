"""Simulated out-of-fold probabilities for tests and benchmarks (benchmarks/scoring_scale.py), without training.

An imperfect model that never saw the sentence: it leans towards the true (clean) tag, is pulled
a little towards the given tag (a model trained on noisy data partly learns the noise), is noisy,
and confuses a fraction of words with another class outright.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from datasets import DatasetDict

from auditor.scoring.frame import corpus_arrays
from auditor.tables import OofPredictions


def simulate_oof(
    corpus: DatasetDict,
    splits: Sequence[str] = ("train",),
    *,
    seed: int = 0,
    strength: float = 4.0,
    given_pull: float = 1.0,
    noise: float = 1.0,
    error_rate: float = 0.05,
    folds: int = 5,
) -> OofPredictions:
    """OofPredictions for every word of `splits`: softmax(strength * onehot(clean) + given_pull *
    onehot(given) + N(0, noise^2)), and for a fraction `error_rate` of words an extra
    strength-sized push towards a random wrong class. Uses clean_ner_tags when present, else the
    given tags as the truth. Same arguments -> same probabilities."""
    arrays = corpus_arrays(DatasetDict({s: corpus[s] for s in splits}))
    rng = np.random.default_rng(seed)
    n, k = len(arrays.labels), len(arrays.label_names)
    truth = arrays.labels if arrays.clean is None else np.where(arrays.clean >= 0, arrays.clean, arrays.labels)
    rows = np.arange(n)
    logits = rng.normal(0.0, noise, size=(n, k))
    logits[rows, truth] += strength
    logits[rows, arrays.labels] += given_pull
    wrong = rng.random(n) < error_rate
    other = (truth + rng.integers(1, k, size=n)) % k
    logits[rows[wrong], other[wrong]] += strength * 1.5
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    lengths = arrays.lengths
    sentence_fold = rng.integers(0, folds, size=len(lengths))
    return OofPredictions(
        ids=np.repeat(arrays.ids, lengths),
        word_index=(rows - np.repeat(arrays.offsets[:-1], lengths)).astype(np.int32),
        fold=np.repeat(sentence_fold, lengths).astype(np.int16),
        probs=probs.astype(np.float32),
        label_names=list(arrays.label_names),
    )


def agreeing_oof(rows: Sequence[dict], labels: Sequence[str], p_given: float = 0.98) -> OofPredictions:
    """A model that learned the corpus's conventions, wrong ones included: p(given tag) =
    p_given for every word of rows (dicts with id and ner_tags as tag names), the rest spread
    evenly. Only evidence from outside the model (a verified sample) can doubt such a word."""
    ids, word, probs = [], [], []
    rest = (1.0 - p_given) / (len(labels) - 1)
    for r in rows:
        for i, t in enumerate(r["ner_tags"]):
            p = np.full(len(labels), rest)
            p[list(labels).index(t)] = p_given
            ids.append(r["id"])
            word.append(i)
            probs.append(p)
    return OofPredictions(np.array(ids, dtype=object), np.array(word), np.zeros(len(ids), dtype=np.int64),
                          np.array(probs, np.float32), list(labels))
