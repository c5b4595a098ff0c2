"""Trainer settings and the saved tagger (no training here: see test_modeling_crossval)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from auditor.config import ModelConfig, SyntheticConfig, TinyModelConfig, TrainingConfig
from auditor.data.synthetic import LABEL_NAMES, generate_synthetic
from auditor.errors import ConfigError, ModelError
from auditor.modeling.alignment import IGNORE_INDEX
from auditor.modeling.factory import load_model, load_tokenizer, resolve_model
from auditor.modeling.predict import predict_word_logits
from auditor.modeling.training import TrainedTagger, load_tagger, precision_flags, tagging_dataset, training_arguments

TINY = TinyModelConfig(vocab_size=300, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64)


@pytest.fixture(scope="module")
def corpus():
    return generate_synthetic(SyntheticConfig(sentences={"train": 20}, noise_rate=0.0), ["fr"], 0)


@pytest.fixture(scope="module")
def tiny_path(corpus, tmp_path_factory):
    return resolve_model(ModelConfig(name="tiny", max_length=16, stride=4, tiny=TINY), corpus, tmp_path_factory.mktemp("w"))


def test_training_arguments_follow_the_config(tmp_path):
    cfg = TrainingConfig(epochs=2, batch_size=8, learning_rate=1e-4, weight_decay=0.05, warmup=0.2, seed=11)
    args = training_arguments(cfg, str(tmp_path), has_eval=True)
    assert (args.num_train_epochs, args.per_device_train_batch_size, args.learning_rate) == (2, 8, 1e-4)
    assert args.weight_decay == 0.05 and args.warmup_steps == pytest.approx(0.2)
    assert args.train_sampling_strategy == "group_by_length"
    assert str(args.eval_strategy.value if hasattr(args.eval_strategy, "value") else args.eval_strategy) == "epoch"
    assert str(args.save_strategy.value if hasattr(args.save_strategy, "value") else args.save_strategy) == "no"
    assert args.report_to in ([], "none", ["none"]) and args.seed == 11
    plain = training_arguments(cfg.model_copy(update={"group_by_length": False}), str(tmp_path), False)
    assert plain.train_sampling_strategy == "random"
    assert str(getattr(plain.eval_strategy, "value", plain.eval_strategy)) == "no"


@pytest.mark.skipif(torch.cuda.is_available(), reason="CPU behaviour")
def test_precision_on_a_cpu():
    assert precision_flags("auto") == {}
    assert precision_flags("fp32") == {"bf16": False, "fp16": False}
    with pytest.raises(ConfigError, match="fp16 needs a CUDA GPU"):
        precision_flags("fp16")


def test_tagging_dataset_labels_first_subwords_in_windows(corpus, tiny_path):
    tok = load_tokenizer(tiny_path)
    ds = tagging_dataset(tok, corpus["train"], max_length=16, stride=4)
    assert len(ds) >= len(corpus["train"])  # long sentences give several windows
    assert max(ds["length"]) <= 16
    for ids, labels in zip(ds["input_ids"], ds["labels"]):
        assert len(ids) == len(labels) and labels[0] == IGNORE_INDEX and labels[-1] == IGNORE_INDEX
    labelled = sum(lab != IGNORE_INDEX for row in ds["labels"] for lab in row)
    assert labelled >= sum(len(t) for t in corpus["train"]["tokens"])


def test_saved_tagger_round_trips(corpus, tiny_path, tmp_path):
    torch.manual_seed(0)
    tagger = TrainedTagger(load_model(tiny_path, LABEL_NAMES), load_tokenizer(tiny_path), LABEL_NAMES, 0.5, 1.3)
    tagger.save(tmp_path / "t")
    back = load_tagger(tmp_path / "t")
    assert back.label_names == LABEL_NAMES and back.temperature == 1.3 and back.eval_f1 == 0.5
    assert back.model.config.id2label == dict(enumerate(LABEL_NAMES))
    a = predict_word_logits(tagger, corpus["train"], 16, 4, progress=False)
    b = predict_word_logits(back, corpus["train"], 16, 4, progress=False)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, atol=1e-5)


def test_load_tagger_of_a_non_model_folder_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="not a saved tagger"):
        load_tagger(tmp_path)


def _mean_loss(model, tokenizer, rows, model_cfg) -> float:
    """Mean token cross-entropy of `model` on the labelled first sub-words of `rows`."""
    from transformers import DataCollatorForTokenClassification

    ds = tagging_dataset(tokenizer, rows, model_cfg.max_length, model_cfg.stride)
    batch = DataCollatorForTokenClassification(tokenizer)([ds[i] for i in range(len(ds))])
    model.eval()
    with torch.no_grad():
        return float(model(**{k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "labels")}).loss)


def test_finetuning_a_pretrained_style_local_model_lowers_its_loss(corpus, tiny_path, tmp_path):
    """The fine-tune path on a model folder shaped like a Hub encoder (BERT, as multilingual-e5),
    loaded with from_pretrained: a few steps of the real Trainer must lower the training loss."""
    from transformers import BertConfig, BertModel, set_seed

    from auditor.modeling.training import train_tagger

    tokenizer = load_tokenizer(tiny_path)
    folder = tmp_path / "bert-mini"
    cfg = BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64, pad_token_id=tokenizer.pad_token_id or 0,
    )
    torch.manual_seed(0)
    BertModel(cfg).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    model_cfg = ModelConfig(name=str(folder), max_length=32, stride=8)
    training = TrainingConfig(epochs=4, batch_size=8, learning_rate=3e-3, warmup=0.0, seed=5, group_by_length=False)
    train = corpus["train"]
    set_seed(training.seed)  # train_tagger seeds the same way before it adds the tagging head
    before = _mean_loss(load_model(str(folder), LABEL_NAMES), tokenizer, train, model_cfg)
    tagger = train_tagger(train, None, LABEL_NAMES, str(folder), model_cfg, training, progress=False)
    after = _mean_loss(tagger.model, tokenizer, train, model_cfg)
    assert after < 0.6 * before, (before, after)


def test_frozen_word_embeddings_stay_fixed_while_the_rest_learns(corpus, tiny_path):
    """training.freeze_word_embeddings (the CPU speed-up): the input embedding matrix leaves
    training bit-identical, every other weight still moves, and the loss still falls."""
    from auditor.modeling.training import train_tagger

    tokenizer = load_tokenizer(tiny_path)
    model_cfg = ModelConfig(name=tiny_path, max_length=16, stride=4)
    training = TrainingConfig(epochs=3, batch_size=8, learning_rate=3e-3, warmup=0.0, seed=5, group_by_length=False,
                              freeze_word_embeddings=True)
    train = corpus["train"]
    start = load_model(tiny_path, LABEL_NAMES)
    before_emb = start.get_input_embeddings().weight.detach().clone()
    before_rest = {n: p.detach().clone() for n, p in start.named_parameters() if "word_embeddings" not in n}
    tagger = train_tagger(train, None, LABEL_NAMES, tiny_path, model_cfg, training, progress=False)
    assert torch.equal(tagger.model.get_input_embeddings().weight, before_emb)
    after = dict(tagger.model.named_parameters())
    moved = [n for n, p in before_rest.items() if n in after and not torch.equal(after[n], p)]
    assert len(moved) >= len(before_rest) // 2, moved
    assert _mean_loss(tagger.model, tokenizer, train, model_cfg) < _mean_loss(start, tokenizer, train, model_cfg)


def test_a_fine_tune_on_its_own_reports_progress_in_a_log(corpus, tiny_path, monkeypatch, capsys):
    """Off a terminal a fine-tune outside crossval (the retrain stage, a script) prints whole
    lines while it trains instead of minutes of silence; under crossval's bar it stays quiet."""
    from auditor import progress
    from auditor.modeling.training import train_tagger

    monkeypatch.setenv(progress.MODE_ENV, "lines")
    monkeypatch.setattr(progress, "LOG_INTERVAL", 0.0)
    model_cfg = ModelConfig(name=tiny_path, max_length=16, stride=4)
    training = TrainingConfig(epochs=2, batch_size=8, seed=5)
    train_tagger(corpus["train"], None, LABEL_NAMES, tiny_path, model_cfg, training, progress_desc="retrain de")
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("retrain de:")]
    assert lines and lines[-1].startswith("retrain de: 100%") and all("\r" not in line for line in lines)
    train_tagger(corpus["train"], None, LABEL_NAMES, tiny_path, model_cfg, training, progress_desc="fold 0 train",
                 progress_nested=True)
    assert "fold 0 train" not in capsys.readouterr().err
