"""Cross-entropy of the given tags under out-of-fold probabilities: per token, per sentence,
and the chapter's tables (loss by token string, loss by tag).

All functions are vectorised over flat (N,) / (N, K) arrays; sentences are given by
(S+1,) word offsets.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from auditor.scoring.frame import ScoringFrame

# probabilities below this are clipped so one confident mistake costs at most ~27.6 nats
MIN_PROB = 1e-12


def token_losses(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(N, K) probabilities, (N,) given tag ids -> (N,) float64 cross-entropy -log p[given] in nats."""
    probs = np.asarray(probs)
    labels = np.asarray(labels, dtype=np.int64)
    if probs.ndim != 2 or labels.shape != (probs.shape[0],):
        raise ValueError(f"token_losses: probs must be (N, K) and labels (N,), got {probs.shape} and {labels.shape}")
    p = probs[np.arange(len(labels)), labels].astype(np.float64)
    return -np.log(np.clip(p, MIN_PROB, 1.0))


def sequence_losses(losses: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,) token losses, (S+1,) offsets -> ((S,) sum, (S,) mean) per sentence, in nats.

    The sum is the chapter's sequence loss (long sentences weigh more); the mean compares
    sentences of different lengths. An empty sentence has sum 0 and mean 0.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    lengths = np.diff(offsets)
    csum = np.concatenate([[0.0], np.cumsum(losses, dtype=np.float64)])
    total = csum[offsets[1:]] - csum[offsets[:-1]]
    mean = np.divide(total, lengths, out=np.zeros_like(total), where=lengths > 0)
    return total, mean


def _token_loss_frame(source: ScoringFrame | pd.DataFrame) -> pd.DataFrame:
    """A DataFrame with one row per word: token, tag (given tag string), loss (nats)."""
    if isinstance(source, ScoringFrame):
        names = np.asarray(source.label_names, dtype=object)
        return pd.DataFrame(
            {
                "token": source.tokens,
                "tag": names[source.labels],
                "loss": token_losses(source.probs, source.labels),
            }
        )
    if isinstance(source, pd.DataFrame) and {"token", "loss"} <= set(source.columns):
        return source
    raise TypeError("expected a ScoringFrame or a DataFrame with columns token, loss[, tag]")


def _loss_table(df: pd.DataFrame, key: str) -> pd.DataFrame:
    return df.groupby(key, sort=False, observed=True)["loss"].agg(["count", "mean", "sum"]).reset_index()


def top_tokens_by_loss(source: ScoringFrame | pd.DataFrame, n: int = 20, min_count: int = 1) -> pd.DataFrame:
    """The chapter's table: token strings with the largest summed loss.

    source: a ScoringFrame, or a DataFrame with one row per word and columns token, loss.
    Returns columns token, count, mean, sum (nats), sorted by sum descending, at most n rows,
    tokens seen fewer than min_count times left out.
    """
    table = _loss_table(_token_loss_frame(source), "token")
    table = table[table["count"] >= min_count]
    return table.sort_values(["sum", "token"], ascending=[False, True], kind="stable").head(n).reset_index(drop=True)


def loss_per_tag(source: ScoringFrame | pd.DataFrame) -> pd.DataFrame:
    """Loss grouped by given tag: columns tag, count, mean, sum (nats), sorted by sum descending.

    source: a ScoringFrame, or a DataFrame with one row per word and columns tag, loss.
    """
    df = _token_loss_frame(source)
    if "tag" not in df.columns:
        raise TypeError("loss_per_tag needs a `tag` column")
    table = _loss_table(df, "tag")
    return table.sort_values(["sum", "tag"], ascending=[False, True], kind="stable").reset_index(drop=True)
