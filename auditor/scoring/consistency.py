"""Model-free label consistency: the same surface form labelled differently across the corpus.

A *form* is a word n-gram (n = 1..max_ngram, within a sentence) that is exactly an entity span
in at least one occurrence (n-grams of context words around an entity are not forms: a rare
context must not overrule the evidence of the entity's own name). An occurrence's *labelling*
is its tag tuple plus whether the entity continues to the right (so "Vereinte Nationen" as a
whole ORG differs from the first two words of "Vereinte Nationen Sicherheitsrat"). For a form seen at least `min_count` times, an
occurrence whose labelling has share s of the form's occurrences gives each of its words that
is tagged unlike the form's majority labelling the score s.

Per n-gram size a word keeps its lowest score; across sizes the longest judged form decides
(back-off from the most specific context, as in n-gram language models): "Paris" inside
"Paris Saint-Germain", always ORG, is consistent although "Paris" alone is mostly LOC, and
"Paris" tagged LOC inside "Paris Saint-Germain" is a minority although LOC is the majority of
"Paris" alone. Words without such evidence score 1.0. Everything is hashed with
pandas.factorize on int64 keys: linear time, no pairwise loops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from auditor.config import ConsistencyConfig
from auditor.scoring.frame import CorpusArrays


@dataclass
class ConsistencySignal:
    """Per word of the whole corpus (CorpusArrays order):

    score: (N,) float64 in [0, 1], share of the form's occurrences labelled like this one
           (1.0 = labelled like the majority, or no repeated form covers the word);
    suggestion: (N,) int64 tag id of the majority labelling at this word, -1 where none;
    flagged: (N,) bool, score <= cfg.minority.
    """

    score: np.ndarray
    suggestion: np.ndarray
    flagged: np.ndarray


def _factorize(keys: np.ndarray) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(keys, sort=False)
    return codes.astype(np.int64), len(uniques)


def consistency_signal(
    arrays: CorpusArrays, cfg: ConsistencyConfig, evidence: np.ndarray | None = None
) -> ConsistencySignal:
    """Score every word of the corpus by how consistently its surface forms are labelled.

    evidence: (S,) bool, the sentences whose labels count as evidence (training and audited
    splits; never test: the majority labelling becomes the suggested fix, and a fix drawn from
    test labels would leak them into the cleaned training data). Words of other sentences score
    1.0 with no suggestion. With cfg.per_language, a form is a (language, words) pair: "Paris"
    in French and in English are judged apart (languages label names differently in PAN-X).
    """
    if evidence is not None and not np.asarray(evidence, dtype=bool).all():
        return _on_subset(arrays, cfg, np.asarray(evidence, dtype=bool))
    n = len(arrays.labels)
    labels = arrays.labels
    n_labels = len(arrays.label_names)
    cont = _continues_entity(arrays)
    begins = (_type_ids(arrays.label_names)[labels] > 0) & ~cont
    best = np.full(n, np.nan)
    best_sugg = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return ConsistencySignal(np.ones(0), np.full(0, -1, dtype=np.int64), np.zeros(0, dtype=bool))

    if cfg.per_language:
        word_lang = np.repeat(arrays.langs.astype(str), arrays.lengths)
        words, n_words = _factorize(np.char.add(np.char.add(word_lang, "\x1f"), arrays.tokens.astype(str)))
    else:
        words, n_words = _factorize(arrays.tokens)
    sentence_end = np.repeat(arrays.offsets[1:], arrays.lengths)
    pos = np.arange(n, dtype=np.int64)
    # running n-gram keys for the n-grams starting at `starts`
    starts = pos
    form_key = words
    label_key = labels.copy()
    # the n-gram is exactly an entity span in this occurrence (begins one, continues it to the end)
    inside_run = np.ones(n, dtype=bool)
    for size in range(1, cfg.max_ngram + 1):
        if size > 1:
            keep = starts + size <= sentence_end[starts]
            starts, form_key, label_key, inside_run = starts[keep], form_key[keep], label_key[keep], inside_run[keep]
            if len(starts) == 0:
                break
            last = starts + size - 1
            form_key, _ = _factorize(form_key * n_words + words[last])
            label_key, _ = _factorize(label_key * n_labels + labels[last])
            inside_run = inside_run & cont[last]
        right = starts + size
        continues = np.zeros(len(starts), dtype=bool)
        inside_sentence = right < sentence_end[starts]
        continues[inside_sentence] = cont[right[inside_sentence]]
        labelling = label_key * 2 + continues
        is_entity = begins[starts] & inside_run & ~continues
        score, sugg = _score_size(starts, size, form_key, labelling, is_entity, labels, cfg.min_count)
        # the longest form with enough occurrences decides: the most specific context
        better = ~np.isnan(score)
        best[better] = score[better]
        best_sugg[better] = sugg[better]
    final = np.where(np.isnan(best), 1.0, best)
    best_sugg[final >= 1.0] = -1
    return ConsistencySignal(score=final, suggestion=best_sugg, flagged=final <= cfg.minority)


def _on_subset(arrays: CorpusArrays, cfg: ConsistencyConfig, keep: np.ndarray) -> ConsistencySignal:
    """consistency_signal over the sentences `keep` (S,) only, mapped back to every word."""
    lengths = arrays.lengths
    word_keep = np.repeat(keep, lengths)
    sub_lengths = lengths[keep]
    sub = CorpusArrays(
        label_names=arrays.label_names,
        ids=arrays.ids[keep],
        splits=arrays.splits[keep],
        langs=arrays.langs[keep],
        offsets=np.concatenate([[0], np.cumsum(sub_lengths)]).astype(np.int64),
        tokens=arrays.tokens[word_keep],
        labels=arrays.labels[word_keep],
        clean=None if arrays.clean is None else arrays.clean[word_keep],
    )
    part = consistency_signal(sub, cfg)
    n = len(arrays.labels)
    score, suggestion = np.ones(n), np.full(n, -1, dtype=np.int64)
    score[word_keep] = part.score
    suggestion[word_keep] = part.suggestion
    return ConsistencySignal(score=score, suggestion=suggestion, flagged=score <= cfg.minority)


def _type_ids(names: list[str]) -> np.ndarray:
    types = sorted({n[2:] for n in names if n != "O"})
    return np.array([0 if n == "O" else 1 + types.index(n[2:]) for n in names], dtype=np.int64)


def _continues_entity(arrays: CorpusArrays) -> np.ndarray:
    """(N,) bool: the word's tag is I-X right after a word of type X in the same sentence
    (the lenient reading of auditor.data.iob.spans)."""
    labels = arrays.labels
    type_id = _type_ids(arrays.label_names)[labels]
    inside = np.array([n.startswith("I-") for n in arrays.label_names])[labels]
    prev_type = np.zeros_like(type_id)
    prev_type[1:] = type_id[:-1]
    starts = arrays.offsets[:-1]
    prev_type[starts[starts < len(labels)]] = 0
    return inside & (type_id > 0) & (prev_type == type_id)


def _score_size(
    starts: np.ndarray,
    size: int,
    form: np.ndarray,
    labelling: np.ndarray,
    is_entity: np.ndarray,
    labels: np.ndarray,
    min_count: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Per word: min share over the eligible size-n occurrences covering it (NaN = none)."""
    n = len(labels)
    score = np.full(n, np.nan)
    sugg = np.full(n, -1, dtype=np.int64)
    n_forms = int(form.max()) + 1
    form_count = np.bincount(form, minlength=n_forms)
    form_entity = np.bincount(form, weights=is_entity, minlength=n_forms) > 0
    eligible = (form_count[form] >= min_count) & form_entity[form]
    if not eligible.any():
        return score, sugg
    starts, form, labelling = starts[eligible], form[eligible], labelling[eligible]
    pair, n_pairs = _factorize(form * (int(labelling.max()) + 1) + labelling)
    pair_count = np.bincount(pair, minlength=n_pairs)
    share = pair_count[pair] / form_count[form]
    # the majority labelling of each form, ties broken by first occurrence (deterministic)
    first = np.full(n_pairs, len(pair), dtype=np.int64)
    np.minimum.at(first, pair, np.arange(len(pair)))
    pair_form = form[first]
    order = np.lexsort((first, -pair_count, pair_form))
    head = np.ones(len(order), dtype=bool)
    head[1:] = pair_form[order][1:] != pair_form[order][:-1]
    majority_start = np.empty(int(form.max()) + 1, dtype=np.int64)
    majority_start[pair_form[order][head]] = starts[first[order][head]]
    rep = majority_start[form]
    for j in range(size):
        word = starts + j
        majority_tag = labels[rep + j]
        differs = labels[word] != majority_tag
        value = np.where(differs, share, 1.0)
        # positions starts + j are distinct for a fixed j, so plain fancy indexing is safe
        current = score[word]
        lower = np.isnan(current) | (value < current)
        score[word[lower]] = value[lower]
        sugg[word[lower]] = np.where(differs[lower], majority_tag[lower], -1)
    return score, sugg
