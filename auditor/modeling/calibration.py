"""Temperature scaling and expected calibration error (Guo et al., 2017).

Out-of-fold probabilities feed cleanlab, which assumes they are calibrated; a fine-tuned
transformer is usually over-confident, so each fold divides its logits by a scalar T fitted
on that fold's holdout (never on the sentences it predicts).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

# T is searched in [exp(-4), exp(4)] ~ [0.02, 55]: wide enough for any sane model, and the
# bound keeps a degenerate holdout (one class, perfectly separated) from running off to 0.
_LOG_T_BOUNDS = (-4.0, 4.0)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood (nats) of labels (N,) under softmax(logits (N, K) / T)."""
    logp = log_softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)
    return float(-logp[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The scalar T > 0 minimising the NLL of labels (N,) under softmax(logits (N, K) / T).

    Returns 1.0 when there is nothing to fit (no rows). Deterministic (bounded Brent search
    over log T, which is convex in the NLL for fixed logits).
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if logits.ndim != 2 or len(labels) != len(logits):
        raise ValueError(f"logits must be (N, K) with N = len(labels); got {logits.shape} and {labels.shape}")
    if len(labels) == 0:
        return 1.0
    res = minimize_scalar(
        lambda log_t: nll(logits, labels, float(np.exp(log_t))),
        bounds=_LOG_T_BOUNDS,
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(res.x))


def apply_temperature(logits: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / T) row-wise, float64 (N, K); rows sum to 1."""
    return softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=-1)


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """Top-label ECE: sum over equal-width confidence bins of |accuracy - confidence| * bin share.

    probs (N, K) rows summing to 1, labels (N,); returns a value in [0, 1] (0 when N = 0).
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels)
    if len(labels) == 0:
        return 0.0
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(np.float64)
    # bins are (lo, hi]; confidence is >= 1/K > 0, so nothing falls below the first bin
    bins = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)
