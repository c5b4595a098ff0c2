"""Unattended review policies (threshold, oracle) on the synthetic corpus, then apply."""

from __future__ import annotations

import pandas as pd
import pytest

from auditor.cleaning import apply_decisions
from auditor.config import ReviewConfig, SyntheticConfig
from auditor.data.corpus import CLEAN_COLUMN, label_names
from auditor.data.iob import violations
from auditor.data.synthetic import generate_synthetic, noise_report
from auditor.errors import AuditorError
from auditor.review.policies import apply_policy, ranked_top
from auditor.review.store import DecisionStore


@pytest.fixture(scope="module")
def corpus():
    cfg = SyntheticConfig(sentences={"train": 60, "test": 10}, noise_rate=0.3)
    return generate_synthetic(cfg, ["de", "fr"], seed=0)


def _wrong(clean: list[str]) -> list[str]:
    """A suggestion that is valid IOB2 but not the clean tags of the span."""
    if all(t == "O" for t in clean):
        return ["B-ORG"] + ["I-ORG"] * (len(clean) - 1)
    return ["O"] * len(clean)


@pytest.fixture
def simulated_issues(noise_issues):
    """Issues on every noisy span suggesting the clean tags, except every `wrong_every`-th,
    which suggests wrong tags."""

    def make(corpus, wrong_every: int = 3) -> pd.DataFrame:
        def suggest(n: int, clean: list[str]) -> list[str]:
            return _wrong(clean) if wrong_every and n % wrong_every == wrong_every - 1 else clean

        return noise_issues(corpus, suggest)

    return make


def tags_by_id(ds, column: str = "ner_tags") -> dict[str, list[str]]:
    names = ds.features[column].feature.names
    return {r["id"]: [names[t] for t in r[column]] for r in ds}


@pytest.fixture
def store(tmp_path):
    with DecisionStore(tmp_path / "review.sqlite", curator="ana") as s:
        yield s


def test_oracle_over_all_issues_makes_every_reviewed_span_clean(corpus, store, simulated_issues):
    issues = simulated_issues(corpus)
    assert len(issues) > 10 and (issues["suggested"].map(list) != issues["given"].map(list)).all()
    summary = apply_policy(issues, corpus, ReviewConfig(policy="oracle"), store)
    assert summary.decided == len(issues) == summary.considered
    wrong = sum(i % 3 == 2 for i in range(len(issues)))
    assert summary.by_action.get("relabel", 0) >= wrong > 0
    assert summary.by_action["accept"] > 0
    assert {d.curator for d in store.latest().values()} == {"policy:oracle"}

    result = apply_decisions(corpus, issues, store.latest())
    assert result.stale == []
    cleaned = tags_by_id(result.cleaned["train"])
    clean = tags_by_id(corpus["train"], CLEAN_COLUMN)
    for row in issues.itertuples():
        assert cleaned[row.id][row.start : row.end] == clean[row.id][row.start : row.end], row.issue_id
    # every noisy sentence of the synthetic corpus is fully repaired by its issues
    assert cleaned == clean
    assert all(violations(tags) == [] for tags in cleaned.values())
    assert result.summary.changed_sentences == len(noise_report(corpus["train"]))


def test_oracle_keeps_issues_whose_given_tags_were_right(corpus, store, simulated_issues):
    issues = simulated_issues(corpus, wrong_every=0).head(3).copy()
    # a false alarm: an issue on a correct span, suggesting something else
    ds = corpus["train"]
    names = label_names(corpus)
    row = next(r for r in ds if r["ner_tags"] == r[CLEAN_COLUMN])
    tags = [names[t] for t in row["ner_tags"]]
    false_alarm = {"issue_id": f"{row['id']}:0-1", "id": row["id"], "lang": row["lang"], "split": "train",
                   "start": 0, "end": 1, "kind": "type", "given": tags[:1], "suggested": _wrong(tags[:1]),
                   "score": 0.001, "tokens": row["tokens"], "tags": tags}
    issues = pd.concat([issues, pd.DataFrame([false_alarm])], ignore_index=True)
    summary = apply_policy(issues, corpus, ReviewConfig(policy="oracle"), store)
    assert store.latest()[false_alarm["issue_id"]].action == "keep"
    assert summary.by_action == {"accept": 3, "keep": 1}


def test_threshold_accepts_only_low_scores_within_the_top_fraction(corpus, store, simulated_issues):
    issues = simulated_issues(corpus)
    cfg = ReviewConfig(policy="threshold", threshold=0.05, top_fraction=1.0)
    summary = apply_policy(issues, corpus, cfg, store)
    latest = store.latest()
    expected = set(issues.loc[issues["score"] <= 0.05, "issue_id"])
    assert set(latest) == expected and len(expected) == 5
    assert all(d.action == "accept" and d.curator == "policy:threshold" for d in latest.values())
    d = latest[issues.iloc[0]["issue_id"]]
    assert (d.start, d.end, d.tags) == (issues.iloc[0]["start"], issues.iloc[0]["end"], list(issues.iloc[0]["suggested"]))
    out = summary.to_dict()
    assert out["policy"] == "threshold" and out["threshold"] == 0.05 and out["decided"] == 5
    assert out["by_action"] == {"accept": 5} and out["total"] == len(issues) and out["unattended"] is True
    assert "No human reviewed" in out["note"] and "threshold" in out["note"]

    # the top fraction cuts the ranking before the threshold does
    with DecisionStore(store.path.with_name("other.sqlite")) as other:
        top = ranked_top(issues, 0.1)
        summary = apply_policy(issues, corpus, ReviewConfig(policy="threshold", threshold=1.0, top_fraction=0.1), other)
        assert set(other.latest()) == set(top["issue_id"])
        assert summary.considered == len(top) == -(-len(issues) // 10)


def test_a_policy_never_overwrites_a_human_decision(corpus, store, simulated_issues):
    issues = simulated_issues(corpus)
    first = issues.iloc[0]
    store.record(first["issue_id"], "keep")
    summary = apply_policy(issues, corpus, ReviewConfig(policy="oracle"), store)
    assert store.latest()[first["issue_id"]].curator == "ana"
    assert store.latest()[first["issue_id"]].action == "keep"
    assert summary.human == 1 and summary.decided == len(issues) - 1


def test_rerunning_is_idempotent_and_follows_the_config(corpus, store, simulated_issues):
    issues = simulated_issues(corpus)
    apply_policy(issues, corpus, ReviewConfig(policy="threshold", threshold=0.1), store)
    n_rows = len(store)
    again = apply_policy(issues, corpus, ReviewConfig(policy="threshold", threshold=0.1), store)
    assert again.recorded == 0 and len(store) == n_rows
    # a stricter threshold withdraws the policy's own decisions above it
    apply_policy(issues, corpus, ReviewConfig(policy="threshold", threshold=0.03), store)
    assert set(store.latest()) == set(issues.loc[issues["score"] <= 0.03, "issue_id"])


def test_issues_whose_sentence_changed_are_not_decided(corpus, store, simulated_issues):
    issues = simulated_issues(corpus).head(4).copy()
    issues.at[0, "tokens"] = ["something", "else"]
    summary = apply_policy(issues, corpus, ReviewConfig(policy="oracle"), store)
    assert summary.stale == 1 and issues.iloc[0]["issue_id"] not in store.latest()
    assert summary.decided == 3


def test_oracle_without_clean_tags_is_a_clear_error(corpus, store, simulated_issues):
    plain = corpus.remove_columns(CLEAN_COLUMN)
    with pytest.raises(AuditorError, match="clean_ner_tags"):
        apply_policy(simulated_issues(corpus), plain, ReviewConfig(policy="oracle"), store)
    assert len(store) == 0


def test_interactive_is_not_an_unattended_policy(corpus, store, simulated_issues):
    with pytest.raises(AuditorError, match="not unattended"):
        apply_policy(simulated_issues(corpus), corpus, ReviewConfig(policy="interactive"), store)


def test_switching_policy_withdraws_the_other_policys_decisions(corpus, store, simulated_issues):
    issues = simulated_issues(corpus)
    apply_policy(issues, corpus, ReviewConfig(policy="oracle"), store)
    apply_policy(issues, corpus, ReviewConfig(policy="threshold", threshold=0.03), store)
    ledger = store.ledger()
    # an undo only withdraws its own curator's decision, so the oracle's are withdrawn by the oracle
    assert {d.curator for i in ledger.issues() for d in ledger.opinions(i)} == {"policy:threshold"}
    assert set(store.latest()) == set(issues.loc[issues["score"] <= 0.03, "issue_id"])
    assert not ledger.conflicts()
