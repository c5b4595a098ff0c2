"""The main review screen: the ranked queue, the current sentence, progress; one key per
decision (auditor.review.bindings), modals in auditor.review.dialogs.

Every decision goes to the store (committed) before the screen moves to the next issue. The
screen polls the store, so other curators' decisions show up within POLL_SECONDS; a
decision on an issue someone else decided is only written after the curator agreed to
replace it (the store checks that in the same transaction as the write).

The queue's order (auditor.review.ordering): the score order, the adaptive order (refitted
in a worker thread from the decisions, so a key never waits for it) or largest systematic
groups first; the order line says which.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
from textual import on
from textual.app import ComposeResult
from textual.containers import Container
from textual.screen import Screen
from textual.widgets import Footer, Header
from textual.worker import Worker, WorkerState

from auditor.config import AdaptiveConfig
from auditor.errors import DataError
from auditor.review import bindings
from auditor.review.adaptive_refits import refit, refit_number, refit_record, save_refit
from auditor.review.bulk import BulkDecision, BulkPlan, apply_bulk, plan_bulk, same_change_targets, same_words_targets
from auditor.review.dialogs import (
    BulkOption,
    BulkScreen,
    ContextScreen,
    FilterScreen,
    GoToScreen,
    GroupScreen,
    RelabelScreen,
    ReplaceScreen,
)
from auditor.review.ordering import (
    OrderState,
    adaptive_order,
    groups_first_order,
    refit_due,
    score_order,
    waiting_for,
)
from auditor.review.queue import ACCEPT, KEEP, OPEN, RELABEL, SKIP, VERIFIED, Issue, IssueFilter, ReviewQueue
from auditor.review.store import AlreadyDecided, DecisionStore, StoreError
from auditor.review.verified import VERIFIED_STATUS
from auditor.review.widgets import DONE_WORDS, IssueList, OrderLine, ProgressLine, SentenceView
from auditor.scoring.remaining import (
    coded_queue_counts,
    counting_the_sample,
    from_metrics,
    remaining_errors,
    sentence_codes,
)

WIDE_AT = 140  # columns from which the queue and the sentence sit side by side

Span = tuple[int | None, int | None, list[str] | None]


class ReviewScreen(Screen):
    """The ranked queue, the current sentence, progress; one key per decision."""

    BINDINGS = bindings.REVIEW

    def __init__(
        self, queue: ReviewQueue, store: DecisionStore, type_keys: dict[str, str], load_index: Callable | None = None,
        adaptive: AdaptiveConfig | None = None, refit_inputs: Callable | None = None, run_dir: Path | None = None,
    ) -> None:
        """adaptive: review.adaptive, the adaptive order's settings; refit_inputs: () -> (issue DataFrame in rank
        order, its IssueFeatures), called in the refit thread; run_dir: where refits are
        recorded (run_dir/adaptive/; None: not recorded)."""
        super().__init__()
        self.queue = queue
        self.store = store
        self.type_keys = type_keys
        self.load_index = load_index
        self.me = store.curator
        self.undo_stack: list[list[str]] = []  # issue ids of each decision made this session
        self.decision_times: list[float] = []
        self._poll_failed = False
        self.adaptive = adaptive or AdaptiveConfig()
        self.refit_inputs = refit_inputs
        self.run_dir = run_dir
        self.order_state = OrderState(adaptive=self.adaptive.enabled and refit_inputs is not None)
        self._refit_at: int | None = None  # decisions the newest refit (started) learns from
        self._restart_at_top = False  # re-ranked under the cursor: the next decision goes to the top
        # the random verified sample's (size, errors, audited sentences), for the errors-left
        # estimate; None without a sample, or in a shard (its decisions are not the corpus's)
        self._sample: tuple[int, int, int] | None = None
        self._sentence_codes: np.ndarray | None = None

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        yield OrderLine(id="order")
        with Container(id="body"):
            yield IssueList(self.queue, curator=self.me, id="queue")
            # a fixed-size window, not a scroller: a focused scroller would take ↑↓, pgup/pgdn
            # and home/end from the queue, and resizing to each sentence costs a relayout
            with Container(id="detail"):
                yield SentenceView(curator=self.me, windowed=True, id="sentence")
        yield ProgressLine(id="progress")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._sample = self._read_sample_counts()
        if self._sample is not None:
            # the sample's own sentences are not the queue's: apply writes them, so they count
            # as fixed by the sample (its corrected ones) and leave the queue's hit rate alone
            self._sentence_codes = sentence_codes(self.queue.table.example_ids[~self.queue.verified])
        self.queue.next_open(after=False)
        self._update_adaptive()
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
        if rank is not None and q.status[rank] == VERIFIED:  # nothing to decide: say why
            position = "  ".join(p for p in (position, f"◆ {VERIFIED_STATUS}") if p)
        group = int(q.group_size[rank]) if rank is not None else 1
        view.show(q.current(), q.decision(rank) if rank is not None else None, position, group)
        self.query_one("#queue", IssueList).sync()
        self.query_one("#order", OrderLine).text = self.order_state.describe()
        self.query_one("#progress", ProgressLine).show(q.progress(self._pace()), q.filter.describe(), shown, self._remaining())

    def _read_sample_counts(self) -> tuple[int, int, int] | None:
        if self.run_dir is None:
            return None
        number = self.queue.table.number
        if len(number) and int(number[-1]) != len(number):  # a shard: part of the queue's decisions
            return None
        from auditor.metrics import read_metrics

        try:
            from auditor.scoring.summary import ScoringSummary

            return from_metrics(read_metrics(self.run_dir).section(ScoringSummary))
        except (OSError, DataError):  # the status line does without; the report says what is wrong
            return None

    def _remaining(self) -> str | None:
        """Errors left, from the verified sample and the decisions so far (auditor.scoring.remaining)."""
        if self._sample is None or self._sentence_codes is None:
            return None
        st = self.queue.status[~self.queue.verified]
        counts = coded_queue_counts(self._sentence_codes, (st == ACCEPT) | (st == RELABEL), (st == OPEN) | (st == SKIP))
        if self.queue.verified.any():
            counts = counting_the_sample(counts, self._sample[1])
        try:
            return remaining_errors(*self._sample, counts).status_text()
        except ValueError:  # metrics that do not fit together (a hand-edited file): say nothing
            return None

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
            self._update_adaptive()
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
        if self._restart_at_top and len(self.queue.view):
            self._restart_at_top = False
            cursor, self.queue.cursor = self.queue.cursor, 0  # re-ranked: go on at the new order's first open issue
            if self.queue.next_open(after=False):
                self.refresh_all()
                return
            self.queue.cursor = cursor
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
        self.app.push_screen(BulkScreen(options, self.queue.filter.describe()), self._apply_plan)

    def _apply_plan(self, plan: BulkPlan | None) -> None:
        """Write a previewed bulk plan (None: cancelled); undo takes it back as one step."""
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

    def _group_decision(self, rank: int) -> BulkDecision:
        """What A repeats over the group: the decision on this issue (the curator's own, else
        the one that stands) when it is an accept, relabel or keep, else its suggestion (and
        the preview offers keep too)."""
        issue_id = str(self.queue.table.issue_ids[rank])
        d = self.queue.ledger.opinion(issue_id, self.me) or self.queue.ledger.decision(issue_id)
        if d is not None and d.action == "keep":
            return BulkDecision.keep()
        if d is not None and d.action == "relabel" and d.tags:
            source = self.queue.table.row(rank)
            return BulkDecision.relabel_like(d, source.tokens, source.start)
        return BulkDecision.accept()

    def action_group(self) -> None:
        """One decision for every open issue of the current issue's systematic group (the
        whole group, whatever the filter), after a preview."""
        q, t = self.queue, self.queue.table
        rank = q.current_rank()
        if rank is None:
            return
        members = t.groups.members(rank)
        if len(members) < 2:
            self.notify("No group: no other issue has these words and this change (A decides groups ×2 and more).", timeout=5)
            return
        targets = members[q.status[members] == OPEN]
        if not len(targets):
            self.notify(f"Every issue of this group (×{len(members)}) is decided already.", timeout=4)
            return
        decision = self._group_decision(rank)
        plan = plan_bulk(t, targets, decision, examples=None)  # the preview lists every member
        if not len(plan):
            self.notify(f"Your {decision.describe()} fits none of the group's open issues (other words around the span).", timeout=5)
            return
        heading = f"Group: “{t.surface[rank]}” {t.change_text(rank)}, {len(plan)} open issue{'s' if len(plan) != 1 else ''}"
        what = f"{decision.describe()}, for each ticked open issue of the group (×{len(members)} in all)"
        options = [BulkOption(decision.action, plan, what[0].upper() + what[1:])]
        if decision.action == "accept":  # not decided yet: a wrong suggestion can be turned down for all
            keep = plan_bulk(t, [i.rank for i in plan.items], BulkDecision.keep(), examples=None)
            options.append(BulkOption("keep", keep))
        scope = "the whole group, whatever the filter"
        self.app.push_screen(GroupScreen(options, scope=scope, title=heading), self._apply_plan)

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
            self.queue.goto_first(ranks)
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
        self._restart_at_top = False
        if not len(self.queue.view):
            self.notify("No issue matches this filter (esc clears it).", severity="warning", timeout=4)
        self.refresh_all()

    def action_clear_filter(self) -> None:
        if self.queue.filter.active:
            self.apply_filter(IssueFilter())

    # --- order -------------------------------------------------------------------------------

    def _decision_counts(self) -> tuple[int, int]:
        """(label wrong: accepted or relabelled, label right: kept) over the queue."""
        counts = np.bincount(self.queue.status, minlength=5)
        return int(counts[ACCEPT] + counts[RELABEL]), int(counts[KEEP])

    def _reorder(self, keep_cursor: bool) -> None:
        """Order the queue as the order state says (score or adaptive, groups first or not)."""
        q, state = self.queue, self.order_state
        is_open = q.open_mask()
        base = adaptive_order(state.priority, is_open) if state.adaptive_active else score_order(q.table.n)
        order = groups_first_order(q.table.groups, base, is_open) if state.groups_first else base
        q.set_order(order, keep_cursor=keep_cursor)
        if not keep_cursor:
            self._restart_at_top = False

    def action_toggle_adaptive(self) -> None:
        """o: the adaptive order on/off; the cursor goes to the first open issue of the new order."""
        state = self.order_state
        if self.refit_inputs is None:
            self.notify("The adaptive order needs the issue table's signals (open the run with auditor review).", timeout=5)
            return
        was_active = state.adaptive_active
        state.adaptive = not state.adaptive
        self._update_adaptive()
        if state.adaptive_active != was_active:
            self._reorder(keep_cursor=False)
        self.refresh_all()

    def action_toggle_groups(self) -> None:
        """G: largest groups first on/off; the cursor goes to the first open issue of the new order."""
        self.order_state.groups_first = not self.order_state.groups_first
        self._reorder(keep_cursor=False)
        self.refresh_all()

    def _update_adaptive(self) -> None:
        """After the decisions changed: say what the adaptive order waits for, and start a
        refit when one is due (first when the thresholds are met, then every review.adaptive.batch
        decisions)."""
        state = self.order_state
        if not state.adaptive or self.refit_inputs is None:
            return
        wrong, right = self._decision_counts()
        state.waiting = waiting_for(wrong, right, self.adaptive)
        if state.waiting or state.refitting or not refit_due(wrong + right, self._refit_at, self.adaptive.batch):
            return
        state.refitting = True
        self._refit_at = wrong + right
        latest = dict(self.queue.ledger.latest())  # a snapshot: the ledger changes on this thread only
        self.run_worker(lambda: self._refit(latest), name="refit", group="refit", thread=True, exit_on_error=False)

    def _refit(self, latest: dict) -> tuple:
        """In a worker thread: the adaptive ranking from these decisions, stored under
        run_dir/adaptive/. Returns (ranking, refit file or None, 'HH:MM', a problem or '')."""
        issues, features = self.refit_inputs()
        ranking, _ = refit(issues, latest, self.adaptive, run_dir=None, features=features)
        path, problem = None, ""
        if ranking.active and self.run_dir is not None:
            try:
                path = save_refit(self.run_dir, refit_record(ranking, features, self.me))
            except OSError as err:  # a read-only run folder costs the record, not the order
                problem = f"the refit could not be recorded: {err}"
        return ranking, path, datetime.now().strftime("%H:%M"), problem

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name != "refit" or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        state = self.order_state
        state.refitting = False
        if event.state == WorkerState.ERROR:
            self.notify(f"The adaptive order could not be refitted: {event.worker.error}", severity="error", timeout=10)
            self.refresh_all()
            return
        ranking, path, at, problem = event.worker.result
        if problem:
            self.notify(problem, severity="warning", timeout=10)
        if ranking.active:
            state.priority = ranking.priority
            state.refit_number = refit_number(path) if path is not None else None
            state.refit_decisions = ranking.n_decisions
            state.refit_time = at
            if state.adaptive:
                self._reorder(keep_cursor=True)  # re-ranked under the curator: stay on the issue
                self._restart_at_top = True
                self.notify(f"Queue re-ranked from {ranking.n_decisions} decisions; the next decision goes on at its top.", timeout=4)
        self._update_adaptive()  # decisions made while it ran may call for the next refit
        self.refresh_all()
