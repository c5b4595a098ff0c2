"""Unattended review for batch runs: decisions made by a rule instead of a curator.

threshold: accept the suggestion of every issue scored <= review.threshold among the top
           review.top_fraction of the ranking (lowest scores first).
oracle:    decide the top fraction from the corpus's known clean tags (the synthetic corpus,
           or a corpus given a truth file): clean == suggested -> accept, clean == given ->
           keep, otherwise relabel the span with the clean tags. An upper bound on what a
           careful curator could reach with these issues.

With review.adaptive.enabled and top_fraction < 1 the oracle reviews adaptively: the top
review.adaptive.batch issues, refit the adaptive ranking (auditor.review.adaptive) on every
decision so far, the next batch in the new order, and so on until the top fraction's worth of
issues is decided (review_in_batches).

Decisions are recorded in the ordinary decision store with curator "policy:<name>", so the
report and the changelog show where they came from. A decision by anyone else (a human
curator) is never overwritten. A policy's own earlier decisions are brought in line with
the current config (re-recorded or undone), so the same config always yields the same
decisions.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from datasets import DatasetDict

from auditor.config import AdaptiveConfig, ReviewConfig
from auditor.data.corpus import CLEAN_COLUMN, label_names
from auditor.errors import AuditorError
from auditor.review.adaptive import AdaptiveRanking, adapt_ranking
from auditor.review.adaptive_features import IssueFeatures, decision_labels, issue_features, open_mask
from auditor.review.adaptive_refits import refit_record, save_refit
from auditor.review.store import Decision, DecisionStore
from auditor.review.summary import ReviewSummary

POLICIES = ("threshold", "oracle")
POLICY_PREFIX = "policy:"


@dataclass(frozen=True)
class _Target:
    """What a policy decides for one issue."""

    action: str
    start: int | None = None
    end: int | None = None
    tags: tuple[str, ...] | None = None


@dataclass
class PolicySummary:
    """What a policy decided; to_dict() is metrics.json["review"].

    total: issues in the table; considered: issues in the top fraction; decided: issues whose
    current decision comes from this policy; recorded: rows appended by this call (0 on a
    re-run with the same config); human: issues left alone because someone else decided
    them; stale: considered issues whose sentence no longer matches the corpus (not decided).
    """

    policy: str
    curator: str
    total: int
    considered: int
    decided: int
    recorded: int
    human: int
    stale: int
    by_action: dict[str, int]
    top_fraction: float
    threshold: float | None = None
    adaptive: dict | None = None  # batch, refits, ... when the oracle reviewed adaptively

    @property
    def note(self) -> str:
        """One sentence for the report: decisions came from a rule, not from a person."""
        how = (
            f"accepted every suggestion scored <= {self.threshold:g}"
            if self.policy == "threshold"
            else "took each decision from the corpus's known clean tags"
        )
        human = f"; {self.human} issue(s) decided by curators were left as they were" if self.human else ""
        adaptive = (
            f", re-ranking the queue from its own decisions every {self.adaptive['batch']} issues "
            f"({self.adaptive['refits']} refits)"
            if self.adaptive
            else ""
        )
        return (
            f"No human reviewed these {self.decided} decision(s): the unattended '{self.policy}' policy {how}, "
            f"over the top {self.top_fraction:.0%} of {self.total} ranked issues{adaptive}{human}."
        )

    def section(self) -> ReviewSummary:
        """The metrics.json["review"] record of this policy's run."""
        return ReviewSummary(
            policy=self.policy, unattended=True, curator=self.curator, total=self.total,
            considered=self.considered, decided=self.decided, recorded=self.recorded,
            human_decisions_kept=self.human, stale=self.stale, by_action=dict(self.by_action),
            top_fraction=self.top_fraction, note=self.note, threshold=self.threshold,
            adaptive=dict(self.adaptive) if self.adaptive is not None else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return self.section().to_dict()


def ranked_top(issues: pd.DataFrame, top_fraction: float) -> pd.DataFrame:
    """The first ceil(top_fraction * n) issues by score (lower first, ties by issue_id; NaN last)."""
    ranked = issues.sort_values(["score", "issue_id"], kind="stable", na_position="last")
    # the epsilon keeps 0.1 * 30 at 3 rather than ceil(3.0000000000000004) = 4
    n = min(len(ranked), math.ceil(top_fraction * len(ranked) - 1e-9))
    return ranked.head(n)


@dataclass
class ReviewTrace:
    """What review_in_batches did.

    reviewed: rows decided, in the order they were reviewed (stale rows excluded);
    labels: (N,) final labels (1 wrong, 0 right, NaN undecided); stale: rows the decider
    could not decide; refits: adaptive refits made.
    """

    reviewed: list[int] = field(default_factory=list)
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0))
    stale: list[int] = field(default_factory=list)
    refits: int = 0


def review_in_batches(
    issues: pd.DataFrame,
    decide: Callable[[int], float | None],
    budget: int | None = None,
    batch: int = 50,
    settings: AdaptiveConfig = AdaptiveConfig(),
    labels: np.ndarray | None = None,
    closed: np.ndarray | None = None,
    features: IssueFeatures | None = None,
    on_refit: Callable[[AdaptiveRanking], None] | None = None,
) -> ReviewTrace:
    """Review the top `batch` open issues, re-rank adaptively, review the next `batch`, ...
    until `budget` decisions.

    decide(row) -> 1.0 (label wrong: accept/relabel), 0.0 (right: keep) or None (cannot be
    decided, e.g. a stale sentence: not counted). labels: (N,) decisions made before (e.g. by
    human curators: training data, never re-decided); closed: (N,) bool, rows that are not
    open although unlabelled (e.g. skipped by a curator). on_refit: called with each active
    re-ranking (to record it).
    """
    n_rows = len(issues)
    labels = np.full(n_rows, np.nan) if labels is None else np.asarray(labels, dtype=np.float64).copy()
    is_open = np.isnan(labels)
    if closed is not None:
        is_open &= ~np.asarray(closed, dtype=bool)
    features = issue_features(issues) if features is None else features
    budget = n_rows if budget is None else int(budget)
    trace = ReviewTrace(labels=labels)
    done = 0
    while is_open.any() and done < budget:
        ranking = adapt_ranking(issues, labels, settings, features, open_rows=is_open)
        if ranking.active:
            trace.refits += 1
            if on_refit is not None:
                on_refit(ranking)
        take = min(batch, budget - done)
        taken = 0
        for row in ranking.order:
            if taken >= take:
                break
            row = int(row)
            is_open[row] = False
            y = decide(row)
            if y is None:
                trace.stale.append(row)
                continue
            labels[row] = y
            trace.reviewed.append(row)
            done += 1
            taken += 1
        if taken == 0:  # only undecidable rows were left
            break
    return trace


@dataclass(frozen=True)
class _Sentence:
    tokens: list[str]
    tags: list[str]
    clean: list[str] | None


def _sentences(corpus: DatasetDict, ids: set[str], need_clean: bool) -> dict[str, _Sentence]:
    names = label_names(corpus)
    out: dict[str, _Sentence] = {}
    for split, ds in corpus.items():
        has_clean = CLEAN_COLUMN in ds.column_names
        cols = ["id", "tokens", "ner_tags"] + ([CLEAN_COLUMN] if has_clean else [])
        data = ds.select_columns(cols)[:]
        for i, id_ in enumerate(data["id"]):
            if id_ not in ids:
                continue
            if need_clean and not has_clean:
                raise AuditorError(
                    f"review policy 'oracle' needs known clean tags, but split '{split}' has no {CLEAN_COLUMN} "
                    "(use the synthetic corpus or data.truth files, or review.policy: threshold | interactive)"
                )
            clean = [names[t] for t in data[CLEAN_COLUMN][i]] if has_clean else None
            out[id_] = _Sentence(list(data["tokens"][i]), [names[t] for t in data["ner_tags"][i]], clean)
    return out


def _matches(issue: dict, sent: _Sentence | None) -> bool:
    """The sentence is still the one the issue was scored on."""
    if sent is None or list(issue["tokens"]) != sent.tokens:
        return False
    return sent.tags[int(issue["start"]) : int(issue["end"])] == list(issue["given"])


def _threshold_target(issue: dict, threshold: float) -> _Target | None:
    score = issue["score"]
    if score is None or not (score <= threshold):  # NaN never passes
        return None
    return _Target("accept", int(issue["start"]), int(issue["end"]), tuple(issue["suggested"]))


def _oracle_target(issue: dict, sent: _Sentence) -> _Target:
    start, end = int(issue["start"]), int(issue["end"])
    clean = tuple(sent.clean[start:end])
    if clean == tuple(issue["suggested"]):
        return _Target("accept", start, end, clean)
    if clean == tuple(issue["given"]):
        return _Target("keep")
    return _Target("relabel", start, end, clean)


def oracle_labels(issues: pd.DataFrame, corpus: DatasetDict) -> np.ndarray:
    """(N,) per issue: 1.0 the given tags differ from the clean tags on the span (the oracle
    accepts or relabels), 0.0 they agree (keep), NaN the sentence no longer matches (stale).

    corpus: needs clean_ner_tags (AuditorError otherwise), e.g. from a truth file attached
    with auditor.scoring.truth.attach_truth.
    """
    sentences = _sentences(corpus, set(issues["id"].astype(str)), need_clean=True)
    out = np.full(len(issues), np.nan)
    for i, issue in enumerate(issues.to_dict("records")):
        sent = sentences.get(str(issue["id"]))
        if _matches(issue, sent):
            out[i] = 0.0 if _oracle_target(issue, sent).action == "keep" else 1.0
    return out


def _same(d: Decision, t: _Target, curator: str) -> bool:
    tags = tuple(d.tags) if d.tags is not None else None
    return d.curator == curator and (d.action, d.start, d.end, tags) == (t.action, t.start, t.end, t.tags)


def _static_targets(
    issues: pd.DataFrame, corpus: DatasetDict, review_cfg: ReviewConfig, current: dict[str, Decision]
) -> tuple[dict[str, _Target], int, int, int, None]:
    """The policy over the top fraction of the score order: targets, stale, human, considered."""
    policy = review_cfg.policy
    top = ranked_top(issues, review_cfg.top_fraction).to_dict("records")
    sentences = _sentences(corpus, {str(r["id"]) for r in top}, need_clean=policy == "oracle")
    targets: dict[str, _Target] = {}
    stale = human = 0
    for issue in top:
        issue_id = issue["issue_id"]
        d = current.get(issue_id)
        if d is not None and not d.curator.startswith(POLICY_PREFIX):
            human += 1
            continue
        if not _matches(issue, sentences.get(str(issue["id"]))):
            stale += 1
            continue
        target = (
            _threshold_target(issue, review_cfg.threshold)
            if policy == "threshold"
            else _oracle_target(issue, sentences[str(issue["id"])])
        )
        if target is not None:
            targets[issue_id] = target
    return targets, stale, human, len(top), None


def _adaptive_oracle_targets(
    issues: pd.DataFrame,
    corpus: DatasetDict,
    review_cfg: ReviewConfig,
    current: dict[str, Decision],
    run_dir: Path | None,
    curator: str,
) -> tuple[dict[str, _Target], int, int, int, dict]:
    """The oracle over an adaptively re-ranked queue: targets, stale, human, considered, info.

    Human curators' decisions are training data from the start and are never re-decided;
    the policy's own earlier decisions are ignored (the same config replays the same run).
    """
    cfg = review_cfg.adaptive
    budget = min(len(issues), math.ceil(review_cfg.top_fraction * len(issues) - 1e-9))
    human_latest = {k: d for k, d in current.items() if not d.curator.startswith(POLICY_PREFIX)}
    labels = decision_labels(issues, human_latest)
    # every human decision, a skip too, closes the issue for the policy
    by_human = ~open_mask(issues, human_latest)
    records = issues.to_dict("records")
    sentences = _sentences(corpus, {str(r["id"]) for r in records}, need_clean=True)
    targets: dict[str, _Target] = {}

    def decide(row: int) -> float | None:
        issue = records[row]
        sent = sentences.get(str(issue["id"]))
        if not _matches(issue, sent):
            return None
        target = _oracle_target(issue, sent)
        targets[str(issue["issue_id"])] = target
        return 0.0 if target.action == "keep" else 1.0

    features = issue_features(issues)
    saved: list[str] = []

    def on_refit(ranking: AdaptiveRanking) -> None:
        if run_dir is not None:
            saved.append(save_refit(run_dir, refit_record(ranking, features, curator, batch=cfg.batch)).name)

    trace = review_in_batches(
        issues, decide, budget=budget, batch=cfg.batch, settings=cfg,
        labels=labels, closed=by_human, features=features, on_refit=on_refit,
    )
    info = {"batch": cfg.batch, "refits": trace.refits, "refit_files": saved,
            "min_wrong": cfg.min_wrong, "min_right": cfg.min_right, "half_weight_at": cfg.half_weight_at}
    considered = len(trace.reviewed) + len(trace.stale)
    return targets, len(trace.stale), int(by_human.sum()), considered, info


def apply_policy(
    issues: pd.DataFrame,
    corpus: DatasetDict,
    review_cfg: ReviewConfig,
    store: DecisionStore,
    run_dir: str | Path | None = None,
) -> PolicySummary:
    """Record the decisions of review_cfg.policy ("threshold" | "oracle") in `store`.

    issues: the issue table (auditor.tables.ISSUE_COLUMNS); corpus: the run's Corpus (the
    oracle needs clean_ner_tags on the issues' splits, else AuditorError). All new rows are
    written in one transaction. run_dir: where an adaptive oracle stores its refit records
    (run_dir/adaptive/; None: not stored).
    """
    policy = review_cfg.policy
    if policy not in POLICIES:
        raise AuditorError(f"review policy {policy!r} is not unattended; use one of {', '.join(POLICIES)}")
    if policy == "oracle" and not any(CLEAN_COLUMN in ds.column_names for ds in corpus.values()):
        raise AuditorError(
            "review policy 'oracle' needs known clean tags (clean_ner_tags): use the synthetic corpus or "
            "data.truth files, or set review.policy to threshold or interactive"
        )
    curator = POLICY_PREFIX + policy
    ledger = store.ledger()
    current = ledger.latest()
    adaptive = policy == "oracle" and review_cfg.adaptive.enabled and review_cfg.top_fraction < 1
    if adaptive:
        targets, stale, human, considered, info = _adaptive_oracle_targets(
            issues, corpus, review_cfg, current, Path(run_dir) if run_dir is not None else None, curator
        )
    else:
        targets, stale, human, considered, info = _static_targets(issues, corpus, review_cfg, current)

    rows: list[dict] = []
    for issue_id, t in targets.items():
        mine = ledger.opinion(issue_id, curator)
        if mine is None or not _same(mine, t, curator):
            tags = list(t.tags) if t.tags is not None else None
            rows.append({"issue_id": issue_id, "action": t.action, "start": t.start, "end": t.end, "tags": tags,
                         "curator": curator})
    # earlier policy decisions the current config no longer makes are withdrawn, each by the
    # policy that made it (an undo only ever withdraws its own curator's decision)
    for issue_id in ledger.issues():
        for d in ledger.opinions(issue_id):
            if d.curator.startswith(POLICY_PREFIX) and (d.curator != curator or issue_id not in targets):
                rows.append({"issue_id": issue_id, "action": "undo", "curator": d.curator})
    recorded = store.record_many(rows)

    return PolicySummary(
        policy=policy,
        curator=curator,
        total=len(issues),
        considered=considered,
        decided=len(targets),
        recorded=recorded,
        human=human,
        stale=stale,
        by_action=dict(sorted(Counter(t.action for t in targets.values()).items())),
        top_fraction=review_cfg.top_fraction,
        threshold=review_cfg.threshold if policy == "threshold" else None,
        adaptive=info,
    )
