"""A saved tagger (issue 24, row 14): loading one never runs code shipped in its folder, and
saving one is atomic (a failed save leaves the previous tagger whole)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.config import SyntheticConfig, TinyModelConfig

LABELS = ["O", "B-PER", "I-PER"]


@pytest.fixture(scope="module")
def tagger(tmp_path_factory):
    from transformers import AutoModelForTokenClassification

    from auditor.data.synthetic import generate_synthetic
    from auditor.modeling.factory import load_tokenizer
    from auditor.modeling.tiny import build_tiny_model
    from auditor.modeling.training import TrainedTagger

    work = tmp_path_factory.mktemp("tagger")
    corpus = generate_synthetic(SyntheticConfig(sentences={"train": 20, "validation": 2, "test": 2}), ["de"], 0)
    tiny = TinyModelConfig(vocab_size=200, hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32)
    base = build_tiny_model(corpus, tiny, 32, work / "base", seed=0)
    model = AutoModelForTokenClassification.from_pretrained(base, num_labels=len(LABELS))
    return TrainedTagger(model, load_tokenizer(str(base)), LABELS, eval_f1=0.5)


def _with_code(folder: Path, marker: Path, model_type: str) -> None:
    """Make a saved tagger's folder ship code that config.json points at (auto_map)."""
    (folder / "evil.py").write_text(
        f"open({str(marker)!r}, 'w').write('code from the folder ran')\n"
        "from transformers import XLMRobertaForTokenClassification as EvilModel, XLMRobertaConfig as EvilConfig\n"
    )
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModelForTokenClassification": "evil.EvilModel"}
    config["model_type"] = model_type
    (folder / "config.json").write_text(json.dumps(config))


def test_loading_a_tagger_never_runs_code_from_its_folder(tagger, tmp_path: Path) -> None:
    from auditor.modeling.training import load_tagger

    folder, marker = tmp_path / "model", tmp_path / "ran"
    tagger.save(folder)
    _with_code(folder, marker, "xlm-roberta")
    loaded = load_tagger(folder)  # the library's own class, the folder's code ignored
    assert not marker.exists()
    assert type(loaded.model).__name__ == "XLMRobertaForTokenClassification" and loaded.label_names == LABELS


def test_a_folder_that_needs_its_own_code_is_refused_without_asking(tagger, tmp_path: Path, monkeypatch) -> None:
    from auditor.errors import ModelError
    from auditor.modeling.training import load_tagger

    folder, marker = tmp_path / "model", tmp_path / "ran"
    tagger.save(folder)
    _with_code(folder, marker, "evil-tagger")  # a type transformers does not know: only the folder's code could load it
    asked = []
    monkeypatch.setattr("builtins.input", lambda prompt="": asked.append(prompt) or "y")  # a curator who says yes
    with pytest.raises(ModelError, match="not a saved token-classification model"):
        load_tagger(folder)
    assert not asked and not marker.exists()


def test_a_failed_save_leaves_the_previous_tagger_whole(tagger, tmp_path: Path, monkeypatch) -> None:
    from auditor.modeling.training import load_tagger

    folder = tmp_path / "model"
    tagger.save(folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(type(tagger.tokenizer), "save_pretrained", full_disk)
    tagger.eval_f1 = 0.9
    with pytest.raises(OSError, match="No space left"):
        tagger.save(folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no half-written folder beside it
    assert load_tagger(folder).eval_f1 == 0.5


def test_a_save_keeps_the_checkpoints_training_wrote_into_the_folder(tagger, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    (folder / "checkpoints" / "checkpoint-5").mkdir(parents=True)
    (folder / "checkpoints" / "checkpoint-5" / "trainer_state.json").write_text("{}")
    tagger.save(folder)
    assert (folder / "checkpoints" / "checkpoint-5" / "trainer_state.json").read_text() == "{}"
    assert (folder / "tagger.json").is_file()
