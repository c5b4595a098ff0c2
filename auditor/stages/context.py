"""What a stage body gets: the config, the run folder and where to speak."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from auditor.config import PipelineConfig
from auditor.run_dir import RunDir


class StopPipeline(Exception):
    """A stage asks the run to stop cleanly (e.g. review needed, no terminal)."""


@dataclass
class RunContext:
    cfg: PipelineConfig
    run_dir: Path
    console: Console
    progress: bool = True
    interactive: bool = False
    # --force: nothing cached is reused (folds and probe features are computed again)
    force: bool = False

    @property
    def rd(self) -> RunDir:
        return RunDir(self.run_dir)

    @property
    def corpus_dir(self) -> Path:
        return self.rd.corpus

    @property
    def predictions_path(self) -> Path:
        return self.rd.predictions

    @property
    def issues_path(self) -> Path:
        return self.rd.issues

    @property
    def store_path(self) -> Path:
        return self.rd.store

    @property
    def cleaned_dir(self) -> Path:
        return self.rd.cleaned

    @property
    def export_dir(self) -> Path:
        return Path(self.cfg.export.out) if self.cfg.export.out else self.rd.export

    def load_corpus(self):
        return self.rd.read_corpus()
