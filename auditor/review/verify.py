"""`auditor verify SAMPLE.jsonl`: check a random sample sentence by sentence.

The sample comes from `auditor sample` (auditor.data.sample). The curator reads each
sentence's tags, relabels what is wrong (the review's own relabel dialog, on the entity under
the word cursor) and marks the sentence verified; every change is written to the file at once
(atomically, and only the changed sentence: two curators can check one file together), so
quitting or a killed terminal loses nothing. Reopening resumes at the first
unchecked sentence. The verified lines then feed scoring.reference (auditor.scoring.reference).
A save that fails (a full disk, a line of the file someone broke by hand) is shown, the change
stays in memory and is written with the next save, and quitting with it unsaved asks first.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import App, ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList, Static

from auditor.data.iob import repair_iob2
from auditor.data.sample import SampleRow, read_sample, save_row
from auditor.errors import AuditorError, DataError, os_error_line
from auditor.review import bindings
from auditor.review.dialogs import HelpScreen, RelabelScreen
from auditor.review.queue import Issue
from auditor.review.widgets import SampleView

GLYPH = {"verified": "✓", "changed": "✎", "open": "·"}


def status(row: SampleRow) -> str:
    return "verified" if row.verified else "changed" if row.corrected else "open"


def entity_at(tags: list[str], i: int) -> tuple[int, int]:
    """[start, end) of the entity holding word i (the word alone when it is O)."""
    if tags[i] == "O":
        return i, i + 1
    start = i
    while start > 0 and tags[start][:2] == "I-" and tags[start - 1][2:] == tags[i][2:] and tags[start - 1] != "O":
        start -= 1
    end = i + 1
    while end < len(tags) and tags[end][:2] == "I-" and tags[end][2:] == tags[i][2:]:
        end += 1
    return start, end


def as_issue(row: SampleRow, start: int, end: int) -> Issue:
    """The sentence as the relabel dialog's Issue: the span [start, end) with its current tags."""
    return Issue(
        issue_id=row.id, id=row.id, lang=row.lang, split="", start=start, end=end, kind="type", entity_type="",
        surface=" ".join(row.tokens[start:end]), given=row.tags[start:end], suggested=row.tags[start:end], score=0.0,
        tokens=row.tokens, tags=row.tags, predicted=row.tags, token_losses=[0.0] * len(row.tokens), rank=0,
    )


class VerifyScreen(Screen):
    BINDINGS = bindings.VERIFY

    def __init__(self, path: Path, rows: list[SampleRow], type_keys: dict[str, str]) -> None:
        super().__init__()
        self.path = path
        self.rows = rows
        self.type_keys = type_keys
        self.current = next((i for i, r in enumerate(rows) if not r.verified), 0)
        self.cursor = 0
        self.unsaved: set[int] = set()  # rows changed here whose save failed: retried with the next

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="verify-body"):
            yield OptionList(*[self._line(i) for i in range(len(self.rows))], id="samples")
            with VerticalScroll(id="verify-detail"):
                yield SampleView(id="sample")
        yield Static(id="verify-progress")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#samples", OptionList).can_focus = False
        self._show()

    def _line(self, i: int) -> str:
        r = self.rows[i]
        return f"{GLYPH[status(r)]} {i + 1:>4} {r.lang:<3} {' '.join(r.tokens)}"

    def _show(self) -> None:
        if not self.rows:
            return
        view = self.query_one("#sample", SampleView)
        view.position = f"{self.current + 1}/{len(self.rows)}"
        view.cursor = self.cursor
        view.row = self.rows[self.current]
        samples = self.query_one("#samples", OptionList)
        samples.highlighted = self.current
        done = sum(r.verified for r in self.rows)
        changed = sum(r.verified and r.corrected for r in self.rows)
        saved = f"saved to {self.path.name}"
        if self.unsaved:
            saved = f"[b red]{len(self.unsaved)} change{'s' if len(self.unsaved) > 1 else ''} not saved[/] to {self.path.name}"
        self.query_one("#verify-progress", Static).update(
            f" {done}/{len(self.rows)} verified, {changed} of them corrected  ·  {saved}"
        )

    def _changed(self) -> None:
        """Save the current sentence (the file is re-read under a lock and only this row
        replaced, so a colleague checking the same file keeps their work), then show every
        row as the file now has it."""
        self.unsaved.add(self.current)
        samples = self.query_one("#samples", OptionList)
        saved = None
        try:
            for i in sorted(self.unsaved, key=lambda i: i == self.current):  # the current one last
                saved = save_row(self.path, self.rows[i])
                self.unsaved.discard(i)
        except (OSError, AuditorError) as err:
            # the change stays in memory (and on screen) and goes with the next save; the UI
            # stays open: exiting here would lose it
            why = os_error_line(err) if isinstance(err, OSError) else str(err)
            self.notify(
                f"not saved: {why}. The change is kept here and saved with your next one.", severity="error", timeout=20
            )
            samples.replace_option_prompt_at_index(self.current, self._line(self.current))
            self._show()
            return
        fresh = {r.id: r for r in saved or []}
        for i, old in enumerate(self.rows):
            new = fresh.get(old.id, old)
            if i == self.current or i in self.unsaved:
                continue
            if (new.tags, new.verified) != (old.tags, old.verified):
                self.rows[i] = new
                samples.replace_option_prompt_at_index(i, self._line(i))
        samples.replace_option_prompt_at_index(self.current, self._line(self.current))
        self._show()

    def _go(self, index: int) -> None:
        self.current = max(0, min(index, len(self.rows) - 1))
        self.cursor = 0
        self._show()

    def action_move(self, delta: int) -> None:
        self._go(self.current + delta)

    def action_next_open(self) -> None:
        n = len(self.rows)
        nxt = next((j % n for j in range(self.current + 1, self.current + 1 + n) if not self.rows[j % n].verified), None)
        if nxt is not None:
            self._go(nxt)

    def action_word(self, delta: int) -> None:
        if self.rows:
            self.cursor = max(0, min(self.cursor + delta, len(self.rows[self.current].tokens) - 1))
            self._show()

    def action_verify(self) -> None:
        if not self.rows:
            return
        self.rows[self.current].verified = True
        self._changed()
        self.action_next_open()

    def action_undo(self) -> None:
        if not self.rows:
            return
        row = self.rows[self.current]
        row.tags = list(row.given)
        row.verified = False
        self._changed()

    def action_relabel(self) -> None:
        if not self.rows or not self.rows[self.current].tokens:
            return
        row = self.rows[self.current]
        start, end = entity_at(row.tags, self.cursor)

        def done(result: tuple[int, int, list[str]] | None) -> None:
            if result is None:
                return
            lo, hi, tags = result
            row.tags = repair_iob2(row.tags[:lo] + list(tags) + row.tags[hi:])
            row.verified = False  # changed: the curator says v when the whole sentence is right
            self._changed()

        self.app.push_screen(RelabelScreen(as_issue(row, start, end), self.type_keys, show_loss=False, given_label="now"), done)


class VerifyApp(App):
    """Checking a verified-sample file (see the module docstring)."""

    CSS_PATH = "app.tcss"
    TITLE = "auditor verify"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = bindings.APP

    def __init__(self, path: str | Path, types: list[str] | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.rows = read_sample(self.path)
        if not self.rows:
            raise DataError(f"{self.path} holds no sentence; draw a sample with `auditor sample RUN_DIR --out {self.path.name}`")
        found = {t[2:] for r in self.rows for t in r.tags + r.given if t[:2] in ("B-", "I-")}
        found = sorted(found.union(*(r.extra.get("types") or [] for r in self.rows)))
        self.type_keys = bindings.assign_type_keys(types or found)
        self.sub_title = self.path.name

    def on_mount(self) -> None:
        self.push_screen(VerifyScreen(self.path, self.rows, self.type_keys))
        self._quit_asked = False

    async def action_quit(self) -> None:
        """Quit; with changes whose save failed, only when asked twice."""
        unsaved = getattr(self.screen, "unsaved", set())
        if unsaved and not self._quit_asked:
            self._quit_asked = True
            n = len(unsaved)
            self.notify(
                f"{n} unsaved change{'s' if n > 1 else ''} (the save failed): make any change to save again, "
                "or press q again to quit without them", severity="warning", timeout=15,
            )
            return
        self.exit()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(bindings.VERIFY_HELP))


def run_verify(path: str | Path, types: list[str] | None = None) -> None:
    """Run the verify UI in this terminal until the curator quits."""
    from auditor.review.app import require_terminal

    app = VerifyApp(path, types)  # a bad file is reported before the terminal is asked for
    require_terminal("auditor verify", "")
    app.run()
