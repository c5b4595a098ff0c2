"""The cleanlab signal: label quality scores and confident-learning label issues."""

import numpy as np
import pytest
from datasets import DatasetDict
from simulated_oof import simulate_oof

from auditor.config import CleanlabConfig, SyntheticConfig
from auditor.data.corpus import dataset_from_records
from auditor.data.synthetic import generate_synthetic
from auditor.scoring.cleanlab_signal import cleanlab_signal
from auditor.scoring.frame import build_frame, corpus_arrays


@pytest.fixture(scope="module")
def noisy_frame():
    corpus = generate_synthetic(SyntheticConfig(sentences={"train": 300}), ["de"], seed=5)
    return build_frame(corpus_arrays(corpus), simulate_oof(corpus, ["train"], seed=5))


def test_self_confidence_quality_is_the_probability_of_the_given_tag(noisy_frame):
    sig = cleanlab_signal(noisy_frame, CleanlabConfig(token_method="self_confidence", sentence_method="min"))
    f = noisy_frame
    assert sig.token_quality == pytest.approx(f.probs[np.arange(f.n_tokens), f.labels], abs=1e-6)
    first = sig.token_quality[f.offsets[0] : f.offsets[1]]
    assert sig.sentence_quality[0] == pytest.approx(first.min())
    assert sig.sentence_quality.shape == (f.n_sentences,)


def test_label_issues_concentrate_on_injected_noise(noisy_frame):
    sig = cleanlab_signal(noisy_frame, CleanlabConfig())
    noisy = noisy_frame.labels != noisy_frame.clean
    assert sig.is_issue.any()
    # far more precise than the base rate of wrong tags
    assert noisy[sig.is_issue].mean() > 5 * noisy.mean()
    assert sig.is_issue[noisy].mean() > 0.5


@pytest.mark.parametrize("method", ["normalized_margin", "confidence_weighted_entropy"])
def test_other_token_methods_and_softmin(noisy_frame, method):
    sig = cleanlab_signal(noisy_frame, CleanlabConfig(token_method=method, sentence_method="softmin"))
    assert ((sig.token_quality >= 0) & (sig.token_quality <= 1)).all()
    assert np.isfinite(sig.sentence_quality).all()


def test_a_class_absent_from_the_given_tags_keeps_the_configured_filter_and_the_issue_is_still_found():
    names = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]  # no LOC in the given tags
    records = [{"id": f"s{i}", "tokens": ["Anna", "lacht"], "ner_tags": ["B-PER", "O"], "lang": "de"} for i in range(5)]
    corpus = DatasetDict(train=dataset_from_records(records, names))
    from auditor.tables import OofPredictions

    probs = np.tile(np.array([[0.02, 0.02, 0.02, 0.9, 0.04], [0.9, 0.04, 0.02, 0.02, 0.02]], np.float32), (5, 1))
    probs[0] = [0.02, 0.9, 0.02, 0.04, 0.02]  # the model says LOC for the first word of s0
    preds = OofPredictions(
        np.repeat(np.array([f"s{i}" for i in range(5)], dtype=object), 2),
        np.tile([0, 1], 5),
        np.zeros(10, np.int16),
        probs,
        names,
    )
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # cleanlab's expected few-examples warning must not leak
        sig = cleanlab_signal(build_frame(corpus_arrays(corpus), preds), CleanlabConfig(filter_by="prune_by_noise_rate"))
    assert sig.token_quality[0] < 0.1
    from auditor.config import ScoringConfig
    from auditor.scoring.score import score_corpus

    issues = score_corpus(corpus, preds, ScoringConfig(), progress=False).issues
    assert issues.iloc[0]["issue_id"] == "s0:0-1" and list(issues.iloc[0]["suggested"]) == ["B-LOC"]
