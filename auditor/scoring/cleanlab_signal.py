"""cleanlab's token-classification signal: label issues (confident learning) and label quality scores.

cleanlab.token_classification wants per-sentence lists (labels[i]: list of ints, pred_probs[i]:
(T_i, K)); we pass views of the flat arrays and map its (sentence, word) answers back to flat
positions.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from cleanlab.token_classification.filter import find_label_issues
from cleanlab.token_classification.rank import get_label_quality_scores

from auditor.config import CleanlabConfig
from auditor.scoring.frame import ScoringFrame


@dataclass
class CleanlabSignal:
    """token_quality: (N,) in [0, 1], lower = given tag less likely right;
    sentence_quality: (S,) in [0, 1] (min or softmin of the sentence's token qualities);
    is_issue: (N,) bool, cleanlab's find_label_issues verdict."""

    token_quality: np.ndarray
    sentence_quality: np.ndarray
    is_issue: np.ndarray


# temperature of scoring.cleanlab.sentence_method: softmin: cleanlab's own default, passed
# explicitly so it is never mistaken for scoring.sentence_aggregate's (quality.SENTENCE_SOFTMIN_TEMPERATURE)
CLEANLAB_SOFTMIN_TEMPERATURE = 0.05


def cleanlab_signal(frame: ScoringFrame, cfg: CleanlabConfig) -> CleanlabSignal:
    """Run cleanlab.token_classification on the frame's given tags and out-of-fold probabilities."""
    labels = [s.tolist() for s in frame.per_sentence(frame.labels)]
    probs = frame.per_sentence(frame.probs)
    sentence_quality, token_scores = get_label_quality_scores(
        labels,
        probs,
        token_score_method=cfg.token_method,
        sentence_score_method=cfg.sentence_method,
        sentence_score_kwargs={"temperature": CLEANLAB_SOFTMIN_TEMPERATURE},
    )
    token_quality = np.concatenate([s.to_numpy() for s in token_scores]) if token_scores else np.zeros(0)
    is_issue = np.zeros(frame.n_tokens, dtype=bool)
    flagged = _find_issues(labels, probs, frame, cfg)
    if flagged:
        sent, word = np.asarray(flagged, dtype=np.int64).T
        is_issue[frame.offsets[sent] + word] = True
    return CleanlabSignal(
        token_quality=np.clip(token_quality.astype(np.float64), 0.0, 1.0),
        sentence_quality=np.asarray(sentence_quality, dtype=np.float64),
        is_issue=is_issue,
    )


def _find_issues(labels: list, probs: list, frame: ScoringFrame, cfg: CleanlabConfig) -> list[tuple[int, int]]:
    # cleanlab 2.9 handles classes absent from the given tags itself (it warns that it may not
    # flag every issue of such a class); only that expected warning is silenced, any other
    # warning reaches the user.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"May not flag all label issues in class", category=UserWarning)
        return find_label_issues(
            labels,
            probs,
            return_indices_ranked_by=cfg.token_method,
            filter_by=cfg.filter_by,
            n_jobs=1,
        )
