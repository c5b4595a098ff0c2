"""Model factory: the tiny model folder, loading by path, and missing models."""

from __future__ import annotations

import json

import pytest
from transformers import AutoModel, AutoTokenizer

from auditor.config import ModelConfig, SyntheticConfig, TinyModelConfig
from auditor.data.synthetic import LABEL_NAMES, generate_synthetic
from auditor.errors import ModelError
from auditor.modeling.factory import load_model, load_tokenizer, resolve_model

TINY = TinyModelConfig(vocab_size=300, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64)


@pytest.fixture(scope="module")
def corpus():
    return generate_synthetic(SyntheticConfig(sentences={"train": 30}, noise_rate=0.0), ["de", "it"], 0)


def test_tiny_model_is_a_normal_model_folder_built_once(corpus, tmp_path):
    cfg = ModelConfig(name="tiny", max_length=32, stride=8, tiny=TINY)
    path = resolve_model(cfg, corpus, tmp_path)
    assert path == str(tmp_path / "tiny-model")
    config = json.loads((tmp_path / "tiny-model" / "config.json").read_text())
    assert config["model_type"] == "xlm-roberta"
    assert (config["hidden_size"], config["num_hidden_layers"]) == (32, 1)
    # loads through the same generic calls as xlm-roberta-base
    assert AutoTokenizer.from_pretrained(path).is_fast
    assert AutoModel.from_pretrained(path).config.vocab_size == config["vocab_size"]
    stamp = (tmp_path / "tiny-model" / "model.safetensors").stat().st_mtime_ns
    assert resolve_model(cfg, corpus, tmp_path) == path
    assert (tmp_path / "tiny-model" / "model.safetensors").stat().st_mtime_ns == stamp, "cached, not rebuilt"
    # other tiny settings -> rebuilt
    bigger = ModelConfig(name="tiny", max_length=32, stride=8, tiny=TINY.model_copy(update={"num_layers": 2}))
    resolve_model(bigger, corpus, tmp_path)
    assert json.loads((tmp_path / "tiny-model" / "config.json").read_text())["num_hidden_layers"] == 2


def test_tiny_model_is_deterministic(corpus, tmp_path):
    cfg = ModelConfig(name="tiny", max_length=32, stride=8, tiny=TINY)
    a, b = (resolve_model(cfg, corpus, tmp_path / d) for d in "ab")
    for name in ("tokenizer.json", "model.safetensors", "config.json"):
        assert (tmp_path / "a" / "tiny-model" / name).read_bytes() == (tmp_path / "b" / "tiny-model" / name).read_bytes()


def test_load_model_takes_labels_from_the_corpus(corpus, tmp_path):
    path = resolve_model(ModelConfig(name="tiny", max_length=32, stride=8, tiny=TINY), corpus, tmp_path)
    model = load_model(path, LABEL_NAMES)
    assert model.config.id2label == dict(enumerate(LABEL_NAMES))
    assert model.config.label2id == {n: i for i, n in enumerate(LABEL_NAMES)}
    assert load_tokenizer(path).is_fast


def _one_line_error(excinfo) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg
    return msg


def test_missing_local_model_is_a_one_line_model_error(corpus, tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelError) as exc:
        resolve_model(ModelConfig(name=str(missing)), corpus, tmp_path)
    msg = _one_line_error(exc)
    assert str(missing) in msg and "no such folder" in msg
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        resolve_model(ModelConfig(name=str(tmp_path / "empty")), corpus, tmp_path)


def test_unknown_hub_model_offline_is_a_one_line_model_error(corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError) as exc:
        resolve_model(ModelConfig(name="nobody-here/no-such-encoder"), corpus, tmp_path)
    msg = _one_line_error(exc)
    assert "nobody-here/no-such-encoder" in msg and "HF_HUB_OFFLINE" in msg and "local model folder" in msg


def test_load_tokenizer_of_missing_folder_is_a_model_error(tmp_path):
    with pytest.raises(ModelError):
        load_tokenizer(str(tmp_path / "nothing"))


def test_fold_jobs_started_together_build_the_tiny_model_once(corpus, tmp_path, monkeypatch):
    import threading
    import time

    import auditor.modeling.factory as factory

    builds = []
    real = factory.build_tiny_model

    def slow_build(*args, **kwargs):
        builds.append(1)
        time.sleep(0.3)  # the second job arrives while the first builds
        return real(*args, **kwargs)

    monkeypatch.setattr(factory, "build_tiny_model", slow_build)
    cfg = ModelConfig(name="tiny", max_length=32, stride=8, tiny=TINY)
    errors, paths = [], []

    def job():
        try:
            paths.append(resolve_model(cfg, corpus, tmp_path))
        except Exception as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=job) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(builds) == 1 and paths == [str(tmp_path / "tiny-model")] * 2
