"""The main review screen: the ranked queue, the current sentence, progress; one key per
decision (auditor.review.bindings), modals in auditor.review.dialogs.

Every decision goes to the store (committed) before the screen moves to the next issue. The
screen polls the store, so other curators' decisions show up within POLL_SECONDS; a
decision on an issue someone else decided is only written after the curator agreed to
replace it (the store checks that in the same transaction as the write).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

import numpy as np
from textual import on
from textual.app import ComposeResult
from textual.containers import Container
from textual.screen import Screen
from textual.widgets import Footer, Header

from auditor.review import bindings
from auditor.review.bulk import BulkDecision, apply_bulk, plan_bulk, same_change_targets, same_words_targets
from auditor.review.dialogs import BulkOption, BulkScreen, ContextScreen, FilterScreen, GoToScreen, RelabelScreen, ReplaceScreen
from auditor.review.queue import Issue, IssueFilter, ReviewQueue
from auditor.review.store import AlreadyDecided, DecisionStore, StoreError
from auditor.review.widgets import DONE_WORDS, IssueList, ProgressLine, SentenceView

WIDE_AT = 140  # columns from which the queue and the sentence sit side by side

Span = tuple[int | None, int | None, list[str] | None]


class ReviewScreen(Screen):
    """The ranked queue, the current sentence, progress; one key per decision."""

    BINDINGS = bindings.REVIEW

    def __init__(
        self, queue: ReviewQueue, store: DecisionStore, type_keys: dict[str, str], load_index: Callable | None = None
    ) -> None:
        super().__init__()
        self.queue = queue
        self.store = store
        self.type_keys = type_keys
        self.load_index = load_index
        self.me = store.curator
        self.undo_stack: list[list[str]] = []  # issue ids of each decision made this session
        self.decision_times: list[float] = []
        self._poll_failed = False

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with Container(id="body"):
            yield IssueList(self.queue, curator=self.me, id="queue")
            # a fixed-size window, not a scroller: a focused scroller would take ↑↓, pgup/pgdn
            # and home/end from the queue, and resizing to each sentence costs a relayout
            with Container(id="detail"):
                yield SentenceView(curator=self.me, windowed=True, id="sentence")
        yield ProgressLine(id="progress")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.queue.next_open(after=False)
        self.refresh_all()
        self.set_interval(bindings.POLL_SECONDS, self.poll, name="poll-store")

    def on_resize(self, event) -> None:
        self.set_class(event.size.width >= WIDE_AT, "-wide")

    # --- display ---------------------------------------------------------------------------

    def refresh_all(self) -> None:
        q = self.queue
        view = self.query_one("#sentence", SentenceView)
        shown = len(q.view)
        rank = q.current_rank()
        position = f"{q.cursor + 1}/{shown} in filter" if q.cursor >= 0 and q.filter.active else ""
        view.show(q.current(), q.decision(rank) if rank is not None else None, position)
        self.query_one("#queue", IssueList).sync()
        self.query_one("#progress", ProgressLine).show(q.progress(self._pace()), q.filter.describe(), shown)

    def _pace(self) -> float | None:
        """Seconds per decision: median gap of this session's last 20 decisions (breaks capped at 2 min)."""
        t = self.decision_times[-21:]
        if len(t) < 3:
            return None
        return float(np.median(np.minimum(np.diff(t), 120.0)))

    # --- the others' decisions ---------------------------------------------------------------

    def _absorb(self) -> set[str]:
        """Read what was committed since the last look (anyone's, ours too) into the queue."""
        changed = self.store.sync(self.queue.ledger)
        if changed:
            self.queue.sync(changed)
        return changed

    def poll(self) -> None:
        """Timer: show other curators' new decisions (one indexed query when nothing changed)."""
        try:
            changed = self._absorb()
        except (sqlite3.Error, StoreError) as err:
            if not self._poll_failed:  # say it once, not every two seconds
                self.notify(f"cannot read the others' decisions: {err}", severity="warning", timeout=10)
            self._poll_failed = True
            return
        self._poll_failed = False
        if not changed:
            return
        issue_id = self._current_id()
        if issue_id in changed:
            d = self.queue.ledger.decision(issue_id)
            if d is not None and d.curator != self.me:
                self.notify(f"{d.curator} just {DONE_WORDS.get(d.action, d.action)} this issue", timeout=5)
        self.refresh_all()

    def _current_id(self) -> str | None:
        rank = self.queue.current_rank()
        return None if rank is None else str(self.queue.table.issue_ids[rank])

    # --- deciding ----------------------------------------------------------------------------

    def _decide(self, issue: Issue, action: str, span: Span, replace_seq: int | None = None) -> None:
        """Write one decision; if another curator decided the issue, ask before replacing it."""
        try:
            self.store.decide(issue.issue_id, action, *span, replace_seq=replace_seq)
        except AlreadyDecided as err:
            self._absorb()
            self.refresh_all()
            theirs = err.decision
            mine = action + (f" {' '.join(span[2])}" if span[2] else "")

            def answered(yes: bool | None) -> None:
                if yes:
                    self._decide(issue, action, span, replace_seq=theirs.seq)

            self.app.push_screen(ReplaceScreen(issue.number, theirs, mine, self.me), answered)
            return
        except StoreError as err:
            self.notify(str(err), severity="error", timeout=10)
            return
        self._absorb()
        self.undo_stack.append([issue.issue_id])
        self.decision_times.append(time.monotonic())
        self._advance()

    def _advance(self) -> None:
        if not self.queue.next_open(after=True):
            self.queue.move(1)
            self.notify("Every issue in view is reviewed.", timeout=4)
        self.refresh_all()

    def action_decide(self, action: str) -> None:
        issue = self.queue.current()
        if issue is None:
            return
        span: Span = (issue.start, issue.end, list(issue.suggested)) if action == "accept" else (None, None, None)
        self._decide(issue, action, span)

    def action_relabel(self) -> None:
        issue = self.queue.current()
        if issue is None:
            return

        def done(result: tuple[int, int, list[str]] | None) -> None:
            if result is not None:
                self._decide(issue, "relabel", result)

        self.app.push_screen(RelabelScreen(issue, self.type_keys), done)

    def _last_relabel(self) -> BulkDecision | None:
        """This curator's latest relabel that still stands, as a decision to repeat."""
        d = self.queue.ledger.last_relabel(self.me)
        rank = None if d is None else self.queue.table.index_of(d.issue_id)
        if rank is None:
            return None
        source = self.queue.table.row(rank)
        return BulkDecision.relabel_like(d, source.tokens, source.start)

    def bulk_options(self) -> list[BulkOption]:
        """What b offers here: the same change of the current issue's words (accept or keep),
        and the curator's last relabel on the other occurrences of its words; within the filter."""
        q, t = self.queue, self.queue.table
        options: list[BulkOption] = []
        rank = q.current_rank()
        if rank is not None:
            targets = same_change_targets(q, rank)
            if len(targets):
                title = f"Same words and change: “{t.surface[rank]}” {t.change_text(rank)}"
                options.append(BulkOption("accept", plan_bulk(t, targets, BulkDecision.accept()), title))
                options.append(BulkOption("keep", plan_bulk(t, targets, BulkDecision.keep())))
        relabel = self._last_relabel()
        if relabel is not None:
            source = t.index_of(relabel.issue_id)
            targets = same_words_targets(q, relabel.issue_id)
            if len(targets):
                title = (
                    f"Your last relabel, #{int(t.number[source])} “{' '.join(relabel.words)}” → "
                    f"{' '.join(relabel.tags)}, on the other occurrences"
                )
                options.append(BulkOption("relabel", plan_bulk(t, targets, relabel), title))
        return [o for o in options if len(o.plan)]

    def action_bulk(self) -> None:
        options = self.bulk_options()
        if not options:
            self.notify("No open issue in view with these words and this change, nor a relabel of yours to repeat.", timeout=5)
            return

        def done(plan) -> None:
            if plan is None:
                return
            try:
                result = apply_bulk(self.store, plan)
            except StoreError as err:
                self.notify(str(err), severity="error", timeout=10)
                return
            self._absorb()
            if result.written:
                self.undo_stack.append([i.issue_id for i in result.written])
                self.decision_times.append(time.monotonic())
            note = f"{plan.decision.action}: {len(result.written)} issue{'s' if len(result.written) != 1 else ''}"
            if result.left:
                names = sorted({d.curator for d in result.left.values()})
                note += f"; {len(result.left)} left alone (decided meanwhile by {', '.join(names)})"
            self.notify(note, timeout=5)
            self._advance()

        self.app.push_screen(BulkScreen(options, self.queue.filter.describe()), done)

    def action_undo(self) -> None:
        """Withdraw this curator's own last decision (never another curator's)."""
        if self.undo_stack:
            ids = self.undo_stack.pop()
        else:
            issue_id = self._current_id()
            if issue_id is None or self.queue.ledger.opinion(issue_id, self.me) is None:
                d = None if issue_id is None else self.queue.ledger.decision(issue_id)
                by = f" ({d.curator}'s decision stands)" if d is not None else ""
                self.notify(f"Nothing of yours to undo here{by}.", timeout=4)
                return
            ids = [issue_id]
        try:
            undone = self.store.undo_many(ids)
        except StoreError as err:
            self.undo_stack.append(ids)
            self.notify(str(err), severity="error", timeout=10)
            return
        self._absorb()
        if self.decision_times:
            self.decision_times.pop()
        if not undone:
            self.notify("Already undone.", timeout=3)
            self.refresh_all()
            return
        ranks = [r for r in (self.queue.table.index_of(d.issue_id) for d in undone) if r is not None]
        if ranks:
            self.queue.goto_rank(min(ranks), nearest=True)
        note = f"undone: {len(undone)} decision{'s' if len(undone) > 1 else ''} of yours"
        if len(undone) == 1:
            now = self.queue.ledger.decision(undone[0].issue_id)
            if now is not None and now.curator != self.me:
                note += f"; {now.curator}'s {now.action} stands"
        self.notify(note, timeout=4)
        self.refresh_all()

    # --- moving ------------------------------------------------------------------------------

    def action_move(self, delta: int) -> None:
        self.queue.move(delta)
        self.refresh_all()

    def action_page(self, direction: int) -> None:
        self.queue.move(direction * max(1, self.query_one("#queue", IssueList).size.height - 1))
        self.refresh_all()

    def action_jump(self, where: str) -> None:
        self.queue.goto(0 if where == "first" else len(self.queue.view) - 1)
        self.refresh_all()

    def action_next_open(self) -> None:
        if not self.queue.next_open(after=True):
            self.notify("No open issue in view.", timeout=3)
        self.refresh_all()

    def action_next_kind(self) -> None:
        rank = self.queue.current_rank()
        if rank is not None and not self.queue.next_same_kind():
            self.notify(f"No other open {self.queue.table.kind[rank]} issue in view.", timeout=3)
        self.refresh_all()

    def action_goto(self) -> None:
        def done(number: int | None) -> None:
            if number is None:
                return
            problem = self.queue.goto_number(number)
            if problem:
                self.notify(problem, severity="warning", timeout=5)
            self.refresh_all()

        self.app.push_screen(GoToScreen(), done)

    def action_context(self) -> None:
        issue = self.queue.current()
        if issue is not None and self.load_index is not None:
            self.app.push_screen(ContextScreen(issue, self.load_index))

    @on(IssueList.Selected)
    def select(self, message: IssueList.Selected) -> None:
        self.queue.goto(message.position)
        self.refresh_all()

    # --- filtering ---------------------------------------------------------------------------

    def action_filter(self, focus: str) -> None:
        t = self.queue.table
        hints = FilterScreen.Hints(t.values("lang"), t.values("kind"), t.values("entity_type"))

        def done(flt: IssueFilter | None) -> None:
            if flt is not None:
                self.apply_filter(flt)

        self.app.push_screen(FilterScreen(self.queue.filter, hints, focus), done)

    def apply_filter(self, flt: IssueFilter) -> None:
        self.queue.set_filter(flt)
        if not len(self.queue.view):
            self.notify("No issue matches this filter (esc clears it).", severity="warning", timeout=4)
        self.refresh_all()

    def action_clear_filter(self) -> None:
        if self.queue.filter.active:
            self.apply_filter(IssueFilter())
