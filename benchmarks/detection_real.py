"""Detection quality on real label errors (CoNLL-2003 dev vs CleanCoNLL) and on PAN-X with
injected errors, for every ranking the product offers, on the same out-of-fold predictions.

Sets:
- ``conll``: ``../shared/data/conll_clean``: audit the dev split (original tags) with train as
  training-only data; truth = the CleanCoNLL tags of dev (real, expert corrections).
- ``panx-<lang>``: ``--panx-sentences`` sentences of PAN-X <lang> train with one injected error
  in a share ``--noise`` of them (benchmarks/detection_panx.inject_noise); truth = the original
  silver tags (so a flag on a real silver error counts as a false positive).

A *setting* is a set of overrides of the pipeline config (crossval.probe.*, scoring.*), given as
``name=JSON``; the frozen-encoder features are computed once per set and layer/pooling choice
and cached under --work, so a sweep of head settings pays for one encoder pass.

    python benchmarks/detection_real.py --model .cache/e5-small --sets conll panx-de \\
        --setting 'default={}' --work WORK

It prints one table per set (sentence- and span-level AP, AUROC, P@k of each ranking, fold F1,
seconds) and writes results.jsonl plus, per set and setting, a run folder (corpus/,
predictions.parquet, issues.parquet) under --work.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from datasets import DatasetDict

sys.path.insert(0, str(Path(__file__).resolve().parent))

from detection_panx import inject_noise  # noqa: E402

from auditor.config import DataConfig, config_from_dict  # noqa: E402
from auditor.data.build import load_corpus  # noqa: E402
from auditor.errors import DataError  # noqa: E402
from auditor.modeling.crossval import audited_word_vectors, run_crossval  # noqa: E402
from auditor.scoring.detection import evaluate_detection  # noqa: E402
from auditor.scoring.score import score_corpus  # noqa: E402
from auditor.tables import OofPredictions, write_issues  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"


def conll_corpus(data_dir: Path) -> tuple[DatasetDict, list[str], list[str]]:
    """CoNLL-2003 train + dev (original tags), dev's clean tags from CleanCoNLL; (corpus, audit, train_splits)."""
    root = data_dir / "conll_clean"
    cfg = DataConfig(
        source="jsonl",
        files={"train": str(root / "train.jsonl.gz"), "dev": str(root / "dev_original.jsonl.gz")},
        truth={"dev": str(root / "dev_clean.jsonl.gz")},
        languages={"en": 1.0},
        default_lang="en",
        splits=["train", "dev"],
        audit=["dev"],
        train_splits=["train", "dev"],
    )
    return load_corpus(cfg), ["dev"], ["train", "dev"]


def panx_corpus(data_dir: Path, lang: str, sentences: int, noise: float, seed: int) -> tuple[DatasetDict, list[str], list[str]]:
    """A seeded sample of PAN-X <lang> train with injected errors; (corpus, audit, train_splits)."""
    cfg = DataConfig(
        source="jsonl",
        files={"train": str(data_dir / "panx" / "{lang}" / "train.jsonl.gz")},
        languages={lang: 1.0},
        splits=["train"],
        audit=["train"],
        train_splits=["train"],
        max_sentences=sentences,
        seed=seed,
    )
    base = load_corpus(cfg)
    return DatasetDict({"train": inject_noise(base["train"], noise, seed)}), ["train"], ["train"]


def pipeline_config(model: str, audit: list[str], train_splits: list[str], overrides: dict, seed: int):
    raw = {
        "name": "bench-real",
        "data": {"source": "synthetic", "splits": sorted(set(audit) | set(train_splits)), "audit": audit,
                 "train_splits": train_splits, "seed": seed},
        "model": {"name": model, "max_length": 512, "stride": 128},
        "crossval": {"mode": "probe", "folds": 5},
        "training": {"seed": 42},
    }
    for dotted, value in overrides.items():
        node = raw
        *path, last = dotted.split(".")
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return config_from_dict(raw)


def extra_rankings(corpus: DatasetDict, preds: OofPredictions, issues, scoring) -> dict[str, dict[str, float]]:
    """Sentence- and span-level detection quality of every word quality x sentence aggregate of
    auditor.scoring.quality on the same predictions (needs clean tags); scoring: a ScoringConfig.

    Returns {"<word method>/<aggregate>": {sentence_ap, sentence_auroc, sentence_p100[, span_ap]}};
    span_ap (issues re-ranked by the worst word quality inside each issue) is given for "min".
    Also {"_coverage": {"span_recall": share of true error spans some issue overlaps}}.
    """
    # detection's own metric helpers, so these rankings are measured exactly like the product's
    from auditor.scoring.detection import _sentence_errors, _sentence_metrics, _span_rows, _true_error_spans
    from auditor.scoring.quality import SENTENCE_METHODS, WORD_METHODS, sentence_quality, span_quality, word_quality
    from auditor.scoring.score import compute_signals

    frame, signals = compute_signals(corpus, preds, scoring)
    if frame.clean is None:
        raise DataError("ranking evaluation needs known clean tags (clean_ner_tags)")
    is_error = _sentence_errors(frame)
    true_spans = _true_error_spans(frame, np.flatnonzero(is_error))
    n_true = sum(len(v) for v in true_spans.values())
    row_of = {str(sid): s for s, sid in enumerate(frame.ids)}
    base = np.asarray([frame.offsets[row_of[str(i)]] for i in issues["id"]], dtype=np.int64)
    starts = base + issues["start"].to_numpy(dtype=np.int64)
    ends = base + issues["end"].to_numpy(dtype=np.int64)
    out: dict[str, dict[str, float]] = {}
    for wm in WORD_METHODS:
        q = word_quality(frame.probs, frame.labels, frame.label_names, wm)
        for agg in SENTENCE_METHODS:
            out[f"{wm}/{agg}"] = _sentence_metrics(is_error, sentence_quality(q, frame.offsets, agg))
        ranked = issues.assign(score=span_quality(q, starts, ends))
        out[f"{wm}/min"]["span_ap"] = _span_rows(ranked, true_spans, (100,))[0].ap
        if wm != "collapsed":
            continue
        cons = np.clip(signals.consistency, 1e-6, 1.0)
        for b in (0.1, 0.25, 0.5, 1.0):
            fused = q * cons**b
            for agg in ("min", "softmin"):
                out[f"{wm}*cons^{b}/{agg}"] = _sentence_metrics(is_error, sentence_quality(fused, frame.offsets, agg))
            ranked = issues.assign(score=span_quality(fused, starts, ends))
            out[f"{wm}*cons^{b}/min"]["span_ap"] = _span_rows(ranked, true_spans, (100,))[0].ap
    covered = {
        (sid, s, e)
        for sid, a, b in zip(issues["id"], issues["start"], issues["end"])
        for s, e in true_spans.get(str(sid), [])
        if s < b and a < e
    }
    out["_coverage"] = {"span_recall": len(covered) / n_true if n_true else float("nan"), "n_true_spans": n_true}
    return out


def write_verified_sample(corpus, audit: list[str], n: int, seed: int, path: Path) -> Path:
    """A curator's verified sample, simulated: the sample `auditor sample` would draw (n seeded
    random audited sentences) with their clean (true) tags, verified."""
    from auditor.data.corpus import CLEAN_COLUMN, label_names
    from auditor.data.sample import draw_sample, write_sample

    names = label_names(corpus)
    clean = {r["id"]: [names[t] for t in r[CLEAN_COLUMN]] for s in audit for r in corpus[s].select_columns(["id", CLEAN_COLUMN])}
    rows = draw_sample(corpus, audit, n, seed)
    for row in rows:
        row.tags, row.verified = clean[row.id], True
    path.parent.mkdir(parents=True, exist_ok=True)
    write_sample(path, rows)
    return path


def run_one(set_name: str, setting: str, overrides: dict, corpus, audit, train_splits, args, verified_seed=None) -> dict:
    overrides = dict(overrides)
    if verified_seed is not None and "scoring.reference.file" not in overrides:
        sample = Path(args.work) / set_name / f"verified-{args.verified}-seed{verified_seed}.jsonl"
        overrides["scoring.reference.file"] = str(write_verified_sample(corpus, audit, args.verified, verified_seed, sample))
    cfg = pipeline_config(args.model, audit, train_splits, overrides, args.seed)
    # settings that change only the scoring share the default's out-of-fold predictions
    scoring_only = all(k.startswith("scoring.") for k in overrides)
    run_dir = Path(args.work) / set_name / ("default" if scoring_only else setting)
    probe = cfg.crossval.probe
    feature_dir = Path(args.work) / set_name / "features" / f"{getattr(probe, 'pooling', 'first')}"
    run_dir.mkdir(parents=True, exist_ok=True)
    _share_features(feature_dir, run_dir / "folds" / "probe-features")
    t0 = time.perf_counter()
    cv = run_crossval(corpus, cfg, run_dir, folds=args.folds, progress=args.progress)
    t1 = time.perf_counter()
    if args.folds is not None:  # a quick look at the tagger: fold F1, time and epochs only
        f = [r for r in cv.folds if r.fold in args.folds]
        return {"set": set_name, "setting": setting, "overrides": overrides, "folds_only": [r.to_dict() for r in f],
                "encode_s": cv.encode_seconds}
    _share_features(run_dir / "folds" / "probe-features", feature_dir)
    preds = OofPredictions.read(cv.predictions)
    vectors = audited_word_vectors(corpus, cfg, run_dir) if cfg.scoring.reference.file else None
    scored = score_corpus(corpus, preds, cfg.scoring, progress=False, vectors=vectors)
    t2 = time.perf_counter()
    write_issues(scored.issues, run_dir / "issues.parquet")
    if not (run_dir / "corpus").exists():
        corpus.save_to_disk(str(run_dir / "corpus"))
    report = evaluate_detection(corpus, scored.issues, preds, cfg.scoring, vectors=vectors)
    f1s = [f.f1 for f in cv.folds if f.f1 is not None]
    return {
        "set": set_name,
        "setting": setting,
        "overrides": overrides,
        "fold_f1": float(np.mean(f1s)) if f1s else None,
        "encode_s": cv.encode_seconds,
        "heads_s": float(sum(f.seconds for f in cv.folds)),
        "crossval_wall_s": t1 - t0,
        "score_s": t2 - t1,
        "n_sentences": report.n_sentences,
        "n_error_sentences": report.n_error_sentences,
        "n_error_spans": report.n_error_spans,
        "n_issues": report.n_issues,
        "detection": report.to_dict(),
        # the alternative rankings know nothing of a verified sample
        "rankings": {} if vectors is not None else extra_rankings(corpus, preds, scored.issues, cfg.scoring),
        "verified_seed": verified_seed,
        "reference": scored.summary.reference,
    }


def _share_features(src: Path, dst: Path) -> None:
    """Hard-link a probe-feature cache folder (one per set and layer/pooling choice), so a sweep
    of head settings reads the vectors the first setting encoded."""
    if not (src / "meta.json").is_file() or (dst / "meta.json").is_file():
        return
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        (dst / f.name).unlink(missing_ok=True)
        (dst / f.name).hardlink_to(f)


def summary_rows(result: dict) -> list[str]:
    """Markdown rows: set, setting, ranking, sentence AP, AUROC, P@100, span AP, fold F1, seconds."""
    rows = []
    det = result["detection"]
    span = {r["method"]: r for r in det["span"]}
    seconds = f"{result['encode_s']:.0f} + {result['heads_s']:.0f}"
    f1 = f"{result['fold_f1']:.3f}" if result["fold_f1"] is not None else "-"
    for r in det["sentence"]:
        m = r["method"]
        sp = span.get(m, {}).get("ap", float("nan"))
        rows.append(
            f"| {result['set']} | {result['setting']} | {m} | {r['ap']:.3f} | {r['auroc']:.3f} | "
            f"{r['precision_at'].get('100', float('nan')):.3f} | {sp:.3f} | {f1} | {seconds} |"
        )
    for m, r in result["rankings"].items():
        if m.startswith("_"):
            continue
        rows.append(
            f"| {result['set']} | {result['setting']} | {m} | {r['sentence_ap']:.3f} | {r['sentence_auroc']:.3f} | "
            f"{r['sentence_p100']:.3f} | {r.get('span_ap', float('nan')):.3f} | {f1} | {seconds} |"
        )
    return rows


HEADER = (
    "| set | setting | ranking | sentence AP | AUROC | P@100 | span AP | fold F1 | encode + heads s |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="local HF model folder, e.g. .cache/e5-small")
    p.add_argument("--data", default=str(DEFAULT_DATA), help="the shared data folder (default ../shared/data)")
    p.add_argument("--sets", nargs="+", default=["conll", "panx-de", "panx-fr", "panx-it", "panx-en"])
    p.add_argument("--setting", action="append", default=[], help="name=JSON of dotted config overrides")
    p.add_argument("--panx-sentences", type=int, default=5000)
    p.add_argument("--noise", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "auditor-bench-real"))
    p.add_argument("--progress", action="store_true")
    p.add_argument("--verified", type=int, default=0,
                   help="simulate a curator's verified sample: this many random audited sentences with their true tags "
                        "(scoring.reference); detection is then measured on the other sentences")
    p.add_argument("--verified-seeds", type=int, nargs="+", default=[0], help="one verified sample per seed")
    p.add_argument("--folds", type=int, nargs="+", default=None, help="run only these folds: fold F1 and time, no detection")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    settings = [s.split("=", 1) for s in (args.setting or ["default={}"])]
    out = Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    print(HEADER, flush=True)
    for set_name in args.sets:
        if set_name == "conll":
            corpus, audit, train_splits = conll_corpus(Path(args.data))
        else:
            corpus, audit, train_splits = panx_corpus(
                Path(args.data), set_name.split("-", 1)[1], args.panx_sentences, args.noise, args.seed
            )
        runs = [(name, raw, None) for name, raw in settings]
        if args.verified:
            runs = [(f"{name}@v{seed}", raw, seed) for name, raw in settings for seed in args.verified_seeds]
        for name, raw, vseed in runs:
            result = run_one(set_name, name.split("@")[0], json.loads(raw), corpus, audit, train_splits, args, vseed)
            result["setting"] = name
            with open(out / "results.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(result) + "\n")
            if "folds_only" in result:
                for r in result["folds_only"]:
                    print(f"| {set_name} | {name} | fold {r['fold']} | F1 {r['f1']:.3f} | {r['seconds']:.0f} s | "
                          f"epochs {r.get('epochs')} |", flush=True)
                continue
            print("\n".join(summary_rows(result)), flush=True)
            if result.get("reference"):
                ref = result["reference"]
                print(f"| {set_name} | {name} | verified {ref['verified_sentences']} ({ref['corrected_sentences']} corrected), "
                      f"evidence weight {ref['weight']:g}, fit AP {ref['fit_sentence_ap']} |", flush=True)


if __name__ == "__main__":
    main()
