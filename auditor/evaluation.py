"""Retrain on the original and on the cleaned corpus, and measure cross-lingual F1.

For each retrain experiment (train on some languages, test on each language) two final
taggers are trained with the same model, config and seed: "before" on the original
(silver) training data, "after" on the cleaned training data. Each is evaluated on every
test language's test split against up to three label sets:

    silver    the test tags as given (what a user without clean labels can measure)
    clean     the known clean tags (synthetic corpus, or a corpus with a truth file)
    reviewed  the test tags after review, when the test split was audited and cleaned

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

import numpy as np
import pandas as pd
from datasets import Dataset, DatasetDict

from auditor.config import Experiment, PipelineConfig, TrainingConfig
from auditor.data.corpus import CLEAN_COLUMN, has_clean_tags, label_names
from auditor.errors import DataError
from auditor.run_dir import RunDir

MODELS = ("before", "after")
LABEL_SETS = ("silver", "clean", "reviewed")
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


def _entity_types(true_tags: list[list[str]], pred_tags: list[list[str]]) -> list[str]:
    """The type names in seqeval's per-type order (sorted union of true and predicted)."""
    from seqeval.metrics.sequence_labeling import get_entities

    return sorted({t for t, _, _ in get_entities(true_tags)} | {t for t, _, _ in get_entities(pred_tags)})


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


@dataclass
class ExperimentResult:
    name: str
    train: list[str]
    test: list[str]
    results: list[EvalRow] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "train": list(self.train),
            "test": list(self.test),
            "results": [r.to_dict() for r in self.results],
        }

    @classmethod
    def from_dict(cls, d: dict) -> ExperimentResult:
        return cls(d["name"], list(d["train"]), list(d["test"]), [EvalRow.from_dict(r) for r in d["results"]])


@dataclass
class RetrainResult:
    experiments: list[ExperimentResult] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The metrics.json["retrain"] section."""
        return {"experiments": [e.to_dict() for e in self.experiments]}

    @classmethod
    def from_dict(cls, d: dict) -> RetrainResult:
        return cls([ExperimentResult.from_dict(e) for e in d.get("experiments", [])])

    def label_sets(self) -> list[str]:
        present = {r.labels for e in self.experiments for r in e.results}
        return [s for s in LABEL_SETS if s in present]


def primary_labels(result: RetrainResult) -> str | None:
    """The most trustworthy label set evaluated: clean, else reviewed, else silver."""
    present = result.label_sets()
    for name in ("clean", "reviewed", "silver"):
        if name in present:
            return name
    return None


def f1_matrix(result: RetrainResult | dict, labels: str | None = None) -> pd.DataFrame:
    """Micro F1 per (experiment, model) row and test-language column, for one label set.

    labels: "silver" | "clean" | "reviewed"; default primary_labels(result). Cells of
    languages an experiment did not test are NaN. Columns in first-seen order.
    """
    if isinstance(result, dict):
        result = RetrainResult.from_dict(result)
    labels = labels or primary_labels(result)
    cells: dict[tuple[str, str], dict[str, float]] = {}
    langs: list[str] = []
    for exp in result.experiments:
        for row in exp.results:
            if row.labels != labels:
                continue
            cells.setdefault((exp.name, row.model), {})[row.lang] = row.scores.f1
            if row.lang not in langs:
                langs.append(row.lang)
    index = pd.MultiIndex.from_tuples(list(cells), names=["experiment", "model"])
    return pd.DataFrame([[c.get(lang, np.nan) for lang in langs] for c in cells.values()], index=index, columns=langs)


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
    """One language's test sentences and the label sets to score against (tag strings)."""

    lang: str
    data: Dataset
    labels: dict[str, list[list[str]]]


def eval_sets(original: DatasetDict, cleaned: DatasetDict | None, langs: Sequence[str], reviewed: bool) -> list[EvalSet]:
    """The test split of each language with its silver, clean and (if reviewed) reviewed tags."""
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
        out.append(EvalSet(lang, ds.select_columns(_TRAIN_COLUMNS), labels))
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
    """Train "before" (original) and "after" (cleaned) taggers per experiment and score them.

    Models are saved to run_dir/models/{before,after}/<experiment>/. Without a cleaned
    corpus only "before" is trained. Returns every (model, label set, test language) score.
    """
    from auditor.modeling.factory import resolve_model
    from auditor.modeling.training import train_tagger

    run_dir = Path(run_dir)
    names = label_names(original)
    if cleaned is not None and label_names(cleaned) != names:
        raise DataError("retrain: the cleaned corpus has a different label set than the original; re-run apply")
    training_cfg = _training_cfg(cfg)
    model_path = resolve_model(cfg.model, original, run_dir)
    languages = corpus_languages(original, list(cfg.data.languages))
    plans = plan_experiments(cfg.retrain.experiments, languages)
    reviewed = cfg.retrain.reviewed_test and TEST_SPLIT in cfg.data.audit
    corpora = {"before": original} if cleaned is None else {"before": original, "after": _complete(cleaned, original)}

    result = RetrainResult()
    for plan in plans:
        tests = eval_sets(original, cleaned, plan.test, reviewed)
        exp = ExperimentResult(plan.name, plan.train, plan.test)
        for model_name, corpus in corpora.items():
            train, evaluation = training_data(corpus, cfg.data.train_splits, plan.train, training_cfg.seed)
            out_dir = RunDir(run_dir).model(model_name, plan.name)
            tagger = train_tagger(train, evaluation, names, model_path, cfg.model, training_cfg, out_dir, progress)
            for ts in tests:
                pred = predict_tags(tagger, ts.data, cfg, progress)
                for label_set in LABEL_SETS:
                    if label_set in ts.labels:
                        exp.results.append(EvalRow(model_name, label_set, ts.lang, seqeval_scores(ts.labels[label_set], pred)))
        result.experiments.append(exp)
    return result


def _complete(cleaned: DatasetDict, original: DatasetDict) -> DatasetDict:
    """The cleaned corpus, with any split that cleaning did not write taken from the original."""
    return DatasetDict({s: cleaned[s] if s in cleaned else original[s] for s in original})
