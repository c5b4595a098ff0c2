"""score_corpus: the issue table, the summary, and bad inputs."""

import numpy as np
import pytest
from datasets import DatasetDict
from simulated_oof import simulate_oof

from auditor.config import ScoringConfig, SyntheticConfig, WeightsConfig
from auditor.data.synthetic import generate_synthetic
from auditor.errors import ConfigError, DataError
from auditor.scoring.score import score_corpus
from auditor.tables import ISSUE_COLUMNS, OofPredictions, read_issues, write_issues


@pytest.fixture(scope="module")
def corpus() -> DatasetDict:
    return generate_synthetic(SyntheticConfig(sentences={"train": 300, "test": 60}), ["de", "fr"], seed=1)


@pytest.fixture(scope="module")
def preds(corpus) -> OofPredictions:
    return simulate_oof(corpus, ["train"], seed=1)


@pytest.fixture(scope="module")
def result(corpus, preds):
    return score_corpus(corpus, preds, ScoringConfig(), progress=False)


def test_issue_table_has_the_documented_columns_and_round_trips(result, tmp_path):
    issues = result.issues
    assert list(issues.columns) == list(ISSUE_COLUMNS)
    write_issues(issues, tmp_path / "issues.parquet")
    back = read_issues(tmp_path / "issues.parquet")
    assert list(back["issue_id"]) == list(issues["issue_id"])
    assert issues["score"].between(0, 1).all()
    assert issues["score"].is_monotonic_increasing  # ranked, most likely wrong first
    assert issues["issue_id"].is_unique
    assert set(issues["kind"]) <= {"type", "boundary", "missing", "spurious"}


def test_issue_rows_are_self_contained(result):
    for row in result.issues.head(50).itertuples():
        n = len(row.tokens)
        assert len(row.tags) == len(row.predicted) == len(row.token_losses) == n
        assert 0 <= row.start < row.end <= n
        assert list(row.given) == list(row.tags[row.start : row.end])
        assert row.token_loss == pytest.approx(max(row.token_losses[row.start : row.end]))
        assert row.sequence_loss == pytest.approx(sum(row.token_losses))
        assert row.sequence_loss_mean == pytest.approx(row.sequence_loss / n)
        assert row.issue_id == f"{row.id}:{row.start}-{row.end}"


def test_only_audited_sentences_are_scored(result, corpus):
    assert set(result.issues["split"]) == {"train"}
    assert result.summary.n_sentences == len(corpus["train"])


def test_summary_for_metrics_json(result):
    s = result.summary.to_dict()
    assert s["n_issues"] == len(result.issues)
    assert s["n_flagged_sentences"] == result.issues["id"].nunique()
    assert sum(s["by_kind"].values()) == s["n_issues"] == sum(s["by_lang"].values()) == sum(s["by_type"].values())
    assert set(s["by_lang"]) == {"de", "fr"}
    assert set(s["top_tokens"][0]) == {"token", "count", "mean", "sum"}
    assert {r["tag"] for r in s["loss_per_tag"]} == set(corpus_label_names())
    sums = [r["sum"] for r in s["top_tokens"]]
    assert sums == sorted(sums, reverse=True)


def corpus_label_names():
    from auditor.data.synthetic import LABEL_NAMES

    return LABEL_NAMES


def test_same_inputs_same_table(corpus, preds, result):
    again = score_corpus(corpus, preds, ScoringConfig(), progress=False)
    assert again.issues.equals(result.issues)


def test_max_issues_keeps_the_top_of_the_ranking(corpus, preds, result):
    top = score_corpus(corpus, preds, ScoringConfig(max_issues=5), progress=False).issues
    assert list(top["issue_id"]) == list(result.issues["issue_id"].head(5))


def test_predictions_for_an_unknown_sentence_fail_clearly(corpus, preds):
    bad = OofPredictions(preds.ids.copy(), preds.word_index, preds.fold, preds.probs, preds.label_names)
    bad.ids[:3] = "xx/train/999999"
    with pytest.raises(DataError, match="xx/train/999999.*not in the corpus"):
        score_corpus(corpus, bad, ScoringConfig(), progress=False)


def test_predictions_missing_a_word_fail_clearly(corpus, preds):
    keep = np.ones(len(preds.ids), dtype=bool)
    keep[1] = False
    bad = OofPredictions(
        preds.ids[keep], preds.word_index[keep], preds.fold[keep], preds.probs[keep], preds.label_names
    )
    with pytest.raises(DataError, match="do not cover its .* words exactly once"):
        score_corpus(corpus, bad, ScoringConfig(), progress=False)


def test_predictions_with_another_label_set_fail_clearly(corpus, preds):
    names = list(reversed(preds.label_names))
    bad = OofPredictions(preds.ids, preds.word_index, preds.fold, preds.probs, names)
    with pytest.raises(DataError, match="predictions have labels"):
        score_corpus(corpus, bad, ScoringConfig(), progress=False)


def test_all_zero_weights_are_a_config_error(corpus, preds):
    w = WeightsConfig(model=0, cleanlab=0, sequence_loss=0, consistency=0)
    with pytest.raises(ConfigError, match="scoring.weights"):
        score_corpus(corpus, preds, ScoringConfig(weights=w), progress=False)


def test_the_same_number_is_never_counted_twice(corpus, preds):
    # cleanlab's self_confidence token score is p(given tag): the self_confidence model quality
    w = WeightsConfig(model=1, cleanlab=1)
    cfg = ScoringConfig(word_quality="self_confidence", weights=w)
    with pytest.raises(ConfigError, match="counted twice"):
        score_corpus(corpus, preds, cfg, progress=False)
    # the type-collapsed quality is a different number: both may be weighted
    score_corpus(corpus, preds, ScoringConfig(word_quality="collapsed", weights=w), progress=False)
