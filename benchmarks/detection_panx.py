"""Detection quality on real PAN-X with known injected errors.

PAN-X sentences keep their original (silver) tags as `clean_ner_tags`; a share of the
sentences then receives one error from the synthetic corpus's own noise kinds (type swap,
boundary, missing, spurious), applied to the real spans. Cross-validation runs in probe
mode (frozen encoder + K heads), then the product's score_corpus and evaluate_detection.

PAN-X's own silver noise is still in the "clean" tags, so a flag on a real silver error
counts as a false positive here: the figures are a lower bound on precision.

    python benchmarks/detection_panx.py --model .cache/e5-small --sentences 4000 --rates 0.05 0.1
    python benchmarks/detection_panx.py --quick      # synthetic corpus, tiny model
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasets import DatasetDict

from auditor.config import DataConfig, PipelineConfig, config_from_dict
from auditor.data import synthetic as syn
from auditor.data.build import load_corpus
from auditor.data.corpus import CLEAN_COLUMN, dataset_from_records, label_names
from auditor.data.iob import spans, tags_from_spans
from auditor.modeling.crossval import fingerprint, plan_folds, resolve_mode, run_crossval
from auditor.modeling.probe import WordFeatures, cached_word_features, encode_word_features
from auditor.scoring.detection import DetectionReport, evaluate_detection
from auditor.scoring.score import score_corpus
from auditor.tables import OofPredictions

# PAN-X as <lang>/<split>.jsonl.gz; by default ../shared/data/panx next to the repository
# (where the benchmark machine keeps it), else --panx DIR
DEFAULT_PANX_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "panx"
DEFAULT_WORK = Path(tempfile.gettempdir()) / "auditor-bench"


def panx_files(data_dir: str | Path, split: str) -> str:
    """The "{lang}" path pattern of one split's files."""
    return str(Path(data_dir) / "{lang}" / f"{split}.jsonl.gz")


@dataclass(frozen=True)
class Budget:
    """What one detection run costs: sentences audited, folds, probe-head epochs."""

    sentences: int
    folds: int
    epochs: int
    head: str = "logreg"
    batch_size: int = 256


def load_panx(
    langs: dict[str, float], splits: list[str], max_sentences: int | None, data_dir: str | Path = DEFAULT_PANX_DIR
) -> DatasetDict:
    """PAN-X through the product's own JSONL source (per language, `max_sentences` per split)."""
    cfg = DataConfig(
        source="jsonl",
        files={s: panx_files(data_dir, s) for s in splits},
        languages=langs,
        splits=splits,
        audit=[splits[0]],
        train_splits=[splits[0]],
        max_sentences=max_sentences,
    )
    return load_corpus(cfg)


def _sentence_of(tokens: list[str], tags: list[str]) -> syn._Sentence:
    """The synthetic module's sentence shape for a real sentence (no dates known; a '(' ... ')'
    right after an entity is recorded so boundary noise can swallow it, as in PAN-X)."""
    s = syn._Sentence(tokens=list(tokens), entities=spans(tags))
    for i, (_, b, _) in enumerate(s.entities):
        if b < len(tokens) and tokens[b] == "(" and ")" in tokens[b:]:
            s.parens[i] = (b, b + tokens[b:].index(")") + 1)
    return s


def inject_noise(ds, rate: float, seed: int):
    """A copy of `ds` with one synthetic-kind error in round(rate * n) sentences.

    ner_tags become the noisy tags, clean_ner_tags the original ones. A sentence that does not
    allow the drawn kind (e.g. no entity for a swap) tries the other kinds; systematic swaps
    are not used (they need the synthetic lexicon)."""
    names = label_names(ds)
    rng = random.Random(f"bench-noise/{seed}/{rate}")
    noisy_rows = set(rng.sample(range(len(ds)), round(rate * len(ds))))
    records = []
    for i, row in enumerate(ds):
        tags = [names[t] for t in row["ner_tags"]]
        given = tags
        if i in noisy_rows:
            s = _sentence_of(row["tokens"], tags)
            first = rng.choices(syn.NOISE_KINDS, syn._KIND_WEIGHTS)[0]
            for kind in [first] + [k for k in syn.NOISE_KINDS if k != first]:
                ents = syn._noisy_entities(s, kind, rng, None)
                if ents is not None and ents != s.entities:
                    given = tags_from_spans(len(tags), ents)
                    break
        records.append({"id": row["id"], "tokens": row["tokens"], "ner_tags": given, "lang": row["lang"], CLEAN_COLUMN: tags})
    return dataset_from_records(records, names)


def probe_config(model: str, budget: Budget, max_length: int = 128) -> PipelineConfig:
    """A pipeline config for probe-mode crossval on the given model path (or 'tiny')."""
    tiny = {"vocab_size": 1000, "hidden_size": 64, "num_layers": 2, "num_heads": 2, "intermediate_size": 128}
    return config_from_dict(
        {
            "name": "bench-detection",
            "data": {"source": "synthetic", "splits": ["train"]},
            "model": {"name": model, "max_length": max_length, "stride": 16, "tiny": tiny},
            "crossval": {
                "mode": "probe",
                "folds": budget.folds,
                "probe": {"head": budget.head, "epochs": budget.epochs, "batch_size": budget.batch_size},
            },
        }
    )


def seed_features(corpus: DatasetDict, cfg: PipelineConfig, run_dir: Path, features: WordFeatures) -> None:
    """Put already-encoded word vectors of the audited sentences where run_crossval looks for
    them, so several noise rates over the same sentences pay for one encoder pass."""
    plan = plan_folds(corpus, cfg)
    fp = fingerprint(plan, cfg, resolve_mode(cfg))
    cached_word_features(run_dir / "folds" / "probe-features", fp, lambda: features)


def encode(model_path: str, sentences: list[list[str]], max_length: int = 128, progress: bool = True) -> WordFeatures:
    return encode_word_features(model_path, sentences, max_length, 16, 64, progress)


@dataclass
class DetectionRun:
    rate: float
    report: DetectionReport
    crossval_seconds: float
    scoring_seconds: float
    mean_fold_f1: float | None
    issues: object  # the issue table (pandas DataFrame)
    corpus: DatasetDict
    preds: OofPredictions


def detect(
    corpus: DatasetDict, cfg: PipelineConfig, run_dir: Path, rate: float, progress: bool = True
) -> DetectionRun:
    """crossval (probe) + score_corpus + evaluate_detection on a corpus with clean tags."""
    t0 = time.perf_counter()
    cv = run_crossval(corpus, cfg, run_dir, progress=progress)
    t1 = time.perf_counter()
    preds = OofPredictions.read(cv.predictions)
    scored = score_corpus(corpus, preds, cfg.scoring, progress=progress)
    t2 = time.perf_counter()
    report = evaluate_detection(corpus, scored.issues, preds, cfg.scoring)
    f1s = [f.f1 for f in cv.folds if f.f1 is not None]
    return DetectionRun(rate, report, t1 - t0, t2 - t1, float(np.mean(f1s)) if f1s else None, scored.issues, corpus, preds)


def run_detection(
    base: DatasetDict, model: str, budget: Budget, rates: list[float], work: Path, features: WordFeatures | None,
    progress: bool = True,
) -> list[DetectionRun]:
    """One DetectionRun per noise rate over the same audited sentences (base["train"])."""
    cfg = probe_config(model, budget)
    runs = []
    for rate in rates:
        corpus = DatasetDict({"train": inject_noise(base["train"], rate, cfg.training.seed)})
        run_dir = work / f"detect-{rate}"
        if features is not None:
            seed_features(corpus, cfg, run_dir, features)
        runs.append(detect(corpus, cfg, run_dir, rate, progress))
    return runs


def markdown(runs: list[DetectionRun], budget: Budget, model: str) -> str:
    out = []
    for r in runs:
        f1 = f"{r.mean_fold_f1:.3f}" if r.mean_fold_f1 is not None else "-"
        out.append(
            f"### injected noise {r.rate:.0%} (model {Path(model).name}, {budget.sentences} sentences, "
            f"{budget.folds} folds, {budget.head} head {budget.epochs} epochs)\n\n"
            f"crossval {r.crossval_seconds:.1f} s (mean held-out fold F1 vs noisy tags {f1}), scoring {r.scoring_seconds:.1f} s\n\n"
            + r.report.to_markdown()
        )
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="tiny")
    p.add_argument("--sentences", type=int, default=4000)
    p.add_argument("--lang", default="de")
    p.add_argument("--rates", type=float, nargs="+", default=[0.05, 0.10])
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--work", default=str(DEFAULT_WORK))
    p.add_argument("--panx", default=str(DEFAULT_PANX_DIR), help="PAN-X folder (<lang>/<split>.jsonl.gz)")
    p.add_argument("--quick", action="store_true", help="synthetic corpus (clean tags only), tiny model")
    args = p.parse_args()
    work = Path(args.work)
    if args.quick:
        from auditor.config import SyntheticConfig
        from auditor.data.synthetic import generate_synthetic

        synth = generate_synthetic(SyntheticConfig(sentences={"train": args.sentences}, noise_rate=0.0), ["de"], 0)
        base = DatasetDict({"train": synth["train"]})
        features = None
    else:
        base = load_panx({args.lang: 1.0}, ["train"], args.sentences, args.panx)
        features = encode(args.model, list(base["train"]["tokens"]))
    budget = Budget(len(base["train"]), args.folds, args.epochs)
    runs = run_detection(base, args.model, budget, args.rates, work, features)
    print(markdown(runs, budget, args.model))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
