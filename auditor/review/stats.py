"""`auditor review RUN --stats`: what the team decided so far, per curator, language and
kind, and where curators disagree. Reads the store like any other reader (safe while
curators are working)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from auditor.review.store import Decision, DecisionStore

ACTION_ORDER = ("accept", "relabel", "keep", "skip")


@dataclass
class ReviewStats:
    """rows: rows in the log (undos included); issues: issues in the table (None without
    one); by_curator: each curator's standing opinions per action; applied: whose decision
    applies, per curator; by_lang/by_kind: the issues' decisions per action; conflicts: the
    decisions that overrule another curator's (see Decision.overrules)."""

    rows: int
    undos: int
    issues: int | None
    by_curator: dict[str, Counter] = field(default_factory=dict)
    applied: Counter = field(default_factory=Counter)
    by_lang: dict[str, Counter] = field(default_factory=dict)
    by_kind: dict[str, Counter] = field(default_factory=dict)
    conflicts: list[Decision] = field(default_factory=list)

    @property
    def decided(self) -> int:
        return sum(n for c in self.by_lang.values() for a, n in c.items() if a != "skip")


def _issue_facts(path: Path) -> dict[str, tuple[str, str]]:
    """issue_id -> (lang, kind) from the issue table ({} without one)."""
    if not path.is_file():
        return {}
    try:
        t = pq.read_table(path, columns=["issue_id", "lang", "kind"])
    except Exception:  # a damaged table only costs the stats their language/kind split
        return {}
    return dict(zip(t.column("issue_id").to_pylist(), zip(t.column("lang").to_pylist(), t.column("kind").to_pylist())))


def review_stats(store: DecisionStore, issues_path: str | Path | None = None) -> ReviewStats:
    facts = _issue_facts(Path(issues_path)) if issues_path else {}
    history = store.history()
    ledger = store.ledger()
    stats = ReviewStats(rows=len(history), undos=sum(d.action == "undo" for d in history), issues=len(facts) or None)
    for issue_id in ledger.issues():
        for d in ledger.opinions(issue_id):
            stats.by_curator.setdefault(d.curator, Counter())[d.action] += 1
        d = ledger.decision(issue_id)
        if d is None:
            continue
        stats.applied[d.curator] += d.action != "skip"
        lang, kind = facts.get(issue_id, (issue_id.split("/", 1)[0] if "/" in issue_id else "?", "?"))
        stats.by_lang.setdefault(lang, Counter())[d.action] += 1
        stats.by_kind.setdefault(kind, Counter())[d.action] += 1
        if d.overrules:
            stats.conflicts.append(d)
    return stats


def print_stats(stats: ReviewStats, store_path: Path, console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    total = f" of {stats.issues} issues" if stats.issues else ""
    console.print(
        f"{store_path}: {stats.rows} rows ({stats.undos} undos); {stats.decided} issues decided{total}, "
        f"{len(stats.conflicts)} conflict{'s' if len(stats.conflicts) != 1 else ''}"
    )

    def table(title: str, key: str, counts: dict[str, Counter], extra: dict[str, int] | None = None) -> Table:
        actions = [a for a in ACTION_ORDER if any(c.get(a) for c in counts.values())]
        t = Table(title=title or None, title_justify="left")
        t.add_column(key)
        for a in actions:
            t.add_column(a, justify="right")
        if extra is not None:
            t.add_column("applies", justify="right")
        for name in sorted(counts):
            row = [name, *(str(counts[name].get(a, 0)) for a in actions)]
            if extra is not None:
                row.append(str(extra.get(name, 0)))
            t.add_row(*row)
        return t

    if stats.by_curator:
        console.print("Decisions per curator (standing decisions; applies: the ones apply will use):")
        console.print(table("", "curator", stats.by_curator, dict(stats.applied)))
        console.print("Per language and per kind (the decision apply will use for each issue):")
        console.print(table("", "language", stats.by_lang))
        console.print(table("", "kind", stats.by_kind))
    for d in stats.conflicts[:20]:
        others = "; ".join(f"{o.curator} {o.describe()}" for o in d.overrules)
        console.print(f"[yellow]conflict[/yellow] {d.issue_id}: {d.curator} {d.describe()} (applies, committed later) over {others}")
    if len(stats.conflicts) > 20:
        console.print(f"… and {len(stats.conflicts) - 20} more conflicts (filter status 'conflicts' in the review UI)")
