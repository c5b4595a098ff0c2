"""How many errors are left (auditor.scoring.remaining): the exact finite-population
interval from the random verified sample, the queue's counts, and the estimate's coverage."""

from __future__ import annotations

import numpy as np
import pytest

from auditor.scoring.remaining import (
    CountEstimate,
    QueueCounts,
    from_metrics,
    population_errors,
    queue_counts,
    remaining_errors,
    wilson,
)
from auditor.scoring.summary import ScoringSummary


def test_point_estimate_and_interval_bracket_it():
    est = population_errors(200, 20, 2000)
    assert est.estimate == pytest.approx(200.0)
    assert est.low < 200 < est.high
    # without replacement from a finite corpus: narrower than the binomial (Clopper-Pearson) interval
    from scipy.stats import beta

    cp_low, cp_high = beta.ppf(0.05, 20, 181) * 2000, beta.ppf(0.95, 21, 180) * 2000
    assert cp_low < est.low and est.high < cp_high


def test_known_small_cases():
    # the whole corpus sampled: the count is known exactly
    assert population_errors(50, 7, 50) == CountEstimate(7.0, 7, 7, 0.9)
    # no error in the sample: the low end is 0, the high end is what 0 of n still allows
    none = population_errors(100, 0, 1000)
    assert (none.estimate, none.low) == (0.0, 0) and 0 < none.high < 40
    # every sampled sentence wrong: the high end is the corpus, the low end at least the sample's
    allw = population_errors(10, 10, 100)
    assert allw.high == 100 and 10 <= allw.low < 100
    # one sentence out of a corpus of two, found wrong: 1 or 2 wrong sentences
    assert (population_errors(1, 1, 2).low, population_errors(1, 1, 2).high) == (1, 2)


def test_sad_paths():
    with pytest.raises(ValueError, match="no verified sentence"):
        population_errors(0, 0, 100)
    with pytest.raises(ValueError, match="11 wrong sentences in a sample of 10"):
        population_errors(10, 11, 100)
    with pytest.raises(ValueError, match="a sample of 10 sentences from a corpus of 5"):
        population_errors(10, 1, 5)
    with pytest.raises(ValueError, match="2 sentence ids but 1 actions"):
        queue_counts(["a", "b"], ["accept"])


def test_interval_holds_the_truth_in_at_least_85_percent_of_random_samples():
    """The simulation behind the claim: corpora with a known number of wrong sentences, a
    seeded simple random sample from each, and how often the 90% interval holds the truth."""
    rng = np.random.default_rng(0)
    held, trials = 0, 400
    for _ in range(trials):
        corpus = int(rng.integers(300, 3000))
        wrong = int(rng.integers(0, corpus // 4))
        n = int(rng.integers(30, 300))
        is_wrong = np.zeros(corpus, dtype=bool)
        is_wrong[rng.choice(corpus, wrong, replace=False)] = True
        x = int(is_wrong[rng.choice(corpus, n, replace=False)].sum())
        est = population_errors(n, x, corpus)
        held += est.low <= wrong <= est.high
    assert held / trials >= 0.85, held / trials
    assert held / trials < 0.995  # and not uselessly wide


def test_wilson_interval():
    lo, hi = wilson(5, 10)
    # z = 1.645: centre 0.5, half-width 1.645 * sqrt(0.025 + 1.645**2 / 400) / (1 + 1.645**2 / 10) = 0.2307
    assert (lo, hi) == pytest.approx((0.2693, 0.7307), abs=1e-3)
    assert wilson(0, 0) == (0.0, 1.0)
    assert wilson(0, 20)[0] == 0.0 and wilson(20, 20)[1] == 1.0


def test_queue_counts_are_sentences_in_rank_order():
    ids = ["s1", "s2", "s1", "s3", "s4", "s5", "s5"]
    actions = ["accept", "keep", None, None, "skip", "keep", "relabel"]
    c = queue_counts(ids, actions)
    # s1 fixed (its open issue does not reopen it), s5 fixed, s2 kept, s3 and s4 open
    assert c == QueueCounts(fixed=2, open=2, recent_decided=3, recent_changed=2)
    assert queue_counts(ids, actions, recent=2) == QueueCounts(fixed=2, open=2, recent_decided=2, recent_changed=1)


def test_remaining_errors_subtracts_the_corrections_and_estimates_the_queue():
    r = remaining_errors(200, 20, 2000, QueueCounts(fixed=50, open=300, recent_decided=50, recent_changed=10))
    assert r.total.estimate == 200 and r.in_corpus.estimate == 150
    assert (r.in_corpus.low, r.in_corpus.high) == (r.total.low - 50, r.total.high - 50)
    assert r.in_queue.estimate == pytest.approx(60.0)  # 300 open sentences at the recent 10/50
    assert r.in_queue.low < 60 < r.in_queue.high <= r.in_corpus.high
    assert r.unit == "sentences with an error"
    assert r.status_text().startswith("errors left ~150 sentences (90% ") and r.status_text().endswith(", ~60 in the open queue")
    # more corrected than the sample thought there were: nothing left, never negative
    done = remaining_errors(200, 2, 2000, QueueCounts(fixed=500))
    assert done.in_corpus == CountEstimate(0.0, 0, max(done.total.high - 500, 0), 0.9) and done.in_queue is None
    # the queue cannot hold more errors than the corpus has left
    capped = remaining_errors(200, 2, 2000, QueueCounts(fixed=0, open=1000, recent_decided=10, recent_changed=10))
    assert capped.in_queue.high <= capped.in_corpus.high and capped.in_queue.estimate <= capped.in_corpus.high


def test_from_metrics():
    scoring = ScoringSummary(0, 3000, 0, 0, {}, {}, {}, reference={"verified_sentences": 200, "corrected_sentences": 31, "weight": 1.0})
    assert from_metrics(scoring) == (200, 31, 3000)
    assert from_metrics(ScoringSummary(0, 3000, 0, 0, {}, {}, {})) is None and from_metrics(None) is None


def test_the_bisection_finds_the_exhaustive_interval():
    from scipy.stats import hypergeom

    rng = np.random.default_rng(1)
    for _ in range(30):
        corpus = int(rng.integers(5, 120))
        n = int(rng.integers(1, corpus + 1))
        x = int(rng.integers(0, n + 1))
        if corpus - (n - x) < x:
            continue
        k = np.arange(corpus + 1)
        low = k[hypergeom.sf(x - 1, corpus, k, n) > 0.05].min()
        high = k[hypergeom.cdf(x, corpus, k, n) > 0.05].max()
        est = population_errors(n, x, corpus)
        assert (est.low, est.high) == (low, high), (corpus, n, x)


def test_the_report_says_how_many_errors_are_left(tmp_path):
    from review_rows import make_issues

    from auditor.config import PipelineConfig
    from auditor.metrics import Metrics
    from auditor.reporting import Paragraph
    from auditor.reporting.builder import ReportBuilder
    from auditor.reporting.inputs import RunInputs
    from auditor.reporting.sections import remaining as section
    from auditor.review.store import Decision

    issues = make_issues()
    first, second = issues["issue_id"].iloc[0], issues["issue_id"].iloc[1]
    decisions = {first: Decision(first, "accept", None, None, None, "ana", "2026-01-01T00:00:00Z"),
                 second: Decision(second, "undo", None, None, None, "ana", "2026-01-01T00:00:01Z")}
    metrics = Metrics({"scoring": {"n_sentences": 400, "n_issues": 0, "n_tokens": 0, "n_flagged_sentences": 0,
                                   "by_kind": {}, "by_lang": {}, "by_type": {},
                                   "reference": {"verified_sentences": 40, "corrected_sentences": 4}}})
    b = ReportBuilder(RunInputs(tmp_path, metrics, PipelineConfig(), True, issues=issues, decisions=decisions), tmp_path)
    section.build(b)
    [sec] = b.sections
    [text] = [p.text for p in sec.blocks if isinstance(p, Paragraph)]
    r = remaining_errors(40, 4, 400, queue_counts(list(issues["id"]), ["accept"] + [None] * (len(issues) - 1)))
    assert r.fixed == 1  # the undone decision reopened its issue
    assert text.startswith("Counted in sentences with at least one wrong tag. From the random verified sample (40 of 400")
    assert f"The review corrected 1, so about 39 are left (90%: {r.in_corpus.low}–{r.in_corpus.high})" in text
    assert b.derived.tables["remaining_errors"]["rows"][1] == ["left in the corpus", 39.0, r.in_corpus.low, r.in_corpus.high]
    # without a verified sample: no section
    b = ReportBuilder(RunInputs(tmp_path, Metrics({"scoring": {**metrics.section(ScoringSummary).to_dict(), "reference": None}}), PipelineConfig(), True, issues=issues), tmp_path)
    section.build(b)
    assert b.sections == []
