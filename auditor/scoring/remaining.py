"""How many label errors are left: when a curator can stop.

The unit is the *sentence with an error* (at least one wrong tag), the unit the verified
sample is checked in. The random verified sample (scoring.reference.file, drawn by
``auditor sample``) is a simple random sample of the audited sentences, drawn without
replacement, so the number of wrong sentences in the whole audited corpus has an exact
interval: the hypergeometric analogue of Clopper-Pearson, which carries the finite-population
correction itself (a sample of half the corpus pins the count down far more than the
binomial would say). Errors left = that count minus the sentences the review corrected so far.

Errors left in the rest of the queue (sentences with an open issue) cannot come from the sample:
the sample's own wrong sentences are in the queue because the sample put them there, and its
right ones never are. They come from the queue itself: the hit rate of the most recently
reached decided sentences (the deepest in the ranked queue, a Wilson interval) times the open
sentences, capped by the errors left in the corpus. The queue is ranked, so its rest is
likelier to hold fewer errors than the recent rate says: an upper-side estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from auditor.scoring.summary import ScoringSummary

UNIT = "sentences with an error"
# decided sentences the queue's hit rate is measured on (the deepest reached in rank order)
RECENT = 50
CHANGED_ACTIONS = ("accept", "relabel")
DECIDED_ACTIONS = ("accept", "relabel", "keep")


@dataclass(frozen=True)
class CountEstimate:
    """An estimated count with an interval (whole sentences) at coverage `level`."""

    estimate: float
    low: int
    high: int
    level: float = 0.9

    def text(self) -> str:
        return f"~{self.estimate:,.0f} ({self.level:.0%}: {self.low:,}–{self.high:,})"


@dataclass(frozen=True)
class QueueCounts:
    """The review's progress in sentences. fixed: sentences a decision changed (accept or
    relabel); open: sentences not fixed with an issue still open (or skipped); recent_decided,
    recent_changed: of the last RECENT decided sentences in rank order, how many, and how many
    of them a decision changed."""

    fixed: int = 0
    open: int = 0
    recent_decided: int = 0
    recent_changed: int = 0


@dataclass(frozen=True)
class RemainingErrors:
    """Sentences with an error: in the audited corpus before review (total), left in it after
    the corrections so far (in_corpus), and left among the open queue's sentences (in_queue,
    None before any decision gives the queue's hit rate)."""

    corpus_size: int
    sample_size: int
    sample_errors: int
    total: CountEstimate
    fixed: int
    in_corpus: CountEstimate
    open_sentences: int
    in_queue: CountEstimate | None
    unit: str = UNIT

    def status_text(self) -> str:
        """One short phrase for the review UI's status line."""
        text = f"errors left ~{self.in_corpus.estimate:,.0f} sentences ({self.in_corpus.level:.0%} {self.in_corpus.low:,}–{self.in_corpus.high:,})"
        if self.in_queue is not None:
            text += f", ~{self.in_queue.estimate:,.0f} in the open queue"
        return text

    def to_dict(self) -> dict:
        def d(c: CountEstimate | None):
            return None if c is None else {"estimate": c.estimate, "low": c.low, "high": c.high, "level": c.level}

        return {
            "unit": self.unit, "corpus_size": self.corpus_size, "sample_size": self.sample_size,
            "sample_errors": self.sample_errors, "total": d(self.total), "fixed": self.fixed,
            "in_corpus": d(self.in_corpus), "open_sentences": self.open_sentences, "in_queue": d(self.in_queue),
        }


@lru_cache(maxsize=64)  # pure, and the review UI asks again on every key
def population_errors(sample_size: int, sample_errors: int, population: int, level: float = 0.9) -> CountEstimate:
    """Wrong sentences among `population` from `sample_errors` of a simple random sample of
    `sample_size` drawn without replacement: point N·x/n and the exact (hypergeometric,
    equal-tailed) interval: the K whose chance of showing x or more (for the low end), or x
    or fewer (for the high end), is above (1 - level) / 2. ValueError on impossible counts."""
    from scipy.stats import hypergeom

    n, x, big_n = int(sample_size), int(sample_errors), int(population)
    if n < 1:
        raise ValueError("remaining errors: the sample holds no verified sentence")
    if not 0 <= x <= n:
        raise ValueError(f"remaining errors: {x} wrong sentences in a sample of {n}")
    if big_n < n:
        raise ValueError(f"remaining errors: a sample of {n} sentences from a corpus of {big_n}")
    if not 0 < level < 1:
        raise ValueError(f"remaining errors: level must be between 0 and 1 (got {level})")
    alpha = (1 - level) / 2
    # the possible counts: the sample's wrong ones are in the corpus, its right ones too
    lo_k, hi_k = x, big_n - (n - x)
    # P(X >= x | K) rises with K and P(X <= x | K) falls with it: bisect for each end
    low = _first(lo_k, hi_k, lambda k: hypergeom.sf(x - 1, big_n, k, n) > alpha)
    high = _first(lo_k, hi_k, lambda k: not hypergeom.cdf(x, big_n, k, n) > alpha) - 1
    return CountEstimate(big_n * x / n, low, max(high, low), level)


def _first(lo: int, hi: int, pred) -> int:
    """The smallest k in [lo, hi] with pred(k) (pred monotone False -> True), hi + 1 if none."""
    while lo <= hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid - 1
        else:
            lo = mid + 1
    return lo


def wilson(successes: int, trials: int, level: float = 0.9) -> tuple[float, float]:
    """Wilson score interval of a proportion ((0, 1) without trials)."""
    from scipy.stats import norm

    if trials <= 0:
        return 0.0, 1.0
    z = float(norm.ppf(1 - (1 - level) / 2))
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def queue_counts(sentence_ids: Sequence[str], actions: Sequence[str | None], recent: int = RECENT) -> QueueCounts:
    """Sentence counts of the review from its issues in rank order (most suspicious first).

    sentence_ids: (I,) each issue's sentence; actions: (I,) each issue's standing decision
    ("accept" | "relabel" | "keep" | "skip" | None = open). A sentence is fixed when any of
    its issues changed it, open when not fixed and any issue is open or skipped, decided
    (kept) otherwise; it sits in the queue at its best-ranked issue."""
    if len(sentence_ids) != len(actions):
        raise ValueError(f"{len(sentence_ids)} sentence ids but {len(actions)} actions")
    codes = sentence_codes(sentence_ids)
    changed = np.array([a in CHANGED_ACTIONS for a in actions], dtype=bool)
    pending = np.array([a not in DECIDED_ACTIONS for a in actions], dtype=bool)
    return coded_queue_counts(codes, changed, pending, recent)


def sentence_codes(sentence_ids: Sequence[str]) -> np.ndarray:
    """(I,) int code of each issue's sentence, numbered in order of first appearance (so, for
    issues in rank order, in the order the queue reaches the sentences)."""
    _, first, inverse = np.unique(np.asarray(sentence_ids, dtype=object), return_index=True, return_inverse=True)
    rank_of_code = np.empty(len(first), dtype=np.int64)
    rank_of_code[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank_of_code[inverse.reshape(-1)] if len(first) else np.zeros(0, dtype=np.int64)


def coded_queue_counts(codes: np.ndarray, changed: np.ndarray, pending: np.ndarray, recent: int = RECENT) -> QueueCounts:
    """queue_counts from sentence_codes and per-issue flags (I,) bool: the decision changed the
    tags; the issue is open or skipped. Vectorised, for a UI that recounts on every key."""
    n = int(codes.max()) + 1 if len(codes) else 0
    fixed = np.zeros(n, dtype=bool)
    waiting = np.zeros(n, dtype=bool)
    np.logical_or.at(fixed, codes, changed)
    np.logical_or.at(waiting, codes, pending)
    decided = np.flatnonzero(fixed | ~waiting)  # codes are in queue order
    tail = decided[-recent:] if recent > 0 else decided[:0]
    return QueueCounts(
        fixed=int(fixed.sum()),
        open=int((waiting & ~fixed).sum()),
        recent_decided=len(tail),
        recent_changed=int(fixed[tail].sum()),
    )


def counting_the_sample(counts: QueueCounts, sample_corrected: int) -> QueueCounts:
    """The review's counts with the verified sample's corrected sentences as fixed.

    apply writes the sample's tags (cleaning.apply_decisions), so the sentences the curator
    corrected in the sample are corrected like any decision's. Count the queue without the
    issues the sample settles (review.verified.settled_issues): those sentences are the
    sample's, and their issues neither wait in the queue nor feed its hit rate. The review
    UI's status line and the report's "Errors left" both use this one rule."""
    return replace(counts, fixed=counts.fixed + int(sample_corrected))


def remaining_errors(
    sample_size: int, sample_errors: int, corpus_size: int, queue: QueueCounts = QueueCounts(), level: float = 0.9
) -> RemainingErrors:
    """Sentences with an error left in the audited corpus and in the open queue (see the module
    docstring). sample_size, sample_errors: verified sentences of the random sample and how
    many of them the curator corrected; corpus_size: audited sentences; queue: queue_counts."""
    total = population_errors(sample_size, sample_errors, corpus_size, level)
    fixed = int(queue.fixed)
    in_corpus = CountEstimate(
        max(total.estimate - fixed, 0.0), max(total.low - fixed, 0), max(total.high - fixed, 0), level
    )
    in_queue = None
    if queue.recent_decided > 0:
        lo, hi = wilson(queue.recent_changed, queue.recent_decided, level)
        rate = queue.recent_changed / queue.recent_decided
        cap = in_corpus.high
        in_queue = CountEstimate(
            min(queue.open * rate, cap), min(int(np.floor(queue.open * lo)), cap), min(int(np.ceil(queue.open * hi)), cap), level
        )
    return RemainingErrors(
        corpus_size=int(corpus_size), sample_size=int(sample_size), sample_errors=int(sample_errors), total=total,
        fixed=fixed, in_corpus=in_corpus, open_sentences=int(queue.open), in_queue=in_queue,
    )


def from_metrics(scoring: ScoringSummary | None) -> tuple[int, int, int] | None:
    """(sample size, sample errors, corpus size) from metrics.json["scoring"], or None when the
    run used no verified sample."""
    ref = scoring.reference if scoring is not None else None
    if not ref or not ref.get("verified_sentences") or not scoring.n_sentences:
        return None
    return int(ref["verified_sentences"]), int(ref["corrected_sentences"]), int(scoring.n_sentences)
