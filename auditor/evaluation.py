"""Retrain on the original and on the cleaned corpus, and measure cross-lingual F1.

For each retrain experiment (train on some languages, test on each language) two final
taggers are trained with the same model, config and seed: "before" on the original
(silver) training data, "after" on the cleaned training data. Each is evaluated on every
test language's test split against up to four label sets:

    silver    the test tags as given (what a user without clean labels can measure)
    clean     the known clean tags (synthetic corpus, or a corpus with a truth file)
    verified  a curator's tags of the test sentences in retrain.verified_test (its verified
              lines only: a subset of the test split, auditor.verified_test)
    reviewed  the test tags after review, when the test split was audited and cleaned

Silver test tags carry the very conventions cleaning corrects, so on real errors they can
say cleaning hurt when it helped (CoNLL with expert corrections: -0.049 F1 on the original
test tags, +0.009 on the corrected ones); the verified sentences are the judge then. Every
score also gets a sentence-bootstrap 90% interval, and each before->after difference a
paired one (bootstrap_f1, paired_bootstrap_delta).

Metrics are seqeval's entity-level micro precision/recall/F1 in its *default* mode
(the conlleval-compatible one the chapter uses): an I-X that does not continue an X
entity opens a new entity instead of being discarded, so a prediction with an IOB2
violation is judged by its spans rather than thrown away. Strict IOB2 mode would score
the untouched argmax predictions of a small model unfairly low.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
from datasets import Dataset, DatasetDict

from auditor.config import Experiment, PipelineConfig, TrainingConfig
from auditor.data.corpus import CLEAN_COLUMN, has_clean_tags, label_names
from auditor.errors import DataError
from auditor.run_dir import RunDir
from auditor.sample_design import SampleDesign
from auditor.test_predictions import TestPrediction, by_tagger
from auditor.verified_test import VerifiedTest

MODELS = ("before", "after")
LABEL_SETS = ("silver", "clean", "verified", "reviewed")
# the bootstrap behind every interval the retrain stage reports
N_BOOT = 1000
LEVEL = 0.9
TEST_SPLIT = "test"
VALIDATION_SPLIT = "validation"
# the columns a tagger trains on; cleaning adds original_ner_tags/changed, which must not leak in
_TRAIN_COLUMNS = ["id", "tokens", "ner_tags", "lang"]


# --- scores ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TypeScores:
    precision: float
    recall: float
    f1: float
    support: int  # entities of this type in the true tags

    def to_dict(self) -> dict:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1, "support": self.support}


@dataclass(frozen=True)
class Scores:
    """Entity-level micro scores over all types, plus one TypeScores per entity type.

    A type appears in per_type when it occurs in the true or the predicted tags.
    Undefined ratios (no true / no predicted entities) are 0.
    """

    precision: float
    recall: float
    f1: float
    support: int  # entities in the true tags
    per_type: dict[str, TypeScores] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "f1": self.f1,
            "precision": self.precision,
            "recall": self.recall,
            "support": self.support,
            "per_type": {t: s.to_dict() for t, s in self.per_type.items()},
        }

    @classmethod
    def from_dict(cls, d: dict) -> Scores:
        return cls(
            precision=d["precision"],
            recall=d["recall"],
            f1=d["f1"],
            support=int(d["support"]),
            per_type={t: TypeScores(**s) for t, s in d.get("per_type", {}).items()},
        )


def seqeval_scores(true_tags: list[list[str]], pred_tags: list[list[str]]) -> Scores:
    """seqeval entity scores (default, conlleval-compatible mode) of predicted vs true tags.

    true_tags, pred_tags: one list of IOB2 tag strings per sentence, equal lengths.
    """
    from seqeval.metrics.sequence_labeling import precision_recall_fscore_support

    if len(true_tags) != len(pred_tags):
        raise ValueError(f"{len(true_tags)} true sentences but {len(pred_tags)} predicted")
    for i, (t, p) in enumerate(zip(true_tags, pred_tags)):
        if len(t) != len(p):
            raise ValueError(f"sentence {i}: {len(t)} true tags but {len(p)} predicted")
    true_tags = [list(t) for t in true_tags]
    pred_tags = [list(p) for p in pred_tags]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero_division=0 still warns in some seqeval paths
        p, r, f, s = precision_recall_fscore_support(true_tags, pred_tags, average="micro", zero_division=0)
        tp, tr, tf, ts = precision_recall_fscore_support(true_tags, pred_tags, average=None, zero_division=0)
    types = _entity_types(true_tags, pred_tags)
    per_type = {
        name: TypeScores(float(tp[i]), float(tr[i]), float(tf[i]), int(ts[i])) for i, name in enumerate(types)
    }
    return Scores(float(p), float(r), float(f), int(s), per_type)


def weighted_scores(true_tags: list[list[str]], pred_tags: list[list[str]], weights: np.ndarray) -> Scores:
    """seqeval's entity scores (default mode) with sentence i's TP/FP/FN counted weights[i]
    times: the scores of the test split a weighted sample stands for (auditor.sample_design).

    weights: (N,) non-negative. support stays the true entities of the N sentences scored (what
    was checked), not the weighted estimate. Equal weights give seqeval_scores' numbers."""
    if len(true_tags) != len(pred_tags) or len(true_tags) != len(weights):
        raise ValueError(f"{len(true_tags)} true sentences, {len(pred_tags)} predicted, {len(weights)} weights")
    types, counts, true_counts = typed_entity_counts(true_tags, pred_tags)
    per_type = np.einsum("n,ntc->tc", np.asarray(weights, dtype=np.float64), counts)
    support = true_counts.sum(axis=0)

    def scores_of(c: np.ndarray) -> tuple[float, float, float]:
        tp, fp, fn = (float(x) for x in c)
        precision = tp / (tp + fp) if tp + fp > 0 else 0.0
        recall = tp / (tp + fn) if tp + fn > 0 else 0.0
        return precision, recall, float(micro_f1(c))

    by_type = {name: TypeScores(*scores_of(per_type[j]), int(support[j])) for j, name in enumerate(types)}
    return Scores(*scores_of(per_type.sum(axis=0)), int(support.sum()), by_type)


def _entity_types(true_tags: list[list[str]], pred_tags: list[list[str]]) -> list[str]:
    """The type names in seqeval's per-type order (sorted union of true and predicted)."""
    from seqeval.metrics.sequence_labeling import get_entities

    return sorted({t for t, _, _ in get_entities(true_tags)} | {t for t, _, _ in get_entities(pred_tags)})


# --- uncertainty -----------------------------------------------------------------------
#
# A test split of a few hundred sentences moves F1 by a point or more from sampling alone,
# and a cleaning effect is often smaller than that. The sentence is the unit that was
# sampled (entities of one sentence are not independent), so the bootstrap resamples
# sentences. seqeval's micro F1 is a function of the summed TP/FP/FN counts, so each
# sentence's counts are taken once and the resamples only re-sum them.


@dataclass(frozen=True)
class F1Interval:
    """A point F1 (or F1 difference) with a bootstrap percentile interval.

    f1: the estimate on the sentences as given; low, high: the interval's ends;
    n_sentences: how many sentences it was measured on; level: the interval's coverage.
    """

    f1: float
    low: float
    high: float
    n_sentences: int
    level: float = 0.9

    def to_dict(self) -> dict:
        return {"f1": self.f1, "low": self.low, "high": self.high, "n_sentences": self.n_sentences, "level": self.level}

    @classmethod
    def from_dict(cls, d: dict) -> F1Interval:
        return cls(float(d["f1"]), float(d["low"]), float(d["high"]), int(d["n_sentences"]), float(d.get("level", 0.9)))


def entity_counts(true_tags: list[list[str]], pred_tags: list[list[str]]) -> np.ndarray:
    """Per-sentence entity counts as seqeval's default (conlleval) mode counts them.

    true_tags, pred_tags: N sentences, each a list of IOB2 tag strings; sentence i of both
    has the same length. Returns an int array of shape (N, 3): columns TP, FP, FN (an
    entity is (type, start, end); TP = in both, FP = predicted only, FN = true only).
    Summing the rows and applying micro_f1 gives seqeval's micro F1 exactly.
    """
    _, counts, _ = typed_entity_counts(true_tags, pred_tags)
    return counts.sum(axis=1)


def typed_entity_counts(true_tags: list[list[str]], pred_tags: list[list[str]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """entity_counts per entity type: (types, counts, true).

    types: the T type names, sorted (seqeval's order); counts: (N, T, 3) int, TP/FP/FN of
    sentence i and type j; true: (N, T) int, the true entities (seqeval's support)."""
    from seqeval.metrics.sequence_labeling import get_entities

    if len(true_tags) != len(pred_tags):
        raise ValueError(f"{len(true_tags)} true sentences but {len(pred_tags)} predicted")
    sets = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seqeval warns on tags it does not recognise, e.g. "O" variants
        for i, (t, p) in enumerate(zip(true_tags, pred_tags)):
            if len(t) != len(p):
                raise ValueError(f"sentence {i}: {len(t)} true tags but {len(p)} predicted")
            sets.append((set(get_entities(list(t))), set(get_entities(list(p)))))
    types = sorted({e[0] for pair in sets for side in pair for e in side})
    index = {name: j for j, name in enumerate(types)}
    counts = np.zeros((len(sets), len(types), 3), dtype=np.int64)
    true = np.zeros((len(sets), len(types)), dtype=np.int64)
    for i, (true_set, pred_set) in enumerate(sets):
        for e in true_set & pred_set:
            counts[i, index[e[0]], 0] += 1
        for e in pred_set - true_set:
            counts[i, index[e[0]], 1] += 1
        for e in true_set - pred_set:
            counts[i, index[e[0]], 2] += 1
        for e in true_set:
            true[i, index[e[0]]] += 1
    return types, counts, true


def micro_f1(counts: np.ndarray) -> np.ndarray | float:
    """Micro F1 = 2TP / (2TP + FP + FN) of summed counts; 0 where nothing was true or predicted.

    counts: shape (3,) for one F1, or (B, 3) for B of them (columns TP, FP, FN).
    """
    counts = np.asarray(counts, dtype=np.float64)
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    denom = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(denom), where=denom > 0)
    return float(f1) if f1.ndim == 0 else f1


# resample at most this many sentence draws at once (n_boot x N int64 would not fit for big tests)
_BOOT_CHUNK = 2_000_000


def _resampled_sums(counts: list[np.ndarray], n_boot: int, seed: int, design: SampleDesign | None = None) -> list[np.ndarray]:
    """For each (N, 3) count array, its (n_boot, 3) sums over the SAME resampled sentences
    (with a design: its weighted sums under the same rescaled bootstrap weights)."""
    n = len(counts[0])
    rng = np.random.default_rng(seed)
    if design is not None:
        sums: list[np.ndarray] = [np.empty((n_boot, 3)) for _ in counts]
        per_chunk = max(1, _BOOT_CHUNK // n)
        for start in range(0, n_boot, per_chunk):
            w = design.bootstrap_weights(min(n_boot, start + per_chunk) - start, rng)
            for c, out in zip(counts, sums):
                out[start:start + len(w)] = w @ c
        return sums
    sums = [np.empty((n_boot, 3), dtype=np.int64) for _ in counts]
    per_chunk = max(1, _BOOT_CHUNK // n)
    for start in range(0, n_boot, per_chunk):
        stop = min(n_boot, start + per_chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        for c, out in zip(counts, sums):
            out[start:stop] = c[idx].sum(axis=1)
    return sums


def _check_bootstrap(n: int, n_boot: int, level: float) -> None:
    if n == 0:
        raise ValueError("bootstrap F1: no sentences to score; pass at least one sentence")
    if n_boot < 1:
        raise ValueError(f"bootstrap F1: n_boot must be at least 1 (got {n_boot})")
    if not 0 < level < 1:
        raise ValueError(f"bootstrap F1: level must be between 0 and 1 (got {level})")


def _check_design(design: SampleDesign | None, n: int) -> None:
    if design is not None and len(design) != n:
        raise ValueError(f"bootstrap F1: the sample design has {len(design)} sentences but {n} were scored")


def _total(counts: np.ndarray, design: SampleDesign | None) -> np.ndarray:
    """The (3,) TP/FP/FN sums of (N, 3) per-sentence counts, weighted by the design if any."""
    return counts.sum(axis=0) if design is None else design.weights @ counts


def _interval(point: float, samples: np.ndarray, n: int, level: float) -> F1Interval:
    alpha = (1 - level) / 2
    low, high = np.quantile(samples, [alpha, 1 - alpha])
    return F1Interval(float(point), float(low), float(high), n, level)


def bootstrap_f1(
    true_tags: list[list[str]],
    pred_tags: list[list[str]],
    *,
    n_boot: int = 1000,
    level: float = 0.9,
    seed: int = 0,
    design: SampleDesign | None = None,
) -> F1Interval:
    """Entity-level micro F1 (seqeval default mode) with a sentence-bootstrap percentile interval.

    true_tags, pred_tags: N >= 1 sentences, each a list of IOB2 tag strings; sentence i of
    both has the same length. n_boot resamples of N sentences drawn with replacement;
    level: the interval's coverage (0.9 = the 5th to 95th percentile of the resampled F1).
    design: how the N sentences were drawn when not uniformly (auditor.sample_design): the
    F1 of the weighted counts, resampled within strata. Same inputs and seed = same numbers.
    Raises ValueError on empty or mismatched input.
    """
    _check_bootstrap(len(true_tags), n_boot, level)
    counts = entity_counts(true_tags, pred_tags)
    _check_design(design, len(counts))
    (sums,) = _resampled_sums([counts], n_boot, seed, design)
    return _interval(micro_f1(_total(counts, design)), micro_f1(sums), len(counts), level)


def paired_bootstrap_delta(
    true_tags: list[list[str]],
    pred_before: list[list[str]],
    pred_after: list[list[str]],
    *,
    n_boot: int = 1000,
    level: float = 0.9,
    seed: int = 0,
    design: SampleDesign | None = None,
) -> F1Interval:
    """F1(after) - F1(before) on the same true tags, with a paired sentence-bootstrap interval.

    true_tags, pred_before, pred_after: N >= 1 sentences of IOB2 tag strings, sentence i of
    all three the same length. Each resample draws N sentences once and scores both
    taggers on them, so the sentences' shared difficulty cancels out of the difference
    (a much tighter interval than two independent ones). f1 is the point difference;
    an interval that excludes 0 says the change is larger than the test's sampling noise.
    design: as in bootstrap_f1 (a sample drawn mostly where the taggers disagree gets the
    sign of a small change right with far fewer sentences).
    """
    if len(pred_before) != len(pred_after):
        raise ValueError(f"{len(pred_before)} 'before' sentences but {len(pred_after)} 'after'")
    _check_bootstrap(len(true_tags), n_boot, level)
    before = entity_counts(true_tags, pred_before)
    after = entity_counts(true_tags, pred_after)
    return paired_counts_delta(before, after, n_boot=n_boot, level=level, seed=seed, design=design)


def paired_counts_delta(
    before: np.ndarray,
    after: np.ndarray,
    *,
    n_boot: int = 1000,
    level: float = 0.9,
    seed: int = 0,
    design: SampleDesign | None = None,
) -> F1Interval:
    """paired_bootstrap_delta from per-sentence counts: before, after (N, 3) TP/FP/FN of each
    tagger on the same N sentences (entity_counts). For callers that score many subsamples of
    one test split (count once, then index)."""
    if before.shape != after.shape:
        raise ValueError(f"'before' counts of shape {before.shape} but 'after' {after.shape}")
    _check_bootstrap(len(before), n_boot, level)
    _check_design(design, len(before))
    sums_before, sums_after = _resampled_sums([before, after], n_boot, seed, design)
    point = micro_f1(_total(after, design)) - micro_f1(_total(before, design))
    return _interval(point, micro_f1(sums_after) - micro_f1(sums_before), len(before), level)


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalRow:
    """One tagger ("before"/"after") on one test language against one label set."""

    model: str
    labels: str
    lang: str
    scores: Scores

    def to_dict(self) -> dict:
        return {"model": self.model, "labels": self.labels, "lang": self.lang, **self.scores.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> EvalRow:
        return cls(d["model"], d["labels"], d["lang"], Scores.from_dict(d))


@dataclass(frozen=True)
class IntervalRow:
    """A bootstrap interval of one tagger's F1 ("before"/"after") or of their difference
    ("delta" = after - before, paired) on one test language against one label set."""

    model: str
    labels: str
    lang: str
    interval: F1Interval

    def to_dict(self) -> dict:
        return {"model": self.model, "labels": self.labels, "lang": self.lang, **self.interval.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> IntervalRow:
        return cls(d["model"], d["labels"], d["lang"], F1Interval.from_dict(d))


@dataclass
class ExperimentResult:
    name: str
    train: list[str]
    test: list[str]
    results: list[EvalRow] = field(default_factory=list)
    intervals: list[IntervalRow] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "train": list(self.train),
            "test": list(self.test),
            "results": [r.to_dict() for r in self.results],
            "intervals": [r.to_dict() for r in self.intervals],
        }

    @classmethod
    def from_dict(cls, d: dict) -> ExperimentResult:
        return cls(
            d["name"], list(d["train"]), list(d["test"]), [EvalRow.from_dict(r) for r in d["results"]],
            [IntervalRow.from_dict(r) for r in d.get("intervals", [])],  # runs before intervals have none
        )

    def interval(self, model: str, labels: str, lang: str) -> F1Interval | None:
        """The interval of (model or "delta", label set, test language), None when not measured."""
        return next((r.interval for r in self.intervals if (r.model, r.labels, r.lang) == (model, labels, lang)), None)


@dataclass
class RetrainResult:
    """The metrics.json["retrain"] section. disabled: the run's config turned retraining off
    (retrain.enabled: false), so there are no experiments by design, not by failure.
    verified_weighted: the verified test sentences were drawn where the taggers disagree and
    their scores are weighted (auditor.sample_design), not a uniform sample's."""

    SECTION: ClassVar[str] = "retrain"

    experiments: list[ExperimentResult] = field(default_factory=list)
    disabled: bool = False
    verified_weighted: bool = False

    def to_dict(self) -> dict:
        out: dict = {"experiments": [e.to_dict() for e in self.experiments]}
        if self.disabled:
            out["disabled"] = True
        if self.verified_weighted:
            out["verified_weighted"] = True
        return out

    @classmethod
    def from_dict(cls, d: dict) -> RetrainResult:
        if not isinstance(d, dict):
            raise TypeError(f"a JSON {type(d).__name__}, not an object")
        return cls([ExperimentResult.from_dict(e) for e in d.get("experiments") or []], bool(d.get("disabled", False)),
                   bool(d.get("verified_weighted", False)))

    def same_scores(self, a: str, b: str) -> bool:
        """True when label sets a and b gave identical F1 and support for every (experiment,
        model, test language): e.g. silver and clean on a test split without noise, where the
        F1 tables show one of them only."""
        ca = {(e.name, r.model, r.lang): r.scores for e in self.experiments for r in e.results if r.labels == a}
        cb = {(e.name, r.model, r.lang): r.scores for e in self.experiments for r in e.results if r.labels == b}
        return bool(ca) and ca.keys() == cb.keys() and all(ca[k].f1 == cb[k].f1 and ca[k].support == cb[k].support for k in ca)

    def shown_label_sets(self) -> list[str]:
        """label_sets() as the F1 tables show them: silver left out when it equals clean."""
        sets = self.label_sets()
        if "silver" in sets and "clean" in sets and self.same_scores("silver", "clean"):
            sets.remove("silver")
        return sets

    def label_sets(self) -> list[str]:
        present = {r.labels for e in self.experiments for r in e.results}
        return [s for s in LABEL_SETS if s in present]


def primary_labels(result: RetrainResult) -> str | None:
    """The most trustworthy label set evaluated: clean, else verified, else reviewed, else silver."""
    present = result.label_sets()
    for name in ("clean", "verified", "reviewed", "silver"):
        if name in present:
            return name
    return None


# --- experiments -----------------------------------------------------------------------


@dataclass(frozen=True)
class ExperimentPlan:
    """A resolved experiment: a unique name and concrete language lists."""

    name: str
    train: list[str]
    test: list[str]


def corpus_languages(corpus: DatasetDict, preferred: Sequence[str] = ()) -> list[str]:
    """Languages present in the corpus: those of `preferred` first in its order, then the rest sorted."""
    present = set()
    for split in corpus.values():
        present.update(split.unique("lang"))
    return [lang for lang in preferred if lang in present] + sorted(present - set(preferred))


def plan_experiments(experiments: Sequence[Experiment], languages: list[str]) -> list[ExperimentPlan]:
    """Expand "each"/"all", check the languages exist, drop exact duplicates, name uniquely.

    Names: the training languages joined by "+", or "all"; a clash with a different
    test set gets a "-2", "-3", ... suffix.
    """
    plans: list[ExperimentPlan] = []
    seen: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
    names: set[str] = set()
    for exp in experiments:
        test = languages if exp.test == "all" else list(exp.test)
        if exp.train == "each":
            trains = [([lang], lang) for lang in languages]
        elif exp.train == "all":
            trains = [(languages, "all")]
        else:
            trains = [(list(exp.train), "+".join(exp.train))]
        for train, base in trains:
            for lang in [*train, *test]:
                if lang not in languages:
                    raise DataError(
                        f"retrain.experiments: language '{lang}' is not in the corpus (languages: {', '.join(languages)})"
                    )
            key = (tuple(train), tuple(test))
            if key in seen:
                continue
            seen.add(key)
            name, n = base, 1
            while name in names:
                n += 1
                name = f"{base}-{n}"
            names.add(name)
            plans.append(ExperimentPlan(name, list(train), list(test)))
    return plans


def _rows(corpus: DatasetDict, splits: Sequence[str], langs: Sequence[str]) -> Dataset | None:
    """The rows of the given splits whose lang is in langs, concatenated in split order."""
    from datasets import concatenate_datasets

    wanted = set(langs)
    parts = []
    for split in splits:
        if split not in corpus:
            continue
        ds = corpus[split]
        idx = [i for i, lang in enumerate(ds["lang"]) if lang in wanted]
        if idx:
            parts.append(ds.select(idx).select_columns(_TRAIN_COLUMNS))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else concatenate_datasets(parts)


def training_data(
    corpus: DatasetDict, train_splits: Sequence[str], langs: Sequence[str], seed: int
) -> tuple[Dataset, Dataset | None]:
    """(train, eval): the train-split rows of langs shuffled with seed; the validation rows of langs."""
    train = _rows(corpus, train_splits, langs)
    if train is None or len(train) == 0:
        raise DataError(
            f"retrain: no training sentences for language(s) {', '.join(langs)} in split(s) {', '.join(train_splits)}"
        )
    return train.shuffle(seed=seed).flatten_indices(), _rows(corpus, [VALIDATION_SPLIT], langs)


@dataclass(frozen=True)
class EvalSet:
    """One language's test sentences and the label sets to score against (tag strings).

    labels[name] holds one tag list per sentence of data, except for the label sets in
    rows: those cover only the sentences rows[name] (indices into data), in that order."""

    lang: str
    data: Dataset
    labels: dict[str, list[list[str]]]
    rows: dict[str, list[int]] = field(default_factory=dict)
    # label set -> how its sentences were drawn, when not uniformly (a weighted verified sample)
    designs: dict[str, SampleDesign] = field(default_factory=dict)

    def judged(self, labels: str, pred: list[list[str]]) -> tuple[list[list[str]], list[list[str]]]:
        """(true, predicted) tags of the sentences that label set judges; pred covers all of data."""
        idx = self.rows.get(labels)
        return self.labels[labels], pred if idx is None else [pred[i] for i in idx]

    def scores(self, labels: str, pred: list[list[str]]) -> Scores:
        """The entity scores of pred against a label set: weighted when its sample was."""
        true, judged = self.judged(labels, pred)
        design = self.designs.get(labels)
        return seqeval_scores(true, judged) if design is None else weighted_scores(true, judged, design.weights)


def eval_sets(
    original: DatasetDict,
    cleaned: DatasetDict | None,
    langs: Sequence[str],
    reviewed: bool,
    verified: VerifiedTest | None = None,
) -> list[EvalSet]:
    """The test split of each language with its silver, clean and (if reviewed) reviewed tags,
    and the verified tags of its sentences in `verified` (a language with none of them gets
    no verified set; a weighted sample's design comes along)."""
    if TEST_SPLIT not in original:
        raise DataError(f"retrain: the corpus has no '{TEST_SPLIT}' split (splits: {', '.join(original)})")
    names = label_names(original)
    test = original[TEST_SPLIT]
    with_clean = has_clean_tags(test)
    reviewed_test = cleaned[TEST_SPLIT] if reviewed and cleaned is not None and TEST_SPLIT in cleaned else None
    reviewed_by_id = (
        {i: tags for i, tags in zip(reviewed_test["id"], reviewed_test["ner_tags"])} if reviewed_test else None
    )
    out = []
    for lang in langs:
        idx = [i for i, x in enumerate(test["lang"]) if x == lang]
        if not idx:
            raise DataError(f"retrain: no '{TEST_SPLIT}' sentences for language '{lang}'")
        ds = test.select(idx)
        labels = {"silver": _names(ds["ner_tags"], names)}
        if with_clean:
            labels["clean"] = _names(ds[CLEAN_COLUMN], names)
        if reviewed_by_id is not None:
            missing = [i for i in ds["id"] if i not in reviewed_by_id]
            if missing:
                raise DataError(f"retrain: cleaned test split lacks sentence {missing[0]}; re-run the apply stage")
            labels["reviewed"] = _names([reviewed_by_id[i] for i in ds["id"]], names)
        rows: dict[str, list[int]] = {}
        designs: dict[str, SampleDesign] = {}
        if verified:
            mine = [i for i, sid in enumerate(ds["id"]) if sid in verified.tags]
            if mine:
                ids = [ds["id"][i] for i in mine]
                labels["verified"] = [list(verified.tags[sid]) for sid in ids]
                rows["verified"] = mine
                if verified.design is not None:
                    designs["verified"] = verified.design_of(ids)
        out.append(EvalSet(lang, ds.select_columns(_TRAIN_COLUMNS), labels, rows, designs))
    return out


def _names(rows: list[list[int]], names: list[str]) -> list[list[str]]:
    return [[names[t] for t in row] for row in rows]


def predict_tags(tagger, ds: Dataset, cfg: PipelineConfig, progress: bool) -> list[list[str]]:
    """Argmax word tags of a tagger on ds, one list per sentence in ds order."""
    from auditor.modeling.predict import predict_word_probs

    probs = predict_word_probs(
        tagger,
        ds,
        max_length=cfg.model.max_length,
        stride=cfg.model.stride,
        batch_size=_training_cfg(cfg).eval_batch_size,
        progress=progress,
    )
    names = tagger.label_names
    return [[names[k] for k in np.asarray(p).argmax(axis=1)] for p in probs]


def _training_cfg(cfg: PipelineConfig) -> TrainingConfig:
    return cfg.retrain.training or cfg.training


def run_retrain(
    original: DatasetDict,
    cleaned: DatasetDict | None,
    cfg: PipelineConfig,
    run_dir: Path,
    progress: bool = True,
) -> RetrainResult:
    """Train "before" (original) and "after" (cleaned) taggers per experiment and score them:
    train_retrain, then judge_retrain on its test predictions (the retrain and judge stages)."""
    return judge_retrain(original, cleaned, cfg, train_retrain(original, cleaned, cfg, run_dir, progress))


def train_retrain(
    original: DatasetDict,
    cleaned: DatasetDict | None,
    cfg: PipelineConfig,
    run_dir: Path,
    progress: bool = True,
) -> list[TestPrediction]:
    """Train "before" (original) and "after" (cleaned) taggers per experiment and tag the test
    split of each of its test languages.

    Models are saved to run_dir/models/{before,after}/<experiment>/, the tags to
    run_dir/test-predictions.parquet (auditor.test_predictions; what judge_retrain scores and
    `auditor sample --where disagree` reads). Without a cleaned corpus only "before" is trained.
    """
    from auditor.distributed import is_main_process
    from auditor.modeling.factory import resolve_model
    from auditor.modeling.training import train_tagger
    from auditor.test_predictions import write_test_predictions

    run_dir = Path(run_dir)
    names = label_names(original)
    if cleaned is not None and label_names(cleaned) != names:
        raise DataError("retrain: the cleaned corpus has a different label set than the original; re-run apply")
    training_cfg = _training_cfg(cfg)
    model_path = resolve_model(cfg.model, original, run_dir)
    corpora = {"before": original} if cleaned is None else {"before": original, "after": _complete(cleaned, original)}
    kept: list[TestPrediction] = []
    for plan in _plans(original, cfg):
        test = _test_split(original, plan.test)
        for model_name, corpus in corpora.items():
            train, evaluation = training_data(corpus, cfg.data.train_splits, plan.train, training_cfg.seed)
            out_dir = RunDir(run_dir).model(model_name, plan.name)
            tagger = train_tagger(train, evaluation, names, model_path, cfg.model, training_cfg, out_dir, progress,
                                  progress_desc=f"retrain {plan.name} ({model_name})")
            pred = predict_tags(tagger, test, cfg, progress)
            kept.extend(TestPrediction(plan.name, model_name, sid, tags) for sid, tags in zip(test["id"], pred))
    if is_main_process():
        write_test_predictions(RunDir(run_dir).test_predictions, kept)
    return kept


def judge_retrain(
    original: DatasetDict,
    cleaned: DatasetDict | None,
    cfg: PipelineConfig,
    predictions: list[TestPrediction],
) -> RetrainResult:
    """Score the kept test predictions of every experiment on each test language: F1 on every
    label set the run has (silver, clean, reviewed, and the verified test sentences of
    retrain.verified_test, weighted when the sample was), each with its bootstrap interval, and
    the paired interval of each after - before. No training: a re-verified test sample is
    judged again from the same taggers' tags. Raises DataError when a prediction is missing
    (the retrain stage did not tag that test sentence)."""
    from auditor.verified_test import read_verified_test

    names = label_names(original)
    reviewed = cfg.retrain.reviewed_test and TEST_SPLIT in cfg.data.audit
    verified = None
    if cfg.retrain.verified_test:
        if TEST_SPLIT not in original:
            raise DataError(f"retrain: the corpus has no '{TEST_SPLIT}' split (splits: {', '.join(original)})")
        verified = read_verified_test(cfg.retrain.verified_test, original[TEST_SPLIT], names)
    by_key = by_tagger(predictions)
    result = RetrainResult(verified_weighted=verified is not None and verified.design is not None)
    for plan in _plans(original, cfg):
        tests = eval_sets(original, cleaned, plan.test, reviewed, verified)
        exp = ExperimentResult(plan.name, plan.train, plan.test)
        preds: dict[str, list[list[list[str]]]] = {}
        for model_name in ("before", "after"):
            tags = by_key.get((plan.name, model_name))
            if tags is None:
                if model_name == "before" or cleaned is not None:
                    raise DataError(f"retrain: no test predictions of the {model_name} tagger of experiment {plan.name}; "
                                    "run the retrain stage again (auditor run PIPELINE --from retrain)")
                continue
            preds[model_name] = [_predicted(tags, ts, plan.name, model_name) for ts in tests]
            for ts, pred in zip(tests, preds[model_name]):
                for label_set in LABEL_SETS:
                    if label_set in ts.labels:
                        exp.results.append(EvalRow(model_name, label_set, ts.lang, ts.scores(label_set, pred)))
        exp.intervals = score_intervals(tests, preds, seed=_training_cfg(cfg).seed)
        result.experiments.append(exp)
    return result


def _plans(original: DatasetDict, cfg: PipelineConfig) -> list[ExperimentPlan]:
    return plan_experiments(cfg.retrain.experiments, corpus_languages(original, list(cfg.data.languages)))


def _test_split(original: DatasetDict, langs: Sequence[str]) -> Dataset:
    """The test sentences of the given languages, in the test split's order."""
    if TEST_SPLIT not in original:
        raise DataError(f"retrain: the corpus has no '{TEST_SPLIT}' split (splits: {', '.join(original)})")
    test = original[TEST_SPLIT]
    wanted = set(langs)
    return test.select([i for i, x in enumerate(test["lang"]) if x in wanted]).select_columns(_TRAIN_COLUMNS)


def _predicted(tags: dict[str, list[str]], ts: EvalSet, experiment: str, model: str) -> list[list[str]]:
    missing = next((sid for sid in ts.data["id"] if sid not in tags), None)
    if missing is not None:
        raise DataError(f"retrain: the {model} tagger of experiment {experiment} has no test prediction for {missing}; "
                        "run the retrain stage again (auditor run PIPELINE --from retrain)")
    return [tags[sid] for sid in ts.data["id"]]


def score_intervals(tests: list[EvalSet], preds: dict[str, list[list[list[str]]]], seed: int = 0) -> list[IntervalRow]:
    """Bootstrap intervals of every (model, label set, test language) F1 and, with both
    models, the paired interval of after - before ("delta").

    tests: the evaluation sets; preds: model name -> one prediction list per test set (each
    covering all of that set's sentences)."""
    rows: list[IntervalRow] = []
    for t, ts in enumerate(tests):
        for label_set in LABEL_SETS:
            if label_set not in ts.labels:
                continue
            judged = {m: ts.judged(label_set, p[t]) for m, p in preds.items()}
            design = ts.designs.get(label_set)
            for model, (true, pred) in judged.items():
                iv = bootstrap_f1(true, pred, n_boot=N_BOOT, level=LEVEL, seed=seed, design=design)
                rows.append(IntervalRow(model, label_set, ts.lang, iv))
            if "before" in judged and "after" in judged:
                true = judged["before"][0]
                delta = paired_bootstrap_delta(true, judged["before"][1], judged["after"][1], n_boot=N_BOOT, level=LEVEL,
                                               seed=seed, design=design)
                rows.append(IntervalRow("delta", label_set, ts.lang, delta))
    return rows


def _complete(cleaned: DatasetDict, original: DatasetDict) -> DatasetDict:
    """The cleaned corpus, with any split that cleaning did not write taken from the original."""
    return DatasetDict({s: cleaned[s] if s in cleaned else original[s] for s in original})
