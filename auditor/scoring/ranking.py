"""One score per span (or sentence) in [0, 1] from the four signals; lower = more likely wrong.

Each signal is first read as a *quality* in [0, 1] (the probability-like chance that the given
labels are right): cleanlab's label quality as is, a token loss L as exp(-L) (the model's
probability of the given tag), a sequence loss as exp(-sum) (the probability of the whole given
tag sequence), the consistency share as is. The combined score is their weighted geometric
mean, exp(sum_i w_i log q_i / sum_i w_i): the weighted sum of log-evidence, so a span that only
one signal doubts still moves down in proportion to how strongly that signal doubts it, while
a signal with no opinion (q = 1) adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from auditor.config import WeightsConfig
from auditor.errors import ConfigError

# floor on each quality so one signal at exactly 0 does not pin the combined score to 0
MIN_QUALITY = 1e-6
SIGNALS = ("cleanlab", "token_loss", "sequence_loss", "consistency")


@dataclass
class SignalValues:
    """The raw signals of M spans or sentences, each (M,):

    cleanlab: label quality in [0, 1]; token_loss: worst token's cross-entropy in nats;
    sequence_loss: summed cross-entropy of the sentence in nats; consistency: share in [0, 1].
    """

    cleanlab: np.ndarray
    token_loss: np.ndarray
    sequence_loss: np.ndarray
    consistency: np.ndarray

    def qualities(self) -> dict[str, np.ndarray]:
        """Each signal as a quality in [0, 1], lower = more likely wrong."""
        return {
            "cleanlab": np.clip(self.cleanlab, 0.0, 1.0),
            "token_loss": np.exp(-np.maximum(self.token_loss, 0.0)),
            "sequence_loss": np.exp(-np.maximum(self.sequence_loss, 0.0)),
            "consistency": np.clip(self.consistency, 0.0, 1.0),
        }


def check_weights(weights: WeightsConfig) -> None:
    if sum(getattr(weights, name) for name in SIGNALS) <= 0:
        raise ConfigError("scoring.weights: at least one weight must be positive (cleanlab, token_loss, ...)")


def combined_score(values: SignalValues, weights: WeightsConfig) -> np.ndarray:
    """(M,) combined score in [0, 1]: weighted geometric mean of the signal qualities."""
    check_weights(weights)
    total = sum(getattr(weights, name) for name in SIGNALS)
    log_sum = np.zeros(len(values.cleanlab), dtype=np.float64)
    for name, q in values.qualities().items():
        w = getattr(weights, name)
        if w > 0:
            log_sum += w * np.log(np.clip(q, MIN_QUALITY, 1.0))
    return np.clip(np.exp(log_sum / total), 0.0, 1.0)


def single_signal_score(values: SignalValues, name: str) -> np.ndarray:
    """(M,) the ranking one signal alone gives (its quality; lower = more likely wrong)."""
    if name not in SIGNALS:
        raise ValueError(f"unknown signal {name!r}; one of {SIGNALS}")
    return values.qualities()[name]
