"""Flagged issues as a round trip through Label Studio or Prodigy.

`export_issues` writes the open issues (or a filter of them) as the tool's tasks: the sentence
in its source text, the suggestion pre-filled (Label Studio: a prediction; Prodigy: the
pre-highlighted spans), the given tags and why the issue was flagged in the task's data/meta,
and the issue id to come back by. `import_decisions` reads the tool's export and turns each
answer into a decision in review.sqlite through DecisionStore.decide, so the team rules hold:
another curator's decision is replaced only with --replace and is listed otherwise.

An answer becomes accept (the curator left the suggestion), keep (the curator restored the
given tags) or relabel (anything else, over the issue's words and the entities it touches).
What cannot be placed is listed, never guessed: a task whose issue the run does not have, a
text that is not the text exported, a span that does not fit the words, or a change to words
outside the issue.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from auditor.atomic import atomic_path
from auditor.data.formats import module
from auditor.data.formats.common import json_file, json_lines
from auditor.data.formats.layouts import source_layouts
from auditor.data.iob import spans as iob_spans
from auditor.data.offsets import (
    CharSpan,
    Layout,
    TextRecord,
    join_tokens,
    spans_to_tags,
)
from auditor.errors import AuditorError, DataError
from auditor.review.queue import Issue, IssueFilter, IssueTable, ReviewQueue
from auditor.review.store import AlreadyDecided, Decision, DecisionStore
from auditor.run_dir import RunDir

TOOLS = ("labelstudio", "prodigy")
MODEL_VERSION = "auditor-suggestion"


def _check_tool(tool: str) -> str:
    if tool not in TOOLS:
        raise AuditorError(f"--format {tool!r}: the round trip speaks {' or '.join(TOOLS)}")
    return tool


def _layouts(run_dir: Path):
    cfg = RunDir(run_dir).read_config()
    return source_layouts(cfg.data if cfg is not None else None)


def issue_layout(issue: Issue, layouts) -> Layout:
    """The sentence's text as the source had it (tokens joined by spaces for a token source)."""
    by_id, by_tokens = layouts
    layout = by_id.get(issue.id)
    if layout is not None and layout.tokens == list(issue.tokens):
        return layout
    return by_tokens.get(tuple(issue.tokens)) or join_tokens(issue.tokens)


def suggested_tags(issue: Issue) -> list[str]:
    tags = list(issue.tags)
    tags[issue.start : issue.end] = list(issue.suggested)
    return tags


def _words(issue: Issue, tags: list[str]) -> str:
    """e.g. 'United/B-ORG Nations/I-ORG' for the issue's words."""
    return " ".join(f"{w}/{t}" for w, t in zip(issue.tokens[issue.start : issue.end], tags))


# --- export ---------------------------------------------------------------------------------


def _metadata(issue: Issue) -> dict:
    from auditor.review.why import why_flagged

    return {
        "issue_id": issue.issue_id, "number": issue.number, "kind": issue.kind, "words": [issue.start, issue.end],
        "given": _words(issue, issue.given), "suggested": _words(issue, issue.suggested),
        "why": "; ".join(why_flagged(issue, change=True)),
    }


def _labelstudio_task(issue: Issue, layout: Layout) -> dict:
    from auditor.data.formats import labelstudio

    record = TextRecord(layout, list(issue.tags), issue.id, issue.id, issue.lang)
    meta = _metadata(issue)
    data = {**labelstudio.task_data(record), **meta}
    return {
        "data": data,
        "meta": meta,
        "predictions": [{
            "model_version": MODEL_VERSION, "score": float(issue.score),
            "result": labelstudio.result(layout, suggested_tags(issue)),
        }],
    }


def _prodigy_task(issue: Issue, layout: Layout) -> dict:
    from auditor.data.formats import prodigy

    record = TextRecord(layout, list(issue.tags), issue.id, issue.id, issue.lang)
    return prodigy.task(record, tags=suggested_tags(issue), meta=_metadata(issue))


def select_issues(run_dir: Path, flt: IssueFilter, limit: int | None = None) -> list[Issue]:
    """The issues of the filter (status "open" by default) in rank order. The issues the run's
    verified sample settles are decided (auditor.review.verified), so never exported as open;
    a missing sample file is a DataError, as in `auditor apply`."""
    from auditor.review.verified import settled_issues

    table = IssueTable.load(RunDir(run_dir).issues)
    verified = settled_issues(RunDir(run_dir), table.table)
    queue = ReviewQueue(table, verified=verified)
    store = RunDir(run_dir).store
    if store.is_file():
        with DecisionStore(store) as s:
            queue = ReviewQueue(table, s.ledger(), verified)
    ranks = np.flatnonzero(table.mask(flt, queue.status, queue.conflict))
    if limit is not None:
        ranks = ranks[:limit]
    return [table.row(int(i)) for i in ranks]


def export_issues(run_dir: str | Path, tool: str, out: str | Path, flt: IssueFilter | None = None,
                  limit: int | None = None) -> int:
    """Write the selected issues (default: the open ones) as the tool's tasks to `out` (replaced
    whole); how many."""
    _check_tool(tool)
    flt = flt if flt is not None else IssueFilter(status="open")
    run_dir = Path(run_dir)
    issues = select_issues(run_dir, flt, limit)
    layouts = _layouts(run_dir)
    with atomic_path(out) as tmp:
        if tool == "labelstudio":
            from auditor.data.formats.labelstudio import task_list

            tasks = [_labelstudio_task(i, issue_layout(i, layouts)) for i in issues]
            tmp.write_text(task_list(tasks), encoding="utf-8")
        else:
            with tmp.open("w", encoding="utf-8", newline="\n") as fh:
                for i in issues:
                    fh.write(json.dumps(_prodigy_task(i, issue_layout(i, layouts)), ensure_ascii=False) + "\n")
    return len(issues)


# --- import ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One curator's answer to one task: the text they saw, their spans (code points)."""

    where: str
    issue_id: str | None
    text: str
    spans: list[CharSpan]
    curator: str | None
    skipped: str | None = None  # why this answer decides nothing (rejected, not annotated)


@dataclass
class ImportReport:
    written: dict[str, int] = field(default_factory=dict)  # action -> count
    unchanged: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    unplaced: list[str] = field(default_factory=list)  # "where: why", never guessed
    blocked: list[str] = field(default_factory=list)  # another curator's decision stands
    replaced: list[str] = field(default_factory=list)  # another curator's decision, replaced with --replace

    def to_dict(self) -> dict:
        return {"written": self.written, "unchanged": self.unchanged, "skipped": self.skipped,
                "unplaced": self.unplaced, "blocked": self.blocked, "replaced": self.replaced}


def _labelstudio_answers(path: str) -> list[Answer]:
    from auditor.data.formats import labelstudio

    out = []
    for k, task in enumerate(labelstudio.tasks_of(path)):
        where = f"{path} task {task.get('id', k + 1)}"
        data = task.get("data") if isinstance(task.get("data"), dict) else {}
        text = data.get("text") if isinstance(data.get("text"), str) else ""
        issue_id = data.get("issue_id") or (task.get("meta") or {}).get("issue_id")
        ann = labelstudio.newest_annotation(task)
        if ann is None:
            out.append(Answer(where, issue_id, text, [], None, skipped="not annotated"))
            continue
        spans, bad = labelstudio.result_spans(ann.get("result"), text, where, labelstudio.UNIT)
        if bad:
            raise DataError(bad[0].line())
        out.append(Answer(where, issue_id, text, spans, labelstudio.annotation_curator(ann)))
    return out


def _prodigy_answers(path: str) -> list[Answer]:
    from auditor.data.formats.common import span

    out = []
    for n, obj in json_lines(path):
        where = f"{path}:{n}"
        meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else {}
        answer = obj.get("answer")
        spans = [span(s.get("start"), s.get("end"), s.get("label"), where, s.get("text")) for s in obj.get("spans") or []]
        skipped = None if answer == "accept" else f"answer {answer or 'missing'}"
        out.append(Answer(where, meta.get("issue_id"), str(obj.get("text") or ""), spans, obj.get("_annotator_id"), skipped))
    return out


def read_answers(path: str | Path) -> tuple[str, list[Answer]]:
    path = str(path)
    if not Path(path).is_file():
        raise DataError(f"{path}: no such file")
    try:
        doc = json_file(path)
        tool = "labelstudio" if isinstance(doc, (list, dict)) and module("labelstudio").sniff(doc) else None
    except DataError:
        tool = None  # JSON Lines is not one JSON document
    if tool is None:
        first = next(json_lines(path), (0, {}))[1]
        if not isinstance(first.get("meta"), dict) or "text" not in first:
            raise DataError(f"{path}: neither a Label Studio JSON export nor Prodigy JSONL of exported issues")
        tool = "prodigy"
    return tool, (_labelstudio_answers(path) if tool == "labelstudio" else _prodigy_answers(path))


def infer(issue: Issue, tags: list[str]) -> tuple[str, int | None, int | None, list[str] | None] | str:
    """(action, start, end, tags) of the curator's sentence tags, or why it cannot be placed."""
    given = list(issue.tags)
    if tags == suggested_tags(issue):
        return ("accept", issue.start, issue.end, list(issue.suggested))
    if tags == given:
        return ("keep", None, None, None)
    lo, hi = issue.start, issue.end
    grown = True
    while grown:  # the issue's words and every entity (given or answered) touching them
        grown = False
        for s, e, _ in iob_spans(given) + iob_spans(tags):
            if s < hi and lo < e and (s < lo or e > hi):
                lo, hi, grown = min(lo, s), max(hi, e), True
    outside = [i for i, (a, b) in enumerate(zip(given, tags)) if a != b and not lo <= i < hi]
    if outside:
        words = " ".join(issue.tokens[i] for i in outside[:5])
        return f"changes words outside the issue ({words!r}); decide those in their own issue or in `auditor review`"
    return ("relabel", lo, hi, tags[lo:hi])


def corpus_labels(run_dir: Path) -> list[str]:
    """The label set of the run's corpus (what apply accepts); empty when the run has no corpus/."""
    rd = RunDir(run_dir)
    if not rd.corpus.is_dir():
        return []
    from auditor.data.corpus import label_names

    return label_names(rd.read_corpus())


def import_decisions(run_dir: str | Path, path: str | Path, curator: str | None = None, replace: bool = False) -> ImportReport:
    """The answers of a tool's export as decisions in RUN_DIR/review.sqlite (see the module doc)."""
    run_dir = Path(run_dir)
    table = IssueTable.load(RunDir(run_dir).issues)
    layouts = _layouts(run_dir)
    labels = set(corpus_labels(run_dir)) or {t for col in ("tags", "suggested") for ts in table.table.column(col).to_pylist() for t in ts}
    _, answers = read_answers(path)
    report = ImportReport()
    todo: dict[str, list[tuple[str, Answer, tuple]]] = defaultdict(list)
    for a in answers:
        if a.skipped:
            report.skipped[a.skipped] = report.skipped.get(a.skipped, 0) + 1
            continue
        rank = table.index_of(a.issue_id) if a.issue_id else None
        if rank is None:
            why = f"issue {a.issue_id} is not in this run" if a.issue_id else "no issue_id in the task"
            report.unplaced.append(f"{a.where}: unknown task ({why}; exported from another run or re-scored since?)")
            continue
        issue = table.row(rank)
        layout = issue_layout(issue, layouts)
        if a.text != layout.text:
            report.unplaced.append(f"{a.where}: the text is not the text of sentence {issue.id} as exported (changed text)")
            continue
        tags, bad = spans_to_tags(layout, a.spans, a.where)
        if bad:
            report.unplaced += [f"{m.line()} (a span on other than the sentence's words)" for m in bad]
            continue
        unknown = sorted({t[2:] for t in tags if t not in labels})
        if unknown:
            report.unplaced.append(
                f"{a.where}: label{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} not in the corpus's "
                f"label set ({', '.join(sorted({n[2:] for n in labels if n != 'O'}))}); use one of those"
            )
            continue
        decided = infer(issue, tags)
        if isinstance(decided, str):
            report.unplaced.append(f"{a.where}: {decided}")
            continue
        who = a.curator or curator
        if not who:
            raise AuditorError(f"{a.where}: the file names no curator for this answer; pass --curator NAME")
        todo[who].append((a.issue_id, a, decided))
    store_file = RunDir(run_dir).store
    for who, items in todo.items():
        with DecisionStore(store_file, curator=who) as store:
            ledger = store.ledger()
            for issue_id, a, (action, start, end, tags) in items:
                mine = ledger.opinion(issue_id, who)
                new = Decision(issue_id, action, start, end, tags, who, "")
                if mine is not None and mine.outcome == new.outcome:
                    report.unchanged += 1
                    continue
                current = ledger.decision(issue_id)
                agreed = current.seq if replace and current is not None and current.curator != who else None
                try:
                    store.decide(issue_id, action, start, end, tags, replace_seq=agreed)
                except AlreadyDecided as err:
                    d = err.decision
                    report.blocked.append(f"{a.where}: {issue_id} was decided by {d.curator} ({d.describe()}); "
                                          "pass --replace to replace it")
                    continue
                if agreed is not None:
                    report.replaced.append(f"{a.where}: {issue_id}: {current.curator}'s {current.describe()} replaced")
                report.written[action] = report.written.get(action, 0) + 1
    return report
