"""Systematic groups: issues with the same words and the same change, across sentences and languages.

Silver corpora repeat their mistakes: one surface form labelled wrong in hundreds of sentences
("England" the football team tagged LOC instead of ORG). Issues that share the same words and
the same change (given tags -> suggested tags) form a group; one decision on a member, shown
with a preview, can decide the whole group.

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
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

GROUP_SEP = "\x1f"  # between key parts: cannot occur in a word or a tag
WRONG_ACTIONS = ("accept", "relabel")  # propagated like the member's decision
PROPAGATED_ACTIONS = ("accept", "relabel", "keep")  # skip and undo decide nothing


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


@dataclass(frozen=True)
class GroupExample:
    """One member shown in a preview: its sentence with the span in brackets."""

    issue_id: str
    lang: str
    text: str


@dataclass
class GroupDecision:
    """The decisions one member's decision implies for the rest of its group.

    decisions: one mapping per other open member, ready for DecisionStore.record_many
        (issue_id, action, start, end, tags); the member itself is not included.
    by_lang: members decided per language; examples: the first few of them in ranked order;
    not_applicable: issue_id -> why the decision cannot be carried over (e.g. a relabel that
    reaches beyond the sentence or covers other words there).
    """

    group_id: str
    source: str
    action: str
    decisions: list[dict] = field(default_factory=list)
    by_lang: dict[str, int] = field(default_factory=dict)
    examples: list[GroupExample] = field(default_factory=list)
    not_applicable: dict[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.decisions)

    def summary(self) -> str:
        """One line for a confirmation dialog, e.g. 'accept 12 more: de 7, en 5'."""
        langs = ", ".join(f"{k} {v}" for k, v in self.by_lang.items())
        extra = f"; {len(self.not_applicable)} not applicable" if self.not_applicable else ""
        return f"{self.action} {self.size} more" + (f": {langs}" if langs else "") + extra


def _field(decision, name: str):
    return decision[name] if isinstance(decision, Mapping) else getattr(decision, name)


def _bracketed(tokens: Sequence[str], start: int, end: int) -> str:
    words = list(tokens)
    return " ".join(words[:start] + ["["] + words[start:end] + ["]"] + words[end:])


def propagate_decision(
    issues: pd.DataFrame,
    groups: Groups,
    decision,
    open_mask: np.ndarray | None = None,
    order: np.ndarray | None = None,
    n_examples: int = 3,
) -> GroupDecision:
    """The same decision for every other open member of the decided issue's group, with a preview.

    issues: the issue table (issue_id, lang, start, end, suggested, tokens); groups: from
    find_groups(issues); decision: a store Decision or a mapping with issue_id, action
    (accept | relabel | keep), start, end, tags; open_mask: (N,) bool, undecided rows (None:
    all but the source); order: (N,) row positions in ranked order, for the preview's order
    (None: table order). A skip/undo decides nothing for the others (empty result).

    accept: each member gets its own suggestion (the same tags, since the change is the
    same). keep: keep. relabel: the curator's tags at the same offsets relative to the span;
    a member where those offsets leave the sentence or cover other words is not applicable.
    Raises KeyError for an issue_id not in the table.
    """
    source = str(_field(decision, "issue_id"))
    action = str(_field(decision, "action"))
    ids = issues["issue_id"].to_numpy(dtype=object)
    hits = np.flatnonzero(ids == source)
    if not len(hits):
        raise KeyError(f"issue {source} is not in the issue table")
    row = int(hits[0])
    result = GroupDecision(group_id=str(groups.ids[groups.code[row]]), source=source, action=action)
    if action not in PROPAGATED_ACTIONS:
        return result

    members = groups.members(row)
    if order is not None:
        rank = np.empty(len(ids), dtype=np.int64)
        rank[np.asarray(order, dtype=np.int64)] = np.arange(len(order))
        members = members[np.argsort(rank[members], kind="stable")]
    is_open = np.ones(len(ids), dtype=bool) if open_mask is None else np.asarray(open_mask, dtype=bool)
    members = [int(m) for m in members if m != row and is_open[m]]

    src_start, src_end = int(issues["start"].iat[row]), int(issues["end"].iat[row])
    src_tokens = list(issues["tokens"].iat[row])
    if action == "relabel":
        d_start, d_end = int(_field(decision, "start")), int(_field(decision, "end"))
        tags = list(_field(decision, "tags"))
        words = src_tokens[d_start:d_end]
    langs: Counter[str] = Counter()
    for m in members:
        start, end = int(issues["start"].iat[m]), int(issues["end"].iat[m])
        tokens = list(issues["tokens"].iat[m])
        issue_id = str(ids[m])
        if action == "accept":
            out = {"issue_id": issue_id, "action": "accept", "start": start, "end": end,
                   "tags": list(issues["suggested"].iat[m])}
        elif action == "keep":
            out = {"issue_id": issue_id, "action": "keep"}
        else:
            new_start, new_end = start + d_start - src_start, end + d_end - src_end
            if not 0 <= new_start < new_end <= len(tokens):
                result.not_applicable[issue_id] = "the relabelled span reaches beyond the sentence"
                continue
            if not same_words(tokens[new_start:new_end], words, groups.casefold):
                result.not_applicable[issue_id] = "the relabelled span covers other words here"
                continue
            out = {"issue_id": issue_id, "action": "relabel", "start": new_start, "end": new_end, "tags": tags}
        result.decisions.append(out)
        lang = str(issues["lang"].iat[m])
        langs[lang] += 1
        if len(result.examples) < n_examples:
            result.examples.append(GroupExample(issue_id, lang, _bracketed(tokens, start, end)))
    result.by_lang = dict(langs.most_common())
    return result
