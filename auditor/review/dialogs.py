"""The review UI's modal screens: help, relabel, bulk preview, filter, replace prompt, go to
issue #N, context. Each returns its result through dismiss(); the main screen writes to the
store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.events import Key
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select, SelectionList, Static
from textual.widgets.selection_list import Selection

from auditor.review import bindings
from auditor.review.bulk import BulkPlan, Example
from auditor.review.queue import STATUS_CHOICES, Issue, IssueFilter
from auditor.review.store import Decision
from auditor.review.widgets import SentenceView, SpanEdit, when, who

if TYPE_CHECKING:
    from auditor.review.context import Occurrences, Sentence, SentenceIndex


def _first_type(tags: list[str]) -> str | None:
    return next((t[2:] for t in tags if t[:2] in ("B-", "I-")), None)


class HelpScreen(ModalScreen[None]):
    BINDINGS = bindings.HELP_SCREEN

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]] | None = None) -> None:
        super().__init__()
        self.sections = bindings.HELP if sections is None else sections

    def compose(self) -> ComposeResult:
        with Vertical(id="help", classes="dialog"):
            yield Static("Help", classes="dialog-title")
            with VerticalScroll(id="help-body"):
                for title, rows in self.sections:
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


def example_line(e: Example, changes: bool = True) -> Text:
    """'#12 de  Die [Vereinten Nationen] tagten …' (+ '  B-PER I-PER → B-ORG I-ORG' with changes)."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"  #{e.number} {e.lang}  ", "dim")
    lo, hi = max(0, e.start - 4), min(len(e.tokens), e.end + 4)
    if lo:
        text.append("… ")
    text.append(" ".join(e.tokens[lo : e.start]) + (" " if e.start > lo else ""))
    text.append(" ".join(e.tokens[e.start : e.end]), "bold reverse")
    text.append((" " if hi > e.end else "") + " ".join(e.tokens[e.end : hi]))
    if hi < len(e.tokens):
        text.append(" …")
    if changes:
        text.append(f"   {' '.join(e.before)} → {' '.join(e.after)}", "dim")
    return text


@dataclass(frozen=True)
class BulkOption:
    """One choice of the bulk dialog: its key ('accept', 'keep' or 'relabel'), the plan, and
    the title of its preview (an option without one shares the preview above it)."""

    key: str
    plan: BulkPlan
    title: str = ""


_BULK_KEYS = {"accept": "enter/a accept all", "keep": "k keep all", "relabel": "r relabel all"}


class BulkScreen(ModalScreen[BulkPlan | None]):
    """Preview bulk decisions, then pick one: the result is the chosen plan or None."""

    BINDINGS = bindings.BULK

    def __init__(
        self, options: list[BulkOption], filter_text: str = "none", *, scope: str = "", title: str = "Bulk decision: preview"
    ) -> None:
        """filter_text: the filter the targets were chosen within; scope: instead of it, what
        the targets are (e.g. 'the whole group, whatever the filter')."""
        super().__init__()
        self.options = {o.key: o for o in options if len(o.plan)}
        self.filter_text = filter_text
        self.scope = scope
        self.heading = title

    def compose(self) -> ComposeResult:
        with Vertical(id="bulk", classes="dialog"):
            yield Static(self.heading, classes="dialog-title")
            with VerticalScroll(id="bulk-body"):
                sections: list[list[BulkOption]] = []
                for o in self.options.values():
                    if o.title or not sections:
                        sections.append([o])
                    else:
                        sections[-1].append(o)
                for group in sections:
                    yield Static(self._section(group), classes="bulk-section", id=f"bulk-{group[0].key}")
            scope = self.scope or (
                f"within the filter: {self.filter_text}" if self.filter_text != "none" else "no filter: the whole queue"
            )
            yield Static(f"{scope}   esc cancel", classes="dialog-hint")

    @staticmethod
    def _section(group: list[BulkOption]) -> Text:
        p = group[0].plan
        text = Text()
        text.append(group[0].title + "\n", "bold")
        text.append(f"{len(p)} open issue{'s' if len(p) != 1 else ''}: ")
        text.append(", ".join(f"{lang} {n}" for lang, n in p.by_lang.items()))
        changes = p.changes
        if len(changes) == 1:
            before, after = next(iter(changes))
            text.append(f"   {' '.join(before)} → {' '.join(after)}", "dim")
        elif changes:
            text.append(f"   from {len(changes)} different taggings (shown per sentence)", "dim")
        if p.unfit:
            text.append(f"\n  ({p.unfit} more with other words around the span, left out)", "dim")
        for e in p.examples:
            text.append("\n")
            text.append_text(example_line(e, changes=len(changes) > 1))
        if len(p) > len(p.examples):
            text.append(f"\n  … and {len(p) - len(p.examples)} more", "dim")
        text.append("\n" + "   ".join(_BULK_KEYS[o.key] for o in group), "italic")
        return text

    def action_choose(self, key: str | None) -> None:
        if key is None:
            self.dismiss(None)
        elif key in self.options:
            self.dismiss(self.options[key].plan)
        elif key == "accept" and len(self.options) == 1:
            self.dismiss(next(iter(self.options.values())).plan)  # enter takes the only choice


_GROUP_KEYS = {"accept": "enter/a accept the ticked", "keep": "k keep the ticked", "relabel": "r relabel the ticked"}


class GroupScreen(ModalScreen[BulkPlan | None]):
    """The group preview (A): every open member listed, ticked, the least sure (worst-ranked)
    first; space leaves the highlighted one out (or takes it back), a decision key decides
    the ticked ones. The result is the chosen plan for the ticked members only, or None; the
    members left out stay open.

    One word can hide two groups in one: "England" LOC→ORG holds the football team (ORG)
    and the country (LOC, right as it is), and only the curator can tell them apart."""

    BINDINGS = bindings.GROUP
    DEFAULT_CSS = """
    GroupScreen #group-members {
        height: auto;
        max-height: 60vh;
        border: none;
        padding: 0;
    }
    GroupScreen #group-summary {
        padding-bottom: 1;
    }
    """

    def __init__(self, options: list[BulkOption], *, scope: str, title: str) -> None:
        """options: the decisions offered, all over the same members, each plan listing every
        member (plan_bulk(..., examples=None)); the first option's title says what it does."""
        super().__init__()
        self.options = {o.key: o for o in options if len(o.plan)}
        first = next(iter(self.options.values()))
        if not first.plan.complete:
            raise ValueError("the group preview lists every member: plan with examples=None")
        # the tail first: where a group that mixes two uses of its words shows the other one
        self.members = first.plan.least_sure_first()
        self.scope = scope
        self.heading = title
        self.what = first.title

    def compose(self) -> ComposeResult:
        with Vertical(id="group", classes="dialog"):
            yield Static(self.heading, classes="dialog-title")
            yield Static(id="group-summary")
            yield SelectionList(
                *[Selection(self._prompt(i, True), item.issue_id, True) for i, item in enumerate(self.members.items)],
                id="group-members",
            )
            keys = "   ".join(_GROUP_KEYS[k] for k in self.options)
            yield Static(f"least sure first · space leave out / take back   {keys}   esc cancel\n{self.scope}",
                         classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#group-members").focus()
        self._summarise()

    def ticked(self) -> list[str]:
        return list(self.query_one("#group-members", SelectionList).selected)

    def _prompt(self, index: int, ticked: bool) -> Text:
        """A member's line; one left out says so in words (the tick's colour alone is lost on a
        monochrome terminal or in a screen reader)."""
        line = example_line(self.members.examples[index], changes=len(self.members.changes) > 1)
        if not ticked:
            line.stylize("dim strike")
            line.append("  left out", "bold")
        return line

    @on(SelectionList.SelectedChanged)
    def _ticks_changed(self) -> None:
        members = self.query_one("#group-members", SelectionList)
        ticked = set(members.selected)
        for i, item in enumerate(self.members.items):
            shown = "left out" not in str(members.get_option_at_index(i).prompt)
            if shown != (item.issue_id in ticked):
                members.replace_option_prompt_at_index(i, self._prompt(i, item.issue_id in ticked))
        self._summarise()

    def _summarise(self) -> None:
        plan = self.members.only(self.ticked())
        out = len(self.members) - len(plan)
        text = Text()
        text.append(self.what + "\n", "bold")
        text.append(f"{len(plan)} of {len(self.members)} open issues ticked")
        if plan.by_lang:
            text.append(": " + ", ".join(f"{lang} {n}" for lang, n in plan.by_lang.items()))
        if len(plan.changes) == 1:
            before, after = next(iter(plan.changes))
            text.append(f"   {' '.join(before)} → {' '.join(after)}", "dim")
        if out:
            text.append(f"\n{out} left out: they stay open", "yellow")
        if self.members.unfit:
            text.append(f"\n({self.members.unfit} more with other words around the span, left out)", "dim")
        self.query_one("#group-summary", Static).update(text)

    def action_choose(self, key: str | None) -> None:
        if key is None:
            self.dismiss(None)
            return
        if key == "accept" and key not in self.options and len(self.options) == 1:
            key = next(iter(self.options))  # enter takes the only choice
        if key not in self.options:
            return
        ticked = self.ticked()
        if not ticked:
            self.notify("No member is ticked: space ticks the highlighted one, esc cancels.", timeout=4)
            return
        self.dismiss(self.options[key].plan.only(ticked))


class RelabelScreen(ModalScreen[tuple[int, int, list[str]] | None]):
    """The curator's own tags: move the span, pick a type. Result (start, end, tags) or None."""

    BINDINGS = bindings.RELABEL

    def __init__(self, issue: Issue, type_keys: dict[str, str], show_loss: bool = True, given_label: str = "given") -> None:
        super().__init__()
        self.issue = issue
        self.type_keys = type_keys
        self.show_loss = show_loss
        self.given_label = given_label
        entity_type = _first_type(issue.suggested) or _first_type(issue.given) or next(iter(type_keys.values()), None)
        self.span = SpanEdit(issue.start, issue.end, entity_type, issue.start, issue.end)

    def compose(self) -> ComposeResult:
        view = SentenceView(show_meta=False, show_loss=self.show_loss, given_label=self.given_label, id="relabel-view")
        # set before mounting: a key typed fast can dismiss the screen before on_mount would run
        view.set_reactive(SentenceView.issue, self.issue)
        view.set_reactive(SentenceView.edit, self.span)
        with Vertical(id="relabel", classes="dialog"):
            yield Static("Relabel", classes="dialog-title")
            with VerticalScroll(id="relabel-sentence", can_focus=False):
                yield view
            yield Static(self._keys(), id="relabel-keys", classes="dialog-hint")

    def on_mount(self) -> None:
        self.call_after_refresh(self._scroll_span)

    def _keys(self) -> str:
        keys = "  ".join(f"{k} {t}" for k, t in self.type_keys.items())
        current = self.span.entity_type or "O"
        return f"type: [b]{current}[/b]   {keys}  x/0 O\n←/→ start  shift+←/→ end  enter save  esc cancel"

    def _show(self) -> None:
        try:
            self.query_one("#relabel-view", SentenceView).edit = self.span
            self.query_one("#relabel-keys", Static).update(self._keys())
        except NoMatches:  # dismissed already
            return
        self.call_after_refresh(self._scroll_span)

    def _scroll_span(self) -> None:
        """Keep the block of words holding the edited span in view (long sentences wrap)."""
        try:
            line = self.query_one("#relabel-view", SentenceView).span_line
            box = self.query_one("#relabel-sentence", VerticalScroll)
        except NoMatches:
            return
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
        if key in self.type_keys or key in bindings.O_KEYS:
            event.stop()
            s = self.span
            self.span = SpanEdit(s.start, s.end, self.type_keys.get(key), s.issue_start, s.issue_end)
            self._show()

    def action_confirm(self) -> None:
        lo, hi = self.span.covers
        self.dismiss((lo, hi, self.span.tags))

    def action_cancel(self) -> None:
        self.dismiss(None)


def split_values(text: str) -> tuple[str, ...]:
    """'fr it', 'FR,it', 'fr; it' -> ('fr', 'it'): commas, semicolons or spaces separate."""
    return tuple(v for v in text.replace(";", " ").replace(",", " ").split() if v)


class StatusSelect(Select, inherit_bindings=False):
    """A drop-down of the filter (status, groups); enter applies the filter (as in the other
    fields) instead of reopening the list."""

    BINDINGS = bindings.STATUS_SELECT


GROUP_CHOICES = [("any group size", "any"), ("groups ×2+ only", "grouped")]


class FilterScreen(ModalScreen[IssueFilter | None]):
    """Edit the queue filter; enter in any field applies it, escape cancels, ctrl+r clears
    the fields (the dialog stays open)."""

    BINDINGS = bindings.FILTER

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
        # focused as the screen is composed, so keys typed at once land in this field
        self.AUTO_FOCUS = f"#f-{focus}"

    def compose(self) -> ComposeResult:
        c, h = self.current, self.hints
        with Vertical(id="filter", classes="dialog"):
            yield Static("Filter the queue", classes="dialog-title")
            with Grid(id="filter-grid"):
                yield Label("language")
                yield Input(" ".join(c.langs), placeholder=" ".join(h.langs[:8]), id="f-lang", compact=True)
                yield Label("kind")
                yield Input(" ".join(c.kinds), placeholder=" ".join(h.kinds), id="f-kind", compact=True)
                yield Label("entity type")
                yield Input(" ".join(c.entity_types), placeholder=" ".join(h.types[:8]), id="f-type", compact=True)
                yield Label("score from")
                yield Input("" if c.min_score is None else f"{c.min_score:g}", placeholder="0", id="f-min", compact=True)
                yield Label("score to")
                yield Input("" if c.max_score is None else f"{c.max_score:g}", placeholder="1", id="f-max", compact=True)
                yield Label("words")
                yield Input(c.text, placeholder="text in the sentence (any case, accents optional)", id="f-text", compact=True)
                yield Label("status")
                with Horizontal(id="f-status-row"):
                    yield StatusSelect([(s, s) for s in STATUS_CHOICES], value=c.status, allow_blank=False, id="f-status", compact=True)
                    yield StatusSelect(
                        GROUP_CHOICES, value="grouped" if c.grouped else "any", allow_blank=False, id="f-group", compact=True
                    )
            yield Static("", id="filter-error")
            yield Static(
                "enter apply   esc cancel   ctrl+r clear all   tab next field\nseveral values: separate with spaces or commas",
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        for field in self.query(f"#f-{self.focus_field}"):
            field.focus()

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

    def _error(self, message: str) -> None:
        self.query_one("#filter-error", Static).update(message)

    def _unknown(self, what: str, values: tuple[str, ...], known: list[str]) -> bool:
        lowered = {k.lower() for k in known}
        bad = [v for v in values if v.lower() not in lowered]
        if bad:
            self._error(f"no {what} {', '.join(repr(b) for b in bad)} in this queue; known: {', '.join(known)}")
        return bool(bad)

    @on(Input.Submitted)
    def action_apply(self) -> None:
        try:
            lo, hi = self._score("min"), self._score("max")
        except ValueError as err:
            self._error(f"score must be a number from 0 to 1, not {err.args[0]!r}")
            return
        h = self.hints
        langs, kinds, types = split_values(self._value("lang")), split_values(self._value("kind")), split_values(self._value("type"))
        if self._unknown("language", langs, h.langs) or self._unknown("kind", kinds, h.kinds) or self._unknown("entity type", types, h.types):
            return
        status = self.query_one("#f-status", Select).value
        grouped = self.query_one("#f-group", Select).value == "grouped"
        self.dismiss(
            IssueFilter(
                langs=langs, kinds=kinds, entity_types=types, min_score=lo, max_score=hi,
                text=self._value("text"), status=str(status), grouped=grouped,
            )
        )

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_reset(self) -> None:
        for field in ("lang", "kind", "type", "min", "max", "text"):
            self.query_one(f"#f-{field}", Input).value = ""
        self.query_one("#f-status", Select).value = "all"
        self.query_one("#f-group", Select).value = "any"
        self._error("")


class ReplaceScreen(ModalScreen[bool]):
    """Ask before replacing another curator's decision: True = replace."""

    BINDINGS = bindings.REPLACE

    def __init__(self, number: int, theirs: Decision, mine: str, me: str) -> None:
        super().__init__()
        self.number, self.theirs, self.mine, self.me = number, theirs, mine, me

    def compose(self) -> ComposeResult:
        d = self.theirs
        with Vertical(id="replace", classes="dialog"):
            yield Static("Decided already", classes="dialog-title")
            text = Text()
            text.append(f"#{self.number} was decided by ")
            text.append(who(d, self.me), "bold")
            text.append(f": {d.describe()}  ({when(d.at)})\n")
            text.append(f"Replace it with your {self.mine}?")
            yield Static(text, id="replace-text")
            yield Static(f"y/enter replace   n/esc leave {d.curator}'s decision", classes="dialog-hint")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class GoToScreen(ModalScreen[int | None]):
    """Ask for an issue number."""

    BINDINGS = bindings.GOTO

    def compose(self) -> ComposeResult:
        with Vertical(id="goto", classes="dialog"):
            yield Static("Go to issue #", classes="dialog-title")
            yield Input(placeholder="number", type="integer", id="goto-input", compact=True)
            yield Static("", id="goto-error")
            yield Static("enter go   esc cancel", classes="dialog-hint")

    @on(Input.Submitted)
    def go(self, event: Input.Submitted) -> None:
        text = event.value.strip().lstrip("#")
        if not text.isdigit() or int(text) < 1:
            self.query_one("#goto-error", Static).update("an issue number, e.g. 78")
            return
        self.dismiss(int(text))

    def action_cancel(self) -> None:
        self.dismiss(None)


def tagged_sentence(s: Sentence, mark: tuple[int, int] | None = None) -> Text:
    """Words with their entities bracketed and typed, 'Die [Vereinten Nationen]ORG tagten';
    words [mark) reversed."""
    text = Text()
    i = 0
    while i < len(s.tokens):
        tag = s.tags[i]
        at = len(text)
        if tag[:2] in ("B-", "I-"):
            j = i + 1
            while j < len(s.tokens) and s.tags[j] == "I-" + tag[2:]:
                j += 1
            text.append("[" + " ".join(s.tokens[i:j]) + "]", "bold")
            text.append(tag[2:], "italic dim")
        else:
            j = i + 1
            text.append(s.tokens[i])
        if mark and i < mark[1] and j > mark[0]:
            text.stylize("reverse", at, len(text))
        text.append(" ")
        i = j
    return text


class ContextScreen(ModalScreen[None]):
    """The neighbouring sentences and the other occurrences of the issue's words."""

    BINDINGS = bindings.CONTEXT

    def __init__(self, issue: Issue, load_index) -> None:
        super().__init__()
        self.issue = issue
        self.load_index = load_index  # () -> SentenceIndex, may take a second the first time

    def compose(self) -> ComposeResult:
        with Vertical(id="context", classes="dialog"):
            yield Static(f"Context of #{self.issue.number}: “{self.issue.surface}”", classes="dialog-title")
            with VerticalScroll(id="context-body"):
                yield Static("reading the corpus…", id="context-text")
            yield Static("esc close   ↑↓ scroll", classes="dialog-hint")

    def on_mount(self) -> None:
        self.find()

    @work(thread=True, exclusive=True)
    def find(self) -> None:
        index = self.load_index()
        issue = self.issue
        around = index.neighbours(issue.id)
        occ = index.occurrences(issue.tokens[issue.start : issue.end])
        self.app.call_from_thread(self.show, index, around, occ)

    def show(self, index: SentenceIndex, around: list[Sentence], occ: Occurrences) -> None:
        issue = self.issue
        text = Text()
        source = "the corpus" if index.complete else "the flagged sentences (no corpus/ in the run folder)"
        text.append("Around the sentence", "bold")
        if len(around) > 1:
            for s in around:
                here = s.id == issue.id
                text.append(f"\n{'▶' if here else ' '} {s.id}  ", "dim")
                text.append_text(tagged_sentence(s, (issue.start, issue.end) if here else None))
        else:
            text.append(f"\n  no neighbouring sentences in {source}", "dim")
        text.append(f"\n\n“{' '.join(occ.words)}” in {source}: {occ.total} occurrence{'s' if occ.total != 1 else ''}", "bold")
        for tags, langs in occ.by_tags.items():
            n = sum(langs.values())
            text.append(f"\n  {' '.join(tags):<24} ×{n}  ")
            text.append(", ".join(f"{lang} {k}" for lang, k in langs.most_common()), "dim")
        for s, start in occ.examples:
            text.append(f"\n  {s.id}  ", "dim")
            text.append_text(tagged_sentence(s, (start, start + len(occ.words))))
        for box in self.query("#context-text"):  # none when closed before the corpus was read
            box.update(text)

    def action_dismiss(self) -> None:
        self.dismiss(None)
