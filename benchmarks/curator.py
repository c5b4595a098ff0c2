"""A simulated curator with only what a person has in the product, and honest effort.

It sees the truth (the corrected tags) only of what it looks at, and it pays for every look:

- verifying a sample sentence = 1 action (the random sample `auditor sample` draws,
  ``auditor.data.sample.draw_sample``; it becomes ``scoring.reference.file``). As in the
  product, its tags are applied directly and the queue starts the issues of its sentences
  decided (``auditor.review.verified``): they cost nothing more;
- deciding an issue = 1 action: accept when the suggestion gives the true tags, relabel with
  the true tags of the span (widened to whole true and given entities) when it does not, keep
  when the given tags are right;
- a group decision (the review UI's group key A: same words, same change, the members
  ``auditor.review.groups`` finds and the plan ``auditor.review.bulk.plan_bulk`` writes, as the
  UI does) = 1 action plus 1 per member looked at; a
  member looked at whose own truth differs from what the group decision would write is
  excluded (left open: it is decided on its own when the queue reaches it). A group decision is
  made only when it saves actions (more other open members than it costs).

The queue order is the product's (``auditor.review.queue.IssueTable`` ranks, optionally
``auditor.review.ordering.groups_first_order``); the decisions go through a real
``DecisionStore`` and the product's ``auditor.cleaning.apply_decisions``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from auditor.cleaning import apply_decisions
from auditor.data.iob import spans
from auditor.data.sample import SampleRow
from auditor.review.bulk import BulkDecision, plan_bulk
from auditor.review.ordering import groups_first_order, score_order
from auditor.review.queue import IssueTable
from auditor.review.store import DecisionStore, issue_sentences
from auditor.review.verified import verified_issue_mask

ORDERS = ("score", "groups")


@dataclass(frozen=True)
class CuratorSettings:
    """order: the queue order (score | groups = largest open groups first); groups: make group
    decisions at all; look: members looked at per group decision (0 = accepted unseen)."""

    order: str = "score"
    groups: bool = True
    look: int = 3
    # careful: one wrong member among those looked at and the group decision is dropped (the
    # looked-at members are decided one by one, 1 action each, the rest stay open)
    careful: bool = False
    # which members the looks go to: "best" = the best-ranked (the review UI's preview shows the
    # first few in ranked order), "worst" = the worst-ranked, where a mixed group shows its tail
    look_at: str = "best"

    @property
    def label(self) -> str:
        if not self.groups:
            return f"{self.order} order, no group decisions"
        at = " at the worst-ranked" if self.look_at == "worst" else ""
        return f"{self.order} order, groups (look {self.look}{at}{', careful' if self.careful else ''})"


@dataclass
class CuratorRun:
    """What one curator session did. actions: effort spent (sample included); decided: issues
    decided one by one; group_decisions / propagated: group decisions and the members they
    decided unseen; looked / excluded: members looked at in group decisions and left out;
    propagated_right: unseen members whose written tags equal the truth on their span, by the
    action propagated (accept/relabel: truly wrong in the suggested way; keep: truly right)."""

    budget: float | None
    sample: int
    actions: int = 0
    decided: int = 0
    by_action: dict[str, int] = field(default_factory=dict)
    group_decisions: int = 0
    propagated: dict[str, int] = field(default_factory=dict)
    propagated_right: dict[str, int] = field(default_factory=dict)
    looked: int = 0
    excluded: int = 0
    issues_total: int = 0
    issues_open: int = 0
    changed_sentences: int = 0
    stale: int = 0
    wrong_tokens_before: int = 0
    wrong_tokens_after: int = 0
    wrong_sentences_before: int = 0
    wrong_sentences_after: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def _widen(start: int, end: int, *tag_rows: list[str]) -> tuple[int, int]:
    """The smallest word range holding [start, end) and every entity of tag_rows it touches."""
    ents = [(a, b) for tags in tag_rows for _, a, b in _entities(tags)]
    changed = True
    while changed:
        changed = False
        for a, b in ents:
            if a < end and b > start and (a < start or b > end):
                start, end, changed = min(start, a), max(end, b), True
    return start, end


def _entities(tags: list[str]) -> list[tuple[str, int, int]]:
    """(type, start, end) per entity of an IOB2 row (auditor.data.iob.spans, lenient)."""
    return [(t, a, b) for a, b, t in spans(list(tags))]


def own_decision(row, truth: list[str]) -> dict:
    """The decision of a curator who looks at the issue's sentence and knows its true tags."""
    start, end = int(row["start"]), int(row["end"])
    given = list(row["tags"])
    lo, hi = _widen(start, end, given, truth)
    after = given[:start] + list(row["suggested"]) + given[end:]
    if after[lo:hi] == truth[lo:hi] and _widen(start, end, after) == _widen(start, end, after, truth):
        return {"issue_id": row["issue_id"], "action": "accept", "start": start, "end": end, "tags": list(row["suggested"])}
    if given[lo:hi] == truth[lo:hi]:
        return {"issue_id": row["issue_id"], "action": "keep"}
    return {"issue_id": row["issue_id"], "action": "relabel", "start": lo, "end": hi, "tags": truth[lo:hi]}


def _written(row, decision: dict) -> list[str]:
    """The sentence's tags after this decision alone."""
    tags = list(row["tags"])
    if decision["action"] == "accept":
        tags[int(row["start"]) : int(row["end"])] = list(row["suggested"])
    elif decision["action"] == "relabel":
        tags[int(decision["start"]) : int(decision["end"])] = list(decision["tags"])
    return tags


def _right(row, decision: dict, truth: list[str]) -> bool:
    """The decision writes the truth on the issue's (widened) span."""
    after = _written(row, decision)
    lo, hi = _widen(int(row["start"]), int(row["end"]), list(row["tags"]), truth, after)
    return after[lo:hi] == truth[lo:hi]


def group_plan(table: IssueTable, rank: int, mine: dict, is_open: np.ndarray) -> list[dict]:
    """The other open members of rank's group and what the UI's group decision (A, repeating
    the curator's decision on rank) writes on each, in rank order; [] for a skip."""
    members = table.groups.members(rank)
    members = members[(members != rank) & is_open[members]]
    if mine["action"] == "accept":
        decision = BulkDecision.accept()
    elif mine["action"] == "keep":
        decision = BulkDecision.keep()
    elif mine["action"] == "relabel":
        issue = table.row(rank)
        decision = BulkDecision("relabel", mine["issue_id"], tuple(issue.tokens), int(issue.start), int(mine["start"]),
                                int(mine["end"]), tuple(mine["tags"]))
    else:
        return []
    plan = plan_bulk(table, members, decision, examples=None)
    return [{"issue_id": i.issue_id, "action": decision.action, "start": i.start, "end": i.end,
             "tags": None if i.tags is None else list(i.tags)} for i in plan.items]


def queue_order(table: IssueTable, settings: CuratorSettings) -> np.ndarray:
    if settings.order == "groups":
        return groups_first_order(table.groups, score_order(table.n), np.ones(table.n, dtype=bool))
    return score_order(table.n)


def review(
    issues: pd.DataFrame,
    truth: dict[str, list[str]],
    budget_actions: int | None,
    settings: CuratorSettings,
    store_path: Path,
    spent: int = 0,
    sample: list[SampleRow] | None = None,
    store: DecisionStore | None = None,
) -> tuple[DecisionStore, CuratorRun]:
    """Work down the queue until the budget (None: every issue) is spent; spent: actions
    already used (the sample, earlier rounds); sample: the verified sample's lines, whose
    sentences' issues the queue starts decided. Decisions are written to a fresh store at
    store_path, or appended to `store` (a later round of review: its decided issues stay
    decided, as the review UI shows them)."""
    table = IssueTable(pa.Table.from_pandas(issues, preserve_index=False))
    frame = table.table.to_pandas()
    order = queue_order(table, settings)
    is_open = ~verified_issue_mask(table.table, sample or [])
    # each decision remembers its sentence, as the UI's do: it applies after a re-score too
    sentences = issue_sentences(frame)
    if store is None:
        store_path.unlink(missing_ok=True)
        store = DecisionStore(store_path, curator="simulated", sentences=sentences)
    else:
        store.sentences = {**(store.sentences or {}), **sentences}
        is_open &= ~np.isin(frame["issue_id"].to_numpy(dtype=object), list(store.latest()))
    run = CuratorRun(budget=None, sample=spent, actions=spent, issues_total=table.n)
    rows = frame.to_dict("records")

    def afford(cost: int) -> bool:
        return budget_actions is None or run.actions + cost <= budget_actions

    for rank in order:
        if not is_open[rank]:
            continue
        if not afford(1):
            break
        row = rows[rank]
        mine = own_decision(row, truth[row["id"]])
        store.record_many([mine])
        is_open[rank] = False
        run.actions += 1
        run.decided += 1
        run.by_action[mine["action"]] = run.by_action.get(mine["action"], 0) + 1
        if not settings.groups:
            continue
        others = group_plan(table, rank, mine, is_open)
        look = min(settings.look, len(others))
        # a group decision is worth it only when it costs less than deciding each member
        if len(others) <= 1 + look or not afford(1 + look):
            continue
        if settings.look_at == "worst":
            looked, unseen = others[len(others) - look:], others[: len(others) - look]
        else:
            looked, unseen = others[:look], others[look:]
        keep = []
        for d in looked:
            r = rows[table.index_of(d["issue_id"])]
            if _right(r, d, truth[r["id"]]):
                keep.append(d)
            else:
                run.excluded += 1
        run.looked += look
        if settings.careful and len(keep) < len(looked):
            run.actions += look
            for d in looked:
                if not afford(1):
                    break
                r = rows[table.index_of(d["issue_id"])]
                own = own_decision(r, truth[r["id"]])
                store.record_many([own])
                is_open[table.index_of(d["issue_id"])] = False
                run.actions += 1
                run.decided += 1
                run.by_action[own["action"]] = run.by_action.get(own["action"], 0) + 1
            continue
        run.actions += 1 + look
        run.group_decisions += 1
        for d in unseen:
            r = rows[table.index_of(d["issue_id"])]
            run.propagated[d["action"]] = run.propagated.get(d["action"], 0) + 1
            if _right(r, d, truth[r["id"]]):
                run.propagated_right[d["action"]] = run.propagated_right.get(d["action"], 0) + 1
        store.record_many(keep + unseen)
        for d in keep + unseen:
            is_open[table.index_of(d["issue_id"])] = False
    run.issues_open = int(is_open.sum())
    return store, run


def cleaned_tags(corpus, issues: pd.DataFrame, store: DecisionStore, split: str, run: CuratorRun,
                 sample: list[SampleRow] | None = None) -> list[list[int]]:
    """The split's tags after the product's apply stage (the verified sample's tags written
    too, as `auditor apply` does); fills run's before/after counts."""
    result = apply_decisions(corpus, issues, store.latest(), sample, [split] if sample else None)
    run.changed_sentences = result.summary.changed_sentences
    run.stale = result.summary.stale
    from auditor.data.corpus import CLEAN_COLUMN

    before = corpus[split]["ner_tags"]
    after = result.cleaned[split]["ner_tags"]
    clean = corpus[split][CLEAN_COLUMN]
    run.wrong_tokens_before = sum(sum(a != c for a, c in zip(x, y)) for x, y in zip(before, clean))
    run.wrong_tokens_after = sum(sum(a != c for a, c in zip(x, y)) for x, y in zip(after, clean))
    run.wrong_sentences_before = sum(x != y for x, y in zip(before, clean))
    run.wrong_sentences_after = sum(x != y for x, y in zip(after, clean))
    return [list(t) for t in after]
