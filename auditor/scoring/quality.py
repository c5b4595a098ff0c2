"""Word and sentence label-quality scores from out-of-fold probabilities: the rankings the
field uses, as small pure functions (numpy in and out).

A *word quality* says how likely the given tag is right, in [0, 1] (lower = more suspicious):

- ``self_confidence``: p(given tag) (cleanlab's default token score);
- ``collapsed``: p(given entity *type*), summing B-X and I-X (O stays O). A model unsure
  whether a word begins or continues an entity of the right type is not doubting the type; on
  real corpora those B/I hesitations otherwise crowd the top of the list;
- ``normalized_margin``: (p(given) - max p(other) + 1) / 2 (cleanlab's margin score);
- ``collapsed_margin``: the margin on the collapsed type probabilities.

A *sentence quality* aggregates its word qualities: ``min`` (the worst word), ``softmin``
(cleanlab's soft-minimum formula at temperature SENTENCE_SOFTMIN_TEMPERATURE = 0.1, not
cleanlab's own 0.05, which scoring.cleanlab.sentence_method: softmin uses), ``mean``, ``product`` (probability that every tag is
right, = exp(-sequence loss) with self_confidence: the chapter's sequence loss) and
``expected_errors`` (exp(-sum(1 - q)): the expected number of wrong tags, read as a quality).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

WORD_METHODS = ("self_confidence", "collapsed", "normalized_margin", "collapsed_margin")
SENTENCE_METHODS = ("min", "softmin", "mean", "product", "expected_errors")
# temperature of scoring.sentence_aggregate: softmin. Deliberately not cleanlab's 0.05
# (cleanlab_signal.CLEANLAB_SOFTMIN_TEMPERATURE, for scoring.cleanlab.sentence_method): the two
# settings are separate rankings, each with its own temperature
SENTENCE_SOFTMIN_TEMPERATURE = 0.1


def type_index(label_names: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """(K,) type id per label (0 = O) and the type names (index 0 is "O")."""
    types = ["O"] + sorted({n[2:] for n in label_names if n != "O" and len(n) > 2})
    ids = np.array([0 if n == "O" or len(n) <= 2 else types.index(n[2:]) for n in label_names], dtype=np.int64)
    return ids, types


def type_probs(probs: np.ndarray, label_names: Sequence[str]) -> np.ndarray:
    """(N, T) probability of each entity type (O first): B-X and I-X summed. probs: (N, K)."""
    ids, types = type_index(label_names)
    out = np.zeros((len(probs), len(types)), dtype=np.float64)
    for k, t in enumerate(ids):
        out[:, t] += probs[:, k]
    return out


def word_quality(probs: np.ndarray, labels: np.ndarray, label_names: Sequence[str], method: str) -> np.ndarray:
    """(N,) quality in [0, 1] of each given tag; probs (N, K) rows summing to 1, labels (N,) ids."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    rows = np.arange(len(labels))
    if method in ("self_confidence", "normalized_margin"):
        p, given = probs, labels
    elif method in ("collapsed", "collapsed_margin"):
        p, given = type_probs(probs, label_names), type_index(label_names)[0][labels]
    else:
        raise ValueError(f"unknown word quality {method!r}; one of {WORD_METHODS}")
    mine = p[rows, given]
    if method in ("self_confidence", "collapsed"):
        return np.clip(mine, 0.0, 1.0)
    other = p.copy()
    other[rows, given] = -np.inf
    best_other = other.max(axis=1) if p.shape[1] > 1 else np.zeros(len(labels))
    return np.clip((mine - best_other + 1.0) / 2.0, 0.0, 1.0)


def sentence_quality(q: np.ndarray, offsets: np.ndarray, method: str) -> np.ndarray:
    """(S,) quality of each sentence from word qualities q (N,); offsets (S + 1,) word offsets.
    An empty sentence scores 1.0."""
    q = np.asarray(q, dtype=np.float64)
    offsets = np.asarray(offsets, dtype=np.int64)
    n_sent = len(offsets) - 1
    lengths = np.diff(offsets)
    sent = np.repeat(np.arange(n_sent), lengths)
    out = np.ones(n_sent, dtype=np.float64)
    nonempty = lengths > 0
    if method == "min":
        m = np.ones(n_sent)
        np.minimum.at(m, sent, q)
        return m
    if method == "mean":
        s = np.bincount(sent, weights=q, minlength=n_sent)
        out[nonempty] = s[nonempty] / lengths[nonempty]
        return out
    if method == "product":
        return np.exp(np.bincount(sent, weights=np.log(np.clip(q, 1e-12, 1.0)), minlength=n_sent))
    if method == "expected_errors":
        return np.exp(-np.bincount(sent, weights=1.0 - q, minlength=n_sent))
    if method == "softmin":
        # cleanlab's softmin formula: sum_i q_i * softmax((1 - q) / t)_i, computed per sentence stably
        z = (1.0 - q) / SENTENCE_SOFTMIN_TEMPERATURE
        zmax = np.full(n_sent, -np.inf)
        np.maximum.at(zmax, sent, z)
        w = np.exp(z - zmax[sent])
        den = np.bincount(sent, weights=w, minlength=n_sent)
        num = np.bincount(sent, weights=w * q, minlength=n_sent)
        out[nonempty] = num[nonempty] / den[nonempty]
        return out
    raise ValueError(f"unknown sentence aggregate {method!r}; one of {SENTENCE_METHODS}")


def span_quality(q: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """(M,) worst word quality inside each flat word range [starts, ends) (1.0 when empty)."""
    q = np.asarray(q, dtype=np.float64)
    out = np.ones(len(starts), dtype=np.float64)
    for i, (a, b) in enumerate(zip(starts, ends)):
        if b > a:
            out[i] = q[a:b].min()
    return out


def type_first_argmax(probs: np.ndarray, label_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(N,) tag ids and (N,) confidences decoded type first: the most probable entity type (B-X
    and I-X summed), then B or I of that type by their own probabilities. The plain argmax can
    pick a B-LOC at 0.45 over B-ORG 0.30 + I-ORG 0.25, although the model believes ORG."""
    probs = np.asarray(probs, dtype=np.float64)
    ids, types = type_index(label_names)
    tp = type_probs(probs, label_names)
    best_type = tp.argmax(axis=1)
    masked = np.where(ids[None, :] == best_type[:, None], probs, -1.0)
    tags = masked.argmax(axis=1)
    return tags.astype(np.int64), tp[np.arange(len(tp)), best_type]
