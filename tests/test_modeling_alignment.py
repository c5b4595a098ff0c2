"""Word/sub-word alignment and sliding windows, with the tiny model's real tokenizer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from datasets import DatasetDict

from auditor.config import SyntheticConfig, TinyModelConfig
from auditor.data.corpus import dataset_from_records
from auditor.data.synthetic import LABEL_NAMES, generate_synthetic
from auditor.modeling.alignment import (
    IGNORE_INDEX,
    EncodedSentence,
    encode_sentences,
    make_windows,
    special_tokens_layout,
    window_labels,
)
from auditor.modeling.factory import load_model, load_tokenizer
from auditor.modeling.predict import predict_word_probs
from auditor.modeling.tiny import build_tiny_model
from auditor.modeling.training import TrainedTagger

INVISIBLE = "\u200b"  # zero-width space: XLM-R's normaliser (and the tiny one) deletes it


@pytest.fixture(scope="module")
def corpus() -> DatasetDict:
    return generate_synthetic(SyntheticConfig(sentences={"train": 40}, noise_rate=0.0), ["de", "fr"], 0)


@pytest.fixture(scope="module")
def tiny_dir(corpus, tmp_path_factory):
    cfg = TinyModelConfig(vocab_size=300, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64)
    return build_tiny_model(corpus, cfg, max_length=16, out_dir=tmp_path_factory.mktemp("m") / "tiny", seed=0)


@pytest.fixture(scope="module")
def tokenizer(tiny_dir):
    return load_tokenizer(str(tiny_dir))


def test_tiny_tokenizer_is_a_fast_sentencepiece_style_tokenizer(tokenizer):
    assert tokenizer.is_fast
    assert [tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token, tokenizer.unk_token, tokenizer.mask_token] == [
        "<s>", "</s>", "<pad>", "<unk>", "<mask>"
    ]
    prefix, suffix = special_tokens_layout(tokenizer)
    assert prefix == [tokenizer.bos_token_id] and suffix == [tokenizer.eos_token_id]
    pieces = tokenizer.convert_ids_to_tokens(tokenizer(["Berlin"], is_split_into_words=True)["input_ids"])
    assert pieces[0] == "<s>" and pieces[-1] == "</s>" and pieces[1].startswith("▁")


def test_word_with_no_subword_is_encoded_as_unk_in_place(tokenizer):
    words = ["Paris", INVISIBLE, "liegt", " ", "hier"]
    raw = tokenizer([words], is_split_into_words=True, add_special_tokens=False)
    assert {1, 3}.isdisjoint(w for w in raw.word_ids(0) if w is not None), "precondition: those words vanish"
    [sent] = encode_sentences(tokenizer, [words])
    assert sent.n_words == 5
    assert sent.first_sub == sorted(sent.first_sub) and len(set(sent.first_sub)) == 5
    assert sent.input_ids[sent.first_sub[1]] == tokenizer.unk_token_id
    assert sent.input_ids[sent.first_sub[3]] == tokenizer.unk_token_id


def test_empty_sentence_has_no_windows(tokenizer):
    [sent] = encode_sentences(tokenizer, [[]])
    assert sent.n_words == 0
    assert make_windows([sent], 16, 4, [0], [2]) == []


def _long_sentence() -> EncodedSentence:
    # 12 words of 3 sub-words each: word w has sub-words 3w..3w+2 (ids 100+i)
    return EncodedSentence(input_ids=[100 + i for i in range(36)], first_sub=[3 * w for w in range(12)])


def test_windows_cover_every_word_once_and_respect_max_length():
    sent = _long_sentence()
    windows = make_windows([sent], max_length=12, stride=4, prefix=[0], suffix=[2])
    assert len(windows) > 1
    assert all(len(w.input_ids) <= 12 and w.input_ids[0] == 0 and w.input_ids[-1] == 2 for w in windows)
    owned = sorted(word for w in windows for word, _ in w.owned)
    assert owned == list(range(12))
    for w in windows:
        for word, pos in w.owned:
            assert w.input_ids[pos] == 100 + 3 * word, "owner position must be the word's first sub-word"


def test_continuation_subword_opening_a_window_is_not_a_first_subword():
    sent = _long_sentence()
    windows = make_windows([sent], max_length=12, stride=4, prefix=[0], suffix=[2])
    for w in windows:
        listed = {word for word, _ in w.words}
        for tok in w.input_ids[1:-1]:
            sub = tok - 100
            if sub % 3 != 0:  # continuation sub-word
                assert all(w.input_ids[p] != tok for _, p in w.words)
            elif sub // 3 not in listed:
                pytest.fail(f"first sub-word of word {sub // 3} in window but not listed")


def test_owner_is_the_window_where_the_word_is_most_central():
    # 20 one-sub-word words, windows of 10 content sub-words, overlap 6 -> starts 0, 4, 8, 10
    sent = EncodedSentence(input_ids=list(range(100, 120)), first_sub=list(range(20)))
    windows = make_windows([sent], max_length=12, stride=6, prefix=[0], suffix=[2])
    starts = [w.input_ids[1] - 100 for w in windows]
    assert starts == [0, 4, 8, 10]
    owner = {word: starts[i] for i, w in enumerate(windows) for word, _ in w.owned}
    # centrality = distance to the nearer edge of the window
    assert owner[6] == 0  # window 0..9: min(6, 3) = 3; window 4..13: min(2, 7) = 2
    assert owner[7] == 4  # window 0..9: min(7, 2) = 2; window 4..13: min(3, 6) = 3
    assert owner[19] == 10 and owner[0] == 0


def test_window_labels_mark_first_subwords_only():
    sent = _long_sentence()
    [window] = make_windows([sent], max_length=40, stride=4, prefix=[0], suffix=[2])
    tags = list(range(12))
    labels = window_labels(window, tags)
    assert labels[0] == IGNORE_INDEX and labels[-1] == IGNORE_INDEX
    assert [lab for lab in labels if lab != IGNORE_INDEX] == tags
    assert sum(lab == IGNORE_INDEX for lab in labels) == len(labels) - 12


def test_prediction_covers_long_sentences_and_invisible_words(tokenizer, tiny_dir, corpus):
    torch.manual_seed(0)
    tagger = TrainedTagger(load_model(str(tiny_dir), LABEL_NAMES), tokenizer, LABEL_NAMES, None, temperature=1.7)
    long_tokens = [t for row in corpus["train"].select(range(6))["tokens"] for t in row]
    assert len(tokenizer([long_tokens], is_split_into_words=True)["input_ids"][0]) > 3 * 16
    records = [
        {"id": "x/0", "tokens": long_tokens, "ner_tags": ["O"] * len(long_tokens), "lang": "de"},
        {"id": "x/1", "tokens": ["Paris", INVISIBLE, " ", "."], "ner_tags": ["B-LOC", "O", "O", "O"], "lang": "de"},
        {"id": "x/2", "tokens": [INVISIBLE], "ner_tags": ["O"], "lang": "de"},
        {"id": "x/3", "tokens": [], "ner_tags": [], "lang": "de"},
    ]
    ds = dataset_from_records(records, LABEL_NAMES)
    probs = predict_word_probs(tagger, ds, max_length=16, stride=4, batch_size=3, progress=False)
    assert [p.shape for p in probs] == [(len(r["tokens"]), len(LABEL_NAMES)) for r in records]
    for p in probs:
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    # windows change the context, not the bookkeeping: a sentence alone or in a batch gives the same rows
    alone = predict_word_probs(tagger, ds.select([1]), max_length=16, stride=4, progress=False)
    np.testing.assert_allclose(alone[0], probs[1], atol=1e-5)


def test_mean_pooling_averages_each_words_own_subwords_in_its_owner_window(tokenizer):
    """pooling='mean' (the probe's default): each word's vector is the mean of the outputs at its
    own sub-words, found from the tokenizer's word_ids (the last word too: it ends at the
    window's content, not at the trailing special token); 'first' takes the first of them. The
    forward pass here returns each position's token id, so the expected means are exact."""
    from auditor.modeling.predict import pad_id, sentence_windows, word_vectors

    sentences = [["Unterschriftensammlung", "in", "Zürich", "bei", "Hochwasserschutzmaßnahmen"],
                 ["Die", "Vereinten", "Nationen", "tagten", "in", "Genf", "am", "Donnerstagnachmittag"]]
    windows = sentence_windows(tokenizer, sentences, max_length=64, stride=16)

    def forward(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return ids.float().unsqueeze(-1)

    n_words = [len(s) for s in sentences]
    first = word_vectors(windows, n_words, forward, 1, pad_id(tokenizer), torch.device("cpu"), progress=False)
    mean = word_vectors(windows, n_words, forward, 1, pad_id(tokenizer), torch.device("cpu"), progress=False, pooling="mean")
    multi = 0
    for s, words in enumerate(sentences):
        enc = tokenizer(words, is_split_into_words=True, add_special_tokens=False)
        pieces = {}
        for token_id, w in zip(enc["input_ids"], enc.word_ids()):
            pieces.setdefault(w, []).append(token_id)
        for w in range(len(words)):
            ids = pieces[w]
            multi += len(ids) > 1
            assert first[s][w, 0] == pytest.approx(ids[0])
            assert mean[s][w, 0] == pytest.approx(np.mean(ids), rel=1e-6)
    assert multi >= 3  # the test means something only if words split into several pieces
