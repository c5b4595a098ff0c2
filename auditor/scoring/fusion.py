"""One score per span (or sentence) in [0, 1] from the signals; lower = more likely wrong.

Each signal is read as a *quality* in [0, 1] (the chance that the given labels are right):

- ``model``: the out-of-fold model's word quality (auditor.scoring.quality, ScoringConfig.word_quality;
  by default the probability of the given entity *type*);
- ``cleanlab``: cleanlab's token label quality (ScoringConfig.cleanlab.token_method);
- ``consistency``: the share of the surface form's occurrences labelled like this one;
- ``sequence_loss``: exp(-summed loss of the sentence) (the chapter's sentence score).

The first three are fused *per word*, as the product of the qualities raised to their weights,
exp(sum_i w_i log q_i) (the weighted sum of log-evidence: two signals doubting the same word
reinforce each other, a signal with no opinion, q = 1, adds nothing). It is not renormalised by
the sum of the weights: with the model at weight 1 its scale stays that of a probability, which
the soft minimum over a sentence depends on (renormalising cost 0.005-0.013 sentence AP on PAN-X).
A span takes its worst word, a sentence the configured aggregate
(ScoringConfig.sentence_aggregate). The sequence quality, which exists only per sentence,
multiplies that, raised to its own weight. Weights: ScoringConfig.weights (measured on real errors, see
benchmarks/README.md). Two signals that carry the same number (cleanlab's self_confidence and a
self_confidence model quality) must not both be weighted: check_weights refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from auditor.config import ScoringConfig, WeightsConfig
from auditor.errors import ConfigError
from auditor.scoring.quality import sentence_quality, span_quality

# floor on each quality so one signal at exactly 0 does not pin the combined score to 0
MIN_QUALITY = 1e-6
WORD_SIGNALS = ("model", "cleanlab", "consistency")
SIGNALS = (*WORD_SIGNALS, "sequence_loss")
# cleanlab token methods that equal a model word quality of the same name
_SAME_AS_MODEL = {"self_confidence": "self_confidence", "normalized_margin": "normalized_margin"}


@dataclass
class WordQualities:
    """The per-word qualities the fused score multiplies, each (N,) in [0, 1], lower = more likely
    wrong (built from score.WordEvidence; per sentence: SentenceSignals)."""

    model: np.ndarray
    cleanlab: np.ndarray
    consistency: np.ndarray
    # a verified sample's evidence (auditor.scoring.reference), its weight, and the words the
    # curator corrected (always at the top: they are known errors)
    reference: np.ndarray | None = None
    reference_weight: float = 0.0
    verified_wrong: np.ndarray | None = None

    def fused(self, weights: WeightsConfig) -> np.ndarray:
        """(N,) product of the word signals' qualities raised to their weights, in [0, 1]
        (1.0 when no word signal is weighted)."""
        log_sum = np.zeros(len(self.model), dtype=np.float64)
        for name in WORD_SIGNALS:
            w = getattr(weights, name)
            if w > 0:
                log_sum += w * np.log(np.clip(getattr(self, name), MIN_QUALITY, 1.0))
        if self.reference is not None and self.reference_weight > 0:
            log_sum += self.reference_weight * np.log(np.clip(self.reference, MIN_QUALITY, 1.0))
        out = np.exp(log_sum)
        if self.verified_wrong is not None:
            out[self.verified_wrong] = MIN_QUALITY
        return out


@dataclass
class SentenceSignals:
    """Each signal per sentence, (S,): model, cleanlab and consistency as qualities in [0, 1];
    sequence_loss: summed cross-entropy of the sentence in nats. (Per word: WordQualities.)"""

    model: np.ndarray
    cleanlab: np.ndarray
    sequence_loss: np.ndarray
    consistency: np.ndarray

    def qualities(self) -> dict[str, np.ndarray]:
        """Each signal as a quality in [0, 1], lower = more likely wrong."""
        return {
            "model": np.clip(self.model, 0.0, 1.0),
            "cleanlab": np.clip(self.cleanlab, 0.0, 1.0),
            "sequence_loss": np.exp(-np.maximum(self.sequence_loss, 0.0)),
            "consistency": np.clip(self.consistency, 0.0, 1.0),
        }


def check_weights(cfg: ScoringConfig) -> None:
    """ConfigError when no weight is positive, or one number would be counted twice."""
    weights = cfg.weights
    if sum(getattr(weights, name) for name in SIGNALS) <= 0:
        raise ConfigError("scoring.weights: at least one weight must be positive (model, cleanlab, ...)")
    if weights.model > 0 and weights.cleanlab > 0 and _SAME_AS_MODEL.get(cfg.cleanlab.token_method) == cfg.word_quality:
        raise ConfigError(
            f"scoring.weights: model and cleanlab both use {cfg.word_quality}, the same number counted twice; "
            "set one weight to 0 or choose another scoring.word_quality / scoring.cleanlab.token_method"
        )


def _with_sequence(word_part: np.ndarray, sequence_loss: np.ndarray, weights: WeightsConfig) -> np.ndarray:
    """word_part (M,) times the sequence quality raised to its weight, in [0, 1]."""
    if weights.sequence_loss <= 0:
        return np.clip(word_part, 0.0, 1.0)
    seq_q = np.exp(-np.maximum(np.asarray(sequence_loss, dtype=np.float64), 0.0))
    return np.clip(word_part * np.clip(seq_q, MIN_QUALITY, 1.0) ** weights.sequence_loss, 0.0, 1.0)


def span_scores(
    words: WordQualities, starts: np.ndarray, ends: np.ndarray, sequence_loss: np.ndarray, weights: WeightsConfig
) -> np.ndarray:
    """(M,) combined score of spans given as flat word ranges [starts, ends); sequence_loss: (M,)
    of each span's sentence."""
    return _with_sequence(span_quality(words.fused(weights), starts, ends), sequence_loss, weights)


def sentence_scores(
    words: WordQualities, offsets: np.ndarray, sequence_loss: np.ndarray, cfg: ScoringConfig
) -> np.ndarray:
    """(S,) combined score per sentence: the aggregate of the fused word qualities, with the
    sequence quality. offsets: (S + 1,) word offsets."""
    part = sentence_quality(words.fused(cfg.weights), offsets, cfg.sentence_aggregate)
    return _with_sequence(part, sequence_loss, cfg.weights)


def single_signal_score(values: SentenceSignals, name: str) -> np.ndarray:
    """(M,) the ranking one signal alone gives (its quality; lower = more likely wrong)."""
    if name not in SIGNALS:
        raise ValueError(f"unknown signal {name!r}; one of {SIGNALS}")
    return values.qualities()[name]
