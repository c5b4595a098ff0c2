"""The review UI's status line says how many errors are left (auditor.scoring.remaining),
from the run's random verified sample and the decisions so far, so a curator knows when to stop."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.metrics import write_section
from auditor.review.app import open_review
from auditor.scoring.remaining import QueueCounts, remaining_errors
from auditor.scoring.summary import ScoringSummary

pytestmark = pytest.mark.anyio


def _with_sample(run_dir: Path, verified: int = 50, corrected: int = 5, sentences: int = 500) -> None:
    reference = {"verified_sentences": verified, "corrected_sentences": corrected, "weight": 1.0}
    write_section(run_dir, ScoringSummary(0, sentences, 0, 0, {}, {}, {}, reference=reference))


async def test_the_status_line_says_how_many_errors_are_left(run_dir: Path) -> None:
    _with_sample(run_dir)
    app = open_review(run_dir, curator="ana")
    async with app.run_test(size=(200, 30)) as pilot:
        text = str(app.screen.query_one("#progress").render())
        before = remaining_errors(50, 5, 500).in_corpus
        assert f"errors left ~50 sentences (90% {before.low}–{before.high})" in text
        assert "in the open queue" not in text  # no decision yet: no hit rate for the queue
        await pilot.press("a")  # a correction: one wrong sentence fewer
        text = str(app.screen.query_one("#progress").render())
        after = remaining_errors(50, 5, 500, QueueCounts(fixed=1, open=app.screen.queue.table.n - 1, recent_decided=1, recent_changed=1))
        assert f"errors left ~49 sentences (90% {after.in_corpus.low}–{after.in_corpus.high})" in text
        assert "in the open queue" in text
        await pilot.press("u")  # undone: back to the first estimate
        assert "errors left ~50 sentences" in str(app.screen.query_one("#progress").render())


async def test_no_sample_no_estimate(run_dir: Path) -> None:
    app = open_review(run_dir, curator="ana")
    async with app.run_test(size=(200, 30)):
        assert "errors left" not in str(app.screen.query_one("#progress").render())
    # a shard holds only part of the decisions: the corpus's estimate would be wrong there
    _with_sample(run_dir)
    app = open_review(run_dir, curator="ana", shard="2/2")
    async with app.run_test(size=(200, 30)):
        assert "errors left" not in str(app.screen.query_one("#progress").render())
