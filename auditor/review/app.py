"""The review app: `auditor review RUN_DIR` opens it on RUN_DIR/issues.parquet and writes
decisions to RUN_DIR/review.sqlite (or --store). Quitting and reopening resumes at the first
unreviewed issue, because the queue's status comes from the store on every start.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.binding import Binding

from auditor.review.queue import IssueTable, ReviewQueue, Shard
from auditor.review.screens import HelpScreen, ReviewScreen, assign_type_keys
from auditor.review.store import DecisionStore

STORE_NAME = "review.sqlite"
ISSUES_NAME = "issues.parquet"


class ReviewApp(App):
    """Keyboard-first review of ranked label issues. Decisions go to `store` as they are made."""

    CSS_PATH = "app.tcss"
    TITLE = "auditor review"
    ENABLE_COMMAND_PALETTE = False  # every action has its own key; ctrl+p would only take footer room
    BINDINGS = [
        Binding("q", "quit", "quit"),
        Binding("question_mark", "help", "help"),
    ]

    def __init__(self, table: IssueTable, store: DecisionStore, *, run_name: str = "", shard: Shard | None = None) -> None:
        super().__init__()
        self.table = table
        self.store = store
        self.queue = ReviewQueue(table)
        self.type_keys = assign_type_keys(table.label_types())
        parts = [run_name, f"curator {store.curator}"]
        if shard is not None and shard.count > 1:
            parts.append(f"shard {shard}")
        self.sub_title = " · ".join(p for p in parts if p)

    def on_mount(self) -> None:
        self.push_screen(ReviewScreen(self.queue, self.store, self.type_keys))

    @property
    def review(self) -> ReviewScreen:
        """The main screen (also under a modal)."""
        return next(s for s in self.screen_stack if isinstance(s, ReviewScreen))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())


def open_review(
    run_dir: str | Path,
    curator: str | None = None,
    shard: str | Shard | None = None,
    store: str | Path | None = None,
) -> ReviewApp:
    """Load RUN_DIR's issue table (one shard of it) and open the store; the app, not yet running.

    Raises DataError (no/foreign issue table), StoreError (foreign/corrupt store) or
    AuditorError (bad shard) before any screen is drawn.
    """
    run_dir = Path(run_dir)
    shard = Shard.parse(shard) if isinstance(shard, str) else shard
    table = IssueTable.load(run_dir / ISSUES_NAME, shard)
    decisions = DecisionStore(Path(store) if store else run_dir / STORE_NAME, curator=curator)
    return ReviewApp(table, decisions, run_name=run_dir.name, shard=shard)


def run_review(
    run_dir: str | Path,
    curator: str | None = None,
    shard: str | Shard | None = None,
    store: str | Path | None = None,
) -> None:
    """Run the review UI in this terminal until the curator quits."""
    app = open_review(run_dir, curator=curator, shard=shard, store=store)
    try:
        app.run()
    finally:
        app.store.close()
