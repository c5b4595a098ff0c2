"""Probe mode: a frozen encoder read once, then small heads trained per fold.

Fine-tuning K transformers is what makes cross-validation expensive; on a CPU the probe
encodes every word once (sliding windows as in prediction) and trains K small heads on
those vectors, which takes seconds. The encoder must be pre-trained for this to mean anything
(the random-init tiny model is fine-tuned instead, see crossval.resolve_mode).

What a word vector is (ProbeConfig): the hidden states of the last `layers` encoder layers at
the word's sub-words, pooled by `pooling` ("first" sub-word, or the "mean" of its sub-words),
concatenated layer after layer. Heads (ProbeConfig.head):

- ``logreg``: one linear map per word;
- ``mlp``: Linear-GELU-Linear per word;
- ``bilstm``: a bidirectional LSTM over the sentence's word vectors, so a word's tag can use
  its neighbours' (the frozen encoder already saw them, but the head did not learn how NER
  spans continue: B- then I-, a name's type from its title, ...).

With ``mix: scalar`` the layers are first combined by a learned softmax-weighted sum (ELMo's
scalar mix) instead of being fed side by side, which keeps the head's input at one layer's
width. Every head is trained with AdamW on large batches and stops early on the fold's
holdout loss (the weights of the best epoch are kept); ``ensemble`` heads with different
seeds are averaged in logit space.
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from transformers import AutoModel

from auditor.atomic import atomic_path
from auditor.config import ProbeConfig
from auditor.modeling.factory import load_tokenizer, quiet_transformers
from auditor.modeling.predict import pad_id, sentence_windows, word_vectors
from auditor.progress import progress_bar


@dataclass
class WordFeatures:
    """Frozen-encoder vectors of every word of a list of sentences.

    vectors: (n_total_words, L * H) float32 or float16 (as cached), sentences concatenated in order; L = layers read,
             H = the encoder's hidden size (layer l occupies columns l*H:(l+1)*H, oldest first)
    offsets: (n_sentences + 1,) int64; sentence i = vectors[offsets[i]:offsets[i+1]]
    seconds: wall-clock time the encoding took
    layers:  L
    """

    vectors: np.ndarray
    offsets: np.ndarray
    seconds: float
    layers: int = 1
    # the encoder's number of layers, when known: a request for more is served by all of them
    encoder_layers: int | None = None

    def rows(self, index: np.ndarray) -> np.ndarray:
        """The stacked word vectors of sentences `index` (in that order)."""
        if len(index) == 0:
            return np.zeros((0, self.vectors.shape[1]), dtype=np.float32)
        return np.concatenate([self.vectors[self.offsets[i] : self.offsets[i + 1]] for i in index]).astype(np.float32)

    def word_index(self, index: np.ndarray) -> np.ndarray:
        """(sum of lengths,) row numbers in `vectors` of the words of sentences `index`, in order."""
        index = np.asarray(index, dtype=np.int64)
        if len(index) == 0:
            return np.zeros(0, dtype=np.int64)
        lengths = self.lengths(index)
        starts = np.repeat(self.offsets[index], lengths)
        within = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        return starts + within

    def moments(self, index: np.ndarray, chunk: int = 32768) -> tuple[np.ndarray, np.ndarray]:
        """(D,) mean and standard deviation of the words of sentences `index`, in chunks (no
        copy of the whole selection: with many layers it would not fit in memory twice)."""
        rows = self.word_index(index)
        dim = self.vectors.shape[1]
        total, sq = torch.zeros(dim, dtype=torch.float64), torch.zeros(dim, dtype=torch.float64)
        for lo in range(0, len(rows), chunk):
            x = self.batch(rows[lo : lo + chunk]).double()
            total += x.sum(0)
            sq += (x * x).sum(0)
        n = max(len(rows), 1)
        mean = total / n
        var = torch.clamp(sq / n - mean * mean, min=0.0)
        return mean.float().numpy(), (torch.sqrt(var) + 1e-5).float().numpy()

    def batch(self, rows: np.ndarray) -> torch.Tensor:
        """(len(rows), D) float32 tensor of the given word rows (torch's half-to-float cast is
        several times faster than numpy's)."""
        return torch.from_numpy(np.ascontiguousarray(self.vectors[rows])).float()

    def lengths(self, index: np.ndarray) -> np.ndarray:
        """(len(index),) words per sentence."""
        index = np.asarray(index, dtype=np.int64)
        return (self.offsets[index + 1] - self.offsets[index]).astype(np.int64)

    def select_layers(self, n: int) -> WordFeatures:
        """The same words with only the last n of the stored layers (n <= self.layers)."""
        if not 1 <= n <= self.layers:
            raise ValueError(f"cannot take {n} layers from features holding {self.layers}")
        width = self.vectors.shape[1] // self.layers
        return WordFeatures(self.vectors[:, (self.layers - n) * width :], self.offsets, self.seconds, n)


# the progress line of the frozen encoder's one pass over the corpus
ENCODE_DESC = "encoder pass"


def encode_word_features(
    model_name_or_path: str,
    sentences: list[list[str]],
    max_length: int,
    stride: int,
    batch_size: int = 64,
    progress: bool = True,
    layers: int = 1,
    pooling: str = "first",
) -> WordFeatures:
    """Hidden states of the last `layers` layers at each word (owner window), pooled over the
    word's sub-words by `pooling` ("first" | "mean"); one pass, no gradients."""
    start = time.perf_counter()
    tokenizer = load_tokenizer(model_name_or_path)
    with quiet_transformers():
        encoder = AutoModel.from_pretrained(model_name_or_path, trust_remote_code=False)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    encoder.to(device).eval()
    n_layers = int(getattr(encoder.config, "num_hidden_layers", 1))
    layers = max(1, min(layers, n_layers))

    def forward(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if layers == 1:
            return encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        hidden = encoder(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
        return torch.cat(hidden[-layers:], dim=-1)

    windows = sentence_windows(tokenizer, sentences, max_length, stride)
    n_words = [len(s) for s in sentences]
    dim = encoder.config.hidden_size * layers
    per_sentence = word_vectors(
        windows, n_words, forward, dim, pad_id(tokenizer), device, batch_size, progress, ENCODE_DESC, pooling=pooling,
        dtype=np.float16,
        # minutes on a real corpus before the first fold: a step of its own, shown in logs too
        nested=False,
    )
    offsets = np.concatenate([[0], np.cumsum(n_words)]).astype(np.int64)
    vectors = np.concatenate(per_sentence) if per_sentence else np.zeros((0, dim), np.float16)
    return WordFeatures(vectors, offsets, time.perf_counter() - start, layers, n_layers)


def cached_word_features(cache_dir: Path, fingerprint: str, compute, layers: int | None = None) -> WordFeatures:
    """WordFeatures from cache_dir when it was computed for `fingerprint` with at least `layers`
    layers (then only the last `layers` are returned), else compute() and store it (atomically;
    float16 on disk halves the size, the heads do not notice)."""
    meta_file = cache_dir / "meta.json"
    if meta_file.is_file():
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            stored = int(meta.get("layers", 1))
            exhausted = meta.get("encoder_layers") is not None and stored >= int(meta["encoder_layers"])
            if meta.get("fingerprint") == fingerprint and (layers is None or stored >= layers or exhausted):
                # float16 in memory too: a 12-layer cache of a 250k-word corpus is 2.3 GB, not 4.6
                vectors = np.load(cache_dir / "vectors.npy")
                offsets = np.load(cache_dir / "offsets.npy")
                if len(offsets) and offsets[-1] == len(vectors):
                    feats = WordFeatures(vectors, offsets, meta["seconds"], stored, meta.get("encoder_layers"))
                    return feats.select_layers(layers) if layers is not None and layers < stored else feats
        except (OSError, ValueError, KeyError):
            pass  # unreadable or truncated: recompute below
    feats: WordFeatures = compute()
    # use exactly what a resumed run will read back, so resuming gives identical numbers
    feats.vectors = feats.vectors.astype(np.float16)
    with atomic_path(cache_dir, is_dir=True) as tmp:
        np.save(tmp / "vectors.npy", feats.vectors)
        np.save(tmp / "offsets.npy", feats.offsets)
        meta = {
            "fingerprint": fingerprint,
            "seconds": feats.seconds,
            "layers": feats.layers,
            "encoder_layers": feats.encoder_layers,
        }
        (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    return feats


# --- heads ---------------------------------------------------------------------------------


class _Input(nn.Module):
    """Standardise the word vectors (a scalar mix of layers is fitted before the head, by
    fit_layer_mix, so the head sees one layer's width or the layers side by side)."""

    def __init__(self, mean: np.ndarray, std: np.ndarray):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        self.out_dim = len(mean)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class TokenHead(nn.Module):
    """A word's logits from its own vector: linear ("logreg") or Linear-GELU-Dropout-Linear ("mlp")."""

    contextual = False

    def __init__(self, mean: np.ndarray, std: np.ndarray, n_labels: int, cfg: ProbeConfig):
        super().__init__()
        self.n_labels = n_labels
        self.inp = _Input(mean, std)
        dim = self.inp.out_dim
        if cfg.head == "logreg":
            self.net: nn.Module = nn.Linear(dim, n_labels)
        else:
            self.net = nn.Sequential(
                nn.Linear(dim, cfg.hidden_size), nn.GELU(), nn.Dropout(cfg.dropout), nn.Linear(cfg.hidden_size, n_labels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.inp(x))


class ContextHead(nn.Module):
    """A word's logits from the whole sentence: projection, BiLSTM, linear (x: (B, T, D) padded)."""

    contextual = True

    def __init__(self, mean: np.ndarray, std: np.ndarray, n_labels: int, cfg: ProbeConfig):
        super().__init__()
        self.n_labels = n_labels
        self.inp = _Input(mean, std)
        h = cfg.hidden_size
        self.proj = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(self.inp.out_dim, h), nn.GELU())
        self.lstm = nn.LSTM(h, h // 2, batch_first=True, bidirectional=True)
        self.out = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(h + h // 2 * 2, n_labels))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        z = self.proj(self.inp(x))
        packed = nn.utils.rnn.pack_padded_sequence(z, lengths.cpu(), batch_first=True, enforce_sorted=False)
        ctx, _ = self.lstm(packed)
        ctx, _ = nn.utils.rnn.pad_packed_sequence(ctx, batch_first=True, total_length=x.shape[1])
        # the projection is passed around the LSTM so the head is never worse than an MLP
        return self.out(torch.cat([z, ctx], dim=-1))


class LayerMix(nn.Module):
    """A fixed scalar mix: standardise each layer's dimensions, then the softmax-weighted sum of
    the L layers. (N, L * H) -> (N, H).

    Standardising and weighting fold into one scale per column and one offset per output
    dimension, sum_l w_l (x_l - m_l) / s_l = sum_l x_l * (w_l / s_l) - sum_l w_l m_l / s_l, so
    mixing is L multiply-adds per output value read straight from the (float16) cache."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, layers: int, logits: torch.Tensor):
        super().__init__()
        weights = torch.softmax(logits.detach().float(), 0)
        mean_t = torch.as_tensor(mean, dtype=torch.float32).view(layers, -1)
        std_t = torch.as_tensor(std, dtype=torch.float32).view(layers, -1)
        self.register_buffer("weights", weights)
        self.register_buffer("scale", weights.unsqueeze(-1) / std_t)  # (L, H)
        self.register_buffer("offset", (self.scale * mean_t).sum(0))  # (H,)
        self.layers = layers

    @torch.inference_mode()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float().unflatten(-1, (self.layers, -1)) * self.scale).sum(-2) - self.offset

    @torch.inference_mode()
    def mix_rows(self, vectors: np.ndarray, rows: np.ndarray | None = None, chunk: int = 2048) -> np.ndarray:
        """(len(rows), H) float32 mixed vectors of `rows` of vectors (N, L * H), all rows when
        None. One layer at a time in small chunks: 10-15x faster than standardising the whole
        L * H row first (memory traffic, not arithmetic, is the cost)."""
        n = len(vectors) if rows is None else len(rows)
        width = vectors.shape[1] // self.layers
        out = torch.empty((n, width), dtype=torch.float32)
        for lo in range(0, n, chunk):
            part = vectors[lo : lo + chunk] if rows is None else vectors[rows[lo : lo + chunk]]
            x = torch.from_numpy(np.ascontiguousarray(part))
            acc = out[lo : lo + chunk]
            torch.mul(x[:, :width].float(), self.scale[0], out=acc)
            for layer in range(1, self.layers):
                acc.addcmul_(x[:, layer * width : (layer + 1) * width].float(), self.scale[layer])
        out -= self.offset
        return out.numpy()

    def apply(self, features: WordFeatures) -> WordFeatures:
        """The mixed one-layer features of every word (float32, N x H)."""
        return WordFeatures(self.mix_rows(features.vectors), features.offsets, features.seconds, 1)


@dataclass
class ProbeModel:
    """The heads of one fold (an ensemble of `len(heads)` seeds) and how they were trained.

    mix: a fixed layer mix the heads read through (None: they read the features as they are);
    epochs: epochs each head ran before early stopping; seconds: training wall-clock time.
    """

    heads: list[nn.Module]
    epochs: list[int]
    seconds: float
    mix: LayerMix | None = None

    @property
    def n_labels(self) -> int:
        return self.heads[0].n_labels

    @torch.inference_mode()
    def flat_logits(self, features: WordFeatures, index: np.ndarray) -> np.ndarray:
        """(sum of lengths, K) float32 logits of the words of sentences `index`, in order,
        averaged over the ensemble."""
        index = np.asarray(index, dtype=np.int64)
        if len(index) == 0:
            return np.zeros((0, self.n_labels), np.float32)
        if self.mix is not None:
            features, index = _mixed_subset(self.mix, features, index)
        total = sum(_head_logits(head.eval(), features, index) for head in self.heads)
        return (total / len(self.heads)).astype(np.float32)

    def logits(self, features: WordFeatures, index: np.ndarray) -> list[np.ndarray]:
        """(n_words_i, K) float32 logits of each sentence of `index`, averaged over the ensemble."""
        if len(index) == 0:
            return []
        flat = self.flat_logits(features, index)
        return np.split(flat, np.cumsum(features.lengths(np.asarray(index, dtype=np.int64)))[:-1])


def _mixed_subset(mix: LayerMix, features: WordFeatures, index: np.ndarray) -> tuple[WordFeatures, np.ndarray]:
    """Mixed features of sentences `index` only, as a new WordFeatures over 0..len(index)-1."""
    vectors = mix.mix_rows(features.vectors, features.word_index(index))
    offsets = np.concatenate([[0], np.cumsum(features.lengths(index))]).astype(np.int64)
    return WordFeatures(vectors, offsets, features.seconds, 1), np.arange(len(index), dtype=np.int64)


def fit_layer_mix(
    features: WordFeatures,
    train: np.ndarray,
    tags: list[list[int]],
    n_labels: int,
    seed: int,
    max_words: int = 30000,
    steps: int = 200,
) -> LayerMix:
    """Learn which layers to read: a linear probe with a learned scalar mix, `steps` Adam steps on
    a seeded sample of at most `max_words` training words (seconds, even with 12 layers). The mix
    it finds is then fixed, so the real head trains on one layer's width instead of gathering and
    standardising every layer at each step."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(train))
    lengths = features.lengths(train[order])
    keep = order[: max(1, int(np.searchsorted(np.cumsum(lengths), max_words)) + 1)]
    sample = train[np.sort(keep)]
    rows = features.word_index(sample)
    y = torch.as_tensor(np.concatenate([np.asarray(tags[i], dtype=np.int64) for i in sample]))
    # the sample's moments standardise well enough, at a fraction of a 12-layer pass over all
    # words; standardised once, in place, so each step only mixes and projects
    x_all = features.batch(rows)
    std_t, mean_t = torch.std_mean(x_all, 0, correction=0)
    std_t += 1e-5
    x_all.sub_(mean_t).div_(std_t)
    mean, std = mean_t.numpy(), std_t.numpy()
    dim = len(mean) // features.layers
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mix_logits = nn.Parameter(torch.zeros(features.layers))
        linear = nn.Linear(dim, n_labels)
    opt = torch.optim.Adam([mix_logits, *linear.parameters()], lr=2e-2)
    done = 0
    while done < steps:
        for idx in torch.from_numpy(rng.permutation(len(rows))).split(1024):
            x = x_all[idx].unflatten(-1, (features.layers, dim))
            mixed = (x * torch.softmax(mix_logits, 0).unsqueeze(-1)).sum(-2)
            opt.zero_grad()
            nn.functional.cross_entropy(linear(mixed), y[idx]).backward()
            opt.step()
            done += 1
            if done >= steps:
                break
    return LayerMix(mean, std, features.layers, mix_logits)


def _padded(features: WordFeatures, index: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T, D) zero-padded word vectors of sentences `index` and their (B,) lengths."""
    lengths = features.lengths(index)
    width = max(int(lengths.max()), 1) if len(lengths) else 1
    x = np.zeros((len(index), width, features.vectors.shape[1]), dtype=np.float32)
    for r, i in enumerate(index):
        a, b = features.offsets[i], features.offsets[i + 1]
        x[r, : b - a] = features.vectors[a:b]
    return torch.from_numpy(x), torch.as_tensor(np.maximum(lengths, 1))


def _head_logits(head: nn.Module, features: WordFeatures, index: np.ndarray, batch_words: int = 8192) -> np.ndarray:
    """(sum of lengths, K) logits of sentences `index`, in order, flat."""
    if not getattr(head, "contextual", False):
        rows = features.word_index(index)
        parts = [
            head(features.batch(rows[i : i + batch_words])).numpy()
            for i in range(0, len(rows), batch_words)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, head.n_labels), np.float32)
    out = []
    for batch in _sentence_batches(features.lengths(index), batch_words, order=None):
        x, lengths = _padded(features, index[batch])
        logits = head(x, lengths)
        mask = torch.arange(x.shape[1]).unsqueeze(0) < torch.as_tensor(features.lengths(index[batch])).unsqueeze(1)
        out.append(logits[mask].numpy())
    return np.concatenate(out) if out else np.zeros((0, head.n_labels), np.float32)


def _sentence_batches(lengths: np.ndarray, batch_words: int, order: np.ndarray | None) -> list[np.ndarray]:
    """Consecutive groups of positions (in `order`, default 0..n-1) holding about batch_words words."""
    order = np.arange(len(lengths)) if order is None else order
    batches, current, words = [], [], 0
    for i in order:
        current.append(i)
        words += int(lengths[i])
        if words >= batch_words:
            batches.append(np.asarray(current, dtype=np.int64))
            current, words = [], 0
    if current:
        batches.append(np.asarray(current, dtype=np.int64))
    return batches


def _holdout_loss(head: nn.Module, features: WordFeatures, hold: np.ndarray, y_hold: torch.Tensor) -> float:
    with torch.inference_mode():
        logits = torch.from_numpy(_head_logits(head.eval(), features, hold))
        return float(nn.functional.cross_entropy(logits, y_hold))


def _train_one(
    features: WordFeatures,
    train: np.ndarray,
    y_train: list[np.ndarray],
    hold: np.ndarray,
    y_hold: torch.Tensor,
    n_labels: int,
    cfg: ProbeConfig,
    weight_decay: float,
    seed: int,
    mean: np.ndarray,
    std: np.ndarray,
) -> tuple[nn.Module, int]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        cls = ContextHead if cfg.head == "bilstm" else TokenHead
        head = cls(mean, std, n_labels, cfg)
    gen = np.random.default_rng(seed)
    opt = torch.optim.AdamW(head.parameters(), lr=cfg.learning_rate, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    best, best_state, best_epoch, bad = math.inf, None, 0, 0
    if head.contextual:
        lengths = features.lengths(train)
    else:
        rows = features.word_index(train)
        y_all = torch.from_numpy(np.concatenate(y_train)) if y_train else torch.zeros(0, dtype=torch.long)
    epoch = 0
    for epoch in range(1, cfg.epochs + 1):
        head.train()
        torch.manual_seed(seed * 1000 + epoch)  # dropout masks: same seed, same numbers
        if head.contextual:
            order = gen.permutation(len(train))
            for batch in _sentence_batches(lengths, cfg.batch_size, order):
                x, lens = _padded(features, train[batch])
                y = torch.full(x.shape[:2], -100, dtype=torch.long)
                for r, b in enumerate(batch):
                    y[r, : len(y_train[b])] = torch.from_numpy(y_train[b])
                opt.zero_grad()
                logits = head(x, lens)
                nn.functional.cross_entropy(logits.reshape(-1, n_labels), y.reshape(-1), ignore_index=-100).backward()
                opt.step()
        else:
            perm = gen.permutation(len(rows))
            for lo in range(0, len(perm), cfg.batch_size):
                idx = perm[lo : lo + cfg.batch_size]
                opt.zero_grad()
                loss_fn(head(features.batch(rows[idx])), y_all[idx]).backward()
                opt.step()
        if len(hold) == 0:
            continue
        loss = _holdout_loss(head, features, hold, y_hold)
        if loss < best - 1e-4:
            best, best_state, best_epoch, bad = loss, copy.deepcopy(head.state_dict()), epoch, 0
        else:
            bad += 1
            for group in opt.param_groups:
                group["lr"] *= 0.5  # a plateau: take smaller steps before giving up
            if bad >= cfg.patience:
                break
    if best_state is not None:
        head.load_state_dict(best_state)
        epoch = best_epoch
    return head.eval(), epoch


def train_probe(
    features: WordFeatures,
    train: np.ndarray,
    tags: list[list[int]],
    hold: np.ndarray,
    n_labels: int,
    cfg: ProbeConfig,
    weight_decay: float,
    seed: int,
    progress: bool = True,
) -> ProbeModel:
    """Fit cfg.ensemble heads on sentences `train` (indices into features and tags), early-stopped
    on the holdout sentences `hold` (no early stopping when it is empty: cfg.epochs epochs).

    Deterministic for a given seed (own generators; the global RNG is restored)."""
    started = time.perf_counter()
    train = np.asarray(train, dtype=np.int64)
    hold = np.asarray(hold, dtype=np.int64)
    if len(train) == 0:
        raise ValueError("a probe head needs at least one training sentence")
    mix = None
    if cfg.mix == "scalar" and features.layers > 1:
        mix = fit_layer_mix(features, train, tags, n_labels, seed)
        features = mix.apply(features)
        cfg = cfg.model_copy(update={"mix": "concat"})
    mean, std = features.moments(train)
    y_train = [np.asarray(tags[i], dtype=np.int64) for i in train]
    y_hold = torch.as_tensor(np.concatenate([np.asarray(tags[i], dtype=np.int64) for i in hold])) if len(hold) else None
    heads, epochs = [], []
    with torch.random.fork_rng(devices=[]):
        for e in progress_bar(range(cfg.ensemble), desc="probe heads", unit="head", disable=not progress or cfg.ensemble < 2, nested=True):
            head, n = _train_one(
                features, train, y_train, hold, y_hold, n_labels, cfg, weight_decay, seed * 7919 + e, mean, std
            )
            heads.append(head)
            epochs.append(n)
    return ProbeModel(heads, epochs, time.perf_counter() - started, mix)
