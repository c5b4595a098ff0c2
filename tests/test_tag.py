"""`auditor tag`: free text -> words -> one tag and confidence per word; finding a run's
model; the model card and the Hub push's offline failure."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from auditor.analysis.models import find_model
from auditor.analysis.tagging import split_words, tag_sentences, tag_texts
from auditor.config import ModelConfig, SyntheticConfig, TinyModelConfig, TrainingConfig
from auditor.errors import AuditorError, DataError, ModelError

MAX_LENGTH, STRIDE = 48, 12
SENTENCE = "Jeff Dean ist ein Informatiker bei Google in Kalifornien."
TIBETAN = "བོད་ཡིག"  # vowel signs are combining marks
CUNEIFORM = "𒀀𒀁𒀂"  # not in the tiny tokenizer's training text


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A tiny tagger trained a few steps on the synthetic corpus, saved like a run's model."""
    from auditor.data.synthetic import generate_synthetic
    from auditor.modeling.factory import resolve_model
    from auditor.modeling.training import train_tagger

    work = tmp_path_factory.mktemp("tag")
    corpus = generate_synthetic(SyntheticConfig(sentences={"train": 60, "validation": 5, "test": 5}), ["de", "fr"], 0)
    tiny = TinyModelConfig(vocab_size=300, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64)
    model_cfg = ModelConfig(name="tiny", max_length=MAX_LENGTH, stride=STRIDE, tiny=tiny)
    base = resolve_model(model_cfg, corpus, work)
    names = corpus["train"].features["ner_tags"].feature.names
    train = corpus["train"].select_columns(["id", "tokens", "ner_tags", "lang"])
    out = work / "tagger"
    train_tagger(train, None, names, base, model_cfg, TrainingConfig(epochs=1, max_steps=5, batch_size=16), out, progress=False)
    return out


@pytest.fixture(scope="module")
def tagger(model_dir):
    from auditor.modeling.training import load_tagger

    return load_tagger(model_dir)


def test_split_words_separates_punctuation_and_keeps_marks():
    assert split_words("in Kalifornien.") == ["in", "Kalifornien", "."]
    assert split_words("(Berlin), 8. Juli") == ["(", "Berlin", ")", ",", "8", ".", "Juli"]
    assert split_words(f"{TIBETAN} {CUNEIFORM}") == ["བོད", "་", "ཡིག", CUNEIFORM]
    assert split_words("  \t ") == []


def test_one_tag_per_word_for_every_script(tagger):
    sentences = [split_words(SENTENCE), split_words(f"{TIBETAN} {CUNEIFORM} « ☃ » !"), []]
    tagged = tag_sentences(tagger, sentences, MAX_LENGTH, STRIDE)
    assert [t.words for t in tagged] == sentences
    for t in tagged:
        assert len(t.tags) == len(t.words) == len(t.confidence)
        assert set(t.tags) <= set(tagger.label_names)
        # the argmax probability is at least 1/K
        assert all(1 / len(tagger.label_names) - 1e-6 <= c <= 1 + 1e-6 for c in t.confidence)
    assert tagged[0].words[-1] == "." and tagged[0].tags[-1] in tagger.label_names


def test_words_beyond_max_length_are_tagged(tagger):
    long = split_words(" ".join([SENTENCE] * 12))  # ~120 words, far more sub-words than 48
    (tagged,) = tag_sentences(tagger, [long], MAX_LENGTH, STRIDE)
    assert len(tagged.tags) == len(tagged.confidence) == len(long)


def test_confidence_is_the_tag_probability(tagger):
    from datasets import Dataset

    from auditor.modeling.predict import predict_word_probs

    words = split_words(SENTENCE)
    (tagged,) = tag_sentences(tagger, [words], MAX_LENGTH, STRIDE)
    probs = predict_word_probs(tagger, Dataset.from_dict({"tokens": [words]}), MAX_LENGTH, STRIDE, progress=False)[0]
    assert tagged.tags == [tagger.label_names[k] for k in probs.argmax(1)]
    assert np.allclose(tagged.confidence, probs.max(1))


def test_saved_model_carries_label_maps(model_dir, tagger):
    config = json.loads((model_dir / "config.json").read_text())
    assert [config["id2label"][str(i)] for i in range(len(tagger.label_names))] == tagger.label_names
    assert config["label2id"] == {n: i for i, n in enumerate(tagger.label_names)}


# --- finding the model of a run ------------------------------------------------------------


@pytest.fixture
def fake_run(tmp_path, model_dir) -> Path:
    """A run directory holding the tiny tagger as two experiments' "after" models."""
    run = tmp_path / "run"
    for exp in ("de", "all"):
        shutil.copytree(model_dir, run / "models" / "after" / exp)
    (run / "config.yaml").write_text(f"name: run\nmodel: {{name: tiny, max_length: {MAX_LENGTH}, stride: {STRIDE}}}\n")
    return run


def test_find_model_defaults_and_choices(fake_run, model_dir):
    ref = find_model(fake_run)
    assert (ref.model, ref.experiment, ref.path) == ("after", "all", fake_run / "models" / "after" / "all")
    assert find_model(fake_run, experiment="de").path.name == "de"
    assert find_model(model_dir).run_dir is None
    shutil.rmtree(fake_run / "models" / "after" / "all")
    assert find_model(fake_run).experiment == "de"  # no "all": the first one


def test_find_model_sad_paths(fake_run, tmp_path):
    with pytest.raises(ModelError, match="no saved 'before' model; try --model after"):
        find_model(fake_run, model="before")
    with pytest.raises(ModelError, match=r"experiment 'fr' \(saved: all, de\)|experiment 'fr' \(saved: de, all\)"):
        find_model(fake_run, experiment="fr")
    with pytest.raises(ModelError, match="--model must be one of before, after"):
        find_model(fake_run, model="best")
    with pytest.raises(ModelError, match="no such run directory or model folder"):
        find_model(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="neither a model folder"):
        find_model(tmp_path / "empty")


def test_tag_texts_with_a_run(fake_run):
    result = tag_texts(fake_run, [SENTENCE, "Paris !"], experiment="de")
    assert "experiment 'de'" in result.model
    assert [len(s.tags) for s in result.sentences] == [10, 2]
    with pytest.raises(DataError, match="sentence 2 has no words"):
        tag_texts(fake_run, [SENTENCE, " "])


# --- the command ---------------------------------------------------------------------------


def _invoke(*args: str):
    from auditor.cli import app

    return CliRunner().invoke(app, ["tag", *args], terminal_width=120)


def test_tag_command_table(model_dir):
    result = _invoke(str(model_dir), SENTENCE)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for word in split_words(SENTENCE):
        assert any(f" {word} " in line for line in lines), word
    assert "entities:" in result.output


def test_tag_command_json_from_file(model_dir, tmp_path):
    text = tmp_path / "in.txt"
    text.write_text(f"{SENTENCE}\n\n{TIBETAN} {CUNEIFORM}\n", encoding="utf-8")
    result = _invoke(str(model_dir), "--file", str(text), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [s["text"] for s in data["sentences"]] == [SENTENCE, f"{TIBETAN} {CUNEIFORM}"]
    assert [w["word"] for w in data["sentences"][1]["words"]] == ["བོད", "་", "ཡིག", CUNEIFORM]
    assert all({"word", "tag", "confidence"} == set(w) for s in data["sentences"] for w in s["words"])


def test_tag_command_sad_paths(model_dir, tmp_path):
    for args, message in [
        ((str(model_dir),), "give either a sentence or --file"),
        ((str(model_dir), "x", "--file", "f.txt"), "give either a sentence or --file"),
        ((str(model_dir), "--file", str(tmp_path / "missing.txt")), "no such file"),
        ((str(tmp_path / "nope"), "Hallo"), "no such run directory or model folder"),
        ((str(model_dir), "..."), None),  # punctuation only is still three words
    ]:
        result = _invoke(*args)
        if message is None:
            assert result.exit_code == 0, result.output
            continue
        assert isinstance(result.exception, AuditorError), result.output
        assert message in str(result.exception) and "\n" not in str(result.exception)


# --- model card and push -------------------------------------------------------------------


def test_model_card_front_matter(model_dir, tmp_path):
    from huggingface_hub import ModelCard

    from auditor.modeling.card import write_model_card

    folder = shutil.copytree(model_dir, tmp_path / "m")
    path = write_model_card(
        folder, base_model="xlm-roberta-base", languages=["de", "fr"], train_sentences=120,
        cleaning={"decisions": 12, "changed_sentences": 9}, f1_by_lang={"de": 0.8123, "fr": 0.7},
        datasets=["google/xtreme"],
    )
    assert path == folder / "README.md"
    card = ModelCard.load(path)
    assert card.data.language == ["de", "fr"] and card.data.license == "unknown"
    assert {"token-classification", "ner"} <= set(card.data.tags)
    assert card.data.datasets == ["google/xtreme"] and card.data.base_model == "xlm-roberta-base"
    assert {(r.dataset_config, r.metric_type, r.metric_value) for r in card.data.eval_results} == {
        ("de", "f1", 0.8123), ("fr", "f1", 0.7)
    }
    assert "changed sentences: 9" in card.text and "B-PER" in card.text


def test_model_card_uncleaned_and_sad(model_dir, tmp_path):
    from huggingface_hub import ModelCard

    from auditor.modeling.card import write_model_card

    folder = shutil.copytree(model_dir, tmp_path / "m")
    card = ModelCard.load(write_model_card(folder, base_model=str(folder), languages=["de"], train_sentences=5, cleaning=None, f1_by_lang={}))
    assert card.data.base_model is None  # a local path is not a Hub model
    assert "not audited" in card.text and "Not evaluated" in card.text
    with pytest.raises(ModelError, match="no config.json"):
        write_model_card(tmp_path, base_model="x", languages=["de"], train_sentences=1, cleaning=None, f1_by_lang={})


def test_push_fails_fast_offline(model_dir, monkeypatch):
    from auditor.modeling.card import push_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="HF_HUB_OFFLINE") as err:
        push_model(model_dir, "someone/tagger")
    assert "\n" not in str(err.value)
    with pytest.raises(ModelError, match="must be 'user-or-org/name'"):
        push_model(model_dir, "tagger")
