"""Finding the tagger to analyse: a run's "before"/"after" model of one experiment, or any
saved token-classification folder.

A run saves its final taggers under run_dir/models/{before,after}/<experiment>/
(auditor.evaluation.run_retrain). Without --experiment the one trained on "all" is used,
else the first experiment of the run (the order of metrics.json["retrain"], falling back
to the folder names in sorted order).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from auditor.errors import DataError, ModelError
from auditor.evaluation import MODELS, RetrainResult
from auditor.metrics import read_metrics
from auditor.run_dir import RunDir

DEFAULT_EXPERIMENT = "all"
# sliding-window settings for a bare model folder (no run config to read them from)
DEFAULT_MAX_LENGTH = 512
DEFAULT_STRIDE = 128


@dataclass(frozen=True)
class ModelRef:
    """Where a tagger lives and what it is.

    path:       the model folder (config.json, weights, tokenizer)
    run_dir:    the run it belongs to, or None for a standalone folder
    model:      "before" | "after" (None for a standalone folder)
    experiment: the retrain experiment name (None for a standalone folder)
    """

    path: Path
    run_dir: Path | None = None
    model: str | None = None
    experiment: str | None = None

    def describe(self) -> str:
        if self.run_dir is None:
            return str(self.path)
        return f"{self.model} model of experiment '{self.experiment}' ({self.path})"


def is_model_dir(path: Path) -> bool:
    return (Path(path) / "config.json").is_file()


def is_run_dir(path: Path) -> bool:
    path = Path(path)
    return RunDir(path).looks_like_run()


def run_experiments(run_dir: Path, model: str) -> list[str]:
    """Experiment names with a saved `model` tagger, in the run's experiment order."""
    base = RunDir(run_dir).models / model
    saved = sorted(p.name for p in base.iterdir() if is_model_dir(p)) if base.is_dir() else []
    try:
        retrain = read_metrics(run_dir).section(RetrainResult)
    except DataError:  # the order is a nicety; a corrupt metrics.json must not stop tagging
        retrain = None
    ordered = [e.name for e in retrain.experiments] if retrain is not None else []
    return [n for n in ordered if n in saved] + [n for n in saved if n not in ordered]


def find_model(path: str | Path, model: str = "after", experiment: str | None = None) -> ModelRef:
    """Resolve a run directory (with model/experiment) or a model folder to a ModelRef.

    Raises ModelError naming what is missing and what to pass instead.
    """
    path = Path(path)
    if model not in MODELS:
        raise ModelError(f"--model must be one of {', '.join(MODELS)}, not '{model}'")
    if is_model_dir(path):
        return ModelRef(path)
    if not path.exists():
        raise ModelError(f"{path}: no such run directory or model folder")
    if not is_run_dir(path):
        raise ModelError(f"{path}: neither a model folder (no config.json) nor a run directory (no config.yaml)")
    names = run_experiments(path, model)
    if not names:
        others = [m for m in MODELS if m != model and run_experiments(path, m)]
        hint = f"; try --model {others[0]}" if others else "; run the retrain stage first (auditor run ... --until retrain)"
        raise ModelError(f"{path}: the run has no saved '{model}' model{hint}")
    if experiment is None:
        experiment = DEFAULT_EXPERIMENT if DEFAULT_EXPERIMENT in names else names[0]
    elif experiment not in names:
        raise ModelError(
            f"{path}: no '{model}' model for experiment '{experiment}' (saved: {', '.join(names)}); pick one with --experiment"
        )
    return ModelRef(RunDir(path).model(model, experiment), path, model, experiment)


def window_settings(ref: ModelRef, tokenizer) -> tuple[int, int]:
    """(max_length, stride) in sub-words: the run's model config, else what the tokenizer allows."""
    cfg = RunDir(ref.run_dir).read_config() if ref.run_dir is not None else None
    if cfg is not None:
        return cfg.model.max_length, cfg.model.stride
    # tokenizers without a limit report a huge sentinel model_max_length
    max_length = min(DEFAULT_MAX_LENGTH, int(getattr(tokenizer, "model_max_length", DEFAULT_MAX_LENGTH)))
    return max_length, min(DEFAULT_STRIDE, max_length // 4)
