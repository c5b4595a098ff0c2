"""Bulk decisions: one decision for a set of issues, previewed before anything is written.

    plan = plan_bulk(table, ranks, BulkDecision.accept())   # what would change, per issue
    show(plan.by_lang, plan.examples)                        # the curator looks first
    result = apply_bulk(store, plan)                         # one transaction

The target set is the caller's: the open issues in view with the same words and change as
the current one (same_change_targets), the other occurrences of the words of the curator's
last relabel (same_words_targets), or any group of issues (e.g. a systematic error). Issues
another curator decided in the meantime are left alone (DecisionStore.decide_many).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from auditor.review.groups import normalise_surface, same_words
from auditor.review.queue import OPEN, IssueTable, ReviewQueue
from auditor.review.store import Decision, DecisionStore

EXAMPLES = 3


@dataclass(frozen=True)
class BulkDecision:
    """The decision to repeat. accept: each issue's own suggestion; keep: the given tags;
    relabel: the tags of a relabel (`tags` over words [start, end) of `tokens`, the sentence
    of issue `issue_id` whose flagged words start at `anchor`), placed at the same offset
    from each target's flagged words."""

    action: str
    issue_id: str | None = None
    tokens: tuple[str, ...] = ()
    anchor: int = 0
    start: int = 0
    end: int = 0
    tags: tuple[str, ...] = ()

    @classmethod
    def accept(cls) -> BulkDecision:
        return cls("accept")

    @classmethod
    def keep(cls) -> BulkDecision:
        return cls("keep")

    @classmethod
    def relabel_like(cls, decision: Decision, tokens: list[str], anchor: int) -> BulkDecision:
        """Repeat a stored relabel; tokens: its sentence; anchor: the first flagged word of its issue."""
        return cls("relabel", decision.issue_id, tuple(tokens), anchor, int(decision.start), int(decision.end), tuple(decision.tags))

    @property
    def words(self) -> tuple[str, ...]:
        return self.tokens[self.start : self.end]

    def describe(self) -> str:
        if self.action == "relabel":
            return f"relabel “{' '.join(self.words)}” as {' '.join(self.tags)}"
        return {"accept": "accept the suggestion", "keep": "keep the given tags"}.get(self.action, self.action)


@dataclass(frozen=True)
class BulkItem:
    """One issue's share of a bulk decision: what gets written (start/end/tags None for keep),
    and for the preview its language and change (tags before -> after)."""

    rank: int
    issue_id: str
    start: int | None
    end: int | None
    tags: tuple[str, ...] | None
    lang: str = ""
    change: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())


@dataclass(frozen=True)
class Example:
    """A sentence of the preview: words [start, end) change from `before` to `after`."""

    number: int
    lang: str
    tokens: tuple[str, ...]
    start: int
    end: int
    before: tuple[str, ...]
    after: tuple[str, ...]


@dataclass
class BulkPlan:
    """What a bulk decision would write. changes: how many items go from which tags to
    which (before, after); unfit: targets it does not fit (a relabel whose words around the
    span differ there), left out of items."""

    decision: BulkDecision
    items: list[BulkItem]
    by_lang: dict[str, int]
    examples: list[Example]
    changes: dict[tuple[tuple[str, ...], tuple[str, ...]], int] = field(default_factory=dict)
    unfit: int = 0

    def __len__(self) -> int:
        return len(self.items)

    def only(self, issue_ids) -> BulkPlan:
        """The plan for some of its issues (the others left out, to stay open): items, counts
        and examples recomputed."""
        keep = set(issue_ids)
        items = [i for i in self.items if i.issue_id in keep]
        by_lang = Counter(i.lang for i in items)
        examples = [e for e, i in zip(self.examples, self.items) if i.issue_id in keep] if self.complete else []
        return BulkPlan(
            self.decision, items, dict(sorted(by_lang.items(), key=lambda kv: (-kv[1], kv[0]))), examples,
            dict(Counter(i.change for i in items).most_common()), self.unfit,
        )

    def least_sure_first(self) -> BulkPlan:
        """The same plan, its items (and examples) from the worst-ranked up: how the group
        preview lists a group, since a group that mixes two uses of its words ("England" the
        team and the country) holds the other use in its tail (benchmarks/README.md: looks at
        the worst-ranked members propagated far better than looks at the best-ranked)."""
        examples = self.examples[::-1] if self.complete else list(self.examples)
        return BulkPlan(self.decision, self.items[::-1], self.by_lang, examples, self.changes, self.unfit)

    @property
    def complete(self) -> bool:
        """Every item has its example (planned with examples=None): a preview can list them all."""
        return len(self.examples) == len(self.items)


@dataclass
class BulkResult:
    written: list[BulkItem] = field(default_factory=list)
    left: dict[str, Decision] = field(default_factory=dict)  # decided by someone else meanwhile


def _item(table: IssueTable, rank: int, decision: BulkDecision) -> tuple[BulkItem, Example] | None:
    issue = table.row(rank)
    if decision.action == "keep":
        span = (issue.start, issue.end, None)
        after = tuple(issue.given)
    elif decision.action == "accept":
        span = (issue.start, issue.end, tuple(issue.suggested))
        after = tuple(issue.suggested)
    elif decision.action == "relabel":
        shift = issue.start - decision.anchor
        start, end = decision.start + shift, decision.end + shift
        if start < 0 or end > len(issue.tokens) or not same_words(issue.tokens[start:end], decision.words):
            return None
        span = (start, end, decision.tags)
        after = decision.tags
    else:
        raise ValueError(f"bulk decisions are accept, keep or relabel, not {decision.action!r}")
    lo, hi = (span[0], span[1])
    before = tuple(issue.tags[lo:hi])
    written = span if span[2] is not None else (None, None, None)
    item = BulkItem(rank, issue.issue_id, *written, lang=str(issue.lang), change=(before, tuple(after)))
    example = Example(issue.number, issue.lang, tuple(issue.tokens), lo, hi, before, after)
    return item, example


def plan_bulk(table: IssueTable, ranks, decision: BulkDecision, examples: int | None = EXAMPLES) -> BulkPlan:
    """The plan of `decision` over the issues at `ranks` (in rank order): items, count per
    language, the first few sentences (examples=None: every one, aligned with the items).
    Writes nothing."""
    items: list[BulkItem] = []
    shown: list[Example] = []
    changes: Counter = Counter()
    unfit = 0
    for rank in sorted(int(r) for r in ranks):
        made = _item(table, rank, decision)
        if made is None:
            unfit += 1
            continue
        items.append(made[0])
        changes[(made[1].before, made[1].after)] += 1
        if examples is None or len(shown) < examples:
            shown.append(made[1])
    by_lang = Counter(str(table.lang[i.rank]) for i in items)
    ordered = dict(sorted(by_lang.items(), key=lambda kv: (-kv[1], kv[0])))
    return BulkPlan(decision, items, ordered, shown, dict(changes.most_common()), unfit)


def apply_bulk(store: DecisionStore, plan: BulkPlan) -> BulkResult:
    """Write the plan in one transaction; issues another curator decided since are left alone."""
    action = plan.decision.action
    rows = [(i.issue_id, action, i.start, i.end, list(i.tags) if i.tags is not None else None) for i in plan.items]
    written, left = store.decide_many(rows)
    done = {d.issue_id for d in written}
    return BulkResult([i for i in plan.items if i.issue_id in done], left)


# --- target sets ------------------------------------------------------------------------


def _open_in_view(queue: ReviewQueue, ranks: np.ndarray) -> np.ndarray:
    ranks = ranks[queue.status[ranks] == OPEN]
    return ranks[np.isin(ranks, queue.view)]


def same_change_targets(queue: ReviewQueue, rank: int) -> np.ndarray:
    """Open issues in view (the filter applies) with the same words and given -> suggested
    change as the issue at rank, itself included when open."""
    return _open_in_view(queue, queue.table.same_change(rank))


def same_words_targets(queue: ReviewQueue, issue_id: str) -> np.ndarray:
    """Open issues in view flagged on the same words as issue_id, outside its sentence (the
    other occurrences a relabel of issue_id can be repeated on)."""
    t = queue.table
    source = t.index_of(issue_id)
    if source is None:
        return np.zeros(0, dtype=np.int64)
    # the same words by the rule of groups.same_words (the surface is the span's words joined)
    words = normalise_surface(t.surface[source])
    ranks = np.flatnonzero([normalise_surface(s) == words for s in t.surface])
    ranks = ranks[t.example_ids[ranks] != t.example_ids[source]]
    return _open_in_view(queue, ranks)
