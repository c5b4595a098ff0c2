"""Probe mode: a frozen encoder read once, then small heads trained per fold.

Fine-tuning K transformers is what makes cross-validation expensive; on a CPU the probe
encodes every word once (first sub-word's last hidden state, sliding windows as in
prediction) and trains K linear (or one-hidden-layer) heads on those vectors, which takes
seconds. The encoder must be pre-trained for this to mean anything (the random-init tiny
model is fine-tuned instead, see crossval.resolve_mode).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm
from transformers import AutoModel

from auditor.atomic import atomic_path
from auditor.config import ProbeConfig
from auditor.modeling.factory import load_tokenizer, quiet_transformers
from auditor.modeling.predict import pad_id, sentence_windows, word_vectors


@dataclass
class WordFeatures:
    """Frozen-encoder vectors of every word of a list of sentences.

    vectors: (n_total_words, D) float32, sentences concatenated in order
    offsets: (n_sentences + 1,) int64; sentence i = vectors[offsets[i]:offsets[i+1]]
    seconds: wall-clock time the encoding took
    """

    vectors: np.ndarray
    offsets: np.ndarray
    seconds: float

    def rows(self, index: np.ndarray) -> np.ndarray:
        """The stacked word vectors of sentences `index` (in that order)."""
        if len(index) == 0:
            return np.zeros((0, self.vectors.shape[1]), dtype=np.float32)
        return np.concatenate([self.vectors[self.offsets[i] : self.offsets[i + 1]] for i in index]).astype(np.float32)


def encode_word_features(
    model_name_or_path: str,
    sentences: list[list[str]],
    max_length: int,
    stride: int,
    batch_size: int = 64,
    progress: bool = True,
) -> WordFeatures:
    """Last hidden state at each word's first sub-word (owner window), one pass, no gradients."""
    start = time.perf_counter()
    tokenizer = load_tokenizer(model_name_or_path)
    with quiet_transformers():
        encoder = AutoModel.from_pretrained(model_name_or_path, trust_remote_code=False)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    encoder.to(device).eval()

    def forward(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return encoder(input_ids=ids, attention_mask=mask).last_hidden_state

    windows = sentence_windows(tokenizer, sentences, max_length, stride)
    n_words = [len(s) for s in sentences]
    per_sentence = word_vectors(
        windows, n_words, forward, encoder.config.hidden_size, pad_id(tokenizer), device, batch_size, progress, "encode"
    )
    offsets = np.concatenate([[0], np.cumsum(n_words)]).astype(np.int64)
    vectors = np.concatenate(per_sentence) if per_sentence else np.zeros((0, encoder.config.hidden_size), np.float32)
    return WordFeatures(vectors.astype(np.float32), offsets, time.perf_counter() - start)


def cached_word_features(cache_dir: Path, fingerprint: str, compute) -> WordFeatures:
    """WordFeatures from cache_dir when it was computed for `fingerprint`, else compute() and
    store it (atomically; float16 on disk halves the size, the heads do not notice)."""
    meta_file = cache_dir / "meta.json"
    if meta_file.is_file():
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        if meta.get("fingerprint") == fingerprint:
            vectors = np.load(cache_dir / "vectors.npy").astype(np.float32)
            return WordFeatures(vectors, np.load(cache_dir / "offsets.npy"), meta["seconds"])
    feats: WordFeatures = compute()
    # use exactly what a resumed run will read back, so resuming gives identical numbers
    feats.vectors = feats.vectors.astype(np.float16).astype(np.float32)
    with atomic_path(cache_dir, is_dir=True) as tmp:
        np.save(tmp / "vectors.npy", feats.vectors.astype(np.float16))
        np.save(tmp / "offsets.npy", feats.offsets)
        meta = {"fingerprint": fingerprint, "seconds": feats.seconds}
        (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    return feats


class ProbeHead(nn.Module):
    """Standardise, then a linear map ("logreg") or Linear-GELU-Linear ("mlp") to K logits."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, n_labels: int, cfg: ProbeConfig):
        super().__init__()
        dim = len(mean)
        self.n_labels = n_labels
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        if cfg.head == "logreg":
            self.net: nn.Module = nn.Linear(dim, n_labels)
        else:
            self.net = nn.Sequential(nn.Linear(dim, cfg.hidden_size), nn.GELU(), nn.Linear(cfg.hidden_size, n_labels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


def train_probe_head(
    x: np.ndarray, y: np.ndarray, n_labels: int, cfg: ProbeConfig, weight_decay: float, seed: int, progress: bool = True
) -> ProbeHead:
    """Fit a head on word vectors x (N, D) with labels y (N,) by AdamW on cross-entropy.
    Deterministic for a given seed (own generator; the global RNG is left alone)."""
    mean = x.mean(axis=0) if len(x) else np.zeros(x.shape[1], np.float32)
    std = x.std(axis=0) + 1e-5 if len(x) else np.ones(x.shape[1], np.float32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = ProbeHead(mean, std, n_labels, cfg)
    gen = torch.Generator().manual_seed(seed)
    xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
    opt = torch.optim.AdamW(head.parameters(), lr=cfg.learning_rate, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    head.train()
    for _ in tqdm(range(cfg.epochs), desc="probe head", unit="epoch", disable=not progress, leave=False):
        for idx in torch.randperm(len(xt), generator=gen).split(cfg.batch_size):
            opt.zero_grad()
            loss_fn(head(xt[idx]), yt[idx]).backward()
            opt.step()
    return head.eval()


@torch.inference_mode()
def head_logits(head: ProbeHead, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """(N, K) float32 logits of the head on word vectors x (N, D)."""
    if len(x) == 0:
        return np.zeros((0, head.n_labels), np.float32)
    parts = [head(torch.as_tensor(x[i : i + batch_size])).numpy() for i in range(0, len(x), batch_size)]
    return np.concatenate(parts).astype(np.float32)
