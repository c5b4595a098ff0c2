"""Words per second of cross-validation: finetune vs probe, same corpus, same machine, one run.

    python benchmarks/crossval_throughput.py                 # tiny model, synthetic corpus
    python benchmarks/crossval_throughput.py path/to/encoder # any local HF encoder folder
    python benchmarks/crossval_throughput.py --quick         # a few seconds, for a smoke check

words/s = audited words that received an out-of-fold prediction / wall-clock seconds of the
whole cross-validation (probe: including the one frozen-encoder pass).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from auditor.config import config_from_dict
from auditor.data.synthetic import generate_synthetic
from auditor.modeling.crossval import CrossvalResult, run_crossval


def _config(model: str, mode: str, quick: bool):
    tiny = {"vocab_size": 1000, "hidden_size": 64, "num_layers": 2, "num_heads": 2, "intermediate_size": 128}
    return config_from_dict(
        {
            "name": f"bench-{mode}",
            "data": {
                "source": "synthetic",
                "languages": {"de": 1.0, "fr": 1.0},
                "splits": ["train"],
                "synthetic": {"sentences": {"train": 60 if quick else 400}},
            },
            "model": {"name": model, "max_length": 64 if model == "tiny" else 128, "stride": 16, "tiny": tiny},
            "crossval": {"mode": mode, "folds": 2 if quick else 5, "probe": {"epochs": 5 if quick else 30}},
            "training": {"epochs": 1 if quick else 3, "batch_size": 16, "learning_rate": 1e-3 if model == "tiny" else 5e-5},
        }
    )


def _row(mode: str, result: CrossvalResult, wall: float) -> str:
    f1s = [f.f1 for f in result.folds if f.f1 is not None]
    f1 = f"{statistics.mean(f1s):.3f}" if f1s else "-"
    return f"| {mode:8s} | {len(result.folds):5d} | {wall:9.1f} | {result.words_per_second:9.0f} | {f1:>7s} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="tiny", help="'tiny' or a local encoder folder")
    parser.add_argument("--quick", action="store_true", help="small corpus, few folds and epochs")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    corpus = generate_synthetic(_config(args.model, "probe", args.quick).data.synthetic, ["de", "fr"], 0)
    words = sum(len(t) for t in corpus["train"]["tokens"])
    print(f"model {args.model}; {len(corpus['train'])} audited sentences, {words} words; device "
          f"{'cuda' if torch.cuda.is_available() else 'cpu'} ({torch.get_num_threads()} threads)")
    results = {}
    with tempfile.TemporaryDirectory(prefix="auditor-bench-") as tmp:
        for mode in ("finetune", "probe"):
            cfg = _config(args.model, mode, args.quick)
            start = time.perf_counter()
            result = run_crossval(corpus, cfg, Path(tmp) / mode, progress=True)
            results[mode] = (result, time.perf_counter() - start)
    print()
    print("| mode     | folds | seconds   | words/s   | mean F1 |")
    print("|----------|-------|-----------|-----------|---------|")
    for mode, (result, wall) in results.items():
        print(_row(mode, result, wall))
    ratio = results["probe"][0].words_per_second / results["finetune"][0].words_per_second
    print(f"\nprobe / finetune throughput: {ratio:.1f}x")


if __name__ == "__main__":
    main()
