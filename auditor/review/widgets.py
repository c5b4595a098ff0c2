"""Widgets of the review UI: the sentence view, the virtual issue list, the order line, the
progress line.

Colours come from component classes styled in app.tcss with theme variables ($accent,
$success, $error, ...), so they stay legible on dark and light themes.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from auditor.data.sample import SampleRow
from auditor.review.groups import change_text
from auditor.review.queue import ACCEPT, KEEP, OPEN, RELABEL, SKIP, VERIFIED, Issue, Progress, ReviewQueue
from auditor.review.store import Decision
from auditor.review.why import why_flagged

# VERIFIED: settled by the verified sample (its tags are applied; nothing to decide)
STATUS_GLYPH = {OPEN: "·", ACCEPT: "✓", RELABEL: "✎", KEEP: "=", SKIP: "»", VERIFIED: "◆"}
CONFLICT_GLYPH = "!"
DONE_WORDS = {"accept": "accepted", "relabel": "relabelled", "keep": "kept", "skip": "skipped"}
_BLOCKS = " ▁▂▃▄▅▆▇█"
_LOSS_FULL = 4.0  # nats at which the loss bar is full (p ≈ 0.02 for the given tag)
_LABEL_WIDTH = 9


def foreground(style: Style) -> Style:
    """A component style without its background: text colour and attributes only, so the
    widget's own background (and a modal's dimming of it) shows through."""
    return Style(
        color=style.color, bold=style.bold, dim=style.dim, italic=style.italic,
        underline=style.underline, strike=style.strike,
    )


def when(at: str) -> str:
    """'2026-01-31T12:03:11.123+00:00' -> '2026-01-31 12:03 UTC' (what a person needs)."""
    return f"{at[:10]} {at[11:16]} UTC" if len(at) >= 16 and at[10] == "T" else at


def group_mark(size: int) -> str:
    """'×4' for an issue in a systematic group of 4 (same words, same change), '' alone."""
    return f"×{size}" if size >= 2 else ""


def pack_blocks(widths: list[int], avail: int) -> list[list[int]]:
    """Word indices in blocks whose columns (width + 1 space each) fit in `avail` cells; a
    long sentence wraps into several blocks of aligned rows."""
    blocks: list[list[int]] = [[]]
    used = 0
    for i, w in enumerate(widths):
        if blocks[-1] and used + w + 1 > avail:
            blocks.append([])
            used = 0
        blocks[-1].append(i)
        used += w + 1
    return blocks


def who(d: Decision, me: str) -> str:
    return "you" if d.curator == me else d.curator


@dataclass(frozen=True)
class SpanEdit:
    """A relabel in progress: the curator's entity span [start, end) and its type (None = O).

    covers: the span the decision will record (the union with the issue's span, so words
    dropped from the entity become O); tags: one tag per word of `covers`.
    """

    start: int
    end: int
    entity_type: str | None
    issue_start: int
    issue_end: int

    @property
    def covers(self) -> tuple[int, int]:
        return min(self.start, self.issue_start), max(self.end, self.issue_end)

    @property
    def tags(self) -> list[str]:
        lo, hi = self.covers
        out = []
        for i in range(lo, hi):
            if self.entity_type is None or not self.start <= i < self.end:
                out.append("O")
            else:
                out.append(("B-" if i == self.start else "I-") + self.entity_type)
        return out


class SentenceView(Widget):
    """The current issue's sentence: words with given and suggested (or decided) tags aligned
    per word, the flagged span highlighted, per-word loss as a shaded bar, the issue's facts,
    who decided it and why it was flagged."""

    COMPONENT_CLASSES = {
        "sentence-view--meta",
        "sentence-view--decided",
        "sentence-view--conflict",
        "sentence-view--why",
        "sentence-view--label",
        "sentence-view--span",
        "sentence-view--given-wrong",
        "sentence-view--suggested",
        "sentence-view--edit",
        "sentence-view--dim",
        "sentence-view--loss-low",
        "sentence-view--loss-mid",
        "sentence-view--loss-high",
        "sentence-view--group",
    }
    DEFAULT_CSS = """
    SentenceView { height: auto; }
    """

    issue: reactive[Issue | None] = reactive(None, layout=True)
    # always_update: decisions compare equal without their seq and overrules, which do change what is shown
    decision: reactive[Decision | None] = reactive(None, layout=True, always_update=True)
    edit: reactive[SpanEdit | None] = reactive(None, layout=True)
    position: reactive[str] = reactive("")

    def __init__(
        self, *, show_meta: bool = True, curator: str = "", windowed: bool = False, show_loss: bool = True,
        given_label: str = "given", id: str | None = None, classes: str | None = None,
    ) -> None:
        """windowed: the widget has a fixed height (CSS) and shows the part of the text that
        fits, scrolled to the flagged span (mouse wheel scrolls); otherwise it is as tall as
        its text."""
        super().__init__(id=id, classes=classes)
        self.show_meta = show_meta
        self.curator = curator  # whose decisions read as "you"
        self.windowed = windowed
        self.show_loss = show_loss  # off where there is no model (checking a verified sample)
        self.given_label = given_label  # the second row's name: "now" where the tags are being verified
        self.span_line = 0  # first line of the block holding the span (to scroll it into view)
        self.top = 0  # windowed: the first line shown
        self._auto_top = True  # windowed: follow the span (until the curator scrolls)
        self._rendered: tuple[tuple, Text] | None = None
        self._lines: list[Text] = []
        self._lines_of: Text | None = None
        self.group_size = 1  # issues in the shown issue's systematic group

    def _style(self, name: str) -> Style:
        style = self.get_component_rich_style(f"sentence-view--{name}")
        return style if name in ("span", "edit") else foreground(style)

    def show(self, issue: Issue | None, decision: Decision | None, position: str = "", group_size: int = 1) -> None:
        """Show an issue without laying the screen out again: a windowed view keeps its size
        whatever the text (a relayout cost a second frame per key, most of the
        keypress-to-render time at 100,000 issues). group_size: issues in its systematic group."""
        if self.issue is None or issue is None or issue.issue_id != self.issue.issue_id:
            self._auto_top = True
        self.group_size = group_size
        self.set_reactive(SentenceView.issue, issue)
        self.set_reactive(SentenceView.decision, decision)
        self.set_reactive(SentenceView.position, position)
        self.refresh(layout=not self.windowed)

    def _window(self, text: Text) -> Text:
        """The lines that fit, from self.top; a last line says how many more there are."""
        height = self.size.height
        if self._rendered is None or self._lines_of is not text:
            self._lines = list(text.split("\n", allow_blank=True))
            self._lines_of = text
        lines = self._lines
        if not height or len(lines) <= height:
            self.top = 0
            return text
        if self._auto_top:
            # the block of words holding the span in view, with the facts above it when they fit
            self.top = 0 if self.span_line + 5 <= height else self.span_line - 1
        self.top = max(0, min(self.top, len(lines) - height))
        shown = lines[self.top : self.top + height]
        hidden = len(lines) - self.top - height
        if hidden > 0:
            shown[-1] = Text(f"↓ {hidden + 1} more lines (mouse wheel)", style=self._style("dim"))
        if self.top:
            shown[0] = Text(f"↑ {self.top + 1} lines above", style=self._style("dim"))
        return Text("\n").join(shown)

    def _scroll(self, delta: int) -> None:
        if self.windowed:
            self._auto_top = False
            self.top = max(0, self.top + delta)
            self.refresh()

    def on_mouse_scroll_down(self, event) -> None:
        event.stop()
        self._scroll(2)

    def on_mouse_scroll_up(self, event) -> None:
        event.stop()
        self._scroll(-2)

    def _state(self) -> tuple:
        """What the rendering depends on; Textual renders twice per update (height, then
        lines), the second time from the cache."""
        d = self.decision
        decided = None if d is None else (d.seq, d.action, d.curator, tuple(d.overrules))
        issue = None if self.issue is None else self.issue.issue_id
        return (issue, decided, self.edit, self.position, self.group_size, self.size.width, self.app.theme)

    def _loss_style(self, loss: float) -> Style:
        return self._style("loss-low" if loss < 0.7 else "loss-mid" if loss < 2.3 else "loss-high")

    def render(self) -> Text:
        state = self._state()
        if self._rendered is None or self._rendered[0] != state:
            self._rendered = (state, self._render_text())
        text = self._rendered[1]
        return self._window(text) if self.windowed else text

    def _render_text(self) -> Text:
        issue = self.issue
        if issue is None:
            return Text("No issue to show: the filter matches nothing, or the queue is empty.", style=self._style("dim"))
        width = max(20, self.size.width or 80)
        lines: list[Text] = []
        meta: list[Text] = self._meta(issue, width) if self.show_meta else []
        lines.extend(self._columns(issue, width, len(meta)))
        return Text("\n").join(meta + lines)

    def _meta(self, issue: Issue, width: int) -> list[Text]:
        """The facts above the words: kind, change, number, score, who decided, why flagged."""
        head = Text(no_wrap=True, overflow="ellipsis")
        head.append(f" {issue.kind} ", self._style("span"))
        head.append(f"  {change_text(issue.given, issue.suggested)}", self._style("suggested"))
        if self.group_size >= 2:
            head.append(f"  group {group_mark(self.group_size)}", self._style("group"))
        head.append(f"  #{issue.number}", self._style("meta"))
        head.append(f"  score {issue.score:.3f} (lower = more suspicious)", self._style("meta"))
        if self.position:
            head.append(f"  {self.position}", self._style("dim"))
        head.append(f"  {issue.id}", self._style("meta"))  # last: the first thing cut on a narrow screen
        head.truncate(width, overflow="ellipsis")  # joined into one Text below, which would wrap it
        out = [head]
        d = self.decision
        if d is not None:
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(f"{DONE_WORDS.get(d.action, d.action)} by {who(d, self.curator)}", self._style("decided"))
            tags = f": {' '.join(d.tags)}" if d.tags else ""
            line.append(f"{tags}  {when(d.at)}", self._style("meta"))
            line.truncate(width, overflow="ellipsis")
            out.append(line)
            if d.overrules:
                conflict = Text()
                conflict.append(f"{CONFLICT_GLYPH} curators disagree: ", self._style("conflict"))
                conflict.append("; ".join(f"{who(o, self.curator)} {o.describe()} ({when(o.at)})" for o in d.overrules))
                conflict.append(f" — {who(d, self.curator)}'s decision applies (committed later)", self._style("meta"))
                out.extend(conflict.wrap(self.app.console, width))
        why = Text()
        why.append("why: ", self._style("label"))
        why.append("; ".join(why_flagged(issue)), self._style("why"))
        out.extend(why.wrap(self.app.console, width))
        return out + [Text()]

    def _shown_tags(self, issue: Issue) -> tuple[int, int, list[str], str]:
        """(start, end, tags, row label) of the third row: the edit in progress, the decision
        taken (the stored tags, not the old suggestion), or the suggestion."""
        edit, d = self.edit, self.decision
        if edit:
            lo, hi = edit.covers
            return lo, hi, edit.tags, "relabel"
        if d is not None and d.action in ("accept", "relabel") and d.start is not None and d.tags:
            return int(d.start), int(d.end), list(d.tags), "decided"
        if d is not None and d.action == "keep":
            return issue.start, issue.end, list(issue.given), "kept"
        return issue.start, issue.end, list(issue.suggested), "suggest"

    def _cells(self, issue: Issue) -> list[tuple[str, str, str, float]]:
        """Per word: token, given tag, suggested/decided/edited tag ('' outside the span), loss (nats)."""
        lo, hi, new_tags, _ = self._shown_tags(issue)
        cells = []
        for i, token in enumerate(issue.tokens):
            given = issue.tags[i] if i < len(issue.tags) else "?"
            new = new_tags[i - lo] if lo <= i < hi and i - lo < len(new_tags) else ""
            loss = issue.token_losses[i] if i < len(issue.token_losses) else 0.0
            cells.append((token, given, new, float(loss or 0.0)))
        return cells

    def _columns(self, issue: Issue, width: int, above: int = 0) -> list[Text]:
        """Words packed into blocks of aligned columns no wider than `width` cells; above:
        lines shown before them (for span_line)."""
        cells = self._cells(issue)
        avail = max(8, width - _LABEL_WIDTH)
        widths = [min(avail, max(cell_len(tok), len(g), len(n), 4)) for tok, g, n, _ in cells]
        blocks = pack_blocks(widths, avail)
        edit = self.edit
        lo, hi, _, new_label = self._shown_tags(issue)
        span = (edit.start, edit.end) if edit else (issue.start, issue.end)
        covers = (lo, hi)
        lines: list[Text] = []
        self.span_line = 0
        for b, block in enumerate(blocks):
            if any(span[0] <= i < span[1] for i in block) and not self.span_line:
                self.span_line = len(lines) + above
            # the label is a styled span, not the Text's base style, which every cell would inherit
            rows = [Text(no_wrap=True) for _ in range(4)]
            for row, lab in zip(rows, ("word", self.given_label, new_label, "loss")):
                row.append(f"{lab:<{_LABEL_WIDTH}}", self._style("label"))
            for i in block:
                tok, given, new, loss = cells[i]
                w = widths[i]
                in_span = span[0] <= i < span[1]
                in_cover = covers[0] <= i < covers[1]
                tok_text = tok if cell_len(tok) <= w else tok[: w - 1] + "…"
                rows[0].append(tok_text + " " * (w - cell_len(tok_text)), self._style("edit" if edit and in_span else "span") if in_span else None)
                rows[0].append(" ")
                wrong = in_cover and new and new != given
                rows[1].append(f"{given:<{w}}", self._style("given-wrong") if wrong else self._style("dim") if given == "O" else None)
                rows[1].append(" ")
                rows[2].append(f"{new:<{w}}", self._style("suggested") if new and new != given else self._style("dim"))
                rows[2].append(" ")
                level = min(len(_BLOCKS) - 1, int(round(loss / _LOSS_FULL * (len(_BLOCKS) - 1))))
                bar = _BLOCKS[level] + (f"{loss:.1f}" if loss < 9.95 else f"{loss:.0f}")
                rows[3].append(f"{bar:<{w}}", self._loss_style(loss))
                rows[3].append(" ")
            lines.extend(rows if self.show_loss else rows[:3])
            if b < len(blocks) - 1:
                lines.append(Text())
        return lines


class SampleView(Widget):
    """A sample sentence being verified: its words, the tags as drawn and as they stand now
    (changes highlighted), the word cursor, and whether the sentence is verified."""

    COMPONENT_CLASSES = {"sample-view--label", "sample-view--cursor", "sample-view--changed", "sample-view--dim",
                         "sample-view--meta", "sample-view--verified"}
    DEFAULT_CSS = """
    SampleView { height: auto; }
    """

    row: reactive[SampleRow | None] = reactive(None, layout=True, always_update=True)
    cursor: reactive[int] = reactive(0, layout=True)
    position: reactive[str] = reactive("")

    def _style(self, name: str) -> Style:
        style = self.get_component_rich_style(f"sample-view--{name}")
        return style if name == "cursor" else foreground(style)

    def render(self) -> Text:
        row = self.row
        if row is None:
            return Text("The sample is empty.", style=self._style("dim"))
        width = max(20, self.size.width or 80)
        head = Text(no_wrap=True, overflow="ellipsis")
        state = "verified" if row.verified else "changed, not yet verified" if row.corrected else "unchecked"
        head.append(f" {state} ", self._style("verified" if row.verified else "changed" if row.corrected else "meta"))
        head.append(f"  {self.position}  {row.lang}  {row.id}", self._style("meta"))
        head.truncate(width, overflow="ellipsis")
        lines = [head, Text()]
        avail = max(8, width - _LABEL_WIDTH)
        widths = [min(avail, max(cell_len(t), len(g), len(n), 2)) for t, g, n in zip(row.tokens, row.given, row.tags)]
        blocks = pack_blocks(widths, avail)
        for b, block in enumerate(blocks):
            rows = [Text(no_wrap=True) for _ in range(3)]
            for r, lab in zip(rows, ("word", "drawn", "now")):
                r.append(f"{lab:<{_LABEL_WIDTH}}", self._style("label"))
            for i in block:
                w = widths[i]
                tok = row.tokens[i] if cell_len(row.tokens[i]) <= w else row.tokens[i][: w - 1] + "…"
                rows[0].append(tok + " " * (w - cell_len(tok)), self._style("cursor") if i == self.cursor else None)
                rows[0].append(" ")
                rows[1].append(f"{row.given[i]:<{w}}", self._style("dim") if row.given[i] == "O" else None)
                rows[1].append(" ")
                changed = row.tags[i] != row.given[i]
                rows[2].append(f"{row.tags[i]:<{w}}", self._style("changed") if changed else self._style("dim") if row.tags[i] == "O" else None)
                rows[2].append(" ")
            lines.extend(rows)
            if b < len(blocks) - 1:
                lines.append(Text())
        return Text("\n").join(lines)


class IssueList(ScrollView, can_focus=False):
    """The ranked queue as a virtual list: only the rows on screen are ever rendered."""

    COMPONENT_CLASSES = {
        "issue-list--cursor", "issue-list--decided", "issue-list--skipped", "issue-list--score", "issue-list--change",
        "issue-list--conflict", "issue-list--curator", "issue-list--group",
    }
    DEFAULT_CSS = """
    IssueList { height: 1fr; }
    """

    class Selected(Message):
        """The user clicked a row: position in the queue's view."""

        def __init__(self, position: int) -> None:
            super().__init__()
            self.position = position

    def __init__(self, queue: ReviewQueue, *, curator: str = "", id: str | None = None) -> None:
        super().__init__(id=id)
        self.queue = queue
        self.curator = curator  # decisions by anyone else show their name
        self._styles: dict[str, Style] = {}

    def _style(self, name: str) -> Style:
        """A component style, looked up once per repaint (a look-up per row and part was a
        measurable share of the keypress latency)."""
        style = self._styles.get(name)
        if style is None:
            style = self.get_component_rich_style(f"issue-list--{name}")
            self._styles[name] = style if name == "cursor" else foreground(style)
            style = self._styles[name]
        return style

    def sync(self) -> None:
        """Call after the view or the cursor changed: resize, keep the cursor visible, repaint."""
        self._styles.clear()  # a theme change since the last repaint shows on this one
        self.virtual_size = Size(max(1, self.size.width), len(self.queue.view))
        cursor, top, height = self.queue.cursor, int(self.scroll_offset.y), max(1, self.size.height)
        if cursor >= 0 and cursor < top:
            self.scroll_to(y=cursor, animate=False, immediate=True)
        elif cursor >= top + height:
            self.scroll_to(y=cursor - height + 1, animate=False, immediate=True)
        self.refresh()

    def on_resize(self) -> None:
        self.sync()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        position = y + int(self.scroll_offset.y)
        view = self.queue.view
        if position >= len(view):
            return Strip.blank(width, self.rich_style)
        text = self._row(int(view[position]), position == self.queue.cursor, width)
        segments = list(text.render(self.app.console))
        return Strip(segments).adjust_cell_length(width, self.rich_style).apply_style(self.rich_style)

    def _row(self, rank: int, is_cursor: bool, width: int) -> Text:
        t, q = self.queue.table, self.queue
        status = int(q.status[rank])
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        if q.conflict[rank]:
            text.append(f" {CONFLICT_GLYPH} ", self._style("conflict"))
        else:
            text.append(f" {STATUS_GLYPH[status]} ")
        digits = len(str(int(t.number[-1]))) if t.n else 1
        text.append(f"#{int(t.number[rank]):<{digits}} ", self._style("score"))
        text.append(f"{t.score[rank]:.3f} ", self._style("score"))
        text.append(f"{t.lang[rank]:<3}{t.kind[rank]:<9}")
        change = t.change_text(rank)
        mark = group_mark(int(q.group_size[rank]))
        d = q.decision(rank) if status != OPEN else None
        name = d.curator[:10] if d is not None and d.curator != self.curator and width >= 60 else ""
        tail = " ".join(p for p in (mark, change, name) if p)
        room = width - text.cell_len - cell_len(tail) - 2
        surface = str(t.surface[rank])
        if room > 4 and cell_len(surface) > room:
            surface = surface[: room - 1] + "…"
        text.append(surface)
        if room > 4:
            text.append(" " * max(1, room - cell_len(surface) + 1))
            if mark:
                text.append(f"{mark} ", self._style("group"))
            text.append(change, self._style("change"))
        if status in (ACCEPT, RELABEL, KEEP, VERIFIED):
            text.stylize(self._style("decided"))
        elif status == SKIP:
            text.stylize(self._style("skipped"))
        if name and room > 4:
            # after the decided style, so another curator's name stays readable
            text.append(f" {name}", self._style("curator"))
        text.truncate(width, overflow="ellipsis", pad=True)
        if is_cursor:
            text.stylize(self._style("cursor"))
        return text

    def on_click(self, event) -> None:
        position = event.y + int(self.scroll_offset.y)
        if 0 <= position < len(self.queue.view):
            self.post_message(self.Selected(position))


class OrderLine(Widget):
    """Which order the queue shows (auditor.review.ordering.OrderState.describe), with the
    keys that change it on the right when they fit."""

    COMPONENT_CLASSES = {"order-line--keys"}
    DEFAULT_CSS = """
    OrderLine { height: 1; }
    """
    KEYS = "o adaptive  G groups first  A decide group"

    text: reactive[str] = reactive("order: score", layout=False)

    def render(self) -> Text:
        width = self.size.width
        text = Text(self.text, no_wrap=True, overflow="ellipsis", end="")
        room = width - text.cell_len - len(self.KEYS) - 2
        if room >= 0:
            text.append(" " * (room + 2))
            text.append(self.KEYS, foreground(self.get_component_rich_style("order-line--keys")))
        text.truncate(width, overflow="ellipsis")
        return text


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class ProgressLine(Static):
    """decided/total with a bar (a skip is not done; an issue the verified sample settled is),
    decisions by action, skips, issues settled by the sample, conflicts, estimated time left
    at this session's pace."""

    COMPONENT_CLASSES = {"progress-line--bar", "progress-line--rest", "progress-line--dim", "progress-line--conflict"}

    def show(self, progress: Progress, filter_text: str, shown: int, remaining: str | None = None) -> None:
        """remaining: the estimate of errors left from the verified sample (auditor.scoring.remaining)."""
        p = progress
        frac = p.done / p.total if p.total else 1.0
        bar_w = 8
        full = int(round(frac * bar_w))
        dim = foreground(self.get_component_rich_style("progress-line--dim"))
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{p.done}/{p.total} decided ")
        text.append("━" * full, foreground(self.get_component_rich_style("progress-line--bar")))
        text.append("━" * (bar_w - full), foreground(self.get_component_rich_style("progress-line--rest")))
        text.append(f" {frac:.0%} ")
        a = p.by_action
        text.append(f" ✓{a.get('accept', 0)} ✎{a.get('relabel', 0)} ={a.get('keep', 0)} »{p.skipped} skipped")
        if p.verified:
            text.append(f"  {STATUS_GLYPH[VERIFIED]}{p.verified} verified in the sample")
        if p.conflicts:
            text.append(f"  {CONFLICT_GLYPH}{p.conflicts} conflict{'s' if p.conflicts != 1 else ''}",
                        foreground(self.get_component_rich_style("progress-line--conflict")))
        if remaining:
            text.append(f"  {remaining}", dim)
        if filter_text != "none":
            text.append(f"  filter: {filter_text} ({shown})", dim)
        if p.seconds_left is not None:  # last: the least needed on a narrow screen
            text.append(f"  ~{format_duration(p.seconds_left)} left", dim)
        self.update(text, layout=False)  # one line, always: no relayout needed
