"""The review queue: the ranked issue table held as columns, filters, shards and status.

The table stays in pyarrow/numpy arrays (100,000 issues load in well under a second); a row
becomes a Python object (`Issue`) only when the detail view shows it. Views (filters) are
integer index arrays into the ranked table, so paging and jumping are array look-ups.

Issue numbers (#1 = most suspicious) come from the whole table, before any shard is cut
out of it, so "#78" is the same issue for every curator.

An issue inside a sentence of the run's verified sample (auditor.review.verified) starts
decided, status VERIFIED ("verified in the sample"): the curator checked every word of it and
apply writes those tags, so the queue does not ask again and does not count it as open work.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from auditor.errors import AuditorError, DataError
from auditor.review.groups import Groups, change_text, find_groups
from auditor.review.ordering import complete, position_in, positions, score_order, view_of
from auditor.review.store import Decision, Ledger
from auditor.tables import ISSUE_COLUMNS, OPTIONAL_ISSUE_COLUMNS

# status codes of an issue in the status array (int8); OPEN = no decision (or undone);
# VERIFIED = its sentence is settled by the verified sample (whatever the store says)
OPEN, ACCEPT, RELABEL, KEEP, SKIP, VERIFIED = 0, 1, 2, 3, 4, 5
STATUS_OF_ACTION = {"accept": ACCEPT, "relabel": RELABEL, "keep": KEEP, "skip": SKIP}
ACTION_OF_STATUS = {v: k for k, v in STATUS_OF_ACTION.items()}
STATUS_CHOICES = ("all", "open", "decided", "skipped", "conflicts")
_SCALAR_COLUMNS = ("issue_id", "id", "lang", "kind", "entity_type", "surface")


@dataclass(frozen=True)
class Shard:
    """Curator `index` of `count` (1-based): the issues whose example id hashes to this shard.

    Hashing the example id (not the issue id) keeps every issue of a sentence with one curator.
    """

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
        if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
            raise AuditorError(f"--shard {text!r}: expected i/n with 1 <= i <= n, e.g. --shard 1/3")
        return cls(int(m.group(1)), int(m.group(2)))

    def mask(self, example_ids: np.ndarray) -> np.ndarray:
        """(N,) bool: which example ids belong to this shard (crc32 is stable across runs and machines)."""
        buckets = np.fromiter((zlib.crc32(str(i).encode()) % self.count for i in example_ids), np.int64, len(example_ids))
        return buckets == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def fold(text: str) -> str:
    """Text for accent- and case-insensitive matching: 'München' and 'MUNCHEN' -> 'munchen'."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bare.lower().replace("ß", "ss")


def _fold_array(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """fold() over a whole Arrow string column (vectorised: 100,000 sentences in a fraction of a second)."""
    out = pc.utf8_normalize(values, "NFKD")
    out = pc.replace_substring_regex(out, r"\p{Mn}", "")
    return pc.replace_substring(pc.utf8_lower(out), "ß", "ss")


@dataclass(frozen=True)
class Issue:
    """One issue, materialised for display. start/end: word span [start, end) in `tokens`;
    given/suggested: tags of that span; tags/predicted/token_losses: whole sentence (nats).
    number: the stable issue number (#1 = lowest score of the whole table, every shard alike);
    signals: the row's other columns (cleanlab_score, token_loss, consistency_score, ... and
    any optional ones the score stage adds), for the "why flagged" text."""

    issue_id: str
    id: str
    lang: str
    split: str
    start: int
    end: int
    kind: str
    entity_type: str
    surface: str
    given: list[str]
    suggested: list[str]
    score: float
    tokens: list[str]
    tags: list[str]
    predicted: list[str]
    token_losses: list[float]
    rank: int  # 0-based position in this (possibly sharded) ranked table
    number: int = 0
    signals: dict = field(default_factory=dict)


@dataclass(frozen=True)
class IssueFilter:
    """What the queue shows. Empty tuples / None mean "any"; text matches the sentence's words."""

    langs: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    entity_types: tuple[str, ...] = ()
    min_score: float | None = None
    max_score: float | None = None
    text: str = ""
    status: str = "all"
    grouped: bool = False  # only issues of systematic groups (x2 or more)

    @property
    def active(self) -> bool:
        return self != IssueFilter()

    def describe(self) -> str:
        parts = []
        if self.langs:
            parts.append("lang " + ",".join(self.langs))
        if self.kinds:
            parts.append("kind " + ",".join(self.kinds))
        if self.entity_types:
            parts.append("type " + ",".join(self.entity_types))
        if self.min_score is not None or self.max_score is not None:
            lo = "" if self.min_score is None else f"{self.min_score:g}"
            hi = "" if self.max_score is None else f"{self.max_score:g}"
            parts.append(f"score {lo}..{hi}")
        if self.text:
            parts.append(f"“{self.text}”")
        if self.status != "all":
            parts.append(self.status)
        if self.grouped:
            parts.append("groups ×2+")
        return " · ".join(parts) or "none"


_ISSUE_FIELDS = set(Issue.__dataclass_fields__) - {"rank", "number", "signals"}


def _ranked(table: pa.Table) -> pa.Table:
    """The table in rank order: ascending score (most likely wrong first), ties by issue_id."""
    order = pc.sort_indices(table, sort_keys=[("score", "ascending"), ("issue_id", "ascending")])
    # write_issues stores the table ranked already; reordering the list columns is the slow part
    return table if np.array_equal(order.to_numpy(), np.arange(table.num_rows)) else table.take(order)


class IssueTable:
    """The ranked issue table (ascending score = most likely wrong first) as columns."""

    def __init__(self, table: pa.Table, numbers: np.ndarray | None = None) -> None:
        """table: issue rows; numbers: their stable issue numbers (default 1..n after ranking,
        given when the table is one shard of a larger ranked one)."""
        if numbers is None:
            table = _ranked(table)
            numbers = np.arange(1, table.num_rows + 1)
        self.table = table
        self.number = np.asarray(numbers, dtype=np.int64)
        self.n = self.table.num_rows
        cols = {c: self.table.column(c).to_numpy(zero_copy_only=False) for c in _SCALAR_COLUMNS}
        self.issue_ids: np.ndarray = cols["issue_id"]
        self.example_ids: np.ndarray = cols["id"]
        self.lang: np.ndarray = cols["lang"]
        self.kind: np.ndarray = cols["kind"]
        self.entity_type: np.ndarray = cols["entity_type"]
        self.surface: np.ndarray = cols["surface"]
        self.score: np.ndarray = self.table.column("score").to_numpy(zero_copy_only=False).astype(np.float64)
        self._row_of = {iid: i for i, iid in enumerate(self.issue_ids)}
        self._folded: pa.Array | None = None
        self._change_text: list[str] | None = None
        self._groups: Groups | None = None

    @classmethod
    def load(cls, path: str | Path, shard: Shard | None = None) -> IssueTable:
        """Read RUN_DIR/issues.parquet (columns of auditor.tables.ISSUE_COLUMNS); DataError if unusable."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: no issue table; run the score stage first (auditor run <pipeline> --until score)")
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowInvalid) as err:
            raise DataError(f"{path}: cannot read the issue table ({err}); re-run the score stage") from None
        missing = set(ISSUE_COLUMNS) - set(OPTIONAL_ISSUE_COLUMNS) - set(table.column_names)
        if missing:
            raise DataError(f"{path}: not an auditor issue table (missing {sorted(missing)})")
        table = _ranked(table)
        numbers = np.arange(1, table.num_rows + 1)
        if shard is not None and shard.count > 1:
            keep = shard.mask(table.column("id").to_numpy(zero_copy_only=False))
            table, numbers = table.filter(pa.array(keep)), numbers[keep]
        return cls(table, numbers)

    def __len__(self) -> int:
        return self.n

    def row(self, i: int) -> Issue:
        """The issue at rank i (0-based)."""
        rec = self.table.slice(int(i), 1).to_pylist()[0]
        fields = {k: rec.pop(k) for k in list(rec) if k in _ISSUE_FIELDS}
        return Issue(**fields, rank=int(i), number=int(self.number[i]), signals=rec)

    def index_of(self, issue_id: str) -> int | None:
        return self._row_of.get(issue_id)

    @property
    def sharded(self) -> bool:
        """Part of a larger table (issue numbers with gaps)."""
        return bool(self.n) and int(self.number[-1]) != self.n

    def rank_of_number(self, number: int) -> int | None:
        """The rank of issue #number in this table (None: not in this shard, or no such issue)."""
        pos = int(np.searchsorted(self.number, number))
        return pos if pos < self.n and self.number[pos] == number else None

    def label_types(self) -> list[str]:
        """Entity types (PER, ORG, ...) found in tags, predicted and suggested, sorted."""
        types: set[str] = set()
        for col in ("tags", "predicted", "suggested", "given"):
            flat = pc.unique(pc.list_flatten(self.table.column(col))).to_pylist()
            types.update(t[2:] for t in flat if t and t[:2] in ("B-", "I-"))
        return sorted(types)

    def values(self, column: str) -> list[str]:
        """Distinct values of a scalar column, sorted (for filter hints)."""
        return sorted(v for v in pc.unique(self.table.column(column)).to_pylist() if v is not None)

    @property
    def groups(self) -> Groups:
        """The systematic groups (same words, same change; auditor.review.groups) of the ranks,
        found on first use (a third of a second for 100,000 issues)."""
        if self._groups is None:
            self._groups = find_groups(self.table.select(["surface", "given", "suggested"]).to_pandas())
        return self._groups

    # --- filtering -------------------------------------------------------------------------

    def _folded_text(self) -> pa.Array:
        """Every sentence folded (see fold), computed on the first search."""
        if self._folded is None:
            self._folded = _fold_array(pc.binary_join(self.table.column("tokens"), " "))
        return self._folded

    @staticmethod
    def _isin(column: np.ndarray, wanted: tuple[str, ...]) -> np.ndarray:
        # codes and names match in any case ('FR' = 'fr', 'org' = 'ORG')
        lowered = np.char.lower(column.astype(str)) if len(column) else column
        return np.isin(lowered, [w.lower() for w in wanted])

    def unknown(self, column: str, wanted: tuple[str, ...]) -> list[str]:
        """The wanted values (any case) that no issue has in column, to say so instead of
        showing an empty queue."""
        known = {v.lower() for v in self.values(column)}
        return [w for w in wanted if w.lower() not in known]

    def mask(self, flt: IssueFilter, status: np.ndarray, conflict: np.ndarray | None = None) -> np.ndarray:
        """(N,) bool: the issues the filter keeps; status is the (N,) status array, conflict the
        (N,) bool array of issues curators disagree on."""
        keep = np.ones(self.n, dtype=bool)
        if flt.langs:
            keep &= self._isin(self.lang, flt.langs)
        if flt.kinds:
            keep &= self._isin(self.kind, flt.kinds)
        if flt.entity_types:
            keep &= self._isin(self.entity_type, flt.entity_types)
        if flt.min_score is not None:
            keep &= self.score >= flt.min_score
        if flt.max_score is not None:
            keep &= self.score <= flt.max_score
        if flt.text:
            hits = pc.match_substring(self._folded_text(), fold(flt.text))
            keep &= np.asarray(hits.to_numpy(zero_copy_only=False), dtype=bool)
        if flt.status == "open":
            keep &= status == OPEN
        elif flt.status == "decided":
            keep &= (status != OPEN) & (status != SKIP)
        elif flt.status == "skipped":
            keep &= status == SKIP
        elif flt.status == "conflicts":
            keep &= conflict if conflict is not None else False
        if flt.grouped:
            keep &= self.groups.size >= 2
        return keep

    # --- bulk ------------------------------------------------------------------------------

    def change_text(self, i: int) -> str:
        """The issue's fix as types, e.g. 'PER→ORG' (cached per row: cheap to repaint)."""
        if self._change_text is None:
            self._change_text = [None] * self.n  # type: ignore[list-item]
        text = self._change_text[i]
        if text is None:
            given = self.table.column("given")[i].as_py()
            suggested = self.table.column("suggested")[i].as_py()
            text = self._change_text[i] = change_text(given, suggested)
        return text

    def same_change(self, i: int) -> np.ndarray:
        """Ranks of every issue with the same surface form and given -> suggested tags as rank i."""
        return self.groups.members(i)


@dataclass
class Progress:
    """Counts for the progress line. decided: accepted, relabelled or kept (a skip is not done);
    verified: issues settled by the verified sample (done, not by a decision); conflicts:
    issues curators disagree on; seconds_left: open and skipped issues at this session's pace
    (seconds per decision)."""

    total: int
    decided: int
    skipped: int
    conflicts: int = 0
    by_action: dict[str, int] = field(default_factory=dict)
    seconds_left: float | None = None
    verified: int = 0

    @property
    def done(self) -> int:
        return self.decided + self.verified

    @property
    def remaining(self) -> int:
        return self.total - self.done


class ReviewQueue:
    """Issue table + status of every issue (from the store's Ledger) + the current filtered
    view and cursor.

    status: (N,) int8 status code per rank; conflict: (N,) bool, curators disagree.
    order: (N,) every rank once, in the order shown (auditor.review.ordering; default the
    score order). view: (M,) int ranks of the issues the filter shows, in that order.
    cursor: position in view, or -1 when the view is empty.
    group_size: (N,) issues in each rank's systematic group (found once, here).
    verified: (N,) bool, the issue lies in a sentence the verified sample settles
    (auditor.review.verified.verified_issue_mask over the table; default none).
    """

    def __init__(self, table: IssueTable, ledger: Ledger | None = None, verified: np.ndarray | None = None) -> None:
        self.table = table
        self.ledger = ledger if ledger is not None else Ledger()
        self.verified = np.zeros(table.n, dtype=bool) if verified is None else np.asarray(verified, dtype=bool)
        if self.verified.shape != (table.n,):
            raise ValueError(f"verified mask of shape {self.verified.shape} for {table.n} issues")
        self.status = np.zeros(table.n, dtype=np.int8)
        self.conflict = np.zeros(table.n, dtype=bool)
        self.filter = IssueFilter()
        self.order = score_order(table.n)
        self._order_pos = self.order
        self.view = np.arange(table.n)
        self.cursor = 0 if table.n else -1
        self.group_size = table.groups.size
        self.sync()

    def sync(self, issue_ids: set[str] | None = None) -> list[int]:
        """Refresh the status of these issues (default: all) from the ledger; the ranks of
        this table whose status or conflict flag changed."""
        if issue_ids is None:
            self.status[:] = np.where(self.verified, VERIFIED, OPEN)
            self.conflict[:] = False
            issue_ids = set(self.ledger.issues())
        changed = []
        for issue_id in issue_ids:
            i = self.table.index_of(issue_id)
            if i is None:
                continue  # another shard's issue, or one re-scored away
            d = self.ledger.decision(issue_id)
            status = OPEN if d is None else STATUS_OF_ACTION.get(d.action, OPEN)
            if self.verified[i]:  # the sample's tags are final (apply supersedes the decision)
                status = VERIFIED
            conflict = bool(d is not None and d.overrules)
            if self.status[i] != status or self.conflict[i] != conflict:
                changed.append(i)
            self.status[i], self.conflict[i] = status, conflict
        return sorted(changed)

    def decision(self, rank: int) -> Decision | None:
        """The issue's decision (None = open), with the opinions it overrules."""
        return self.ledger.decision(str(self.table.issue_ids[rank]))

    def set_filter(self, flt: IssueFilter) -> None:
        """Show the issues the filter keeps, the cursor on the first open one in rank order (so
        a filter never lands past more suspicious open issues), else on the first one."""
        self.filter = flt
        self.view = view_of(self.order, self.table.mask(flt, self.status, self.conflict))
        self.cursor = -1 if not len(self.view) else 0
        if len(self.view):
            self.next_open(after=False)

    def set_order(self, order: np.ndarray, keep_cursor: bool = True) -> None:
        """Show the issues in `order` ((N,) every rank once), with the same filter. keep_cursor:
        stay on the current issue (at its new position); else go to the first open issue."""
        rank = self.current_rank()
        self.order = complete(order, self.table.n)  # complete() of a full permutation is a copy
        self._order_pos = positions(self.order)
        self.view = view_of(self.order, self.table.mask(self.filter, self.status, self.conflict))
        position = position_in(self.view, rank) if keep_cursor and rank is not None else None
        if position is not None:
            self.cursor = position
        else:
            self.cursor = 0 if len(self.view) else -1
            if len(self.view):
                self.next_open(after=False)

    def open_mask(self) -> np.ndarray:
        """(N,) bool: the issues nobody decided nor skipped."""
        return self.status == OPEN

    # --- cursor ----------------------------------------------------------------------------

    def current_rank(self) -> int | None:
        return int(self.view[self.cursor]) if self.cursor >= 0 else None

    def current(self) -> Issue | None:
        rank = self.current_rank()
        return None if rank is None else self.table.row(rank)

    def move(self, delta: int) -> None:
        if len(self.view):
            self.cursor = int(np.clip(self.cursor + delta, 0, len(self.view) - 1))

    def goto(self, position: int) -> None:
        if len(self.view):
            self.cursor = int(np.clip(position, 0, len(self.view) - 1))

    def goto_rank(self, rank: int, nearest: bool = False) -> bool:
        """Put the cursor on rank (or, with nearest, on the first shown issue at or after it
        in the queue's order)."""
        pos = int(np.searchsorted(self._order_pos[self.view], self._order_pos[rank]))
        if pos < len(self.view) and (self.view[pos] == rank or nearest):
            self.cursor = pos
            return True
        if nearest and len(self.view):
            self.cursor = len(self.view) - 1
        return False

    def goto_first(self, ranks) -> bool:
        """Put the cursor on whichever of these ranks comes first in the queue's order (or the
        first shown issue after it)."""
        ranks = np.asarray(list(ranks), dtype=np.int64)
        if not len(ranks):
            return False
        return self.goto_rank(int(ranks[np.argmin(self._order_pos[ranks])]), nearest=True)

    def goto_number(self, number: int) -> str | None:
        """Put the cursor on issue #number; None when done, else why not (one line)."""
        rank = self.table.rank_of_number(number)
        if rank is None:
            if self.table.sharded:
                return f"#{number} is not in this shard's queue (another curator's shard, or no such issue)"
            return f"there is no issue #{number} (the queue has {self.table.n})"
        if not self.goto_rank(rank):
            return f"#{number} is hidden by the filter (esc clears it)"
        return None

    def next_open(self, after: bool = True) -> bool:
        """Move to the next open issue of the view after the cursor (wrapping); False if none."""
        return self._next(self.status[self.view] == OPEN, after)

    def next_same_kind(self) -> bool:
        """Move to the next open issue of the current issue's kind (wrapping); False if none."""
        rank = self.current_rank()
        if rank is None:
            return False
        same = (self.table.kind[self.view] == self.table.kind[rank]) & (self.status[self.view] == OPEN)
        same[self.cursor] = False
        return self._next(same, after=True)

    def _next(self, candidates: np.ndarray, after: bool) -> bool:
        positions = np.flatnonzero(candidates)
        if not len(positions):
            return False
        start = self.cursor + 1 if after else self.cursor
        later = positions[positions >= start]
        self.cursor = int(later[0] if len(later) else positions[0])
        return True

    # --- counts ----------------------------------------------------------------------------

    def progress(self, seconds_per_decision: float | None = None) -> Progress:
        counts = np.bincount(self.status, minlength=VERIFIED + 1)
        by_action = {ACTION_OF_STATUS[s]: int(counts[s]) for s in (ACCEPT, RELABEL, KEEP, SKIP)}
        decided = int(counts[ACCEPT] + counts[RELABEL] + counts[KEEP])
        verified = int(counts[VERIFIED])
        left = None if seconds_per_decision is None else (self.table.n - decided - verified) * seconds_per_decision
        return Progress(self.table.n, decided, int(counts[SKIP]), int(np.count_nonzero(self.conflict)), by_action, left,
                        verified)
