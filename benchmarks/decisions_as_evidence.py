"""Could the curator's decisions on the top of the queue serve as the verified sample?

Not built: measured here. An oracle decides the N best-ranked issues of a scored run (the
decided span's words get their true tags); those words then act as the verified words of
auditor.scoring.reference (nearest decided words of the same given type, share corrected), at a
fixed weight; sentence AP is measured on the sentences with no decided span.

    python benchmarks/decisions_as_evidence.py --work WORK/real --set conll --top 100 200 400

WORK is the --work folder of benchmarks/detection_real.py after its 'default={}' setting ran on
the set (it reads <set>/default: corpus, predictions and the probe feature cache).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from datasets import load_from_disk
from sklearn.metrics import average_precision_score

sys.path.insert(0, str(Path(__file__).resolve().parent))

from detection_real import pipeline_config  # noqa: E402

from auditor.modeling.crossval import audited_word_vectors  # noqa: E402
from auditor.scoring.fusion import WordQualities  # noqa: E402
from auditor.scoring.quality import sentence_quality, type_index  # noqa: E402
from auditor.scoring.reference import neighbour_evidence  # noqa: E402
from auditor.scoring.score import compute_signals, score_corpus  # noqa: E402
from auditor.tables import OofPredictions  # noqa: E402

WEIGHTS = (1.0, 2.0, 4.0, 8.0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", required=True)
    p.add_argument("--set", default="conll", help="conll | panx-de | ...")
    p.add_argument("--model", default=".cache/e5-small")
    p.add_argument("--top", type=int, nargs="+", default=[100, 200, 400])
    args = p.parse_args()
    split = "dev" if args.set == "conll" else "train"
    run = Path(args.work) / args.set / "default"
    corpus = load_from_disk(str(run / "corpus"))
    preds = OofPredictions.read(run / "predictions.parquet")
    cfg = pipeline_config(args.model, [split], ["train", "dev"] if split == "dev" else ["train"], {}, 0)
    issues = score_corpus(corpus, preds, cfg.scoring, progress=False).issues
    frame, sig = compute_signals(corpus, preds, cfg.scoring)
    vectors = audited_word_vectors(corpus, cfg, run).aligned(frame.ids, np.diff(frame.offsets))
    row_of = {s: i for i, s in enumerate(frame.ids)}
    given_type = type_index(frame.label_names)[0][frame.labels]
    wrong = frame.labels != frame.clean
    is_error = np.zeros(frame.n_sentences, bool)
    np.logical_or.at(is_error, frame.sentence, wrong)
    base = WordQualities(sig.model_quality, sig.cleanlab.token_quality, sig.consistency).fused(cfg.scoring.weights)
    print("| set | issues decided | corrected words | sentences left out | no evidence | " + " | ".join(f"w = {w:g}" for w in WEIGHTS) + " |")
    print("|---" * (5 + len(WEIGHTS)) + "|")
    for n in args.top:
        decided = np.zeros(frame.n_tokens, bool)
        for r in issues.head(n).itertuples():
            a = frame.offsets[row_of[r.id]]
            decided[a + r.start : a + r.end] = True
        corrected = decided & wrong
        q = neighbour_evidence(
            vectors, given_type, decided, ~decided, corrected, np.where(decided, frame.clean, -1), len(frame.label_names)
        ).quality
        touched = np.zeros(frame.n_sentences, bool)
        np.logical_or.at(touched, frame.sentence, decided)
        keep = ~touched

        def ap(quality: np.ndarray, keep: np.ndarray = keep) -> float:
            sent = sentence_quality(quality, frame.offsets, cfg.scoring.sentence_aggregate)
            return float(average_precision_score(is_error[keep], 1.0 - sent[keep]))

        cells = [f"{ap(base * np.clip(q, 1e-6, 1.0) ** w):.3f}" for w in WEIGHTS]
        print(f"| {args.set} | {n} | {int(corrected.sum())} | {int(touched.sum())} | {ap(base):.3f} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
