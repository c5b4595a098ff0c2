"""Time and peak memory of the score stage (auditor.scoring.score_corpus) at 10k, 100k and 1M words.

The corpus is the synthetic demo corpus (de, fr, it, en) with simulated out-of-fold
probabilities (tests/simulated_oof.py), so no model is trained. Peak memory is the process's
maximum resident set size (resource.getrusage), measured in a fresh subprocess per size so one
size does not inherit another's peak.

    python benchmarks/scoring_scale.py            # 10k, 100k, 1M words
    python benchmarks/scoring_scale.py --quick    # 10k, 100k
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

# the simulated out-of-fold probabilities live with the tests that also use them
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

LANGS = ["de", "fr", "it", "en"]
WORDS_PER_SENTENCE = 11.5  # the synthetic corpus's average, to size the corpus


def measure(n_words: int) -> dict:
    from simulated_oof import simulate_oof

    from auditor.config import ScoringConfig, SyntheticConfig
    from auditor.data.synthetic import generate_synthetic
    from auditor.scoring.score import score_corpus

    per_lang = max(1, round(n_words / WORDS_PER_SENTENCE / len(LANGS)))
    corpus = generate_synthetic(SyntheticConfig(sentences={"train": per_lang}), LANGS, seed=0)
    preds = simulate_oof(corpus, ["train"], seed=0)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    result = score_corpus(corpus, preds, ScoringConfig(), progress=False)
    seconds = time.perf_counter() - start
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "words": int(len(preds.ids)),
        "sentences": int(result.summary.n_sentences),
        "issues": int(result.summary.n_issues),
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(rss_peak / 1024, 1),
        "rss_growth_mb": round((rss_peak - rss_before) / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only 10k and 100k words")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: measure one size
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one)))
        return
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    rows = []
    for n in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(n)], check=True, capture_output=True, text=True
        ).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(f"{n} words done", file=sys.stderr)
    print(f"score_corpus on {platform.processor() or platform.machine()}, Python {platform.python_version()}\n")
    print("| words | sentences | issues | seconds | peak RSS (MB) | RSS growth while scoring (MB) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['words']:,} | {r['sentences']:,} | {r['issues']:,} | {r['seconds']} "
            f"| {r['peak_rss_mb']} | {r['rss_growth_mb']} |"
        )


if __name__ == "__main__":
    main()
