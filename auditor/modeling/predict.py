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
) -> list[np.ndarray]:
    """Run `forward` over the windows and collect, per sentence, the (n_words, dim) float32
    outputs at each word's first sub-word in its owner window. n_words[i] = words of sentence i.

    Windows are batched by length (fewer pad positions); the output order is the sentence order.
    """
    out = [np.zeros((n, dim), dtype=np.float32) for n in n_words]
    order = sorted(range(len(windows)), key=lambda i: len(windows[i].input_ids))
    bar = progress_bar(total=sum(n_words), desc=desc, unit="word", disable=not progress, nested=True)
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
            if w.owned:
                words, pos = zip(*w.owned)
                out[w.sentence][list(words)] = values[r, list(pos)]
        bar.update(sum(len(w.owned) for w in batch))
    bar.close()
    return out


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
