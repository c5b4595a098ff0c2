"""The learning curve: zero-shot transfer vs fine-tuning on growing target samples,
before and after cleaning, end to end on the synthetic corpus with the tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import DatasetDict
from typer.testing import CliRunner

from auditor.analysis.curve import CurveResult, curve_sizes, run_curve
from auditor.config import ModelConfig, PipelineConfig, SyntheticConfig, TinyModelConfig, TrainingConfig
from auditor.data.corpus import CLEAN_COLUMN
from auditor.errors import ConfigError, DataError
from auditor.metrics import read_metrics

TINY = TinyModelConfig(vocab_size=300, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64)


def _cfg(runs_dir: Path, **curve) -> PipelineConfig:
    return PipelineConfig(
        name="curve",
        runs_dir=str(runs_dir),
        data={"languages": {"de": 1.0, "fr": 1.0, "it": 1.0}, "synthetic": SyntheticConfig(sentences={"train": 50, "validation": 5, "test": 20})},
        model=ModelConfig(name="tiny", max_length=48, stride=12, tiny=TINY),
        training=TrainingConfig(epochs=1, max_steps=3, batch_size=8, learning_rate=3e-3),
        curve={"source": "de", "target": "fr", "sizes": [10, 30], **curve},
    )


@pytest.fixture(scope="module")
def corpus() -> DatasetDict:
    from auditor.data.synthetic import generate_synthetic

    return generate_synthetic(_cfg(Path(".")).data.synthetic, ["de", "fr", "it"], seed=0)


def _cleaned(corpus: DatasetDict) -> DatasetDict:
    """A cleaned corpus as apply leaves it: the train split with its recorded clean tags."""
    train = corpus["train"].remove_columns("ner_tags").rename_column(CLEAN_COLUMN, "ner_tags")
    return DatasetDict({"train": train})


def test_curve_sizes_are_capped_and_unique():
    assert curve_sizes([250, 500, 1000, 2000, 4000], 600) == [250, 500, 600]
    assert curve_sizes([4000, 250, 250], 10_000) == [250, 4000]
    assert curve_sizes([10], 0) == []


def test_curve_before_and_after(corpus, tmp_path):
    cfg = _cfg(tmp_path)
    res = run_curve(corpus, _cleaned(corpus), cfg, cfg.run_dir, progress=False)
    assert res.sizes == [10, 30] and res.labels == "clean"
    assert set(res.zero_shot) == {"before", "after"}
    assert [(p.model, p.size) for p in res.points] == [("before", 10), ("before", 30), ("after", 10), ("after", 30)]
    assert all(0.0 <= p.f1 <= 1.0 for p in res.points) and all(0.0 <= f <= 1.0 for f in res.zero_shot.values())
    section = read_metrics(cfg.run_dir).section(CurveResult)
    assert section.source == "de" and section.target == "fr"
    assert section.zero_shot == res.zero_shot
    assert section.points == res.points
    assert res.figure == cfg.run_dir / "analysis" / "curve_de_fr.png"
    assert res.figure.read_bytes()[:4] == b"\x89PNG"
    assert res.series() == {m: [p.f1 for p in res.points if p.model == m] for m in ("before", "after")}


def test_curve_is_reproducible_and_reuses_the_runs_zero_shot_model(corpus, tmp_path):
    from auditor.evaluation import training_data
    from auditor.modeling.factory import resolve_model
    from auditor.modeling.training import train_tagger

    cfg = _cfg(tmp_path, sizes=[15], source="de+it")
    first = run_curve(corpus, None, cfg, cfg.run_dir, progress=False, write=False)
    assert set(first.zero_shot) == {"before"} and first.reused == {}
    # the retrain stage's model of the same experiment is the same training: reused as is
    names = corpus["train"].features["ner_tags"].feature.names
    train, _ = training_data(corpus, ["train"], ["de", "it"], cfg.training.seed)
    base = resolve_model(cfg.model, corpus, cfg.run_dir)
    saved = cfg.run_dir / "models" / "before" / "de+it"
    train_tagger(train, None, names, base, cfg.model, cfg.training, saved, progress=False)
    second = run_curve(corpus, None, cfg, cfg.run_dir, progress=False, write=False)
    assert second.reused == {"before": str(saved)}
    assert second.zero_shot == pytest.approx(first.zero_shot)
    assert second.points == first.points


def test_curve_sad_paths(corpus, tmp_path):
    with pytest.raises(ConfigError, match="also a source language"):
        run_curve(corpus, None, _cfg(tmp_path, target="de"), tmp_path, progress=False)
    with pytest.raises(DataError, match="language 'en' is not in the corpus"):
        run_curve(corpus, None, _cfg(tmp_path, target="en"), tmp_path, progress=False)
    relabelled = DatasetDict({"train": corpus["train"].select(range(3))})  # ids of the fr rows are missing
    with pytest.raises(DataError, match="lacks training sentence"):
        run_curve(corpus, relabelled, _cfg(tmp_path), tmp_path, progress=False)


def test_curve_command(tmp_path):
    from auditor.cli import app

    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(_cfg(tmp_path / "runs").to_yaml(), encoding="utf-8")
    result = CliRunner().invoke(app, ["curve", str(pipeline), "--target", "it", "--sizes", "12,500"], terminal_width=160)
    assert result.exit_code == 0, result.output
    assert "zero-shot (de)" in result.output and "capped" in result.output
    section = read_metrics(tmp_path / "runs" / "curve").section(CurveResult)
    assert section.target == "it" and [p.size for p in section.points] == [12, 50]
    as_json = CliRunner().invoke(app, ["curve", str(pipeline), "--target", "it", "--sizes", "12", "--json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert data["target"] == "it" and [p["size"] for p in data["points"]] == [12]
    assert data["points"] == [p.to_dict() for p in read_metrics(tmp_path / "runs" / "curve").section(CurveResult).points]
    bad = CliRunner().invoke(app, ["curve", str(pipeline), "--sizes", "10,many"])
    assert "expected comma-separated integers" in str(bad.exception)
