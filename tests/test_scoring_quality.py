"""Word qualities and sentence aggregates (auditor.scoring.quality)."""

from __future__ import annotations

import numpy as np
import pytest

from auditor.scoring.quality import sentence_quality, span_quality, type_probs, word_quality

NAMES = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def test_collapsed_quality_ignores_begin_inside_hesitation_but_not_type_doubt():
    probs = np.array(
        [
            [0.0, 0.45, 0.55, 0.0, 0.0],  # given B-PER, the model says PER (unsure B or I)
            [0.0, 0.45, 0.0, 0.55, 0.0],  # given B-PER, the model leans to LOC
        ]
    )
    labels = np.array([1, 1])
    sc = word_quality(probs, labels, NAMES, "self_confidence")
    col = word_quality(probs, labels, NAMES, "collapsed")
    np.testing.assert_allclose(sc, [0.45, 0.45])
    np.testing.assert_allclose(col, [1.0, 0.45])


def test_type_probs_sum_begin_and_inside():
    probs = np.array([[0.1, 0.2, 0.3, 0.25, 0.15]])
    np.testing.assert_allclose(type_probs(probs, NAMES), [[0.1, 0.25 + 0.15, 0.2 + 0.3]])


def test_margin_is_half_plus_half_the_gap():
    probs = np.array([[0.7, 0.2, 0.1, 0.0, 0.0], [0.1, 0.6, 0.3, 0.0, 0.0]])
    q = word_quality(probs, np.array([0, 0]), NAMES, "normalized_margin")
    np.testing.assert_allclose(q, [(0.7 - 0.2 + 1) / 2, (0.1 - 0.6 + 1) / 2])


def test_sentence_aggregates():
    q = np.array([0.9, 0.2, 1.0, 0.5, 0.5])
    offsets = np.array([0, 3, 3, 5])  # the middle sentence is empty
    np.testing.assert_allclose(sentence_quality(q, offsets, "min"), [0.2, 1.0, 0.5])
    np.testing.assert_allclose(sentence_quality(q, offsets, "mean"), [0.7, 1.0, 0.5])
    np.testing.assert_allclose(sentence_quality(q, offsets, "product"), [0.18, 1.0, 0.25])
    np.testing.assert_allclose(sentence_quality(q, offsets, "expected_errors"), np.exp([-0.9, 0.0, -1.0]))
    soft = sentence_quality(q, offsets, "softmin")
    assert 0.2 < soft[0] < 0.3 and soft[1] == 1.0 and soft[2] == pytest.approx(0.5)


def test_the_two_softmins_are_cleanlabs_formula_at_their_own_temperatures():
    """sentence_aggregate: softmin is cleanlab's soft minimum at 0.1; cleanlab.sentence_method:
    softmin is cleanlab's own, at its default 0.05 (passed explicitly, same numbers)."""
    from cleanlab.token_classification.rank import _softmin_sentence_score, get_label_quality_scores

    from auditor.scoring.cleanlab_signal import CLEANLAB_SOFTMIN_TEMPERATURE
    from auditor.scoring.quality import SENTENCE_SOFTMIN_TEMPERATURE

    q = np.array([0.9, 0.2, 1.0, 0.5, 0.45])
    offsets = np.array([0, 3, 5])
    ours = sentence_quality(q, offsets, "softmin")
    theirs = _softmin_sentence_score([q[:3], q[3:]], temperature=SENTENCE_SOFTMIN_TEMPERATURE)
    np.testing.assert_allclose(ours, theirs)
    assert (SENTENCE_SOFTMIN_TEMPERATURE, CLEANLAB_SOFTMIN_TEMPERATURE) == (0.1, 0.05)
    labels, probs = [[0, 1], [1]], [np.array([[0.6, 0.4], [0.3, 0.7]]), np.array([[0.8, 0.2]])]
    default, _ = get_label_quality_scores(labels, probs, sentence_score_method="softmin")
    explicit, _ = get_label_quality_scores(
        labels, probs, sentence_score_method="softmin", sentence_score_kwargs={"temperature": CLEANLAB_SOFTMIN_TEMPERATURE}
    )
    np.testing.assert_array_equal(default, explicit)


def test_span_quality_is_the_worst_word_inside():
    q = np.array([0.9, 0.2, 1.0, 0.5])
    np.testing.assert_allclose(span_quality(q, np.array([0, 2, 3]), np.array([2, 4, 3])), [0.2, 0.5, 1.0])


def test_unknown_methods_are_errors():
    with pytest.raises(ValueError):
        word_quality(np.ones((1, 5)) / 5, np.array([0]), NAMES, "nope")
    with pytest.raises(ValueError):
        sentence_quality(np.ones(1), np.array([0, 1]), "nope")


def test_type_first_decoding_follows_the_type_the_model_believes():
    from auditor.scoring.quality import type_first_argmax

    probs = np.array([[0.0, 0.0, 0.0, 0.45, 0.0], [0.0, 0.3, 0.25, 0.45, 0.0]])
    probs[0, 0] = 0.55  # plain argmax O, type-first O too
    tags, conf = type_first_argmax(probs, NAMES)
    assert tags.tolist() == [0, 1]  # PER (0.55) beats LOC (0.45) although B-LOC is the top tag
    np.testing.assert_allclose(conf, [0.55, 0.55])
