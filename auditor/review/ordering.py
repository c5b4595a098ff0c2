"""The order the review queue shows its issues in: the score order, the adaptive order
(auditor.review.adaptive) or largest systematic groups first (auditor.review.groups).

Orders are (N,) permutations of the ranks of the issue table (rank = position in the score
order). A re-ordered queue shows its open issues first, in the chosen order, then the
decided and skipped ones in score order; the score order leaves every issue at its rank.
Everything here is numpy in, numpy out (and one small state object for the order line),
so the screen only wires keys and a worker thread to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from auditor.config import AdaptiveConfig
from auditor.review.groups import Groups, largest_groups_first


def score_order(n: int) -> np.ndarray:
    """(n,) the ranks in score order: 0, 1, ..., n - 1."""
    return np.arange(n, dtype=np.int64)


def complete(first: np.ndarray, n: int) -> np.ndarray:
    """(n,) every rank once: `first` (distinct ranks) in its order, then the others ascending."""
    first = np.asarray(first, dtype=np.int64)
    rest = np.ones(n, dtype=bool)
    rest[first] = False
    return np.concatenate([first, np.flatnonzero(rest)])


def adaptive_order(priority: np.ndarray, is_open: np.ndarray) -> np.ndarray:
    """(N,) the open ranks by ascending priority (ties by rank), then the rest ascending.

    priority: (N,) per rank, lower = review sooner (AdaptiveRanking.priority); is_open: (N,) bool.
    """
    open_ranks = np.flatnonzero(is_open)
    first = open_ranks[np.argsort(np.asarray(priority)[open_ranks], kind="stable")]
    return complete(first, len(is_open))


def groups_first_order(groups: Groups, base: np.ndarray, is_open: np.ndarray) -> np.ndarray:
    """(N,) the open ranks, largest open groups first (inside a group and among equal groups
    the `base` order decides), then the rest ascending. base: (N,) the order to start from
    (score or adaptive); groups: of the table's rows, i.e. of the ranks."""
    return complete(largest_groups_first(groups, base, is_open), len(is_open))


def positions(order: np.ndarray) -> np.ndarray:
    """(N,) the position of each rank in `order` (its inverse permutation)."""
    out = np.empty(len(order), dtype=np.int64)
    out[order] = np.arange(len(order))
    return out


def view_of(order: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """(M,) the ranks a filter keeps ((N,) bool per rank), in the order's sequence."""
    return order[keep[order]]


def position_in(view: np.ndarray, rank: int) -> int | None:
    """The position of rank in the view (None: not shown), to keep the cursor on an issue
    when the view is re-ordered."""
    hits = np.flatnonzero(view == rank)
    return int(hits[0]) if len(hits) else None


def waiting_for(n_wrong: int, n_right: int, settings: AdaptiveConfig) -> str:
    """Why the adaptive order is not active yet ('' when it can be): the decisions missing."""
    missing = []
    if n_wrong < settings.min_wrong:
        missing.append(f"{settings.min_wrong} changed labels ({n_wrong} so far)")
    if n_right < settings.min_right:
        missing.append(f"{settings.min_right} keeps ({n_right} so far)")
    return f"waiting for {' and '.join(missing)}" if missing else ""


def refit_due(n_decisions: int, last_refit_at: int | None, every: int) -> bool:
    """A new refit is due: none yet, or `every` decisions more than the last one used."""
    return last_refit_at is None or n_decisions - last_refit_at >= every


@dataclass
class OrderState:
    """What the queue is ordered by, for the order line.

    adaptive: the curator asked for the adaptive order; groups_first: largest groups first;
    priority: (N,) of the newest adaptive ranking (None before the first refit);
    refit_number/refit_decisions/refit_time: the newest refit (its file's number, the
    decisions it learned from, 'HH:MM'); refitting: a refit is running; waiting: why the
    adaptive order is not active yet ('' when it is or can be).
    """

    adaptive: bool = False
    groups_first: bool = False
    priority: np.ndarray | None = None
    refit_number: int | None = None
    refit_decisions: int = 0
    refit_time: str = ""
    refitting: bool = False
    waiting: str = ""

    @property
    def adaptive_active(self) -> bool:
        return self.adaptive and self.priority is not None

    def describe(self) -> str:
        """'order: score', 'order: adaptive, refit #3 from 85 decisions at 14:02',
        'order: largest groups first · score — adaptive: waiting for 10 keeps (3 so far)'."""
        if self.adaptive_active:
            number = f" #{self.refit_number}" if self.refit_number is not None else ""
            base = f"adaptive, refit{number} from {self.refit_decisions} decisions at {self.refit_time}"
            if self.refitting:
                base += " (refitting…)"
        else:
            base = "score"
        parts = ["largest groups first", base] if self.groups_first else [base]
        text = "order: " + " · ".join(parts)
        if self.adaptive and not self.adaptive_active:
            text += " — adaptive: " + ("refitting…" if self.refitting else self.waiting or "starting…")
        return text
