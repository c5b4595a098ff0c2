"""The review stage: decisions in review.sqlite, by a policy or by curators in the UI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from auditor.errors import AuditorError
from auditor.metrics import write_section
from auditor.review.summary import ReviewSummary
from auditor.stages.context import RunContext, StopPipeline


def run(ctx: RunContext) -> str:
    from auditor.review.policies import apply_policy
    from auditor.review.store import DecisionStore
    from auditor.tables import read_issues

    review = ctx.cfg.review
    policy = review.policy
    if policy == "interactive" and not ctx.interactive:
        if review.unattended == "stop":
            store_has = ctx.store_path.exists() and bool(DecisionStore(ctx.store_path).latest())
            if not store_has:
                raise StopPipeline(
                    f"scoring done; review the issues with: auditor review {ctx.run_dir} "
                    f"then run the same command again to apply, retrain and report"
                )
            n = len(DecisionStore(ctx.store_path).latest())
            write_section(ctx.run_dir, _store_summary(ctx, "interactive"))
            return f"{n} decisions from curators"
        policy = review.unattended
    if policy == "interactive":
        from auditor.review.app import run_review
        from auditor.review.store import file_identity

        opened = file_identity(ctx.store_path)
        run_review(ctx.run_dir, curator=review.curator, adaptive=review.adaptive)
        check_store_survived(ctx.store_path, opened)
        write_section(ctx.run_dir, _store_summary(ctx, "interactive"))
        _adaptive_metrics(ctx)
        return f"{len(DecisionStore(ctx.store_path).latest())} decisions"
    issues = read_issues(ctx.issues_path)
    # the verified sample's sentences are settled (apply writes the sample's tags there): a
    # policy decides the rest, as a curator in the UI would
    from auditor.review.verified import settled_issues

    settled = settled_issues(ctx.rd, issues)
    from auditor.review.store import issue_sentences

    # each decision remembers its sentence, as the UI's do: it still applies after a re-score
    store = DecisionStore(ctx.store_path, curator=review.curator, sentences=issue_sentences(issues))
    summary = apply_policy(
        issues[~settled].reset_index(drop=True), ctx.load_corpus(), review.model_copy(update={"policy": policy}), store,
        run_dir=ctx.run_dir,
    )
    write_section(ctx.run_dir, summary.section())
    _adaptive_metrics(ctx)
    note = f" ({int(settled.sum())} more settled by the verified sample)" if settled.any() else ""
    return f"policy {policy}: {summary.decided} of {summary.total} issues decided{note}"


def decision_digest(ctx: RunContext) -> str:
    if not ctx.store_path.exists():
        return "no-store"
    from auditor.review.store import DecisionStore

    latest = DecisionStore(ctx.store_path).latest()
    h = hashlib.sha256()
    for issue_id in sorted(latest):
        d = latest[issue_id]
        h.update(json.dumps([issue_id, d.action, d.start, d.end, d.tags]).encode())
    return h.hexdigest()


def _adaptive_metrics(ctx: RunContext) -> None:
    """metrics.json["adaptive"] from run_dir/adaptive/refit-*.json, when the queue ever adapted."""
    from auditor.review.adaptive_refits import refit_summary

    summary = refit_summary(ctx.run_dir)
    if summary.refits:
        write_section(ctx.run_dir, summary)


def check_store_survived(store_path: Path, opened: tuple[int, int] | None) -> None:
    """AuditorError when the decision store was deleted or replaced while the review UI had it
    open (`opened`: its file_identity before the UI started, None if it did not exist yet)."""
    from auditor.review.store import file_identity

    now = file_identity(store_path)
    if now is None or (opened is not None and now != opened):
        raise AuditorError(
            f"{store_path}: deleted or replaced while the review was open; decisions made in that session are "
            f"not in it (look for {store_path.name}.rescued-* next to it and move it to {store_path.name}), "
            "then run the same command again"
        )


def _store_summary(ctx: RunContext, policy: str) -> ReviewSummary:
    """metrics.json["review"] of a review by curators: what the store holds now."""
    from collections import Counter

    from auditor.review.store import DecisionStore
    from auditor.tables import read_issues

    latest = DecisionStore(ctx.store_path).latest()
    total = len(read_issues(ctx.issues_path, columns=["issue_id"]))
    return ReviewSummary(
        policy=policy,
        total=total,
        decided=len(latest),
        by_action=dict(Counter(d.action for d in latest.values())),
        curators=sorted({d.curator for d in latest.values()}),
    )
