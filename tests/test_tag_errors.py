"""`auditor tag` on folders that are not what they seem: one line, not a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditor.cli import app
from auditor.errors import AuditorError


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    from auditor.config import ModelConfig, SyntheticConfig, TinyModelConfig, TrainingConfig
    from auditor.data.synthetic import generate_synthetic
    from auditor.modeling.factory import resolve_model
    from auditor.modeling.training import train_tagger

    work = tmp_path_factory.mktemp("tag-errors")
    corpus = generate_synthetic(SyntheticConfig(sentences={"train": 30}), ["de"], 0)
    tiny = TinyModelConfig(vocab_size=200, hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32)
    model_cfg = ModelConfig(name="tiny", max_length=32, stride=8, tiny=tiny)
    base = resolve_model(model_cfg, corpus, work)
    names = corpus["train"].features["ner_tags"].feature.names
    out = work / "tagger"
    train_tagger(corpus["train"], None, names, base, model_cfg, TrainingConfig(max_steps=1, batch_size=8), out, progress=False)
    return out


def invoke(*args):
    return CliRunner().invoke(app, list(map(str, args)))


@pytest.mark.parametrize("config", ['{"foo": 1}', '{"model_type": "bert"}', "{not json"])
def test_folder_with_a_foreign_config_json_is_one_line(tmp_path, config):
    (tmp_path / "config.json").write_text(config)
    result = invoke("tag", tmp_path, "John lebt in Berlin")
    assert isinstance(result.exception, AuditorError)  # main() prints it as one line, exit 2
    err = str(result.exception)
    assert "not a saved token-classification model" in err and str(tmp_path) in err
    assert "\n" not in err


def test_corrupt_metrics_json_does_not_stop_tagging(tmp_path, model_dir):
    run = tmp_path / "run"
    shutil.copytree(model_dir, run / "models" / "after" / "all")
    (run / "config.yaml").write_text("name: run\nmodel: {name: tiny, max_length: 32, stride: 8}\n")
    (run / "metrics.json").write_text('{"retrain": {"experim')
    result = invoke("tag", run, "John lebt in Berlin", "--json")
    assert result.exit_code == 0, result.output
    assert "John" in result.output


def test_corrupt_metrics_json_is_one_line_naming_it(tmp_path):
    from auditor.errors import DataError
    from auditor.metrics import read_metrics, update_metrics

    (tmp_path / "metrics.json").write_text("[1, 2")
    for call in (lambda: read_metrics(tmp_path), lambda: update_metrics(tmp_path, "apply", {})):
        with pytest.raises(DataError, match="metrics.json: corrupt") as err:
            call()
        assert "\n" not in str(err.value) and "--force" in str(err.value)
    assert (tmp_path / "metrics.json").read_text() == "[1, 2"  # left for the user to look at
