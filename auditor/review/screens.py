"""Screens of the review UI: the main review screen and its modals (relabel, bulk, filter, help).

Every decision goes to the store (committed) before the screen moves to the next issue.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Grid, Vertical, VerticalScroll
from textual.events import Key
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Header, Input, Label, Select, Static

from auditor.review.queue import OPEN, STATUS_CHOICES, Issue, IssueFilter, ReviewQueue
from auditor.review.store import DecisionStore, StoreError
from auditor.review.widgets import IssueList, ProgressLine, SentenceView, SpanEdit, change_text

WIDE_AT = 140  # columns from which the queue and the sentence sit side by side
O_KEYS = ("x", "0")
# keys a relabel type may not take (they already mean something on the relabel screen)
_RESERVED = set(O_KEYS) | {"q"}


def assign_type_keys(types: list[str]) -> dict[str, str]:
    """One lower-case key per entity type: its first free letter (p/o/l for PER/ORG/LOC),
    else the first free letter or digit. Returns key -> type, in the order of `types`."""
    keys: dict[str, str] = {}
    spare = [c for c in "abcdefghijklmnopqrstuvwyz123456789" if c not in _RESERVED]
    for entity_type in types:
        letters = [c for c in entity_type.lower() if c.isalnum()]
        key = next((c for c in letters if c not in keys and c not in _RESERVED), None)
        key = key or next((c for c in spare if c not in keys), None)
        if key is not None:
            keys[key] = entity_type
    return keys


def _first_type(tags: list[str]) -> str | None:
    return next((t[2:] for t in tags if t[:2] in ("B-", "I-")), None)


# (keys, what they do) per section; the help screen and the README show the same list
HELP: list[tuple[str, list[tuple[str, str]]]] = [
    ("Deciding: each decision is saved at once and moves to the next issue", [
        ("a", "accept the suggested tags"),
        ("k", "keep the original tags (they were right)"),
        ("r", "relabel: ←/→ move the start, shift+←/→ the end, a type key (shown on screen) "
              "or x/0 for O, enter saves, esc cancels"),
        ("s", "skip (decide later)"),
        ("u", "undo the last decision of this session (a bulk decision as a whole)"),
        ("b", "bulk: the same decision for every open issue with the same words and the same "
              "given→suggested change (shows how many first)"),
    ]),
    ("Moving", [
        ("n ↓  p ↑", "next / previous issue"),
        ("pgdn pgup", "a page down / up"),
        ("home end", "first / last issue"),
        ("g  tab", "next unreviewed issue"),
    ]),
    ("Finding", [
        ("f", "filter by language, kind, entity type, score range, status"),
        ("/", "search the words of the sentences"),
        ("esc", "clear the filter"),
    ]),
    ("", [("?", "this help"), ("q", "quit; reopening resumes at the first unreviewed issue")]),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="help", classes="dialog"):
            yield Static("Keys", classes="dialog-title")
            with VerticalScroll(id="help-body"):
                for title, rows in HELP:
                    if title:
                        yield Static(title, classes="help-section")
                    table = Table.grid(padding=(0, 2))
                    table.add_column(no_wrap=True, style="bold", min_width=10)
                    table.add_column(ratio=1)
                    for keys, what in rows:
                        table.add_row(keys, what)
                    yield Static(table, classes="help-keys")
            yield Static("esc close   ↑↓ scroll", classes="dialog-hint")

    def action_dismiss(self) -> None:
        self.dismiss(None)


class BulkScreen(ModalScreen[str | None]):
    """Confirm a bulk decision: result 'accept', 'keep' or None (cancelled)."""

    BINDINGS = [
        Binding("enter,y", "choose('accept')", "accept all", priority=True),
        Binding("k", "choose('keep')", "keep all"),
        Binding("escape,n", "choose(None)", "cancel"),
    ]

    def __init__(self, issue: Issue, count: int) -> None:
        super().__init__()
        self.issue = issue
        self.count = count

    def compose(self) -> ComposeResult:
        issue = self.issue
        with Vertical(id="bulk", classes="dialog"):
            yield Static("Bulk decision", classes="dialog-title")
            text = Text()
            text.append(f"{self.count}", "bold")
            text.append(f" open issue{'s' if self.count != 1 else ''} with the words ")
            text.append(f"“{issue.surface}”", "bold")
            text.append(f" and the change {change_text(issue.given, issue.suggested)}\n")
            text.append(f"({' '.join(issue.given)} → {' '.join(issue.suggested)})")
            yield Static(text, id="bulk-text")
            yield Static("enter/y accept the suggestion for all   k keep the originals   esc cancel", classes="dialog-hint")

    def action_choose(self, choice: str | None) -> None:
        self.dismiss(choice)


class RelabelScreen(ModalScreen[tuple[int, int, list[str]] | None]):
    """The curator's own tags: move the span, pick a type. Result (start, end, tags) or None."""

    BINDINGS = [
        Binding("left", "move('start', -1)", "start ←", show=False),
        Binding("right", "move('start', 1)", "start →", show=False),
        Binding("shift+left", "move('end', -1)", "end ←", show=False),
        Binding("shift+right", "move('end', 1)", "end →", show=False),
        Binding("enter", "confirm", "save", priority=True),
        Binding("escape", "cancel", "cancel"),
    ]

    def __init__(self, issue: Issue, type_keys: dict[str, str]) -> None:
        super().__init__()
        self.issue = issue
        self.type_keys = type_keys
        entity_type = _first_type(issue.suggested) or _first_type(issue.given) or next(iter(type_keys.values()), None)
        self.span = SpanEdit(issue.start, issue.end, entity_type, issue.start, issue.end)

    def compose(self) -> ComposeResult:
        with Vertical(id="relabel", classes="dialog"):
            yield Static("Relabel", classes="dialog-title")
            with VerticalScroll(id="relabel-sentence"):
                yield SentenceView(show_meta=False, id="relabel-view")
            yield Static(id="relabel-keys", classes="dialog-hint")

    def on_mount(self) -> None:
        view = self.query_one("#relabel-view", SentenceView)
        view.issue = self.issue
        self._show()

    def _show(self) -> None:
        self.query_one("#relabel-view", SentenceView).edit = self.span
        self.call_after_refresh(self._scroll_span)
        keys = "  ".join(f"{k} {t}" for k, t in self.type_keys.items())
        current = self.span.entity_type or "O"
        self.query_one("#relabel-keys", Static).update(
            f"type: [b]{current}[/b]   {keys}  x/0 O\n"
            "←/→ start  shift+←/→ end  enter save  esc cancel"
        )

    def _scroll_span(self) -> None:
        """Keep the block of words holding the edited span in view (long sentences wrap)."""
        line = self.query_one("#relabel-view", SentenceView).span_line
        box = self.query_one("#relabel-sentence", VerticalScroll)
        if not box.scroll_y <= line < box.scroll_y + box.size.height - 4:
            box.scroll_to(y=line, animate=False)

    def action_move(self, edge: str, delta: int) -> None:
        s = self.span
        n = len(self.issue.tokens)
        start, end = s.start, s.end
        if edge == "start":
            start = int(np.clip(start + delta, 0, end - 1))
        else:
            end = int(np.clip(end + delta, start + 1, n))
        self.span = SpanEdit(start, end, s.entity_type, s.issue_start, s.issue_end)
        self._show()

    def on_key(self, event: Key) -> None:
        key = event.character or ""
        if key in self.type_keys or key in O_KEYS:
            event.stop()
            s = self.span
            self.span = SpanEdit(s.start, s.end, self.type_keys.get(key), s.issue_start, s.issue_end)
            self._show()

    def action_confirm(self) -> None:
        lo, hi = self.span.covers
        self.dismiss((lo, hi, self.span.tags))

    def action_cancel(self) -> None:
        self.dismiss(None)


def _split(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.replace(";", ",").split(",") if v.strip())


class FilterScreen(ModalScreen[IssueFilter | None]):
    """Edit the queue filter; enter in any field applies it, escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "cancel"), Binding("ctrl+r", "reset", "clear all")]

    @dataclass(frozen=True)
    class Hints:
        langs: list[str]
        kinds: list[str]
        types: list[str]

    def __init__(self, current: IssueFilter, hints: Hints, focus: str = "lang") -> None:
        super().__init__()
        self.current = current
        self.hints = hints
        self.focus_field = focus

    def compose(self) -> ComposeResult:
        c, h = self.current, self.hints
        with Vertical(id="filter", classes="dialog"):
            yield Static("Filter the queue", classes="dialog-title")
            with Grid(id="filter-grid"):
                yield Label("language")
                yield Input(",".join(c.langs), placeholder=", ".join(h.langs[:8]), id="f-lang", compact=True)
                yield Label("kind")
                yield Input(",".join(c.kinds), placeholder=", ".join(h.kinds), id="f-kind", compact=True)
                yield Label("entity type")
                yield Input(",".join(c.entity_types), placeholder=", ".join(h.types[:8]), id="f-type", compact=True)
                yield Label("score from")
                yield Input("" if c.min_score is None else f"{c.min_score:g}", placeholder="0", id="f-min", compact=True)
                yield Label("score to")
                yield Input("" if c.max_score is None else f"{c.max_score:g}", placeholder="1", id="f-max", compact=True)
                yield Label("words")
                yield Input(c.text, placeholder="text in the sentence", id="f-text", compact=True)
                yield Label("status")
                yield Select([(s, s) for s in STATUS_CHOICES], value=c.status, allow_blank=False, id="f-status", compact=True)
            yield Static("", id="filter-error")
            yield Static("enter apply   esc cancel   ctrl+r clear all   tab next field", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(f"#f-{self.focus_field}", Input).focus()

    def _value(self, field: str) -> str:
        return self.query_one(f"#f-{field}", Input).value.strip()

    def _score(self, field: str) -> float | None:
        text = self._value(field)
        if not text:
            return None
        value = float(text)  # ValueError handled by the caller
        if not 0 <= value <= 1:
            raise ValueError(text)
        return value

    @on(Input.Submitted)
    def apply(self) -> None:
        try:
            lo, hi = self._score("min"), self._score("max")
        except ValueError as err:
            self.query_one("#filter-error", Static).update(f"score must be a number from 0 to 1, not {err.args[0]!r}")
            return
        status = self.query_one("#f-status", Select).value
        self.dismiss(
            IssueFilter(
                langs=_split(self._value("lang")),
                kinds=_split(self._value("kind")),
                entity_types=_split(self._value("type")),
                min_score=lo,
                max_score=hi,
                text=self._value("text"),
                status=str(status),
            )
        )

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_reset(self) -> None:
        self.dismiss(IssueFilter())


class ReviewScreen(Screen):
    """The ranked queue, the current sentence, progress; one key per decision."""

    BINDINGS = [
        Binding("a", "decide('accept')", "accept"),
        Binding("k", "decide('keep')", "keep"),
        Binding("r", "relabel", "relabel"),
        Binding("s", "decide('skip')", "skip"),
        Binding("u", "undo", "undo"),
        Binding("b", "bulk", "bulk"),
        Binding("n,down", "move(1)", "next", show=False),
        Binding("p,up", "move(-1)", "previous", show=False),
        Binding("pagedown", "page(1)", "page down", show=False),
        Binding("pageup", "page(-1)", "page up", show=False),
        Binding("home", "jump('first')", "first", show=False),
        Binding("end", "jump('last')", "last", show=False),
        Binding("g", "next_open", "open"),
        Binding("tab", "next_open", "next open", show=False, priority=True),
        Binding("f", "filter('lang')", "filter"),
        Binding("slash", "filter('text')", "search", show=False),
        Binding("escape", "clear_filter", "clear filter", show=False),
    ]

    def __init__(self, queue: ReviewQueue, store: DecisionStore, type_keys: dict[str, str]) -> None:
        super().__init__()
        self.queue = queue
        self.store = store
        self.type_keys = type_keys
        self.undo_stack: list[list[int]] = []  # ranks of each decision made this session
        self.decision_times: list[float] = []

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with Container(id="body"):
            yield IssueList(self.queue, id="queue")
            with VerticalScroll(id="detail"):
                yield SentenceView(id="sentence")
        yield ProgressLine(id="progress")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.queue.apply_decisions(self.store.latest())
        self.queue.next_open(after=False)
        self.refresh_all()

    def on_resize(self, event) -> None:
        self.set_class(event.size.width >= WIDE_AT, "-wide")

    # --- display ---------------------------------------------------------------------------

    def refresh_all(self) -> None:
        q = self.queue
        view = self.query_one("#sentence", SentenceView)
        shown = len(q.view)
        view.position = f"#{q.current_rank() + 1} · {q.cursor + 1} of {shown}" if q.cursor >= 0 else ""
        view.issue = q.current()
        self.query_one("#queue", IssueList).sync()
        self.query_one("#progress", ProgressLine).show(q.progress(self._pace()), q.filter.describe(), shown)
        self.call_after_refresh(self._scroll_span)

    def _scroll_span(self) -> None:
        view = self.query_one("#sentence", SentenceView)
        detail = self.query_one("#detail", VerticalScroll)
        target = view.span_line - 1 if view.span_line >= detail.size.height else 0
        if int(detail.scroll_y) != target:  # an unneeded scroll would cost a second repaint
            detail.scroll_to(y=target, animate=False)

    def _pace(self) -> float | None:
        """Seconds per decision: median gap of this session's last 20 decisions (breaks capped at 2 min)."""
        t = self.decision_times[-21:]
        if len(t) < 3:
            return None
        return float(np.median(np.minimum(np.diff(t), 120.0)))

    # --- deciding ----------------------------------------------------------------------------

    def _record(self, ranks: list[int], action: str, spans: list[tuple[int | None, int | None, list[str] | None]]) -> bool:
        ids = [str(self.queue.table.issue_ids[r]) for r in ranks]
        try:
            if len(ids) == 1:
                self.store.record(ids[0], action, *spans[0])
            else:
                self.store.record_many([(i, action, *s) for i, s in zip(ids, spans)])
        except StoreError as err:
            self.notify(str(err), severity="error", timeout=10)
            return False
        self.queue.set_status(ranks, action)
        self.undo_stack.append(list(ranks))
        self.decision_times.append(time.monotonic())
        return True

    def _advance(self) -> None:
        if not self.queue.next_open(after=True):
            self.queue.move(1)
            self.notify("Every issue in view is reviewed.", timeout=4)
        self.refresh_all()

    def action_decide(self, action: str) -> None:
        issue = self.queue.current()
        if issue is None:
            return
        span = (issue.start, issue.end, list(issue.suggested)) if action == "accept" else (None, None, None)
        if self._record([issue.rank], action, [span]):
            self._advance()

    def action_relabel(self) -> None:
        issue = self.queue.current()
        if issue is None:
            return

        def done(result: tuple[int, int, list[str]] | None) -> None:
            if result is not None and self._record([issue.rank], "relabel", [result]):
                self._advance()

        self.app.push_screen(RelabelScreen(issue, self.type_keys), done)

    def action_bulk(self) -> None:
        issue = self.queue.current()
        if issue is None:
            return
        same = self.queue.table.same_change(issue.rank)
        targets = [int(r) for r in same if self.queue.status[r] == OPEN]
        if not targets:
            self.notify("No open issue with these words and this change.", timeout=4)
            return

        def done(choice: str | None) -> None:
            if choice is None:
                return
            spans = []
            for r in targets:
                row = self.queue.table.row(r) if choice == "accept" else None
                spans.append((row.start, row.end, list(row.suggested)) if row else (None, None, None))
            if self._record(targets, choice, spans):
                self.notify(f"{choice}: {len(targets)} issues", timeout=4)
                self._advance()

        self.app.push_screen(BulkScreen(issue, len(targets)), done)

    def action_undo(self) -> None:
        if self.undo_stack:
            ranks = self.undo_stack.pop()
        else:
            rank = self.queue.current_rank()
            if rank is None or self.queue.status[rank] == OPEN:
                self.notify("Nothing to undo.", timeout=3)
                return
            ranks = [rank]
        ids = [str(self.queue.table.issue_ids[r]) for r in ranks]
        try:
            self.store.record_many([(i, "undo") for i in ids])
        except StoreError as err:
            self.notify(str(err), severity="error", timeout=10)
            return
        self.queue.set_status(ranks, "undo")
        if self.decision_times:
            self.decision_times.pop()
        self.queue.goto_rank(min(ranks), nearest=True)
        self.notify(f"undone: {len(ranks)} decision{'s' if len(ranks) > 1 else ''}", timeout=3)
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
            self.notify("No unreviewed issue in view.", timeout=3)
        self.refresh_all()

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
