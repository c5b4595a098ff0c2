"""The built-in offline model: an XLM-R-shaped encoder small enough for a CPU, with a
SentencePiece-style Unigram tokenizer trained on the corpus itself.

It is saved as an ordinary model folder (config.json, model.safetensors, tokenizer.json,
tokenizer_config.json), so everything downstream loads it with the same
``from_pretrained`` calls as ``xlm-roberta-base``. Weights are random (seeded): the tiny
model exists for the demo and the tests, where it learns the corpus from scratch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import torch
from datasets import DatasetDict
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaModel

from auditor.atomic import atomic_path
from auditor.config import TinyModelConfig
from auditor.modeling.quiet import quiet_transformers

SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # XLM-R's ids 0..3, <mask> next
MARKER = "tiny.json"  # what the folder was built from; a different tiny config rebuilds it
# Characters XLM-R's SentencePiece normaliser deletes; keeping the same rule means the tiny
# model exercises the "word with no sub-word" path just like the real one.
_INVISIBLE = "[\u200b-\u200f\u2060\ufeff\u00ad]"


def _corpus_text(corpus: DatasetDict) -> Iterator[str]:
    for split in sorted(corpus):
        for tokens in corpus[split]["tokens"]:
            yield " ".join(tokens)


def train_tokenizer(corpus: DatasetDict, vocab_size: int, max_length: int) -> PreTrainedTokenizerFast:
    """A Unigram tokenizer (NFKC, Metaspace '▁' word prefix, <s> A </s>) trained on every
    split's tokens, wrapped as a fast HF tokenizer."""
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(_INVISIBLE), "")])
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")]
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, unk_token="<unk>", show_progress=False
    )
    tok.train_from_iterator(_corpus_text(corpus), trainer=trainer)
    vocab = json.loads(tok.to_str())["model"]["vocab"]
    tok.model = models.Unigram(_canonical_vocab(vocab), unk_id=SPECIAL_TOKENS.index("<unk>"), byte_fallback=False)
    bos, eos = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", bos), ("</s>", eos)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=max_length,
    )


def _canonical_vocab(vocab: list[list]) -> list[tuple[str, float]]:
    """The trained vocabulary in an order that does not depend on the trainer's hash maps.

    tokenizers' UnigramTrainer appends the single characters it must keep in hash-map order
    (a different order, hence different ids, in every process), with scores stepping down
    by ~1e-4, and its scores carry last-digit float noise from parallel sums. We round the
    scores to 1e-8, sort the learned pieces by (score, piece), and deal the trailing block's
    scores (same values) to its characters in sorted order, so the same corpus gives the
    same tokenizer, byte for byte.
    """
    n_special = len(SPECIAL_TOKENS)
    special = [(p, 0.0) for p, _ in vocab[:n_special]]
    rest = [(p, round(float(s), 8)) for p, s in vocab[n_special:]]
    # the block: the trailing run of single characters whose scores step by at most ~1e-4
    j = len(rest)
    if rest and len(rest[-1][0]) == 1:
        j = len(rest) - 1
        while j > 0 and len(rest[j - 1][0]) == 1 and abs(rest[j - 1][1] - rest[j][1]) <= 2e-4:
            j -= 1
    learned = sorted(rest[:j], key=lambda x: (-x[1], x[0]))
    block = rest[j:]
    scores = sorted((s for _, s in block), reverse=True)
    chars = list(zip(sorted(p for p, _ in block), scores))
    return special + learned + chars


def build_tiny_model(corpus: DatasetDict, cfg: TinyModelConfig, max_length: int, out_dir: Path, seed: int) -> Path:
    """Build (tokenizer + randomly initialised XLMRobertaModel) into out_dir, atomically.

    max_length: the longest input in sub-words including specials; the position table gets
    the two extra slots XLM-R reserves (padding_idx offset). Same corpus + cfg + seed ->
    identical folder contents.
    """
    tokenizer = train_tokenizer(corpus, cfg.vocab_size, max_length)
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        intermediate_size=cfg.intermediate_size,
        max_position_embeddings=max_length + 2,
        type_vocab_size=1,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    # fork_rng: seeding must not disturb the caller's random state
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = XLMRobertaModel(config, add_pooling_layer=False)
    with atomic_path(out_dir, is_dir=True) as tmp, quiet_transformers():
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / MARKER).write_text(json.dumps(_marker(cfg, max_length, seed), indent=2), encoding="utf-8")
    return out_dir


def _marker(cfg: TinyModelConfig, max_length: int, seed: int) -> dict:
    return {"tiny": cfg.model_dump(), "max_length": max_length, "seed": seed}


def tiny_model_is_current(out_dir: Path, cfg: TinyModelConfig, max_length: int, seed: int) -> bool:
    """True when out_dir holds a complete tiny model built from the same settings."""
    marker = out_dir / MARKER
    if not (marker.is_file() and (out_dir / "config.json").is_file() and (out_dir / "tokenizer.json").is_file()):
        return False
    try:
        return json.loads(marker.read_text(encoding="utf-8")) == _marker(cfg, max_length, seed)
    except (OSError, ValueError):
        return False
