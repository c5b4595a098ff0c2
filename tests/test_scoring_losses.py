"""Per-token and per-sentence losses and the chapter's loss tables."""

import numpy as np
import pandas as pd
import pytest
from datasets import DatasetDict

from auditor.data.corpus import dataset_from_records
from auditor.scoring.frame import build_frame, corpus_arrays
from auditor.scoring.losses import (
    MIN_PROB,
    loss_per_tag,
    sequence_losses,
    token_losses,
    top_tokens_by_loss,
)
from auditor.tables import OofPredictions

NAMES = ["O", "B-PER", "I-PER"]


def test_token_losses_is_minus_log_prob_of_given_tag():
    probs = np.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [0.0, 0.0, 1.0]])
    labels = np.array([0, 2, 0])
    got = token_losses(probs, labels)
    assert got == pytest.approx([np.log(2), np.log(10), -np.log(MIN_PROB)])
    assert np.isfinite(got).all()  # a zero probability is clipped, not infinite


def test_token_losses_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="probs must be"):
        token_losses(np.ones((3, 2)) / 2, np.array([0, 1]))


def test_sequence_losses_sum_and_mean_per_sentence_including_empty():
    losses = np.array([1.0, 2.0, 3.0, 4.0])
    offsets = np.array([0, 3, 3, 4])  # second sentence has no words
    total, mean = sequence_losses(losses, offsets)
    assert total == pytest.approx([6.0, 0.0, 4.0])
    assert mean == pytest.approx([2.0, 0.0, 4.0])


def _frame():
    records = [
        {"id": "a", "tokens": ["Anna", "lacht"], "ner_tags": ["B-PER", "O"], "lang": "de"},
        {"id": "b", "tokens": ["Anna", "Meier", "lacht"], "ner_tags": ["B-PER", "I-PER", "O"], "lang": "de"},
    ]
    corpus = DatasetDict(train=dataset_from_records(records, NAMES))
    probs = np.array(
        [[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.75, 0.25, 0.0], [0.0, 0.0, 1.0], [0.5, 0.25, 0.25]], dtype=np.float32
    )
    preds = OofPredictions(
        ids=np.array(["a", "a", "b", "b", "b"], dtype=object),
        word_index=np.array([0, 1, 0, 1, 2]),
        fold=np.zeros(5, dtype=np.int16),
        probs=probs,
        label_names=NAMES,
    )
    return build_frame(corpus_arrays(corpus), preds)


def test_top_tokens_by_loss_groups_by_surface_form():
    table = top_tokens_by_loss(_frame())
    assert list(table.columns) == ["token", "count", "mean", "sum"]
    anna = table[table["token"] == "Anna"].iloc[0]
    assert anna["count"] == 2
    assert anna["sum"] == pytest.approx(np.log(2) + np.log(4))
    assert table.iloc[0]["token"] == "Anna"  # largest summed loss first
    assert table["sum"].is_monotonic_decreasing


def test_top_tokens_by_loss_accepts_a_word_dataframe_and_min_count():
    df = pd.DataFrame({"token": ["x", "x", "y"], "loss": [1.0, 2.0, 5.0]})
    table = top_tokens_by_loss(df, min_count=2)
    assert table.to_dict("records") == [{"token": "x", "count": 2, "mean": 1.5, "sum": 3.0}]


def test_loss_per_tag():
    table = loss_per_tag(_frame())
    assert set(table["tag"]) == {"B-PER", "I-PER", "O"}
    o = table[table["tag"] == "O"].iloc[0]
    assert o["count"] == 2 and o["sum"] == pytest.approx(np.log(2))
