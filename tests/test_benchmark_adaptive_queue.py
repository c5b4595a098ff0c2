"""benchmarks/adaptive_queue.py: its replay of the review loop, and a smoke test on a tiny run
directory built here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import adaptive_queue as aq  # noqa: E402
from test_policies_adaptive import corpus, entity_issues, issues  # noqa: E402, F401 (fixtures)

from auditor.config import AdaptiveConfig, SyntheticConfig  # noqa: E402
from auditor.data.synthetic import generate_synthetic  # noqa: E402
from auditor.review.adaptive import prior_order  # noqa: E402
from auditor.review.groups import find_groups  # noqa: E402
from auditor.review.policies import review_in_batches  # noqa: E402
from auditor.tables import ISSUE_COLUMNS, OPTIONAL_ISSUE_COLUMNS, write_issues  # noqa: E402


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    corpus = generate_synthetic(SyntheticConfig(sentences={"train": 100}, noise_rate=0.3), ["de", "fr"], seed=1)
    issues = entity_issues(corpus)
    for col, value in (("cleanlab_score", 0.5), ("token_loss", 1.0), ("consistency_score", 0.5),
                       ("sequence_loss", 2.0), ("sequence_loss_mean", 0.5)):
        issues[col] = value
    issues["predicted"] = issues["tags"]
    issues["token_losses"] = issues["tokens"].map(lambda t: [0.1] * len(t))
    assert set(ISSUE_COLUMNS) - set(OPTIONAL_ISSUE_COLUMNS) <= set(issues.columns)
    out = tmp_path_factory.mktemp("run")
    write_issues(issues, out / "issues.parquet")
    corpus.save_to_disk(str(out / "corpus"))
    return out


def test_benchmark_reports_every_strategy_and_writes_json(run_dir, tmp_path, capsys):
    out = tmp_path / "numbers.json"
    assert aq.main([str(run_dir), "--batch", "25", "--min-wrong", "5", "--min-right", "5", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Precision of the next 100 issues" in text
    for strategy in aq.STRATEGIES:
        assert f"| {strategy} |" in text
    numbers = json.loads(out.read_text())[0]
    assert numbers["reachable_error_sentences"] <= numbers["error_sentences"]
    groups = numbers["strategies"]["groups"]
    assert groups["bulk_decisions"] > 0 and groups["refits"] == 0
    static = numbers["strategies"]["static"]
    assert static["decisions_to"]["0.8"] >= static["decisions_to"]["0.5"] > 0
    assert numbers["strategies"]["adaptive"]["refits"] > 0


def test_static_precision_matches_the_score_order(run_dir):
    data = aq.load_run(run_dir, None)
    result = aq.run_strategy(data, "static", 25, aq.AdaptiveConfig(), 100)
    prior = aq.prior_order(data.issues)
    assert result.precision_next[50] == pytest.approx(np.nanmean(data.truth[prior[50:150]]))


def test_replay_static_groups_stale_and_stops(issues):
    truth = (issues["planted"] >= 1.0).to_numpy(dtype=float)
    prior = prior_order(issues)
    stale_row = int(prior[3])

    def decide(row):
        return None if row == stale_row else truth[row]

    trace = aq.replay(issues, decide, budget=40, batch=15, stops=(0, 20, 40), snapshot=10)
    assert trace.reviewed == [int(r) for r in prior[:41] if r != stale_row]  # the static order, 40 decisions
    assert trace.stale == [stale_row] and trace.refits == 0
    assert sorted(trace.next_at) == [0, 20, 40] and trace.next_at[0].tolist() == prior[:10].tolist()

    groups = find_groups(issues)
    grouped = aq.replay(issues, decide, budget=40, batch=15, groups=groups)
    assert len(grouped.reviewed) == 40 and grouped.bulk_source
    for member, source in grouped.bulk_source.items():
        assert groups.code[member] == groups.code[source] and grouped.labels[member] == grouped.labels[source]


def test_replay_is_the_adaptive_oracles_loop(issues):
    """Without groups and stops the benchmark reviews exactly what the product's loop reviews,
    so what it measures is what the unattended adaptive oracle does."""
    truth = (issues["planted"] >= 1.0).to_numpy(dtype=float)
    stale_row = int(prior_order(issues)[7])

    def decide(row):
        return None if row == stale_row else truth[row]

    settings = AdaptiveConfig(min_wrong=5, min_right=5)
    product = review_in_batches(issues, decide, budget=120, batch=20, settings=settings)
    bench = aq.replay(issues, decide, budget=120, batch=20, settings=settings)
    assert bench.reviewed == product.reviewed and bench.stale == product.stale
    assert bench.refits == product.refits > 0
    np.testing.assert_array_equal(bench.labels, product.labels)
