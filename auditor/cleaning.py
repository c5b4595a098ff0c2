"""Decisions + corpus -> cleaned corpus and a changelog (the apply stage).

Every decision writes tags over a word span of one sentence: `accept` the issue's
suggestion, `relabel` the curator's tags (the span may differ from the issue's),
`keep` the original given tags; `skip` writes nothing. Decisions are applied in commit
order (the store's seq, never the curators' clocks), so when two decisions touch the same
words the one committed later wins (and the overlap is reported as a conflict). When
curators disagreed on one issue, the store hands over the decision committed last with the
opinions it overrules; those are listed as curator conflicts (metrics.json["apply"]).

A decision is applied only to the sentence the curator saw. Ids are positions
(`en/train/000001`): after a sentence is inserted into a data file and the corpus is loaded
again, an id names another sentence. So a decision remembers a digest of its sentence's words
and given tags (`Decision.sentence`) and is applied where that content is: at its id, or, when
the ids moved, at the one sentence of the corpus with that content (several copies: not
guessed). Decisions recorded before the store kept digests are checked against the issue
table instead: the example id exists, its tokens equal the issue's `tokens`, and its given
tags on the issue's span (and on the decision's span) equal the issue's. Anything else is
reported as stale (CLI, metrics.json["apply"]["stale_list"], the report) and never applied. The output is always valid IOB2: an I-X left behind a changed span
(e.g. after shrinking an entity) becomes B-X, and each such repair is in the changelog.

A verified sample (scoring.reference.file) is applied too: each verified line whose sentence is
in an audited split with the same words (auditor.review.verified) gets the curator's tags, in
the changelog as action "verified-sample". The curator checked every word of such a sentence, so
its tags are final: store decisions on it are superseded (counted, not applied). A line whose
words differ from the corpus sentence of its id is listed with the stale decisions, not guessed.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Dataset, DatasetDict, DatasetInfo, Features, Value
from datasets import Sequence as HFSequence
from datasets.table import InMemoryTable

from auditor.atomic import atomic_path
from auditor.data.corpus import label_names as corpus_label_names
from auditor.data.iob import is_tag, repair_iob2, violations
from auditor.errors import AuditorError
from auditor.review.verified import VERIFIED_ACTION, VERIFIED_SOURCE, matches, verified_rows
from auditor.run_dir import RunDir

if TYPE_CHECKING:
    from auditor.data.sample import SampleRow
    from auditor.review.store import Decision
    from auditor.scoring.reference import DecidedWords

ORIGINAL_COLUMN = "original_ner_tags"
CHANGED_COLUMN = "changed"
# the changelog's action for an IOB2 repair made by apply itself (not by a curator)
REPAIR_ACTION = "iob2-repair"
REPAIR_CURATOR = "auditor"
STALE_KINDS = (
    "issue gone", "sentence gone", "tokens changed", "tags changed", "invalid decision", "sentence changed", "ambiguous",
)
CHANGELOG_SCHEMA = pa.schema(
    [
        ("issue_id", pa.string()),
        ("id", pa.string()),
        ("split", pa.string()),
        ("start", pa.int32()),
        ("end", pa.int32()),
        ("before", pa.list_(pa.string())),
        ("after", pa.list_(pa.string())),
        ("action", pa.string()),
        ("curator", pa.string()),
        ("at", pa.string()),
        ("note", pa.string()),
    ]
)


@dataclass(frozen=True)
class StaleDecision:
    """A decision that was not applied, and why (the sentence changed since scoring, ...)."""

    issue_id: str
    id: str | None
    action: str
    kind: str  # one of STALE_KINDS
    reason: str  # one line for the user

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Conflict:
    """Two decisions on overlapping words of one sentence; `later` (by commit order) won."""

    id: str
    earlier: str
    later: str
    words: tuple[int, ...]


@dataclass(frozen=True)
class CuratorConflict:
    """Curators decided one issue differently; `applied` (committed last) is what apply used."""

    issue_id: str
    applied: Decision
    overruled: tuple[Decision, ...]

    def to_dict(self) -> dict[str, Any]:
        def one(d: Decision) -> str:
            return f"{d.curator}: {d.describe()}"

        return {
            "issue_id": self.issue_id,
            "applied": one(self.applied),
            "overruled": "; ".join(one(d) for d in self.overruled),
            "curators": [self.applied.curator, *(d.curator for d in self.overruled)],
        }


@dataclass
class ApplySummary:
    """Counts for metrics.json["apply"]; tokens = words whose tag changed. curator_conflict_list:
    CuratorConflict.to_dict() of every issue curators disagreed on (resolved by commit order)."""

    SECTION: ClassVar[str] = "apply"

    decisions: int
    by_action: dict[str, int]
    changed_sentences: int
    changed_tokens: int
    stale: int
    conflicts: int = 0
    repaired: int = 0
    stale_kinds: dict[str, int] = field(default_factory=dict)
    curator_conflicts: int = 0
    curator_conflict_list: list[dict] = field(default_factory=list)
    # StaleDecision.to_dict() of every decision not applied; moved: decisions applied to their
    # sentence under another id than the one they were made on (the ids shifted)
    stale_list: list[dict] = field(default_factory=list)
    moved: int = 0
    # with a verified sample only (None without one, and left out of to_dict, so a run without a
    # sample records what it always did): sentences given the sample's tags, how many of them
    # changed, its lines not applied (in stale and stale_list too), the store decisions inside
    # those sentences (superseded: the sample's tags are final) and their issue ids
    verified_sentences: int | None = None
    verified_changed: int | None = None
    verified_stale: int | None = None
    verified_superseded: int | None = None
    superseded_list: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        return {k: v for k, v in out.items() if v is not None or k not in _SAMPLE_FIELDS}

    @classmethod
    def from_dict(cls, d: dict) -> ApplySummary:
        from auditor.records import fields_from_dict

        return cls(**fields_from_dict(cls, d))


_SAMPLE_FIELDS = ("verified_sentences", "verified_changed", "verified_stale", "verified_superseded", "superseded_list")


@dataclass
class ApplyResult:
    cleaned: DatasetDict
    changelog: pd.DataFrame  # columns of CHANGELOG_SCHEMA, one row per applied decision or repair
    stale: list[StaleDecision]
    conflicts: list[Conflict]
    summary: ApplySummary
    curator_conflicts: list[CuratorConflict] = field(default_factory=list)


@dataclass(frozen=True)
class _Edit:
    """One decision ready to write: tags for words start..end-1 of sentence `id`."""

    issue_id: str
    id: str
    start: int
    end: int
    tags: tuple[str, ...]
    action: str
    curator: str
    at: str
    order: tuple
    moved_from: str = ""  # the id the decision was made on, when its sentence now has another


def _commit_order(d: Decision, position: int) -> tuple:
    """Commit order: the store's seq; decisions built by hand (no seq) keep their mapping order."""
    seq = getattr(d, "seq", None)
    return (0, seq, position) if seq is not None else (1, position, position)


def _iso(at: object) -> str:
    """Decision time as an ISO-8601 string (the store may hand out datetimes, epoch floats or text)."""
    if isinstance(at, dt.datetime):
        return at.isoformat()
    if isinstance(at, (int, float)):
        return dt.datetime.fromtimestamp(float(at), tz=dt.UTC).isoformat()
    return "" if at is None else str(at)


@dataclass
class _Sentence:
    split: str
    tokens: list[str]
    tags: list[str]


def _index(corpus: DatasetDict, names: list[str], wanted: set[str]) -> dict[str, _Sentence]:
    """id -> sentence, for the ids in `wanted` only (decoding every sentence costs seconds on PAN-X)."""
    out: dict[str, _Sentence] = {}
    for split, ds in corpus.items():
        ids = ds.select_columns(["id"])[:]["id"]
        rows = [i for i, id_ in enumerate(ids) if id_ in wanted]
        if not rows:
            continue
        cols = ds.select(rows).select_columns(["id", "tokens", "ner_tags"])[:]
        for id_, toks, tags in zip(cols["id"], cols["tokens"], cols["ner_tags"]):
            out[id_] = _Sentence(split, list(toks), [names[t] for t in tags])
    return out


def _check(
    d: Decision, position: int, issue: Mapping | None, sent: _Sentence | None, names: set[str]
) -> _Edit | tuple[str, str]:
    """The decision as an _Edit, or (stale kind, reason) when it cannot be applied."""
    if issue is None:
        return "issue gone", "issue not in the issue table (re-scored since the decision?)"
    id_ = str(issue["id"])
    if sent is None:
        return "sentence gone", f"sentence {id_} is not in the corpus"
    if list(issue["tokens"]) != sent.tokens:
        return "tokens changed", f"the words of {id_} changed since scoring"
    i_start, i_end = int(issue["start"]), int(issue["end"])
    if sent.tags[i_start:i_end] != list(issue["given"]):
        return "tags changed", f"the given tags of {id_} words {i_start}-{i_end} changed since scoring"
    if d.action == "accept" and (d.tags is None or d.start is None or d.end is None):
        start, end, tags = i_start, i_end, list(issue["suggested"])
    elif d.action == "keep":
        start, end, tags = i_start, i_end, sent.tags[i_start:i_end]
    elif d.action in ("accept", "relabel"):
        if d.tags is None or d.start is None or d.end is None:
            return "invalid decision", "relabel without a span and tags"
        start, end, tags = int(d.start), int(d.end), list(d.tags)
    else:
        return "invalid decision", f"unknown action {d.action!r}"
    if not (0 <= start < end <= len(sent.tokens)):
        return "invalid decision", f"span {start}-{end} is outside sentence {id_} ({len(sent.tokens)} words)"
    if len(tags) != end - start:
        return "invalid decision", f"{len(tags)} tags for the {end - start} words {start}-{end}"
    bad = [t for t in tags if not is_tag(t) or t not in names]
    if bad:
        return "invalid decision", f"tag {bad[0]!r} is not in the corpus label set"
    # a relabel may reach beyond the issue's span: those words must be unchanged too
    given = issue.get("tags")
    if given is not None and len(given) == len(sent.tags) and sent.tags[start:end] != list(given)[start:end]:
        return "tags changed", f"the given tags of {id_} words {start}-{end} changed since scoring"
    order = _commit_order(d, position)
    return _Edit(d.issue_id, id_, start, end, tuple(tags), d.action, str(d.curator), _iso(d.at), order)


def _issue_span(issue_id: str) -> tuple[str, int, int] | None:
    """(example id, start, end) from an issue id "<id>:<start>-<end>" (None if it is not one)."""
    id_, _, span = issue_id.rpartition(":")
    start, _, end = span.partition("-")
    if not id_ or not start.isdigit() or not end.isdigit():
        return None
    return id_, int(start), int(end)


class _Contents:
    """Every corpus sentence by content: digest -> ids, and id -> sentence. Built once, on
    first use (only when some decision's sentence is no longer at its id; after a sentence is
    inserted at the top of a file that is every decision, so one pass serves them all)."""

    def __init__(self, corpus: DatasetDict, names: list[str]) -> None:
        self.corpus, self.names = corpus, names
        self._ids: dict[str, list[str]] | None = None
        self._sentences: dict[str, _Sentence] = {}

    def _build(self) -> dict[str, list[str]]:
        if self._ids is None:
            from auditor.review.store import sentence_digest

            self._ids = defaultdict(list)
            for split, ds in self.corpus.items():
                cols = ds.select_columns(["id", "tokens", "ner_tags"])[:]
                for id_, toks, codes in zip(cols["id"], cols["tokens"], cols["ner_tags"]):
                    sent = _Sentence(split, list(toks), [self.names[t] for t in codes])
                    self._sentences[id_] = sent
                    self._ids[sentence_digest(sent.tokens, sent.tags)].append(id_)
        return self._ids

    def ids(self, digest: str) -> list[str]:
        return self._build().get(digest, [])

    def sentence(self, id_: str) -> _Sentence:
        self._build()
        return self._sentences[id_]


def _place(
    d: Decision, position: int, index: dict[str, _Sentence], contents: _Contents, name_set: set[str]
) -> _Edit | tuple[str, str]:
    """A decision that remembers its sentence, as an _Edit on that sentence content, or (stale
    kind, reason)."""
    from auditor.review.store import sentence_digest

    where = _issue_span(d.issue_id)
    if where is None:
        return "invalid decision", f"issue id {d.issue_id!r} is not <sentence id>:<start>-<end>"
    id_, i_start, i_end = where
    sent = index.get(id_)
    target = id_
    if sent is None or sentence_digest(sent.tokens, sent.tags) != d.sentence:
        found = contents.ids(d.sentence)
        if not found:
            return "sentence changed", (
                f"the sentence {id_} had when this was decided is no longer in the corpus (its words or given tags "
                "changed); review it again"
            )
        if len(found) > 1:
            return "ambiguous", (
                f"the sentence {id_} had when this was decided is now at {len(found)} places ({', '.join(found[:3])}"
                f"{', ...' if len(found) > 3 else ''}); not guessing which one was meant"
            )
        target = found[0]
        sent = index.setdefault(target, contents.sentence(target))
    if d.action == "keep":
        start, end, tags = i_start, i_end, sent.tags[i_start:i_end]
    elif d.action in ("accept", "relabel") and d.tags is not None and d.start is not None and d.end is not None:
        start, end, tags = int(d.start), int(d.end), list(d.tags)
    else:
        return "invalid decision", f"{d.action} without a span and tags"
    if not (0 <= start < end <= len(sent.tokens)):
        return "invalid decision", f"span {start}-{end} is outside sentence {target} ({len(sent.tokens)} words)"
    if len(tags) != end - start:
        return "invalid decision", f"{len(tags)} tags for the {end - start} words {start}-{end}"
    bad = [t for t in tags if not is_tag(t) or t not in name_set]
    if bad:
        return "invalid decision", f"tag {bad[0]!r} is not in the corpus label set"
    moved = id_ if target != id_ else ""
    return _Edit(d.issue_id, target, start, end, tuple(tags), d.action, str(d.curator), _iso(d.at),
                 _commit_order(d, position), moved)


def _issue_rows(issues: pd.DataFrame) -> dict[str, dict]:
    cols = [c for c in ("issue_id", "id", "start", "end", "given", "suggested", "tokens", "tags") if c in issues]
    return {r["issue_id"]: r for r in issues[cols].to_dict("records")}


def _settles(row: SampleRow, sent: _Sentence | None, audited: set[str], names: set[str]) -> bool | tuple[str, str]:
    """True when the verified line applies to its sentence, else (stale kind, reason)."""
    if sent is None or sent.split not in audited:
        return "sentence gone", (
            f"sentence {row.id} of the verified sample is not in an audited split of the corpus ({', '.join(sorted(audited))})"
        )
    if not matches(row, sent.tokens):
        return "tokens changed", (
            f"the words of {row.id} are not the verified sample's (the corpus changed since it was drawn); "
            "verify the sentence again or draw a new sample"
        )
    bad = [t for t in row.tags if not is_tag(t) or t not in names]
    if bad:
        return "invalid decision", f"the verified sample's tag {bad[0]!r} for {row.id} is not in the corpus label set"
    return True


def _verified_sentence(id_: str, sent: _Sentence, row: SampleRow, sample_name: str) -> tuple[list[str], list[dict]]:
    """The sentence with the verified tags (IOB2-repaired, which the verify UI already does) and
    one changelog row per run of changed words."""
    repaired = bool(violations(row.tags))
    tags = repair_iob2(row.tags)
    curator = str(row.extra.get("curator") or VERIFIED_SOURCE)
    note = f"verified in the sample {sample_name}".rstrip() + ("; IOB2-repaired" if repaired else "")
    rows, w, n = [], 0, len(tags)
    while w < n:
        if tags[w] == sent.tags[w]:
            w += 1
            continue
        end = w
        while end < n and tags[end] != sent.tags[end]:
            end += 1
        rows.append({"issue_id": "", "id": id_, "split": sent.split, "start": w, "end": end, "before": sent.tags[w:end],
                     "after": tags[w:end], "action": VERIFIED_ACTION, "curator": curator, "at": "", "note": note})
        w = end
    return tags, rows


def _apply_sentence(sent: _Sentence, edits: list[_Edit]) -> tuple[list[str], list[dict], list[Conflict]]:
    """Write the edits in commit order, then repair IOB2 at the seams; (tags, changelog rows, conflicts)."""
    tags = list(sent.tags)
    rows: list[dict] = []
    conflicts: list[Conflict] = []
    owner: dict[int, _Edit] = {}  # word -> the last edit that wrote it
    for e in sorted(edits, key=lambda e: e.order):
        overlap: dict[str, list[int]] = defaultdict(list)
        for w in range(e.start, e.end):
            if w in owner:
                overlap[owner[w].issue_id].append(w)
            owner[w] = e
        conflicts += [Conflict(e.id, prev, e.issue_id, tuple(ws)) for prev, ws in overlap.items()]
        notes = [f"decided on {e.moved_from}, the sentence's id then"] if e.moved_from else []
        notes += [f"overrides {prev} on words {ws[0]}-{ws[-1] + 1}" for prev, ws in overlap.items()]
        note = "; ".join(notes)
        rows.append(_row(e, sent.split, e.start, e.end, tags[e.start : e.end], list(e.tags), note=note))
        tags[e.start : e.end] = e.tags
    # only words inside or right after a written span can have become violations; anywhere
    # else the sentence stays exactly as the corpus had it
    seams = {w: owner.get(w, e) for e in edits for w in range(e.start, min(e.end + 1, len(tags)))}
    for w in violations(tags):
        if w in seams:
            e = seams[w]
            fixed = "B-" + tags[w][2:]
            note = f"IOB2 repair after applying {e.issue_id}"
            rows.append(_row(e, sent.split, w, w + 1, [tags[w]], [fixed], REPAIR_ACTION, REPAIR_CURATOR, note))
            tags[w] = fixed
    return tags, rows, conflicts


def _row(
    e: _Edit, split: str, start: int, end: int, before: list[str], after: list[str],
    action: str | None = None, curator: str | None = None, note: str = "",
) -> dict:
    """One changelog row (CHANGELOG_SCHEMA) for edit e; action/curator default to the edit's."""
    return {"issue_id": e.issue_id, "id": e.id, "split": split, "start": start, "end": end, "before": before,
            "after": after, "action": action or e.action, "curator": curator or e.curator, "at": e.at, "note": note}


def apply_decisions(
    corpus: DatasetDict,
    issues: pd.DataFrame,
    decisions: Mapping[str, Decision],
    sample: Sequence[SampleRow] | None = None,
    audited: Sequence[str] | None = None,
    sample_name: str = "",
) -> ApplyResult:
    """Apply the latest decision per issue (and a verified sample) to the corpus.

    corpus:    Corpus (id, tokens, ner_tags Sequence(ClassLabel), lang[, clean_ner_tags])
    issues:    issue table (auditor.tables.ISSUE_COLUMNS; needs issue_id, id, start, end,
               given, suggested, tokens, and uses tags when present)
    decisions: issue_id -> Decision (DecisionStore.latest(): the decision committed last per
               issue, with the other curators' opinions it overrules)
    sample:    the lines of scoring.reference.file (auditor.data.sample.read_sample), or None;
               its verified lines on sentences of the `audited` splits (default: every split)
               are applied and supersede the decisions on those sentences (module docstring);
               sample_name names the file in the changelog's notes
    Returns the cleaned corpus (same columns plus original_ner_tags and changed), the
    changelog, the stale decisions (not applied), the conflicts (overlapping words) and
    curator conflicts (one issue, different decisions), and summary counts.
    """
    names = corpus_label_names(corpus)
    name_set = set(names)
    rows_by_issue = _issue_rows(issues)
    wanted = {str(rows_by_issue[i]["id"]) for i in decisions if i in rows_by_issue}
    wanted |= {where[0] for where in map(_issue_span, decisions) if where is not None}
    verified = verified_rows(sample) if sample is not None else {}
    index = _index(corpus, names, wanted | set(verified))
    contents = _Contents(corpus, names)
    stale: list[StaleDecision] = []
    edits: dict[str, list[_Edit]] = defaultdict(list)
    for position, (issue_id, d) in enumerate(decisions.items()):
        if d.action == "skip":
            continue
        issue = rows_by_issue.get(issue_id)
        if getattr(d, "sentence", None):
            checked = _place(d, position, index, contents, name_set)
            where = _issue_span(issue_id)
            at = where[0] if where else None
        else:  # recorded before decisions remembered their sentence: the issue table must still match
            sent = index.get(str(issue["id"])) if issue is not None else None
            checked = _check(d, position, issue, sent, name_set)
            at = None if issue is None else str(issue["id"])
        if isinstance(checked, tuple):
            kind, reason = checked
            stale.append(StaleDecision(issue_id, at, d.action, kind, reason))
        else:
            edits[checked.id].append(checked)

    settled: dict[str, SampleRow] = {}
    superseded: list[str] = []
    if sample is not None:
        splits = set(corpus) if audited is None else set(audited)
        for id_ in sorted(verified):
            settles = _settles(verified[id_], index.get(id_), splits, name_set)
            if isinstance(settles, tuple):
                kind, reason = settles
                stale.append(StaleDecision(id_, id_, VERIFIED_ACTION, kind, reason))
            else:
                settled[id_] = verified[id_]
                # the curator checked every word of the sentence: its decisions are superseded
                superseded += [e.issue_id for e in sorted(edits.pop(id_, []), key=lambda e: e.order)]

    new_tags: dict[str, list[str]] = {}
    changelog: list[dict] = []
    conflicts: list[Conflict] = []
    for id_ in sorted(set(edits) | set(settled)):
        if id_ in settled:
            (tags, rows), found = _verified_sentence(id_, index[id_], settled[id_], sample_name), []
        else:
            tags, rows, found = _apply_sentence(index[id_], edits[id_])
        new_tags[id_] = tags
        changelog += rows
        conflicts += found

    cleaned = DatasetDict({split: _cleaned_split(ds, new_tags, names) for split, ds in corpus.items()})
    changed_tokens = sum(sum(a != b for a, b in zip(tags, index[id_].tags)) for id_, tags in new_tags.items())
    changed_sentences = sum(tags != index[id_].tags for id_, tags in new_tags.items())
    summary = ApplySummary(
        decisions=len(decisions),
        by_action=dict(sorted(Counter(d.action for d in decisions.values()).items())),
        changed_sentences=changed_sentences,
        changed_tokens=changed_tokens,
        stale=len(stale),
        conflicts=len(conflicts),
        repaired=sum(r["action"] == REPAIR_ACTION for r in changelog),
        stale_kinds=dict(Counter(s.kind for s in stale)),
        stale_list=[s.to_dict() for s in stale],
        moved=sum(bool(e.moved_from) for es in edits.values() for e in es),
    )
    disagreements = [
        CuratorConflict(issue_id, d, tuple(d.overrules)) for issue_id, d in decisions.items() if getattr(d, "overrules", ())
    ]
    summary.curator_conflicts = len(disagreements)
    summary.curator_conflict_list = [c.to_dict() for c in disagreements]
    if sample is not None:
        summary.verified_sentences = len(settled)
        summary.verified_changed = sum(new_tags[id_] != index[id_].tags for id_ in settled)
        summary.verified_stale = sum(s.action == VERIFIED_ACTION for s in stale)
        summary.verified_superseded = len(superseded)
        summary.superseded_list = superseded
    frame = pd.DataFrame(changelog, columns=CHANGELOG_SCHEMA.names)
    return ApplyResult(cleaned, frame, stale, conflicts, summary, disagreements)


def _cleaned_split(ds: Dataset, new_tags: Mapping[str, list[str]], names: Sequence[str]) -> Dataset:
    """The split with ner_tags replaced, original_ner_tags and changed added (same ClassLabel)."""
    code = {n: i for i, n in enumerate(names)}
    # built in Arrow: Dataset.from_dict would re-encode every example (seconds on PAN-X)
    table = ds.with_format("arrow")[:]
    cols = ds.select_columns(["id", "ner_tags"] + ([ORIGINAL_COLUMN] if ORIGINAL_COLUMN in ds.column_names else []))[:]
    # re-cleaning a cleaned corpus: the first original stays the original
    original = cols.get(ORIGINAL_COLUMN, cols["ner_tags"])
    tags = [[code[t] for t in new_tags[id_]] if id_ in new_tags else cur for id_, cur in zip(cols["id"], cols["ner_tags"])]
    changed = [t != o for t, o in zip(tags, original)]
    features = Features(dict(ds.features))
    features[ORIGINAL_COLUMN] = HFSequence(ds.features["ner_tags"].feature)
    features[CHANGED_COLUMN] = Value("bool")
    schema = features.arrow_schema
    table = table.drop_columns([c for c in (ORIGINAL_COLUMN, CHANGED_COLUMN) if c in table.column_names])
    table = table.set_column(table.column_names.index("ner_tags"), "ner_tags", pa.array(tags, schema.field("ner_tags").type))
    table = table.append_column(ORIGINAL_COLUMN, pa.array(original, schema.field(ORIGINAL_COLUMN).type))
    table = table.append_column(CHANGED_COLUMN, pa.array(changed, pa.bool_()))
    return Dataset(InMemoryTable(table.cast(schema)), info=DatasetInfo(features=features))


def save_cleaned(result: ApplyResult, run_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write run_dir/cleaned (save_to_disk) and run_dir/changelog.parquet, each atomically."""
    cleaned_dir = RunDir(run_dir).cleaned
    changelog_path = RunDir(run_dir).changelog
    with atomic_path(cleaned_dir, is_dir=True) as tmp:
        result.cleaned.save_to_disk(str(tmp))
    table = pa.Table.from_pandas(result.changelog, schema=CHANGELOG_SCHEMA, preserve_index=False)
    with atomic_path(changelog_path) as tmp:
        pq.write_table(table, tmp)
    return cleaned_dir, changelog_path


def applied_decisions(run_dir: str | os.PathLike) -> int:
    """How many decisions the run's current cleaning applied (0 when it has none): the larger
    of metrics.json["apply"]["decisions"] and the curators' rows of changelog.parquet (not the
    verified sample's: the sample file, not the store, holds those)."""
    from auditor.errors import DataError
    from auditor.metrics import read_metrics

    run_dir = Path(run_dir)
    if not RunDir(run_dir).cleaned.is_dir():
        return 0
    try:
        apply = read_metrics(run_dir).section(ApplySummary)
        recorded = apply.decisions if apply is not None else 0
    except (DataError, TypeError, ValueError):
        recorded = 0
    try:
        actions = pq.read_table(RunDir(run_dir).changelog, columns=["action"]).column("action").to_pylist()
        logged = sum(a not in (REPAIR_ACTION, VERIFIED_ACTION) for a in actions)
    except (OSError, pa.ArrowException, KeyError):
        logged = 0
    return max(recorded, logged)


def guard_against_emptying(run_dir: str | os.PathLike, store_path: Path, store_rows: int | None) -> None:
    """Refuse to replace a cleaning that applied decisions with one made from a missing or
    empty decision store (store_rows None = no file, else its row count, undo rows included).

    A store whose decisions were all undone still has rows; a store with none was deleted or
    recreated, and applying it would silently undo every decision of the cleaning.
    """
    if store_rows:
        return
    applied = applied_decisions(run_dir)
    if not applied:
        return
    state = "is missing" if store_rows is None else "holds no decisions"
    raise AuditorError(
        f"{store_path} {state}, but {RunDir(run_dir).cleaned} was made from {applied} decisions; "
        f"restore {store_path.name} (e.g. from a backup, or a {store_path.name}.rescued-* file), or to start "
        f"the cleaning over delete {RunDir(run_dir).cleaned} and {RunDir(run_dir).changelog}"
    )


def decided_words(result: ApplyResult) -> DecidedWords:
    """The words the store's decisions covered, with the tags apply wrote there (a second
    pass's extra evidence, ``scoring.reference.decisions``): the spans of the changelog's
    accept, relabel and keep rows, so a decision counts only where apply would place it (stale
    ones do not, a later overlapping one wins). The verified sample's rows and IOB2 repairs
    are not decisions: a repaired word counts only inside a decided span."""
    from auditor.review.store import SPAN_ACTIONS
    from auditor.scoring.reference import DecidedWords

    rows = result.changelog[result.changelog["action"].isin([*SPAN_ACTIONS, "keep"])]
    out = DecidedWords()
    names = corpus_label_names(result.cleaned)
    for split, part in rows.groupby("split", sort=True):
        ds = result.cleaned[split]
        wanted = set(part["id"])
        at = {id_: i for i, id_ in enumerate(ds["id"]) if id_ in wanted}
        for id_, spans_ in part.groupby("id", sort=True):
            tags = [names[t] for t in ds[at[id_]]["ner_tags"]]
            covered = [False] * len(tags)
            for start, end in zip(spans_["start"], spans_["end"]):
                covered[int(start) : int(end)] = [True] * (int(end) - int(start))
            out.tags[str(id_)], out.covered[str(id_)] = tags, covered
    return out
