"""Word-level inference: one vector per word of every sentence, through sliding windows.

``word_vectors`` is shared by prediction (logits) and the probe (frozen hidden states):
both need "the model output at each word's first sub-word, in the window that owns it"
(ownership and the no-sub-word rule: auditor.modeling.alignment).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from datasets import Dataset
from transformers import PreTrainedTokenizerFast

from auditor.modeling.alignment import Window, encode_sentences, make_windows, special_tokens_layout
from auditor.modeling.calibration import apply_temperature
from auditor.modeling.training import TrainedTagger
from auditor.progress import progress_bar

# (input_ids (B, T), attention_mask (B, T)) -> (B, T, D)
Forward = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def sentence_windows(
    tokenizer: PreTrainedTokenizerFast, sentences: Sequence[Sequence[str]], max_length: int, stride: int
) -> list[Window]:
    encoded = encode_sentences(tokenizer, sentences)
    prefix, suffix = special_tokens_layout(tokenizer)
    return make_windows(encoded, max_length, stride, prefix, suffix)


def pad_id(tokenizer: PreTrainedTokenizerFast) -> int:
    """The id to pad windows with (masked out anyway; 0 when the tokenizer defines none)."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0


@torch.inference_mode()
def word_vectors(
    windows: list[Window],
    n_words: Sequence[int],
    forward: Forward,
    dim: int,
    pad_token_id: int,
    device: torch.device,
    batch_size: int = 64,
    progress: bool = True,
    desc: str = "predict",
    pooling: str = "first",
    dtype: type = np.float32,
    nested: bool = True,
) -> list[np.ndarray]:
    """Run `forward` over the windows and collect, per sentence, the (n_words, dim) float32
    outputs at each word in its owner window. n_words[i] = words of sentence i.

    pooling "first": the output at the word's first sub-word; "mean": the mean over the word's
    sub-words in that window (a word cut by the window edge averages the part inside).
    dtype: of the returned arrays (float16 halves the memory of many-layer probe features).
    nested: the bar sits under another (a fold's prediction); False for a step of its own
    (the probe's encoder pass), which then reports progress off a terminal too.
    Windows are batched by length (fewer pad positions); the output order is the sentence order.
    """
    if pooling not in ("first", "mean"):
        raise ValueError(f"pooling must be 'first' or 'mean', not {pooling!r}")
    out = [np.zeros((n, dim), dtype=dtype) for n in n_words]
    order = sorted(range(len(windows)), key=lambda i: len(windows[i].input_ids))
    bar = progress_bar(total=sum(n_words), desc=desc, unit="word", disable=not progress, nested=nested)
    for lo in range(0, len(order), batch_size):
        batch = [windows[i] for i in order[lo : lo + batch_size]]
        width = max(len(w.input_ids) for w in batch)
        ids = torch.full((len(batch), width), pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for r, w in enumerate(batch):
            ids[r, : len(w.input_ids)] = torch.tensor(w.input_ids)
            mask[r, : len(w.input_ids)] = 1
        values = forward(ids.to(device), mask.to(device)).float().cpu().numpy()
        for r, w in enumerate(batch):
            if not w.owned:
                continue
            words, pos = zip(*w.owned)
            if pooling == "first":
                out[w.sentence][list(words)] = values[r, list(pos)]
            else:
                out[w.sentence][list(words)] = _mean_pooled(values[r], w, pos)
        bar.update(sum(len(w.owned) for w in batch))
    bar.close()
    return out


def _mean_pooled(values: np.ndarray, window: Window, owned_pos: Sequence[int]) -> np.ndarray:
    """(n_owned, dim) mean of the window's outputs over each owned word's sub-words.

    A word's sub-words run from its first sub-word to the next word's first sub-word; the last
    word of the window runs to the window's last content position. values: (T, dim)."""
    starts = [p for _, p in window.words]
    # windows built by hand without content_end: the last word keeps only its first sub-word
    content_end = window.content_end if window.content_end is not None else starts[-1] + 1
    ends = dict(zip(starts, starts[1:] + [content_end]))
    csum = np.concatenate([np.zeros((1, values.shape[1]), values.dtype), np.cumsum(values, axis=0)])
    lo = np.asarray(owned_pos, dtype=np.int64)
    hi = np.asarray([ends[p] for p in owned_pos], dtype=np.int64)
    return (csum[hi] - csum[lo]) / np.maximum(hi - lo, 1)[:, None]


def predict_word_logits(
    tagger: TrainedTagger, ds: Dataset, max_length: int, stride: int, batch_size: int = 64, progress: bool = True
) -> list[np.ndarray]:
    """Raw logits (n_words, K) float32 for every row of ds (column `tokens`), in ds order.

    Every word gets exactly one row, including words beyond max_length (sliding windows)
    and words the tokenizer turns into nothing (predicted as <unk> in context).
    """
    tokens = list(ds["tokens"])
    windows = sentence_windows(tagger.tokenizer, tokens, max_length, stride)
    model = tagger.model.eval()

    def forward(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return model(input_ids=ids, attention_mask=mask).logits

    return word_vectors(
        windows,
        [len(t) for t in tokens],
        forward,
        len(tagger.label_names),
        pad_id(tagger.tokenizer),
        model.device,
        batch_size,
        progress,
    )


def predict_word_probs(
    tagger: TrainedTagger, ds: Dataset, max_length: int, stride: int, batch_size: int = 64, progress: bool = True
) -> list[np.ndarray]:
    """softmax(logits / tagger.temperature): (n_words, K) float32 rows summing to 1, in ds order."""
    logits = predict_word_logits(tagger, ds, max_length, stride, batch_size, progress)
    return [apply_temperature(x, tagger.temperature).astype(np.float32) for x in logits]
