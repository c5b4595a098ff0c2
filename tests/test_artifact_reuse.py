"""Artifacts are checked before they are reused: a truncated file makes its stage run again
instead of every stage being skipped, or a later one failing with advice that does not work."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from auditor.config import config_from_dict
from auditor.pipeline import run_pipeline
from auditor.tables import OofPredictions

TINY = {"vocab_size": 200, "hidden_size": 16, "num_layers": 1, "num_heads": 2, "intermediate_size": 32}


def small_cfg(runs_dir: Path):
    return config_from_dict(
        {
            "name": "reuse",
            "runs_dir": str(runs_dir),
            "data": {
                "languages": {"de": 1.0},
                "synthetic": {"sentences": {"train": 40, "test": 10}},
                "splits": ["train", "test"],
            },
            "model": {"name": "tiny", "max_length": 32, "stride": 8, "tiny": TINY},
            "crossval": {"mode": "finetune", "folds": 2},
            "training": {"epochs": 1, "max_steps": 2, "batch_size": 16},
        }
    )


def run(cfg, **kw):
    kw.setdefault("until", "score")
    return run_pipeline(cfg, interactive=False, progress=False, console=Console(quiet=True), **kw)


def statuses(result) -> dict[str, str]:
    return {s.name: s.status for s in result.stages}


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("reuse") / "runs"
    run(small_cfg(runs))
    return runs


@pytest.fixture
def cfg(scored, tmp_path):
    shutil.copytree(scored, tmp_path / "runs")
    return small_cfg(tmp_path / "runs")


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def same_predictions(a: Path, b: Path) -> bool:
    x, y = OofPredictions.read(a), OofPredictions.read(b)
    return list(x.ids) == list(y.ids) and np.allclose(x.probs, y.probs, atol=1e-5)


def test_truncated_predictions_are_merged_again_by_a_plain_run(cfg, scored):
    truncate(cfg.run_dir / "predictions.parquet")
    result = run(cfg)
    assert statuses(result) == {"load": "skipped", "crossval": "ran", "score": "skipped"}
    assert same_predictions(cfg.run_dir / "predictions.parquet", scored / "reuse" / "predictions.parquet")


def test_truncated_predictions_are_merged_again_from_crossval(cfg, scored):
    truncate(cfg.run_dir / "predictions.parquet")
    result = run(cfg, start="crossval")
    assert statuses(result)["score"] == "ran"
    assert same_predictions(cfg.run_dir / "predictions.parquet", scored / "reuse" / "predictions.parquet")


def test_truncated_fold_part_is_computed_again(cfg, scored):
    folds = cfg.run_dir / "folds"
    kept = (folds / "fold-0" / "result.json").stat().st_mtime_ns
    truncate(folds / "fold-1" / "predictions.parquet")
    (cfg.run_dir / "predictions.parquet").unlink()  # the merge is still to come
    result = run(cfg)
    assert statuses(result)["crossval"] == "ran"
    assert (folds / "fold-0" / "result.json").stat().st_mtime_ns == kept  # only the broken fold again
    OofPredictions.read(folds / "fold-1" / "predictions.parquet")
    assert same_predictions(cfg.run_dir / "predictions.parquet", scored / "reuse" / "predictions.parquet")


def test_truncated_fold_part_is_computed_again_with_force(cfg):
    truncate(cfg.run_dir / "folds" / "fold-1" / "predictions.parquet")
    (cfg.run_dir / "predictions.parquet").unlink()
    result = run(cfg, force=True)
    assert statuses(result)["crossval"] == "ran" and statuses(result)["score"] == "ran"


def test_truncated_corpus_is_loaded_again(cfg):
    arrow = next((cfg.run_dir / "corpus" / "train").glob("*.arrow"))
    truncate(arrow)
    result = run(cfg)
    assert statuses(result) == {"load": "ran", "crossval": "skipped", "score": "skipped"}


def test_truncated_issue_table_is_scored_again(cfg):
    truncate(cfg.run_dir / "issues.parquet")
    assert statuses(run(cfg))["score"] == "ran"
