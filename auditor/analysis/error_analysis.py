"""The chapter's error analysis of a trained tagger on one split of a run's corpus.

Every word of the split gets the model's probabilities; its loss is the cross-entropy of
the split's tag under them (nats, auditor.scoring.losses). From those:

- tokens by summed loss (count, mean, sum): frequent words the model keeps getting
  "wrong" point at systematic label errors (the chapter's "United Nations" as PER);
- loss per gold tag: which tags are hard, or inconsistently labelled;
- the row-normalized confusion matrix of gold vs predicted tags;
- the sentences with the highest summed loss, word by word.

The tags are the split's tags as stored in the run's corpus (the silver labels), since
the point is to find where model and labels disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from auditor.errors import DataError
from auditor.records import fields_from_dict
from auditor.run_dir import RunDir

ANALYSIS_DIR = "analysis"


@dataclass(frozen=True)
class LossRow:
    """Loss of one group of words (a token string or a gold tag): count, mean and sum in nats."""

    key: str
    count: int
    mean: float
    sum: float


@dataclass(frozen=True)
class WorstSentence:
    """One sentence with its gold tags, predicted tags and word losses (nats)."""

    id: str
    lang: str
    tokens: list[str]
    labels: list[str]
    predictions: list[str]
    losses: list[float]

    @property
    def loss(self) -> float:
        return float(sum(self.losses))

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "lang": self.lang,
            "tokens": self.tokens,
            "labels": self.labels,
            "predictions": self.predictions,
            "losses": [round(x, 4) for x in self.losses],
        }

    @classmethod
    def from_dict(cls, d: dict) -> WorstSentence:
        return cls(**fields_from_dict(cls, d))


@dataclass
class AnalysisResult:
    """The analysis tables; to_dict() is the metrics.json["analysis"] section.

    confusion: (K, K) row-normalized (rows = gold tag, columns = predicted), rows of tags
    absent from the split are 0. n_words: words analysed (= sum of loss_per_tag counts).
    """

    SECTION: ClassVar[str] = "analysis"

    split: str
    model: str
    experiment: str | None
    n_sentences: int
    n_words: int
    top_tokens: list[LossRow]
    loss_per_tag: list[LossRow]
    labels: list[str]
    confusion: np.ndarray
    worst_sentences: list[WorstSentence]
    lang: str | None = None
    figure: Path | None = None
    accuracy: float = field(default=float("nan"))

    def to_dict(self) -> dict:
        def rows(items: list[LossRow], key: str) -> list[dict]:
            return [{key: r.key, "count": r.count, "mean": r.mean, "sum": r.sum} for r in items]

        return {
            "split": self.split,
            "model": self.model,
            "experiment": self.experiment,
            "lang": self.lang,
            "n_sentences": self.n_sentences,
            "n_words": self.n_words,
            "accuracy": self.accuracy,
            "top_tokens": rows(self.top_tokens, "token"),
            "loss_per_tag": rows(self.loss_per_tag, "tag"),
            "confusion": {"labels": list(self.labels), "matrix": np.round(self.confusion, 4).tolist()},
            "worst_sentences": [s.to_dict() for s in self.worst_sentences],
            "figure": str(self.figure) if self.figure else None,
        }

    @classmethod
    def from_dict(cls, d: dict) -> AnalysisResult:
        """metrics.json["analysis"] back (NaN accuracy was written as null)."""
        if not isinstance(d, dict):
            raise TypeError(f"a JSON {type(d).__name__}, not an object")

        def rows(items, key: str) -> list[LossRow]:
            return [LossRow(str(r[key]), int(r["count"]), float(r["mean"]), float(r["sum"])) for r in items or []]

        conf = d.get("confusion") or {}
        accuracy = d.get("accuracy")
        return cls(**fields_from_dict(
            cls, d,
            top_tokens=rows(d.get("top_tokens"), "token"),
            loss_per_tag=rows(d.get("loss_per_tag"), "tag"),
            labels=list(conf.get("labels") or []),
            confusion=np.asarray(conf.get("matrix") or [], dtype=float),
            worst_sentences=[WorstSentence.from_dict(s) for s in d.get("worst_sentences") or []],
            figure=Path(d["figure"]) if d.get("figure") else None,
            accuracy=float("nan") if accuracy is None else float(accuracy),
        ))


def _loss_rows(table: pd.DataFrame, key: str) -> list[LossRow]:
    return [LossRow(str(r[key]), int(r["count"]), float(r["mean"]), float(r["sum"])) for r in table.to_dict("records")]


def analyze_predictions(
    ids: Sequence[str],
    langs: Sequence[str],
    tokens: Sequence[Sequence[str]],
    tags: Sequence[Sequence[int]],
    probs: Sequence[np.ndarray],
    label_names: Sequence[str],
    *,
    split: str,
    model: str,
    experiment: str | None = None,
    top_tokens: int = 20,
    top_sentences: int = 10,
) -> AnalysisResult:
    """The analysis tables from word probabilities.

    tokens, tags: one list per sentence (tag ids into label_names); probs: one (n_words, K)
    array per sentence, rows summing to 1. Sentences without words count in n_sentences only.
    """
    from sklearn.metrics import confusion_matrix

    from auditor.scoring.losses import loss_per_tag, sequence_losses, token_losses, top_tokens_by_loss

    names = np.asarray(label_names, dtype=object)
    k = len(label_names)
    lengths = np.array([len(t) for t in tokens], dtype=np.int64)
    if any(len(p) != n for p, n in zip(probs, lengths)) or len(probs) != len(tokens):
        raise ValueError("analyze_predictions: one (n_words, K) probability array per sentence is needed")
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    flat_probs = np.concatenate([np.asarray(p).reshape(-1, k) for p in probs]) if len(probs) else np.zeros((0, k))
    gold = np.fromiter((t for row in tags for t in row), dtype=np.int64, count=int(offsets[-1]))
    pred = flat_probs.argmax(axis=1)
    losses = token_losses(flat_probs, gold)
    frame = pd.DataFrame(
        {"token": [w for row in tokens for w in row], "tag": names[gold] if len(gold) else [], "loss": losses}
    )
    seq_sum, _ = sequence_losses(losses, offsets)
    # highest summed loss first; ties in id order so the table is stable
    order = sorted(range(len(tokens)), key=lambda i: (-seq_sum[i], ids[i]))[:top_sentences]
    worst = [
        WorstSentence(
            id=ids[i],
            lang=langs[i],
            tokens=list(tokens[i]),
            labels=list(names[gold[offsets[i] : offsets[i + 1]]]),
            predictions=list(names[pred[offsets[i] : offsets[i + 1]]]),
            losses=[float(x) for x in losses[offsets[i] : offsets[i + 1]]],
        )
        for i in order
        if lengths[i] > 0
    ]
    matrix = (
        confusion_matrix(gold, pred, labels=list(range(k)), normalize="true") if len(gold) else np.zeros((k, k))
    )
    return AnalysisResult(
        split=split,
        model=model,
        experiment=experiment,
        n_sentences=len(tokens),
        n_words=int(offsets[-1]),
        top_tokens=_loss_rows(top_tokens_by_loss(frame, n=top_tokens), "token"),
        loss_per_tag=_loss_rows(loss_per_tag(frame), "tag"),
        labels=list(label_names),
        confusion=np.asarray(matrix, dtype=np.float64),
        worst_sentences=worst,
        accuracy=float((gold == pred).mean()) if len(gold) else float("nan"),
    )


def run_analysis(
    run_dir: str | Path,
    split: str = "validation",
    model: str = "after",
    experiment: str | None = None,
    progress: bool = True,
    lang: str | None = None,
    write: bool = True,
) -> AnalysisResult:
    """Analyse a run's tagger (models/<model>/<experiment>) on a split of the run's corpus.

    With write=True (default) the confusion-matrix figure goes to
    run_dir/analysis/confusion_<split>[_<lang>].png and the tables to
    metrics.json["analysis"]. Raises DataError/ModelError (one line) for a missing run
    part, split or language.
    """
    from auditor.analysis.models import find_model
    from auditor.data.corpus import label_names
    from auditor.metrics import write_section
    from auditor.modeling.predict import predict_word_probs
    from auditor.modeling.training import load_tagger

    run_dir = Path(run_dir)
    rd = RunDir(run_dir)
    if not rd.config.is_file() or not rd.corpus.is_dir():
        raise DataError(f"{run_dir}: not a run directory (needs config.yaml and corpus/); run `auditor run` first")
    ref = find_model(run_dir, model, experiment)
    cfg = rd.read_config()
    corpus = rd.read_corpus()
    if split not in corpus:
        raise DataError(f"{run_dir}: the corpus has no split '{split}' (splits: {', '.join(corpus)})")
    ds = corpus[split]
    if lang is not None:
        present = sorted(set(ds["lang"]))
        if lang not in present:
            raise DataError(f"split '{split}' has no sentences in '{lang}' (languages: {', '.join(present)})")
        ds = ds.filter(lambda x: x == lang, input_columns="lang")
    names = label_names(corpus)
    tagger = load_tagger(ref.path)
    if list(tagger.label_names) != names:
        raise DataError(f"{ref.path}: the model's labels {tagger.label_names} differ from the corpus labels {names}")
    probs = predict_word_probs(
        tagger, ds, cfg.model.max_length, cfg.model.stride, batch_size=cfg.training.eval_batch_size, progress=progress
    )
    result = analyze_predictions(
        list(ds["id"]), list(ds["lang"]), list(ds["tokens"]), list(ds["ner_tags"]), probs, names,
        split=split, model=ref.model or "", experiment=ref.experiment,
        top_tokens=cfg.report.top_tokens, top_sentences=cfg.report.top_sentences,
    )
    result.lang = lang
    if write:
        from auditor.reporting.figures import confusion_matrix_figure

        suffix = f"_{lang}" if lang else ""
        out = run_dir / ANALYSIS_DIR / f"confusion_{split}{suffix}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        result.figure = confusion_matrix_figure(result.confusion, result.labels, out)
        write_section(run_dir, result)
    return result
