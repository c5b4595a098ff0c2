"""Probe heads over frozen word vectors: they learn, stop early, ensemble, and cache by layer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from auditor.config import ProbeConfig
from auditor.modeling.probe import LayerMix, WordFeatures, cached_word_features, train_probe

N_LABELS = 3  # O, B-X, I-X


def _corpus(n_sent: int, seed: int, dim: int = 8, layers: int = 1):
    """Sentences whose tags depend on the word's own vector AND its left neighbour: a word of
    'kind 1' is B-X, and a kind-1 word right after a B-X/I-X word is I-X. A token head can tell
    entity from O but not B from I; a contextual head can tell both."""
    rng = np.random.default_rng(seed)
    vecs, tags, offsets = [], [], [0]
    for _ in range(n_sent):
        n = int(rng.integers(3, 9))
        kind = rng.random(n) < 0.4
        t = []
        for i in range(n):
            if not kind[i]:
                t.append(0)
            else:
                t.append(2 if i > 0 and kind[i - 1] else 1)
        x = rng.normal(size=(n, dim)).astype(np.float32)
        x[:, 0] += np.where(kind, 3.0, -3.0)
        vecs.append(np.tile(x, (1, layers)))
        tags.append(t)
        offsets.append(offsets[-1] + n)
    return WordFeatures(np.concatenate(vecs), np.asarray(offsets, dtype=np.int64), 0.0, layers), tags


def _accuracy(model, feats, tags, index):
    logits = model.logits(feats, index)
    pred = np.concatenate([x.argmax(1) for x in logits])
    gold = np.concatenate([tags[i] for i in index])
    return float((pred == gold).mean())


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def test_contextual_head_learns_what_a_token_head_cannot():
    feats, tags = _corpus(400, 0)
    train, hold, test = np.arange(0, 300), np.arange(300, 340), np.arange(340, 400)
    common = {"epochs": 20, "batch_size": 256, "learning_rate": 5e-3, "hidden_size": 32, "dropout": 0.0}
    mlp = train_probe(feats, train, tags, hold, N_LABELS, ProbeConfig(head="mlp", **common), 0.0, seed=1, progress=False)
    lstm = train_probe(feats, train, tags, hold, N_LABELS, ProbeConfig(head="bilstm", **common), 0.0, seed=1, progress=False)
    acc_mlp, acc_lstm = _accuracy(mlp, feats, tags, test), _accuracy(lstm, feats, tags, test)
    assert acc_lstm > 0.97
    # B vs I after an entity word is invisible to a per-word head: it errs on about half of those
    assert acc_mlp < 0.94
    assert acc_lstm > acc_mlp + 0.04


def test_early_stopping_keeps_the_best_epoch_and_stops_before_the_cap():
    feats, tags = _corpus(200, 1)
    cfg = ProbeConfig(head="logreg", epochs=200, patience=2, batch_size=64, learning_rate=1e-2)
    model = train_probe(feats, np.arange(150), tags, np.arange(150, 200), N_LABELS, cfg, 0.0, seed=0, progress=False)
    assert 1 <= model.epochs[0] < 200


def test_training_is_deterministic_and_ensembles_average_their_heads():
    feats, tags = _corpus(120, 2)
    cfg = ProbeConfig(head="mlp", epochs=5, hidden_size=16, batch_size=64, ensemble=3)
    args = (feats, np.arange(100), tags, np.arange(100, 110), N_LABELS, cfg, 0.01)
    a = train_probe(*args, seed=4, progress=False)
    b = train_probe(*args, seed=4, progress=False)
    test = np.arange(110, 120)
    np.testing.assert_array_equal(np.concatenate(a.logits(feats, test)), np.concatenate(b.logits(feats, test)))
    assert len(a.heads) == 3
    singles = [type(a)([h], [1], 0.0).logits(feats, test) for h in a.heads]
    mean = np.mean([np.concatenate(s) for s in singles], axis=0)
    np.testing.assert_allclose(np.concatenate(a.logits(feats, test)), mean, rtol=1e-5, atol=1e-5)


def test_scalar_mix_learns_which_layer_carries_the_signal():
    feats, tags = _corpus(300, 3, dim=8, layers=1)
    noise = np.random.default_rng(0).normal(size=feats.vectors.shape).astype(np.float32)
    # layer 0 is noise, layer 1 the informative vectors
    two = WordFeatures(np.concatenate([noise, feats.vectors], axis=1), feats.offsets, 0.0, 2)
    cfg = ProbeConfig(head="logreg", mix="scalar", epochs=30, batch_size=128, learning_rate=2e-2)
    model = train_probe(two, np.arange(250), tags, np.arange(250, 280), N_LABELS, cfg, 0.0, seed=0, progress=False)
    weights = model.mix.weights.numpy()
    assert weights[1] > 0.6 > 0.4 > weights[0]
    test = np.arange(280, 300)
    assert _accuracy(model, two, tags, test) > 0.8


def test_feature_cache_serves_fewer_layers_and_recomputes_for_more(tmp_path):
    feats, _ = _corpus(10, 4, dim=4, layers=3)
    calls = []

    def compute():
        calls.append(1)
        return WordFeatures(feats.vectors.copy(), feats.offsets, 1.0, 3)

    cached_word_features(tmp_path / "c", "fp", compute, layers=3)
    two = cached_word_features(tmp_path / "c", "fp", compute, layers=2)
    assert len(calls) == 1 and two.layers == 2 and two.vectors.shape[1] == 8
    np.testing.assert_allclose(two.vectors, feats.vectors[:, 4:].astype(np.float16).astype(np.float32))
    cached_word_features(tmp_path / "c", "other", compute, layers=2)
    assert len(calls) == 2


def test_truncated_feature_cache_is_recomputed(tmp_path):
    feats, _ = _corpus(10, 5, dim=4)
    cached_word_features(tmp_path / "c", "fp", lambda: feats, layers=1)
    np.save(tmp_path / "c" / "vectors.npy", np.zeros((3, 4), np.float16))  # fewer rows than offsets say
    again = cached_word_features(tmp_path / "c", "fp", lambda: WordFeatures(feats.vectors, feats.offsets, 2.0, 1), layers=1)
    assert again.seconds == 2.0 and len(again.vectors) == feats.offsets[-1]


def test_feature_cache_of_a_shallow_encoder_serves_requests_for_more_layers(tmp_path):
    feats, _ = _corpus(10, 6, dim=4, layers=2)
    calls = []

    def compute():
        calls.append(1)
        return WordFeatures(feats.vectors.copy(), feats.offsets, 1.0, 2, encoder_layers=2)

    cached_word_features(tmp_path / "c", "fp", compute, layers=12)
    again = cached_word_features(tmp_path / "c", "fp", compute, layers=12)
    assert len(calls) == 1 and again.layers == 2


def test_layer_mix_of_cached_half_precision_rows_equals_standardise_then_weigh():
    """The fast mix (one multiply-add per layer, read from the float16 cache in chunks) gives
    what its definition says, for all rows and for a subset that crosses chunk boundaries."""
    rng = np.random.default_rng(3)
    layers, width, n = 4, 6, 50
    vectors = rng.normal(2.0, 3.0, size=(n, layers * width)).astype(np.float16)
    mean = rng.normal(size=layers * width).astype(np.float32)
    std = rng.uniform(0.5, 2.0, size=layers * width).astype(np.float32)
    logits = torch.tensor([0.3, -1.0, 2.0, 0.0])
    mix = LayerMix(mean, std, layers, logits)
    weights = torch.softmax(logits, 0).numpy()
    standardised = ((vectors.astype(np.float32) - mean) / std).reshape(n, layers, width)
    expected = (standardised * weights[None, :, None]).sum(1)
    np.testing.assert_allclose(mix.mix_rows(vectors, chunk=7), expected, rtol=1e-5, atol=1e-5)
    rows = np.array([49, 0, 13, 13, 8, 21])
    np.testing.assert_allclose(mix.mix_rows(vectors, rows, chunk=4), expected[rows], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(mix(torch.from_numpy(vectors)).numpy(), expected, rtol=1e-5, atol=1e-5)
    assert mix.mix_rows(vectors, np.zeros(0, np.int64)).shape == (0, width)
