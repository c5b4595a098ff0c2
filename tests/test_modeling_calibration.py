"""Temperature scaling and ECE."""

from __future__ import annotations

import numpy as np
import pytest

from auditor.modeling.calibration import apply_temperature, expected_calibration_error, fit_temperature, nll


def _sample(temperature: float, n: int = 20000, k: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3.0, size=(n, k))
    p = apply_temperature(logits, temperature)
    labels = np.array([rng.choice(k, p=row) for row in p])
    return logits, labels


@pytest.mark.parametrize("true_t", [0.5, 1.0, 2.5])
def test_fit_temperature_recovers_the_temperature_that_generated_the_labels(true_t):
    logits, labels = _sample(true_t)
    t = fit_temperature(logits, labels)
    assert t == pytest.approx(true_t, rel=0.08)
    assert nll(logits, labels, t) <= nll(logits, labels, 1.0) + 1e-9


def test_scaling_an_overconfident_model_lowers_its_ece():
    logits, labels = _sample(3.0)  # the model's logits are 3x too sharp
    before = expected_calibration_error(apply_temperature(logits, 1.0), labels)
    after = expected_calibration_error(apply_temperature(logits, fit_temperature(logits, labels)), labels)
    assert before > 0.1
    assert after < 0.03


def test_ece_extremes():
    labels = np.array([0, 1, 2, 1])
    perfect = np.eye(3)[labels]
    assert expected_calibration_error(perfect, labels) == 0.0
    always_wrong = np.eye(3)[(labels + 1) % 3]
    assert expected_calibration_error(always_wrong, labels) == pytest.approx(1.0)
    assert expected_calibration_error(np.zeros((0, 3)), np.zeros(0, int)) == 0.0


def test_fit_temperature_edge_cases():
    assert fit_temperature(np.zeros((0, 3)), np.zeros(0, int)) == 1.0
    with pytest.raises(ValueError):
        fit_temperature(np.zeros((4, 3)), np.zeros(3, int))
    # perfectly separated holdout: the NLL keeps falling as T -> 0; the bound keeps T finite
    logits = np.array([[5.0, 0.0], [0.0, 5.0]])
    t = fit_temperature(logits, np.array([0, 1]))
    assert np.exp(-4) * 0.99 <= t < 0.5
