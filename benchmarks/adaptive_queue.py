"""Does a queue that learns from the curator find errors sooner? Static vs adaptive vs groups.

An oracle curator decides every reviewed issue from the known clean tags: an issue's label
is wrong when its given tags differ from the clean tags on its span (accept/relabel), else
right (keep) — auditor.review.policies.oracle_labels, the oracle policy's own rule. `replay`
replays the review: the loop of the unattended adaptive oracle (policies.review_in_batches; a
test keeps the two identical) plus what only a measurement needs (the static order, groups,
snapshots of the order at fixed decision counts):

- static:           the score order, never re-ranked;
- adaptive:         refit every --batch decisions (auditor.review.adaptive), re-rank the rest;
- groups:           score order, one decision per systematic group (auditor.review.groups):
                    the reviewed issue's decision is taken for every open member of its group;
- groups+adaptive:  both.

Reported per run directory:
1. precision of the next --next issues after 50, 100, 200 and 500 decisions (share whose
   label is wrong), static vs adaptive;
2. decisions needed to reach 50 % and 80 % of the error sentences that the issues can reach
   (sentences with at least one wrong-label issue; the share of *all* audited error sentences
   this is, is printed too), per strategy; for the group strategies also how often a group's
   decision was right for the members it was carried over to.

    python benchmarks/adaptive_queue.py RUN_DIR [RUN_DIR ...] [--truth FILE] [--batch 25]
    python benchmarks/adaptive_queue.py runs/demo --json out.json

A run directory needs issues.parquet and corpus/ with clean_ner_tags (or --truth, a corrected
copy matched as by `auditor evaluate-detection`); predictions.parquet, when present, names the
audited sentences.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from datasets import DatasetDict, load_from_disk

from auditor.config import AdaptiveConfig
from auditor.data.corpus import CLEAN_COLUMN, label_names
from auditor.review.adaptive import adapt_ranking, prior_order
from auditor.review.adaptive_features import issue_features
from auditor.review.groups import Groups, find_groups
from auditor.review.policies import ReviewTrace, oracle_labels
from auditor.tables import read_issues

STOPS = (50, 100, 200, 500)
TARGETS = (0.5, 0.8)
STRATEGIES = ("static", "adaptive", "groups", "groups+adaptive")


@dataclass
class RunData:
    """One run directory's issues with the oracle's labels and the error sentences."""

    name: str
    issues: pd.DataFrame
    truth: np.ndarray  # (N,) 1 wrong, 0 right, NaN stale
    n_sentences: int  # audited
    error_sentences: set[str]  # audited sentences whose given tags differ from the clean tags

    @property
    def reachable(self) -> set[str]:
        ids = self.issues["id"].astype(str).to_numpy()
        return set(ids[self.truth == 1.0].tolist())


@dataclass
class StrategyResult:
    strategy: str
    seconds: float
    refits: int
    precision_next: dict[int, float] = field(default_factory=dict)
    decisions_to: dict[float, int | None] = field(default_factory=dict)
    kept_at: dict[int, int] = field(default_factory=dict)  # keep decisions made by each stop
    found_all: float = 0.0  # share of reachable error sentences found after the whole queue
    bulk_decisions: int = 0
    bulk_agreement: float | None = None  # carried-over decisions that equal the truth
    bulk_false_fixes: int = 0  # members with a right label that a group decision changed
    same_pool: dict[int, float] = field(default_factory=dict)  # see same_pool_precision


def load_run(run_dir: Path, truth_file: Path | None) -> RunData:
    issues = read_issues(run_dir / "issues.parquet")
    corpus = load_from_disk(str(run_dir / "corpus"))
    if not isinstance(corpus, DatasetDict):
        sys.exit(f"{run_dir / 'corpus'}: expected a DatasetDict folder")
    audited = _audited_ids(run_dir, issues, corpus)
    if truth_file is not None:
        from auditor.scoring.truth import attach_truth, read_truth

        order = [sid for ds in corpus.values() for sid in ds["id"] if sid in audited]
        corpus = attach_truth(corpus, read_truth(truth_file, label_names(corpus)), order)
    if not all(CLEAN_COLUMN in ds.column_names for ds in corpus.values()):
        sys.exit(f"{run_dir}: the corpus has no {CLEAN_COLUMN}; pass --truth with a corrected copy")
    errors: set[str] = set()
    for ds in corpus.values():
        for sid, given, clean in zip(ds["id"], ds["ner_tags"], ds[CLEAN_COLUMN]):
            if sid in audited and list(given) != list(clean):
                errors.add(sid)
    return RunData(run_dir.name, issues, oracle_labels(issues, corpus), len(audited), errors)


def _audited_ids(run_dir: Path, issues: pd.DataFrame, corpus: DatasetDict) -> set[str]:
    preds = run_dir / "predictions.parquet"
    if preds.is_file():
        return set(pq.read_table(preds, columns=["id"]).column("id").to_pylist())
    splits = set(issues["split"].astype(str)) if "split" in issues.columns else set(corpus)
    return {sid for split, ds in corpus.items() if split in splits for sid in ds["id"]}


@dataclass
class ReplayTrace(ReviewTrace):
    """ReviewTrace plus bulk_source: row -> the directly reviewed row whose decision it took
    (groups only; those rows' labels are in `labels` too) and next_at: decisions made -> the
    open rows in review order at that moment (the first `snapshot`), for each stop."""

    bulk_source: dict[int, int] = field(default_factory=dict)
    next_at: dict[int, np.ndarray] = field(default_factory=dict)


def replay(
    issues: pd.DataFrame,
    decide: Callable[[int], float | None],
    batch: int = 50,
    settings: AdaptiveConfig | None = None,
    features=None,
    groups: Groups | None = None,
    stops: Iterable[int] = (),
    snapshot: int = 100,
    budget: int | None = None,
) -> ReplayTrace:
    """policies.review_in_batches, measured: the top `batch` open issues, re-rank, the next ...

    settings None: the static score order, never re-ranked. groups: each decision is also
    taken for every open member of the issue's systematic group. stops: decision counts at
    which a batch ends, so the order is refitted and snapshot (next_at) exactly there.
    """
    n_rows = len(issues)
    labels = np.full(n_rows, np.nan)
    is_open = np.ones(n_rows, dtype=bool)
    if settings is not None and features is None:
        features = issue_features(issues)
    prior = prior_order(issues)
    stops = sorted({int(x) for x in stops if int(x) >= 0})
    budget = n_rows if budget is None else int(budget)
    trace = ReplayTrace(labels=labels)
    done = 0

    def ranking() -> np.ndarray:
        if settings is None:
            return prior[is_open[prior]]
        r = adapt_ranking(issues, labels, settings, features, open_rows=is_open)
        trace.refits += int(r.active)
        return r.order

    while is_open.any() and done < budget:
        order = ranking()
        if done in stops:
            trace.next_at[done] = order[:snapshot].copy()
        upcoming = [s for s in stops if s > done]
        take = min(batch, budget - done, (upcoming[0] - done) if upcoming else batch)
        taken = 0
        for row in order:
            if taken >= take:
                break
            row = int(row)
            if not is_open[row]:  # closed by a group decision earlier in this batch
                continue
            is_open[row] = False
            y = decide(row)
            if y is None:
                trace.stale.append(row)
                continue
            labels[row] = y
            trace.reviewed.append(row)
            done += 1
            taken += 1
            if groups is not None:
                for m in groups.members(row):
                    if is_open[m]:
                        is_open[m] = False
                        labels[m] = y
                        trace.bulk_source[int(m)] = row
        if taken == 0:  # only undecidable rows were left
            break
    if done in stops and done not in trace.next_at:
        trace.next_at[done] = ranking()[:snapshot].copy()
    return trace


def run_strategy(data: RunData, strategy: str, batch: int, settings: AdaptiveConfig, next_n: int,
                 features=None, groups=None) -> StrategyResult:
    truth = data.truth

    def decide(row: int) -> float | None:
        y = truth[row]
        return None if np.isnan(y) else float(y)

    adaptive = strategy.endswith("adaptive")
    grouped = strategy.startswith("groups")
    t0 = time.perf_counter()
    trace = replay(
        data.issues, decide, batch=batch, settings=settings if adaptive else None,
        features=features, groups=groups if grouped else None, stops=STOPS, snapshot=next_n,
    )
    seconds = time.perf_counter() - t0
    result = StrategyResult(strategy, seconds, trace.refits)
    for n, rows in trace.next_at.items():
        result.precision_next[n] = _precision(truth, rows)
        result.kept_at[n] = int((trace.labels[trace.reviewed[:n]] == 0.0).sum())
    _coverage(data, trace, result)
    return result


def _precision(truth: np.ndarray, rows: np.ndarray) -> float:
    y = truth[np.asarray(rows, dtype=np.int64)]
    y = y[~np.isnan(y)]
    return float(y.mean()) if len(y) else float("nan")


def same_pool_precision(data: RunData, settings: AdaptiveConfig, next_n: int, features) -> dict[int, float]:
    """Precision of the next `next_n` when the adaptive model learns from the *static* queue's
    first n decisions and re-ranks the same remaining issues: the ranking's quality alone,
    without the adaptive run having already taken the easy errors from the pool."""
    truth = data.truth
    prior = prior_order(data.issues)
    decidable = prior[~np.isnan(truth[prior])]
    out = {}
    for n in STOPS:
        labels = np.full(len(truth), np.nan)
        labels[decidable[:n]] = truth[decidable[:n]]
        ranking = adapt_ranking(data.issues, labels, settings, features,
                                open_rows=np.isnan(labels) & ~np.isnan(truth))
        out[n] = _precision(truth, ranking.order[:next_n]) if ranking.active else float("nan")
    return out


def _coverage(data: RunData, trace: ReplayTrace, result: StrategyResult) -> None:
    """Decisions until each target share of the reachable error sentences is found.

    A sentence is found when one of its wrong-label issues gets a wrong-label decision,
    directly or carried over from its group."""
    ids = data.issues["id"].astype(str).to_numpy()
    truth = data.truth
    reachable = data.reachable
    carried: dict[int, list[int]] = {}
    for member, source in trace.bulk_source.items():
        carried.setdefault(source, []).append(member)
    found: set[str] = set()
    need = {t: int(np.ceil(t * len(reachable) - 1e-9)) for t in TARGETS}
    result.decisions_to = {t: None for t in TARGETS}
    agree = total = false_fixes = 0
    for k, row in enumerate(trace.reviewed, start=1):
        decided = trace.labels[row]
        for r in [row] + carried.get(row, []):
            if truth[r] == 1.0 and decided == 1.0:
                found.add(ids[r])
        for m in carried.get(row, []):
            if not np.isnan(truth[m]):
                total += 1
                agree += int(truth[m] == decided)
                false_fixes += int(truth[m] == 0.0 and decided == 1.0)
        for t in TARGETS:
            if result.decisions_to[t] is None and len(found) >= need[t] and need[t] > 0:
                result.decisions_to[t] = k
    result.found_all = len(found) / len(reachable) if reachable else float("nan")
    result.bulk_decisions = total
    result.bulk_agreement = agree / total if total else None
    result.bulk_false_fixes = false_fixes


def benchmark(data: RunData, batch: int, settings: AdaptiveConfig, next_n: int,
              strategies: tuple[str, ...] = STRATEGIES, casefold: bool = False) -> dict[str, StrategyResult]:
    features = issue_features(data.issues)
    groups = find_groups(data.issues, casefold=casefold)
    results = {s: run_strategy(data, s, batch, settings, next_n, features, groups) for s in strategies}
    if "adaptive" in results:
        results["adaptive"].same_pool = same_pool_precision(data, settings, next_n, features)
    return results


def _fmt(x, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "—"
    return f"{x:.3f}" if isinstance(x, float) else str(x)


def _ratio(a, b) -> float | None:
    if a is None or b is None or not np.isfinite(a) or not np.isfinite(b) or b == 0:
        return None
    return a / b


def markdown(data: RunData, results: dict[str, StrategyResult], next_n: int, batch: int) -> str:
    truth = data.truth
    n_wrong = int((truth == 1.0).sum())
    reach = data.reachable
    groups = find_groups(data.issues)
    multi = int((groups.size > 1).sum())
    lines = [
        f"### {data.name}",
        "",
        f"{len(data.issues)} issues ({n_wrong} with a wrong label, {int(np.isnan(truth).sum())} stale), "
        f"{len(data.error_sentences)} error sentences of {data.n_sentences} audited; the issues reach "
        f"{len(reach)} of them ({len(reach) / max(1, len(data.error_sentences)):.1%}). "
        f"{multi} issues are in a systematic group of 2 or more ({len(set(groups.code[groups.size > 1].tolist()))} groups). "
        f"Adaptive refit every {batch} decisions.",
        "",
        f"Precision of the next {next_n} issues after n decisions:",
        "",
        "| decisions | kept so far (static / adaptive) | static | adaptive | adaptive / static "
        "| adaptive, same decisions as static | same decisions / static |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    s, a = results.get("static"), results.get("adaptive")
    for n in STOPS:
        ps = s.precision_next.get(n) if s else None
        pa = a.precision_next.get(n) if a else None
        pp = a.same_pool.get(n) if a else None
        kept = f"{s.kept_at.get(n, '—') if s else '—'} / {a.kept_at.get(n, '—') if a else '—'}"
        lines.append(f"| {n} | {kept} | {_fmt(ps)} | {_fmt(pa)} | {_fmt(_ratio(pa, ps))} | {_fmt(pp)} "
                     f"| {_fmt(_ratio(pp, ps))} |")
    lines += [
        "",
        "Decisions needed to reach a share of the reachable error sentences:",
        "",
        "| strategy | " + " | ".join(f"{t:.0%}" for t in TARGETS) + " | vs static at 80 % | found after all | "
        "carried-over decisions | right for the member | labels wrongly changed | refits | seconds |",
        "|---|" + "---:|" * (len(TARGETS) + 7),
    ]
    base = s.decisions_to.get(0.8) if s else None
    for name, r in results.items():
        d80 = r.decisions_to.get(0.8)
        change = f"{(d80 - base) / base:+.1%}" if base and d80 is not None else "—"
        lines.append(
            f"| {name} | " + " | ".join(_fmt(r.decisions_to.get(t)) for t in TARGETS)
            + f" | {change} | {_fmt(r.found_all)} | {r.bulk_decisions} | {_fmt(r.bulk_agreement)} | "
            f"{r.bulk_false_fixes} | {r.refits} | {r.seconds:.1f} |"
        )
    return "\n".join(lines) + "\n"


def to_json(data: RunData, results: dict[str, StrategyResult]) -> dict:
    return {
        "run": data.name,
        "issues": len(data.issues),
        "wrong_label_issues": int((data.truth == 1.0).sum()),
        "error_sentences": len(data.error_sentences),
        "reachable_error_sentences": len(data.reachable),
        "strategies": {
            k: {
                "precision_next": {str(n): v for n, v in r.precision_next.items()},
                "precision_next_same_decisions": {str(n): v for n, v in r.same_pool.items()},
                "kept_at": {str(n): v for n, v in r.kept_at.items()},
                "decisions_to": {str(t): v for t, v in r.decisions_to.items()},
                "found_all": r.found_all,
                "bulk_decisions": r.bulk_decisions,
                "bulk_agreement": r.bulk_agreement,
                "bulk_false_fixes": r.bulk_false_fixes,
                "refits": r.refits,
                "seconds": r.seconds,
            }
            for k, r in results.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dirs", nargs="+", type=Path, help="scored run directories")
    ap.add_argument("--truth", type=Path, help="corrected copy of the corpus (one run directory only)")
    ap.add_argument("--batch", type=int, default=25, help="decisions between refits")
    ap.add_argument("--next", dest="next_n", type=int, default=100)
    defaults = AdaptiveConfig()
    ap.add_argument("--min-wrong", type=int, default=defaults.min_wrong)
    ap.add_argument("--min-right", type=int, default=defaults.min_right)
    ap.add_argument("--half-weight-at", type=int, default=defaults.half_weight_at)
    ap.add_argument("--casefold", action="store_true", help="case-folded group keys")
    ap.add_argument("--strategies", nargs="+", choices=STRATEGIES, default=list(STRATEGIES))
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args(argv)
    if args.truth and len(args.run_dirs) > 1:
        ap.error("--truth goes with one run directory")
    settings = AdaptiveConfig(min_wrong=args.min_wrong, min_right=args.min_right, half_weight_at=args.half_weight_at)
    out = []
    for run_dir in args.run_dirs:
        data = load_run(run_dir, args.truth)
        results = benchmark(data, args.batch, settings, args.next_n, tuple(args.strategies), args.casefold)
        print(markdown(data, results, args.next_n, args.batch), flush=True)
        out.append(to_json(data, results))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
