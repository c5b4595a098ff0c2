"""The report's adaptive-order section, from refit records through metrics.json to Markdown/HTML."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_review_adaptive import make_issues  # noqa: E402

from auditor.metrics import read_metrics, update_metrics  # noqa: E402
from auditor.reporting import Document, html, markdown  # noqa: E402
from auditor.reporting.sections.adaptive import adaptive_section  # noqa: E402
from auditor.review.adaptive import prior_order  # noqa: E402
from auditor.review.adaptive_refits import AdaptiveSummary, refit, refit_summary  # noqa: E402


def test_section_shows_refits_order_change_and_favoured_signals(tmp_path):
    issues = make_issues(200)
    truth = (issues["new_signal"] > 0.5).to_numpy()
    prior = prior_order(issues)
    for n in (80, 120):
        latest = {issues["issue_id"].iat[r]: ("accept" if truth[r] else "keep") for r in prior[:n]}
        refit(issues, latest, run_dir=tmp_path, source="ana")
    update_metrics(tmp_path, "adaptive", refit_summary(tmp_path).to_dict())
    metrics = read_metrics(tmp_path)  # through JSON, as the report reads it

    sec = adaptive_section(metrics.section(AdaptiveSummary))
    assert sec is not None and sec.anchor == "adaptive"
    refits = next(b for b in sec.blocks if getattr(b, "key", "") == "adaptive_refits")
    assert [r[3] for r in refits.rows] == [80, 120]  # decisions per refit
    weights = next(b for b in sec.blocks if getattr(b, "key", "") == "adaptive_weights")
    assert weights.rows[0][0] == "new_signal" and weights.rows[0][2] == "label wrong when high"

    doc = Document("report", "", [sec])  # rendered by the report's own renderers
    md, page = markdown.render(doc, tmp_path), html.render(doc)
    assert "## Adaptive review order" in md and "re-ranked itself 2 time(s)" in md and "| new_signal |" in md
    assert '<section id="adaptive">' in page and 't-adaptive_weights' in page


def test_no_refits_no_section():
    assert adaptive_section(None) is None
    assert adaptive_section(AdaptiveSummary.from_dict({"refits": 0})) is None

