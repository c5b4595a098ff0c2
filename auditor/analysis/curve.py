"""The chapter's learning curve: when does fine-tuning on the target language beat
zero-shot transfer from the source language?

For each model ("before" = the corpus as given, "after" = the cleaned corpus when the run
has one):

- zero-shot: a tagger trained on the source language(s) ("de", or "de+fr"), scored on the
  target language's test split. The run's retrain model of that experiment is reused when
  it was saved (run_dir/models/<model>/<source>), since it is the same training;
- fine-tuned: a tagger trained from the base model on the first n sentences of the target
  language's shuffled train split, for each n in curve.sizes, scored on the same test split.

Both models use the same sentences for each n (the cleaned corpus keeps the ids), so the
curves differ only by the labels. F1 is seqeval's entity micro F1 against the most
trustworthy test labels available (clean, else reviewed, else silver; see
auditor.evaluation).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from datasets import Dataset, DatasetDict

from auditor.config import PipelineConfig
from auditor.errors import ConfigError, DataError
from auditor.progress import progress_bar
from auditor.records import fields_from_dict
from auditor.run_dir import RunDir

ANALYSIS_DIR = "analysis"
_LABEL_PREFERENCE = ("clean", "reviewed", "silver")
# the Corpus columns a tagger trains on (cleaning adds bookkeeping columns that must not leak in)
_TRAIN_COLUMNS = ["id", "tokens", "ner_tags", "lang"]


@dataclass(frozen=True)
class CurvePoint:
    """F1 on the target test split of a tagger fine-tuned on `size` target sentences."""

    size: int
    model: str  # "before" | "after"
    f1: float

    def to_dict(self) -> dict:
        return {"size": self.size, "model": self.model, "f1": self.f1}

    @classmethod
    def from_dict(cls, d: dict) -> CurvePoint:
        return cls(**fields_from_dict(cls, d))


@dataclass
class CurveResult:
    """to_dict() is the metrics.json["curve"] section.

    sizes: the training sizes actually used (curve.sizes capped at the target's train
    sentences, duplicates dropped); labels: which test tags were scored against.
    """

    SECTION: ClassVar[str] = "curve"

    source: str
    target: str
    labels: str
    sizes: list[int]
    zero_shot: dict[str, float] = field(default_factory=dict)
    points: list[CurvePoint] = field(default_factory=list)
    reused: dict[str, str] = field(default_factory=dict)  # model -> reused zero-shot folder
    figure: Path | None = None

    def series(self) -> dict[str, list[float | None]]:
        """model -> F1 per size (in self.sizes order)."""
        out: dict[str, list[float | None]] = {}
        for model in dict.fromkeys(p.model for p in self.points):
            by_size = {p.size: p.f1 for p in self.points if p.model == model}
            out[model] = [by_size.get(n) for n in self.sizes]
        return out

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "target": self.target,
            "labels": self.labels,
            "sizes": list(self.sizes),
            "zero_shot": dict(self.zero_shot),
            "points": [p.to_dict() for p in self.points],
            "reused_zero_shot": dict(self.reused),
            "figure": str(self.figure) if self.figure else None,
        }

    @classmethod
    def from_dict(cls, d: dict) -> CurveResult:
        if not isinstance(d, dict):
            raise TypeError(f"a JSON {type(d).__name__}, not an object")
        return cls(**fields_from_dict(
            cls, d,
            points=[CurvePoint.from_dict(p) for p in d.get("points") or []],
            reused=dict(d.get("reused_zero_shot") or {}),
            figure=Path(d["figure"]) if d.get("figure") else None,
        ))


def _check_languages(source: list[str], target: str, languages: list[str]) -> None:
    for lang in [*source, target]:
        if lang not in languages:
            raise DataError(f"curve: language '{lang}' is not in the corpus (languages: {', '.join(languages)})")
    if target in source:
        raise ConfigError(f"curve: the target '{target}' is also a source language; zero-shot needs a language not trained on")


def curve_sizes(requested: list[int], available: int) -> list[int]:
    """Sorted sizes capped at `available`, duplicates dropped (e.g. [250, 4000], 500 -> [250, 500])."""
    return sorted({min(n, available) for n in requested if available > 0})


def _same_sentences(corpus: DatasetDict, splits: list[str], ids: list[str]) -> Dataset:
    """The rows of `splits` with the given ids, in ids order (the cleaned corpus keeps the
    original ids, so "after" trains on the same sentences as "before", relabelled)."""
    from datasets import concatenate_datasets

    parts = [corpus[s].select_columns(_TRAIN_COLUMNS) for s in splits if s in corpus]
    rows = concatenate_datasets(parts) if parts else None
    where = {i: k for k, i in enumerate(rows["id"])} if rows is not None else {}
    missing = [i for i in ids if i not in where]
    if missing:
        raise DataError(f"curve: the cleaned corpus lacks training sentence {missing[0]}; re-run the apply stage")
    return rows.select([where[i] for i in ids])


def _reusable(path: Path, names: list[str]) -> bool:
    """A saved retrain tagger for the zero-shot experiment with the corpus's label set."""
    import json

    from auditor.modeling.training import TAGGER_FILE

    meta = path / TAGGER_FILE
    if not ((path / "config.json").is_file() and meta.is_file()):
        return False
    try:
        return json.loads(meta.read_text(encoding="utf-8")).get("label_names") == names
    except (OSError, ValueError):
        return False


def run_curve(
    original: DatasetDict,
    cleaned: DatasetDict | None,
    cfg: PipelineConfig,
    run_dir: Path,
    progress: bool = True,
    write: bool = True,
) -> CurveResult:
    """Zero-shot F1 (source -> target) and fine-tuned F1 per training size, before and after
    cleaning (cfg.curve: source, target, sizes; model/training from cfg, retrain.training
    when set, like the retrain stage).

    With write=True the figure goes to run_dir/analysis/curve_<source>_<target>.png and the
    numbers to metrics.json["curve"]. Raises DataError/ConfigError for unknown languages.
    """
    from auditor.data.corpus import label_names
    from auditor.evaluation import corpus_languages, eval_sets, training_data
    from auditor.modeling.factory import resolve_model

    run_dir = Path(run_dir)
    source = cfg.curve.source.split("+")
    source_name, target = "+".join(source), cfg.curve.target
    _check_languages(source, target, corpus_languages(original))
    names = label_names(original)
    if cleaned is not None and label_names(cleaned) != names:
        raise DataError("curve: the cleaned corpus has a different label set than the original; re-run apply")
    seed = (cfg.retrain.training or cfg.training).seed
    corpora = {"before": original}
    if cleaned is not None:
        corpora["after"] = DatasetDict({s: cleaned[s] if s in cleaned else original[s] for s in original})

    reviewed = cfg.retrain.reviewed_test and "test" in cfg.data.audit
    test = eval_sets(original, cleaned, [target], reviewed)[0]
    labels = next(name for name in _LABEL_PREFERENCE if name in test.labels)
    gold = test.labels[labels]

    pool_before, _ = training_data(original, cfg.data.train_splits, [target], seed)
    sizes = curve_sizes(list(cfg.curve.sizes), len(pool_before))
    ids = list(pool_before["id"])
    pools = {"before": pool_before}
    if "after" in corpora:
        pools["after"] = _same_sentences(corpora["after"], list(cfg.data.train_splits), ids)
    model_path = resolve_model(cfg.model, original, run_dir)

    result = CurveResult(source=source_name, target=target, labels=labels, sizes=sizes)
    with _quiet_datasets():
        _train_and_score(result, corpora, pools, cfg, run_dir, names, model_path, test.data, gold, progress)

    if write:
        from auditor.metrics import write_section
        from auditor.reporting.figures import learning_curve_figure

        out = run_dir / ANALYSIS_DIR / f"curve_{source_name}_{target}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        result.figure = learning_curve_figure(result.sizes, result.series(), result.zero_shot, target, out)
        write_section(run_dir, result)
    return result


@contextlib.contextmanager
def _quiet_datasets() -> Iterator[None]:
    """No per-call datasets bars (select/flatten) under the curve's own progress bar."""
    import datasets

    was_disabled = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            datasets.enable_progress_bars()


def _train_and_score(
    result: CurveResult, corpora: dict[str, DatasetDict], pools: dict[str, Dataset], cfg: PipelineConfig,
    run_dir: Path, names: list[str], model_path: str, test_data: Dataset, gold: list[list[str]], progress: bool,
) -> None:
    """Fill result.zero_shot and result.points: per model, the zero-shot tagger, then one
    tagger per size fine-tuned on the first n sentences of that model's target pool."""
    from auditor.evaluation import predict_tags, seqeval_scores, training_data
    from auditor.modeling.training import load_tagger, train_tagger

    source = result.source.split("+")
    training_cfg = cfg.retrain.training or cfg.training
    bar = progress_bar(total=len(corpora) * (1 + len(result.sizes)), desc="learning curve", unit="model", disable=not progress)

    def score(tagger) -> float:
        return seqeval_scores(gold, predict_tags(tagger, test_data, cfg, progress=False)).f1

    for model, corpus in corpora.items():
        saved = RunDir(run_dir).model(model, result.source)
        if _reusable(saved, names):
            zero_shot = load_tagger(saved)
            result.reused[model] = str(saved)
        else:
            train, _ = training_data(corpus, cfg.data.train_splits, source, training_cfg.seed)
            zero_shot = train_tagger(train, None, names, model_path, cfg.model, training_cfg, None, progress=False)
        result.zero_shot[model] = score(zero_shot)
        bar.update()
        pool = pools[model]
        for n in result.sizes:
            bar.set_postfix_str(f"{model} n={n}")
            tagger = train_tagger(pool.select(range(n)), None, names, model_path, cfg.model, training_cfg, None, progress=False)
            result.points.append(CurvePoint(n, model, score(tagger)))
            bar.update()
    bar.close()

