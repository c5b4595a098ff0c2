"""The model-free label consistency signal."""


import numpy as np
import pytest
from datasets import DatasetDict

from auditor.config import ConsistencyConfig, ScoringConfig
from auditor.data.corpus import dataset_from_records
from auditor.scoring.consistency import consistency_signal
from auditor.scoring.frame import corpus_arrays
from auditor.scoring.score import score_corpus
from auditor.tables import OofPredictions

NAMES = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]


def _corpus(records_by_split: dict[str, list[dict]]) -> DatasetDict:
    return DatasetDict({s: dataset_from_records(r, NAMES) for s, r in records_by_split.items()})


def _sent(id_, text, tags):
    return {"id": id_, "tokens": text.split(), "ner_tags": tags.split(), "lang": "de"}


def _scores(corpus, cfg=ConsistencyConfig()):
    arrays = corpus_arrays(corpus)
    sig = consistency_signal(arrays, cfg)
    by_id = {}
    for i, sid in enumerate(arrays.ids):
        a, b = arrays.offsets[i], arrays.offsets[i + 1]
        sugg = [NAMES[t] if t >= 0 else None for t in sig.suggestion[a:b]]
        by_id[sid] = (sig.score[a:b], sugg, sig.flagged[a:b])
    return by_id


UN_ORG = "O B-ORG I-ORG O"
UN_PER = "O B-PER I-PER O"


def test_minority_occurrence_is_flagged_with_its_share_and_the_majority_suggestion():
    records = [_sent(f"s{i}", "Die Vereinte Nationen tagen", UN_ORG) for i in range(19)]
    records.append(_sent("bad", "Die Vereinte Nationen tagen", UN_PER))
    scores = _scores(_corpus({"train": records}))
    score, sugg, flagged = scores["bad"]
    assert score == pytest.approx([1.0, 0.05, 0.05, 1.0])
    assert list(flagged) == [False, True, True, False]
    assert sugg == [None, "B-ORG", "I-ORG", None]
    # the majority occurrences are labelled like the majority: no doubt
    assert all((scores[f"s{i}"][0] == 1.0).all() for i in range(19))


def test_other_splits_are_evidence():
    train = [_sent("bad", "Die Vereinte Nationen tagen", UN_PER)]
    test = [_sent(f"t{i}", "Die Vereinte Nationen tagen", UN_ORG) for i in range(5)]
    assert list(_scores(_corpus({"train": train, "test": test}))["bad"][2]) == [False, True, True, False]


def test_forms_seen_less_than_min_count_are_not_judged():
    records = [_sent("a", "Die Vereinte Nationen tagen", UN_ORG), _sent("b", "Die Vereinte Nationen tagen", UN_PER)]
    score, _, flagged = _scores(_corpus({"train": records}))["b"]
    assert not flagged.any() and (score == 1.0).all()


def test_missing_entity_is_a_minority_of_o_tags():
    records = [_sent(f"s{i}", "Die Vereinte Nationen tagen", UN_ORG) for i in range(9)]
    records.append(_sent("miss", "Die Vereinte Nationen tagen", "O O O O"))
    _, sugg, flagged = _scores(_corpus({"train": records}))["miss"]
    assert list(flagged) == [False, True, True, False]
    assert sugg[1:3] == ["B-ORG", "I-ORG"]


def test_a_consistent_longer_form_vouches_for_a_shorter_minority():
    # "Paris" alone is LOC; inside "Paris Saint-Germain" it is always ORG, which is consistent
    records = [_sent(f"p{i}", "in Paris", "O B-LOC") for i in range(10)]
    records += [_sent(f"q{i}", "Paris Saint-Germain gewinnt", "B-ORG I-ORG O") for i in range(4)]
    records.append(_sent("odd", "Paris Saint-Germain gewinnt", "B-LOC O O"))
    scores = _scores(_corpus({"train": records}))
    assert not scores["q0"][2].any()
    assert list(scores["odd"][2]) == [True, True, False]


def test_pure_o_forms_are_never_judged():
    records = [_sent(f"s{i}", "und so weiter", "O O O") for i in range(10)]
    assert not any(v[2].any() for v in _scores(_corpus({"train": records})).values())


def test_consistency_only_issue_suggests_the_majority_labelling():
    # the model agrees with the wrong given tags; only consistency doubts them
    records = [_sent(f"s{i:02d}", "Die Vereinte Nationen tagen", UN_ORG) for i in range(19)]
    records += [_sent(f"l{i:02d}", "Anna wohnt in Bonn", "B-PER O O B-LOC") for i in range(5)]
    records.append(_sent("bad", "Die Vereinte Nationen tagen", UN_PER))
    corpus = _corpus({"train": records})
    arrays = corpus_arrays(corpus)
    probs = np.full((len(arrays.labels), len(NAMES)), 0.02 / 6, dtype=np.float32)
    probs[np.arange(len(arrays.labels)), arrays.labels] = 0.98
    words = np.concatenate([np.arange(n) for n in arrays.lengths])
    preds = OofPredictions(
        np.repeat(arrays.ids, arrays.lengths), words, np.zeros(len(words), np.int16), probs, NAMES
    )
    issues = score_corpus(corpus, preds, ScoringConfig(), progress=False).issues
    assert list(issues["issue_id"]) == ["bad:1-3"]
    row = issues.iloc[0]
    assert row["kind"] == "type" and list(row["suggested"]) == ["B-ORG", "I-ORG"]
    assert row["consistency_score"] == pytest.approx(0.05)
    # consistency alone moves the span down, but with its small weight it cannot outrank what
    # the model doubts strongly (benchmarks/README.md: more weight spoils the top on PAN-X)
    assert 0.3 < row["score"] < row["model_score"] - 0.3


def test_a_large_corpus():
    rng = np.random.default_rng(0)
    vocab = np.array([f"w{i}" for i in range(5000)], dtype=object)
    n_sent, length = 20000, 10
    tokens = vocab[rng.integers(0, len(vocab), size=(n_sent, length))]
    tags = np.where(rng.random((n_sent, length)) < 0.1, "B-PER", "O")
    records = [
        {"id": str(i), "tokens": list(tokens[i]), "ner_tags": list(tags[i]), "lang": "de"} for i in range(n_sent)
    ]
    arrays = corpus_arrays(_corpus({"train": records}))
    # 200k words; its speed is measured in benchmarks/, not asserted here
    sig = consistency_signal(arrays, ConsistencyConfig())
    assert sig.score.shape == (n_sent * length,)
