"""Cleaning effect: test F1 before and after an oracle review of the top-k issues.

The final tagger is a probe head (logistic regression) on the frozen encoder's word
vectors, not a fine-tuned model: fine-tuning e5-small runs at ~16-33 sentences/s on the
2-core CPU, too slow for several trainings inside the benchmark budget. The head is
trained on the training tags (noisy, or after the oracle fixed the top-k issues) and
evaluated with seqeval on each language's test set against its PAN-X tags.

Oracle review = auditor.review.policies.apply_policy (policy "oracle", top_fraction chosen
so that k = 1%/5%/10% of the training sentences' worth of issues are reviewed), then
auditor.cleaning.apply_decisions. Used from run_all.py (it needs a detection run's issues).
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasets import Dataset, DatasetDict

from auditor.cleaning import apply_decisions
from auditor.config import ProbeConfig, ReviewConfig
from auditor.data.corpus import CLEAN_COLUMN, label_names
from auditor.evaluation import seqeval_scores
from auditor.modeling.probe import ProbeModel, WordFeatures, train_probe
from auditor.review.policies import apply_policy
from auditor.review.store import DecisionStore


@dataclass(frozen=True)
class TestSet:
    """One language's test sentences: gold tag strings and their encoded word vectors."""

    lang: str
    tags: list[list[str]]
    features: WordFeatures


@dataclass
class CleaningRow:
    """Test F1 per language of a head trained on one version of the training tags."""

    label: str  # "noisy", "oracle top 1%", ..., "clean (upper bound)"
    reviewed_issues: int
    changed_sentences: int
    f1: dict[str, float]


def test_set(ds: Dataset, lang: str, features: WordFeatures) -> TestSet:
    names = label_names(ds)
    return TestSet(lang, [[names[t] for t in row] for row in ds["ner_tags"]], features)


def oracle_clean(corpus: DatasetDict, issues, k_share: float, store_dir: Path) -> tuple[DatasetDict, int, int]:
    """The corpus after an oracle review of k_share * n_sentences issues (top by score).

    Returns (cleaned corpus, issues reviewed, sentences changed)."""
    n_sent = sum(len(ds) for ds in corpus.values())
    n_review = min(len(issues), math.ceil(k_share * n_sent))
    if n_review == 0 or len(issues) == 0:
        return corpus, 0, 0
    store = DecisionStore(store_dir / f"decisions-{k_share}.sqlite")
    apply_policy(issues, corpus, ReviewConfig(policy="oracle", top_fraction=n_review / len(issues)), store)
    result = apply_decisions(corpus, issues, store.latest())
    return result.cleaned, n_review, result.summary.changed_sentences


def train_probe_head(
    x: np.ndarray, y: np.ndarray, n_labels: int, cfg: ProbeConfig, weight_decay: float, seed: int, progress: bool = True
) -> ProbeModel:
    """A token-level head on flat word vectors x (N, D) with labels y (N,): every word is its own
    'sentence', cfg.epochs epochs, no holdout. This benchmark's flat
    word vectors have no sentence structure."""
    feats = WordFeatures(np.asarray(x, dtype=np.float32), np.arange(len(x) + 1, dtype=np.int64), 0.0, 1)
    token_cfg = cfg.model_copy(update={"head": "mlp" if cfg.head == "bilstm" else cfg.head, "mix": "concat"})
    tags = [[int(t)] for t in y]
    return train_probe(feats, np.arange(len(x)), tags, np.zeros(0, np.int64), n_labels, token_cfg, weight_decay, seed, progress)


def head_logits(model: ProbeModel, x: np.ndarray, batch_size: int = 8192) -> np.ndarray:
    """(N, K) float32 logits of a token-level ProbeModel on flat word vectors x (N, D)."""
    if len(x) == 0:
        return np.zeros((0, model.n_labels), np.float32)
    feats = WordFeatures(np.asarray(x, dtype=np.float32), np.arange(len(x) + 1, dtype=np.int64), 0.0, 1)
    return model.flat_logits(feats, np.arange(len(x)))


def _train_and_test(
    train_tags: list[list[int]], train_names: list[str], train_x: WordFeatures, tests: list[TestSet], cfg: ProbeConfig, seed: int
) -> dict[str, float]:
    y = np.asarray([t for row in train_tags for t in row], dtype=np.int64)
    head = train_probe_head(train_x.vectors, y, len(train_names), cfg, weight_decay=0.01, seed=seed, progress=False)
    out = {}
    for ts in tests:
        pred = head_logits(head, ts.features.vectors).argmax(axis=1)
        sizes = np.diff(ts.features.offsets)
        parts = np.split(pred, np.cumsum(sizes)[:-1])
        pred_tags = [[train_names[i] for i in p] for p in parts]
        out[ts.lang] = seqeval_scores(ts.tags, pred_tags).f1
    return out


def cleaning_effect(
    corpus: DatasetDict, issues, train_x: WordFeatures, tests: list[TestSet], shares: list[float], cfg: ProbeConfig,
    seed: int = 0,
) -> list[CleaningRow]:
    """Rows: noisy tags, each oracle top-k share, and the clean tags (upper bound).

    corpus: one split "train" with ner_tags (noisy) and clean_ner_tags, rows in train_x order."""
    names = label_names(corpus)
    rows = [CleaningRow("noisy (before)", 0, 0, _train_and_test(corpus["train"]["ner_tags"], names, train_x, tests, cfg, seed))]
    with tempfile.TemporaryDirectory(prefix="bench-clean-") as tmp:
        for share in shares:
            cleaned, n_rev, n_changed = oracle_clean(corpus, issues, share, Path(tmp))
            f1 = _train_and_test(cleaned["train"]["ner_tags"], names, train_x, tests, cfg, seed)
            rows.append(CleaningRow(f"oracle top {share:.0%}", n_rev, n_changed, f1))
    clean = corpus["train"][CLEAN_COLUMN]
    rows.append(CleaningRow("clean tags (upper bound)", 0, 0, _train_and_test(clean, names, train_x, tests, cfg, seed)))
    return rows


def markdown(rows: list[CleaningRow]) -> str:
    langs = list(rows[0].f1)
    head = "| training tags | issues reviewed | sentences changed | " + " | ".join(f"F1 {l}" for l in langs) + " |"
    lines = [head, "|" + "|".join("---" for _ in range(3 + len(langs))) + "|"]
    for r in rows:
        lines.append(f"| {r.label} | {r.reviewed_issues} | {r.changed_sentences} | " + " | ".join(f"{r.f1[l]:.3f}" for l in langs) + " |")
    return "\n".join(lines) + "\n"
