"""Bootstrap intervals of entity F1 (auditor.evaluation.bootstrap_f1 / paired_bootstrap_delta)."""

from __future__ import annotations

import numpy as np
import pytest

import auditor.evaluation as evaluation
from auditor.evaluation import (
    F1Interval,
    bootstrap_f1,
    entity_counts,
    micro_f1,
    paired_bootstrap_delta,
    seqeval_scores,
)

# sentence A: PER and LOC found, ORG missed, a MISC invented -> TP 2, FP 1, FN 1 (F1 4/6)
A_TRUE = ["B-PER", "O", "B-LOC", "O", "B-ORG"]
A_PRED = ["B-PER", "O", "B-LOC", "O", "B-MISC"]
# sentence B: one PER missed -> TP 0, FP 0, FN 1 (F1 0)
B_TRUE = ["B-PER", "I-PER"]
B_PRED = ["O", "O"]


def _random_tags(rng: np.random.Generator, n: int, noise: float) -> tuple[list[list[str]], list[list[str]]]:
    tags = ["O", "O", "O", "B-PER", "I-PER", "B-LOC", "B-ORG", "I-ORG"]
    true, pred = [], []
    for _ in range(n):
        t = [tags[k] for k in rng.integers(0, len(tags), size=int(rng.integers(1, 12)))]
        p = [tags[int(rng.integers(0, len(tags)))] if rng.random() < noise else x for x in t]
        true.append(t)
        pred.append(p)
    return true, pred


def test_entity_counts_by_hand():
    counts = entity_counts([A_TRUE, B_TRUE], [A_PRED, B_PRED])
    assert counts.tolist() == [[2, 1, 1], [0, 0, 1]]
    assert micro_f1(counts.sum(axis=0)) == pytest.approx(4 / 7)
    assert micro_f1(np.zeros(3)) == 0.0  # nothing true, nothing predicted


def test_summed_counts_give_seqeval_micro_f1():
    # invalid IOB2 (I- without B-) included: the counts follow seqeval's default mode
    true, pred = _random_tags(np.random.default_rng(3), 200, noise=0.3)
    assert micro_f1(entity_counts(true, pred).sum(axis=0)) == pytest.approx(seqeval_scores(true, pred).f1)


def test_two_sentence_bootstrap_by_hand():
    # resamples: AA (p=1/4) F1 8/12, AB/BA (1/2) 4/7, BB (1/4) 0 -> 5th pct 0, 95th pct 2/3
    iv = bootstrap_f1([A_TRUE, B_TRUE], [A_PRED, B_PRED], n_boot=4000, seed=1)
    assert iv == F1Interval(pytest.approx(4 / 7), 0.0, pytest.approx(2 / 3), 2, 0.9)


def test_one_sentence_interval_is_the_point():
    iv = bootstrap_f1([A_TRUE], [A_PRED], n_boot=50)
    assert (iv.f1, iv.low, iv.high, iv.n_sentences) == (pytest.approx(2 / 3), pytest.approx(2 / 3), pytest.approx(2 / 3), 1)


def test_paired_delta_by_hand():
    # after is perfect: AA 1 - 2/3, AB 1 - 4/7, BB 1 - 0 -> 5th pct 1/3, 95th pct 1
    iv = paired_bootstrap_delta([A_TRUE, B_TRUE], [A_PRED, B_PRED], [A_TRUE, B_TRUE], n_boot=4000, seed=1)
    assert iv.f1 == pytest.approx(1 - 4 / 7)
    assert (iv.low, iv.high) == (pytest.approx(1 / 3), pytest.approx(1.0))


def test_interval_contains_point_and_pairing_tightens_it():
    rng = np.random.default_rng(0)
    true, before = _random_tags(rng, 300, noise=0.4)
    after = [[t if rng.random() < 0.3 else b for t, b in zip(ts, bs)] for ts, bs in zip(true, before)]
    b, a = bootstrap_f1(true, before), bootstrap_f1(true, after)
    d = paired_bootstrap_delta(true, before, after)
    for iv in (b, a, d):
        assert iv.low < iv.f1 < iv.high
    assert d.f1 == pytest.approx(a.f1 - b.f1)
    assert d.low > 0  # a real improvement is resolved ...
    assert d.high - d.low < (a.high - a.low) + (b.high - b.low)  # ... more tightly than two separate intervals


def test_same_seed_same_numbers_other_seed_other_numbers():
    true, pred = _random_tags(np.random.default_rng(5), 100, noise=0.4)
    assert bootstrap_f1(true, pred, seed=7) == bootstrap_f1(true, pred, seed=7)
    assert bootstrap_f1(true, pred, seed=7) != bootstrap_f1(true, pred, seed=8)
    assert paired_bootstrap_delta(true, pred, true, seed=7) == paired_bootstrap_delta(true, pred, true, seed=7)


def test_chunked_resampling_gives_the_same_numbers(monkeypatch):
    true, pred = _random_tags(np.random.default_rng(6), 50, noise=0.4)
    whole = bootstrap_f1(true, pred, n_boot=300, seed=2)
    monkeypatch.setattr(evaluation, "_BOOT_CHUNK", 120)  # 2 resamples per chunk
    assert bootstrap_f1(true, pred, n_boot=300, seed=2) == whole


def test_level_widens_interval():
    true, pred = _random_tags(np.random.default_rng(8), 150, noise=0.4)
    narrow, wide = bootstrap_f1(true, pred, level=0.5), bootstrap_f1(true, pred, level=0.99)
    assert wide.low < narrow.low and narrow.high < wide.high and wide.level == 0.99


def test_to_dict_round_trip():
    iv = bootstrap_f1([A_TRUE, B_TRUE], [A_PRED, B_PRED], n_boot=20)
    assert F1Interval.from_dict(iv.to_dict()) == iv


def test_sad_paths():
    with pytest.raises(ValueError, match="no sentences"):
        bootstrap_f1([], [])
    with pytest.raises(ValueError, match="no sentences"):
        paired_bootstrap_delta([], [], [])
    with pytest.raises(ValueError, match="2 true sentences but 1 predicted"):
        bootstrap_f1([A_TRUE, B_TRUE], [A_PRED])
    with pytest.raises(ValueError, match="sentence 0: 5 true tags but 2 predicted"):
        bootstrap_f1([A_TRUE], [B_PRED])
    with pytest.raises(ValueError, match="'before'"):
        paired_bootstrap_delta([A_TRUE], [A_PRED], [])
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_f1([A_TRUE], [A_PRED], n_boot=0)
    with pytest.raises(ValueError, match="level"):
        bootstrap_f1([A_TRUE], [A_PRED], level=1.0)
