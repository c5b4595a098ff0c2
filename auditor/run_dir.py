"""The run folder, runs/<name>/: the one place that knows its layout.

Every artifact's file name is spelled here and nowhere else; modules ask a RunDir for a
path (`RunDir(p).issues`) or for the artifact itself (`RunDir(p).read_issues()`), so a
renamed or moved artifact is a one-line change and no two modules disagree on it.

    config.yaml          the resolved config of the last `auditor run`
    corpus/              the load stage's DatasetDict (save_to_disk)
    predictions.parquet  out-of-fold predictions (crossval)
    folds/               per-fold parts and caches of crossval
    issues.parquet       ranked issues (score)
    review.sqlite        the curators' decision store (review)
    adaptive/            refits of the adaptive review order
    cleaned/             the corrected DatasetDict (apply)
    changelog.parquet    one row per changed word (apply)
    models/<model>/<experiment>/   before/after taggers (retrain)
    test-predictions.parquet       their tags of the test split (retrain)
    metrics.json         every number of the report, one section per stage
    export/<format>/     the exported corpus (export; or export.out)
    .stages/<stage>.json the runner's stamps
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CONFIG = "config.yaml"
CORPUS = "corpus"
PREDICTIONS = "predictions.parquet"
FOLDS = "folds"
ISSUES = "issues.parquet"
STORE = "review.sqlite"
ADAPTIVE = "adaptive"
CLEANED = "cleaned"
CHANGELOG = "changelog.parquet"
MODELS = "models"
TEST_PREDICTIONS = "test-predictions.parquet"
METRICS = "metrics.json"
EXPORT = "export"
STAGES = ".stages"
LOCK = ".run.lock"


@dataclass(frozen=True)
class RunDir:
    """Paths and typed loaders of one run folder. Cheap to make: nothing is read until asked."""

    path: Path

    def __init__(self, path: str | os.PathLike) -> None:
        object.__setattr__(self, "path", Path(path))

    def __fspath__(self) -> str:
        return str(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    # --- paths ------------------------------------------------------------------------

    @property
    def config(self) -> Path:
        return self.path / CONFIG

    @property
    def corpus(self) -> Path:
        return self.path / CORPUS

    @property
    def predictions(self) -> Path:
        return self.path / PREDICTIONS

    @property
    def folds(self) -> Path:
        return self.path / FOLDS

    @property
    def issues(self) -> Path:
        return self.path / ISSUES

    @property
    def store(self) -> Path:
        return self.path / STORE

    @property
    def adaptive(self) -> Path:
        return self.path / ADAPTIVE

    @property
    def cleaned(self) -> Path:
        return self.path / CLEANED

    @property
    def changelog(self) -> Path:
        return self.path / CHANGELOG

    @property
    def models(self) -> Path:
        return self.path / MODELS

    def model(self, model: str, experiment: str) -> Path:
        """models/<model>/<experiment>: model is "before" or "after"."""
        return self.models / model / experiment

    @property
    def test_predictions(self) -> Path:
        """Every retrain experiment's before/after tags of the test split (auditor.test_predictions)."""
        return self.path / TEST_PREDICTIONS

    @property
    def metrics(self) -> Path:
        return self.path / METRICS

    @property
    def export(self) -> Path:
        return self.path / EXPORT

    @property
    def stages(self) -> Path:
        return self.path / STAGES

    @property
    def digests(self) -> Path:
        """The content digests of the files stages read, by size and mtime (auditor.stages.inputs)."""
        return self.stages / "digests.json"

    def stamp(self, stage: str) -> Path:
        return self.stages / f"{stage}.json"

    @property
    def lock(self) -> Path:
        return self.path / LOCK

    def looks_like_run(self) -> bool:
        """Has anything a run writes (a config, models or a corpus)."""
        return self.config.is_file() or self.models.is_dir() or self.corpus.is_dir()

    # --- typed loaders ----------------------------------------------------------------

    def read_config(self):
        """The resolved config the run recorded (its paths are already resolved), or None when
        the run has none. ConfigError (one line) when it is unreadable."""
        import yaml

        from auditor.config import config_from_dict
        from auditor.errors import ConfigError

        path = self.config
        if not path.is_file():
            return None
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            raise ConfigError(f"{path}: unreadable ({str(err).splitlines()[0]}); run the pipeline again to rewrite it") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: not a config (a YAML {type(raw).__name__}); run the pipeline again to rewrite it")
        return config_from_dict(raw, str(path))

    def write_config(self, cfg) -> None:
        from auditor.atomic import write_text_atomic

        self.path.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.config, cfg.to_yaml())

    def read_corpus(self):
        """corpus/ as a DatasetDict (no cache files: they would land inside the folder)."""
        return _load_dataset(self.corpus)

    def read_cleaned(self):
        return _load_dataset(self.cleaned)

    def read_issues(self, columns: list[str] | None = None):
        from auditor.tables import read_issues

        return read_issues(self.issues, columns=columns) if columns is not None else read_issues(self.issues)

    def read_predictions(self):
        from auditor.tables import OofPredictions

        return OofPredictions.read(self.predictions)

    def open_store(self, curator: str | None = None, read_only: bool = False):
        """The decision store; read_only for readers (apply, --stats), which then work on a
        read-only file system and leave no -wal/-shm files behind."""
        from auditor.review.store import DecisionStore

        if read_only:
            return DecisionStore(self.store, read_only=True)
        return DecisionStore(self.store, curator=curator) if curator is not None else DecisionStore(self.store)


def _load_dataset(path: Path):
    from datasets import disable_caching, load_from_disk

    disable_caching()
    return load_from_disk(str(path))
