"""An experiment that did not pay: context evidence, the entity type a span's *context alone* calls for.

Measured (benchmarks/README.md, "What did not pay"): fused with the model's word quality it adds
+0.02 sentence AP on CoNLL-2003 dev (real errors) but costs 0.12-0.13 on PAN-X fr/de with
injected errors (Wikipedia titles have almost no context), so it is not part of the product.

    python benchmarks/context_signal.py RUN_DIR      # a scored benchmark run folder with clean tags

Original design notes follow.


The tagger of cross-validation sees the name itself, so it learns whatever convention the
corpus follows for that name: if a country is always tagged LOC, even where it is a sports team
("England beat Pakistan by five wickets"), the tagger agrees with every such tag. The context
the name stands in often says otherwise: in "<X> 2 <Y> 1" score lines most names are clubs
(ORG), and "beat" takes teams. This signal trains a sparse linear model (scikit-learn) that
predicts the type of a given entity span from the words *around* it only (never the span's own
words), out of fold: the sentences it scores are never among those it learned from.

Per span it yields the context probability of the given type; low values mark spans whose type
disagrees with what such contexts carry elsewhere in the corpus.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction import FeatureHasher
from sklearn.linear_model import SGDClassifier

from auditor.scoring.frame import CorpusArrays

WINDOW = 3
N_FEATURES = 2**18


@dataclass
class ContextSignal:
    """Per word of the corpus (CorpusArrays order): quality (N,) in [0, 1], the context model's
    probability of the word's given entity type (1.0 for O words and words it did not judge);
    suggestion (N,) int64 type id (index into `types`) the context prefers, -1 where none."""

    quality: np.ndarray
    suggestion: np.ndarray
    types: list[str]


def _shape(word: str) -> str:
    if word.isdigit():
        return "d"
    if any(c.isdigit() for c in word):
        return "dx"
    if word.isupper() and len(word) > 1:
        return "XX"
    if word[:1].isupper():
        return "Xx"
    if word.isalpha():
        return "x"
    return "p"


def _features(tokens: list[str], start: int, end: int) -> list[str]:
    """Hashed-feature names of the context of tokens[start:end] (the span itself excluded)."""
    feats = [f"len={min(end - start, 4)}"]
    left = [tokens[i] if i >= 0 else "<s>" for i in range(start - WINDOW, start)]
    right = [tokens[i] if i < len(tokens) else "</s>" for i in range(end, end + WINDOW)]
    for d, w in enumerate(reversed(left), 1):
        feats += [f"L{d}={w.lower()}", f"L{d}s={_shape(w)}"]
    for d, w in enumerate(right, 1):
        feats += [f"R{d}={w.lower()}", f"R{d}s={_shape(w)}"]
    feats += [f"L1R1={left[-1].lower()}|{right[0].lower()}", f"LsRs={_shape(left[-1])}|{_shape(right[0])}"]
    feats.append(f"first={tokens[0].lower()}")
    feats.append(f"n={min(len(tokens), 12)}")
    return feats


def _entity_spans(tags: np.ndarray, type_of: np.ndarray, inside: np.ndarray) -> list[tuple[int, int, int]]:
    """(start, end, type id) of the given entity spans of one sentence (lenient IOB2)."""
    out, i, n = [], 0, len(tags)
    while i < n:
        t = type_of[tags[i]]
        if t == 0:
            i += 1
            continue
        j = i + 1
        while j < n and type_of[tags[j]] == t and inside[tags[j]]:
            j += 1
        out.append((i, j, int(t)))
        i = j
    return out


def context_signal(
    arrays: CorpusArrays,
    judged: np.ndarray,
    fold_of: np.ndarray,
    evidence: np.ndarray | None = None,
    seed: int = 0,
) -> ContextSignal:
    """Out-of-fold context probabilities of every given entity span of the `judged` sentences.

    judged: (S,) bool, the sentences to score (the audited ones); fold_of: (S,) int fold of each
    judged sentence (-1 elsewhere): a judged sentence of fold k is scored by a model trained on
    every evidence sentence that is not in fold k. evidence: (S,) bool, sentences whose labels may
    teach the model (training and audited splits; default all).
    """
    names = arrays.label_names
    types = ["O"] + sorted({n[2:] for n in names if n != "O" and len(n) > 2})
    type_of = np.array([0 if n == "O" or len(n) <= 2 else types.index(n[2:]) for n in names], dtype=np.int64)
    inside = np.array([n.startswith("I-") for n in names])
    evidence = np.ones(len(arrays.ids), dtype=bool) if evidence is None else np.asarray(evidence, dtype=bool)
    n = len(arrays.labels)
    quality = np.ones(n)
    suggestion = np.full(n, -1, dtype=np.int64)
    rows: list[tuple[int, int, int, int]] = []  # sentence, start, end, type
    feats: list[list[str]] = []
    for s in np.flatnonzero(evidence | judged):
        a, b = arrays.offsets[s], arrays.offsets[s + 1]
        tokens = arrays.tokens[a:b].tolist()
        for start, end, t in _entity_spans(arrays.labels[a:b], type_of, inside):
            rows.append((int(s), start, end, t))
            feats.append(_features(tokens, start, end))
    if not rows:
        return ContextSignal(quality, suggestion, types)
    x = FeatureHasher(n_features=N_FEATURES, input_type="string", alternate_sign=False).transform(feats)
    sent = np.array([r[0] for r in rows])
    y = np.array([r[3] for r in rows])
    span_fold = np.where(judged[sent], fold_of[sent], -1)
    for k in sorted(set(span_fold[span_fold >= 0].tolist())):
        target = span_fold == k
        train = evidence[sent] & (span_fold != k)
        classes = np.unique(y[train])
        if len(classes) < 2:
            continue
        # SGD on the log loss: a logistic regression that fits a corpus of 100k spans in a second
        model = SGDClassifier(loss="log_loss", alpha=1e-5, max_iter=20, tol=None, random_state=seed)
        model.fit(x[train], y[train])
        proba = np.zeros((int(target.sum()), len(types)))
        proba[:, classes] = model.predict_proba(x[target])
        given_p = proba[np.arange(len(proba)), y[target]]
        best = proba.argmax(axis=1)
        for (s, start, end, _), q, bt in zip((rows[i] for i in np.flatnonzero(target)), given_p, best):
            a = arrays.offsets[s]
            quality[a + start : a + end] = q
            suggestion[a + start : a + end] = bt
    return ContextSignal(quality, suggestion, types)


def main() -> None:
    import sys

    from datasets import load_from_disk
    from sklearn.metrics import average_precision_score

    from auditor.scoring.frame import build_frame, corpus_arrays
    from auditor.scoring.quality import sentence_quality, word_quality
    from auditor.tables import OofPredictions

    run = sys.argv[1]
    corpus = load_from_disk(run + "/corpus")
    preds = OofPredictions.read(run + "/predictions.parquet")
    arrays = corpus_arrays(corpus)
    frame = build_frame(arrays, preds)
    judged = np.isin(arrays.ids, frame.ids)
    first = np.r_[0, np.flatnonzero(preds.ids[1:] != preds.ids[:-1]) + 1]
    fold_by_id = dict(zip(preds.ids[first], preds.fold[first]))
    fold_of = np.array([fold_by_id.get(i, -1) for i in arrays.ids])
    ctx = context_signal(arrays, judged, fold_of)
    q_ctx = ctx.quality[frame.corpus_pos]
    q = word_quality(frame.probs, frame.labels, frame.label_names, "collapsed")
    errors = np.zeros(frame.n_sentences, dtype=bool)
    np.logical_or.at(errors, frame.sentence, frame.labels != frame.clean)
    print("| context weight | sentence AP (softmin) |\n|---|---|")
    for w in (0.0, 0.1, 0.25, 0.5, 1.0):
        fused = q * np.clip(q_ctx, 1e-6, 1.0) ** w
        ap = average_precision_score(errors, -sentence_quality(fused, frame.offsets, "softmin"))
        print(f"| {w} | {ap:.3f} |")


if __name__ == "__main__":
    main()
