"""The review app: `auditor review RUN_DIR` opens it on RUN_DIR/issues.parquet and writes
decisions to RUN_DIR/review.sqlite (or --store). Quitting and reopening resumes at the first
open issue, because the queue's status comes from the store on every start; several
curators can have it open on one run at once (see auditor.review.store for the rules).
Whether the queue starts in the adaptive order comes from the run's review.adaptive
(RUN_DIR/config.yaml, or the pipeline's config); the issues its verified sample settles
(scoring.reference.file, auditor.review.verified) start decided.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from textual.app import App

from auditor.config import AdaptiveConfig
from auditor.errors import AuditorError, DataError
from auditor.review import bindings
from auditor.review.context import SentenceIndex
from auditor.review.dialogs import HelpScreen
from auditor.review.queue import IssueTable, ReviewQueue, Shard
from auditor.review.screens import ReviewScreen
from auditor.review.store import DecisionStore, IssueSentences, curator_session, network_warning
from auditor.run_dir import RunDir


class ReviewApp(App):
    """Keyboard-first review of ranked label issues. Decisions go to `store` as they are made.

    run_dir: where to find the corpus for the context view and to record adaptive refits
    (optional); warning: one line to show on start (e.g. the store is on a network file
    system); adaptive: review.adaptive, the adaptive order's settings (default: off until `o`);
    verified: (N,) bool over the table, the issues the verified sample settles (default none).
    """

    CSS_PATH = "app.tcss"
    TITLE = "auditor review"
    ENABLE_COMMAND_PALETTE = False  # every action has its own key; ctrl+p would only take footer room
    BINDINGS = bindings.APP

    def __init__(
        self, table: IssueTable, store: DecisionStore, *, run_name: str = "", shard: Shard | None = None,
        run_dir: Path | None = None, warning: str | None = None, adaptive: AdaptiveConfig | None = None,
        verified=None,
    ) -> None:
        super().__init__()
        self.table = table
        self.store = store
        self.queue = ReviewQueue(table, store.ledger(), verified)
        self.type_keys = bindings.assign_type_keys(table.label_types())
        self.run_dir = run_dir
        self.warning = warning
        self.adaptive = adaptive or AdaptiveConfig()
        self._index: SentenceIndex | None = None
        self._index_lock = threading.Lock()
        self._refit_inputs: tuple | None = None
        self._refit_lock = threading.Lock()
        parts = [run_name, f"curator {store.curator}"]
        if shard is not None and shard.count > 1:
            parts.append(f"shard {shard}")
        self.sub_title = " · ".join(p for p in parts if p)

    def on_mount(self) -> None:
        self.push_screen(ReviewScreen(
            self.queue, self.store, self.type_keys, self.sentence_index,
            adaptive=self.adaptive, refit_inputs=self.refit_inputs, run_dir=self.run_dir,
        ))
        if self.warning:
            self.notify(self.warning, severity="warning", timeout=30)

    def sentence_index(self) -> SentenceIndex:
        """The sentences for the context view: the run's corpus, else the flagged sentences.
        Loaded once, on first use (from a worker thread: reading a corpus takes a moment)."""
        with self._index_lock:
            if self._index is None:
                corpus = RunDir(self.run_dir).corpus if self.run_dir is not None else None
                index = None
                if corpus is not None and corpus.is_dir():
                    try:
                        index = SentenceIndex.from_corpus(corpus)
                    except Exception:  # an unreadable corpus only costs the context its completeness
                        index = None
                self._index = index or SentenceIndex.from_issues(self.table)
            return self._index

    def refit_inputs(self) -> tuple:
        """(the issue table as a DataFrame in rank order, its adaptive features): built once,
        in the first refit's worker thread (a few seconds for 100,000 issues)."""
        from auditor.review.adaptive_features import issue_features

        with self._refit_lock:
            if self._refit_inputs is None:
                issues = self.table.table.to_pandas()
                self._refit_inputs = (issues, issue_features(issues))
            return self._refit_inputs

    @property
    def review(self) -> ReviewScreen:
        """The main screen (also under a modal)."""
        return next(s for s in self.screen_stack if isinstance(s, ReviewScreen))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())


def store_path(run_dir: str | Path, store: str | Path | None = None) -> Path:
    return Path(store) if store else RunDir(run_dir).store


def run_adaptive_config(run_dir: str | Path, enabled: bool | None = None) -> AdaptiveConfig:
    """review.adaptive of the run's resolved config (RUN_DIR/config.yaml); the defaults
    (adaptive off) when there is none or it cannot be read: the review works without it.
    enabled (e.g. `auditor review --adaptive`) overrides only whether the queue starts in the
    adaptive order; the thresholds stay the run's."""
    try:
        cfg = RunDir(run_dir).read_config()
    except (OSError, AuditorError):
        cfg = None
    options = cfg.review.adaptive if cfg is not None else AdaptiveConfig()
    return options if enabled is None else options.model_copy(update={"enabled": enabled})


def open_review(
    run_dir: str | Path,
    curator: str | None = None,
    shard: str | Shard | None = None,
    store: str | Path | None = None,
    adaptive=None,
) -> ReviewApp:
    """Load RUN_DIR's issue table (one shard of it) and open the store; the app, not yet running.

    adaptive: an auditor.config.AdaptiveConfig (None: the run's config.yaml).
    Raises DataError (no/foreign issue table), StoreError (foreign/corrupt store) or
    AuditorError (bad shard) before any screen is drawn.
    """
    run_dir = Path(run_dir)
    shard = Shard.parse(shard) if isinstance(shard, str) else shard
    table = IssueTable.load(RunDir(run_dir).issues, shard)
    if adaptive is None:
        adaptive = run_adaptive_config(run_dir)
    path = store_path(run_dir, store)
    verified, sample_warning = run_verified_mask(run_dir, table)
    warning = "; ".join(w for w in (network_warning(path), sample_warning) if w) or None
    # each decision remembers the sentence it was made on (apply places it on that content only)
    decisions = DecisionStore(path, curator=curator, sentences=IssueSentences(table.table))
    return ReviewApp(
        table, decisions, run_name=run_dir.name, shard=shard, run_dir=run_dir, warning=warning, adaptive=adaptive,
        verified=verified,
    )


def run_verified_mask(run_dir: str | Path, table: IssueTable):
    """((N,) bool: the table's issues the run's verified sample settles, or None; a warning or
    None). The review works without the sample: a missing or unreadable one is said, not fatal
    (apply refuses it with the same line)."""
    from auditor.review.verified import settled_issues

    try:
        return settled_issues(RunDir(run_dir), table.table), None
    except (OSError, AuditorError) as err:
        return None, str(err)


def require_terminal(command: str = "auditor review", also: str = "; --stats and --backup work without one") -> None:
    """The UI needs a terminal on both ends; without one it would hang writing escape codes."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise AuditorError(
            f"{command} needs a terminal (stdin and stdout are not one): run it in a terminal, e.g. over SSH in tmux{also}"
        )


def run_review(
    run_dir: str | Path,
    curator: str | None = None,
    shard: str | Shard | None = None,
    store: str | Path | None = None,
    adaptive=None,
) -> None:
    """Run the review UI in this terminal until the curator quits (adaptive: see open_review)."""
    issues = RunDir(run_dir).issues
    if not issues.is_file():  # a wrong folder is the first thing to say, terminal or not
        raise DataError(f"{issues}: no issue table; run the score stage first (auditor run <pipeline> --until score)")
    require_terminal()
    app = open_review(run_dir, curator=curator, shard=shard, store=store, adaptive=adaptive)
    try:
        # one UI per curator name and run: a second one under the same name refuses to start
        with curator_session(app.store.path, app.store.curator):
            if app.warning:
                print(app.warning, file=sys.stderr)
            app.run()
    finally:
        app.store.close()
