"""Systematic groups: issues with the same words and the same change, across sentences and languages.

Silver corpora repeat their mistakes: one surface form labelled wrong in hundreds of sentences
("England" the football team tagged LOC instead of ORG). Issues that share the same words and
the same change (given tags -> suggested tags) form a group; one decision on a member, shown
with a preview, can decide the whole group (the review UI's A key; the plan it writes is
auditor.review.bulk.plan_bulk's).

The key is the span's words after Unicode NFC normalisation and whitespace collapsing, plus the
given and the suggested tag sequences. It is **case-sensitive by default**: case separates
entities from common words in several of our languages ("Bush" / "bush", "Mars" / "mars"), a
wrong bulk decision is worse than a second decision. The review UI's bulk key (`b`,
auditor.review.queue.IssueTable.same_change) uses these groups too, so its counts and the
×N marks agree. `casefold=True` merges headline casing ("ENGLAND" with "England") for
corpora where that is wanted.

Everything here is UI-independent: pandas/numpy in, plain dataclasses out.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

GROUP_SEP = "\x1f"  # between key parts: cannot occur in a word or a tag


def normalise_surface(surface: str, casefold: bool = False) -> str:
    """NFC, single spaces, optionally case-folded: the words part of the group key."""
    text = " ".join(unicodedata.normalize("NFC", str(surface)).split())
    return text.casefold() if casefold else text


def same_words(a: Sequence[str], b: Sequence[str], casefold: bool = False) -> bool:
    """The one rule for "the same words" everywhere a decision is carried over (a group, a bulk
    relabel, the other occurrences of a relabel's words): word by word, equal after
    normalise_surface (NFC, so a composed and a decomposed "München" match; case-sensitive
    unless casefold)."""
    return len(a) == len(b) and all(normalise_surface(x, casefold) == normalise_surface(y, casefold) for x, y in zip(a, b))


def span_types(tags: Sequence[str]) -> str:
    """'B-ORG I-ORG' -> 'ORG'; all O -> 'O'; mixed -> 'ORG+LOC'."""
    seen = [t[2:] for t in tags if t[:2] in ("B-", "I-")]
    return "+".join(dict.fromkeys(seen)) or "O"


def change_text(given: Sequence[str], suggested: Sequence[str]) -> str:
    """The change as entity types, e.g. 'LOC→ORG' ('O' for no entity, 'ORG+LOC' for mixed)."""
    return f"{span_types(given)}→{span_types(suggested)}"


def group_keys(issues: pd.DataFrame, casefold: bool = False) -> np.ndarray:
    """(N,) object array of group keys: normalised surface, given tags, suggested tags.

    issues: the issue table (needs surface, given, suggested)."""
    return np.array(
        [
            GROUP_SEP.join((normalise_surface(s, casefold), " ".join(g), " ".join(t)))
            for s, g, t in zip(issues["surface"], issues["given"], issues["suggested"])
        ],
        dtype=object,
    )


def _group_id(key: str) -> str:
    # a hash of the key, not a running number: the same group keeps its id after re-scoring
    return "g" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:10]


@dataclass(frozen=True)
class Groups:
    """Group of every issue, aligned with the issue table's rows.

    key:   (N,) object, the group key of each row
    code:  (N,) int64, 0..G-1, equal codes = same group (cheap to compare)
    ids:   (G,) object, stable group id per code ("g" + 10 hex digits)
    size:  (N,) int64, issues in the row's group (open or decided)
    """

    key: np.ndarray
    code: np.ndarray
    ids: np.ndarray
    size: np.ndarray
    casefold: bool = False

    @property
    def group_id(self) -> np.ndarray:
        """(N,) object, the group id of each row."""
        return self.ids[self.code]

    def members(self, row: int) -> np.ndarray:
        """Row positions of every issue in the group of `row` (itself included), ascending."""
        return np.flatnonzero(self.code == self.code[row])

    def frame(self, issues: pd.DataFrame) -> pd.DataFrame:
        """issue_id, group_id, group_size per row (e.g. to join onto the issue table)."""
        return pd.DataFrame(
            {"issue_id": issues["issue_id"].to_numpy(), "group_id": self.group_id, "group_size": self.size}
        )


def find_groups(issues: pd.DataFrame, casefold: bool = False) -> Groups:
    """Group the issue table's rows by words and change (see the module docstring)."""
    key = group_keys(issues, casefold)
    if len(key) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Groups(key, empty, np.zeros(0, dtype=object), empty, casefold)
    uniq, code, counts = np.unique(key.astype(str), return_inverse=True, return_counts=True)
    ids = np.array([_group_id(k) for k in uniq], dtype=object)
    return Groups(key, code.astype(np.int64), ids, counts[code].astype(np.int64), casefold)


def largest_groups_first(groups: Groups, order: np.ndarray, open_mask: np.ndarray | None = None) -> np.ndarray:
    """Row positions of the open issues, largest open groups first.

    order: (M,) row positions in the current ranking (score order, or the adaptive order);
    open_mask: (N,) bool, True for undecided issues (None: all open). Groups are sorted by
    their number of open members (descending), ties by their best-ranked member; inside a
    group the members keep the ranking's order. Returns (K,) row positions, K = open rows of
    `order`.
    """
    order = np.asarray(order, dtype=np.int64)
    if open_mask is not None:
        order = order[np.asarray(open_mask, dtype=bool)[order]]
    if not len(order):
        return order
    codes = groups.code[order]
    open_size = np.bincount(codes, minlength=len(groups.ids))
    position = np.arange(len(order))
    first = np.full(len(groups.ids), len(order), dtype=np.int64)
    np.minimum.at(first, codes, position)
    # lexsort: last key is primary
    return order[np.lexsort((position, first[codes], -open_size[codes]))]
