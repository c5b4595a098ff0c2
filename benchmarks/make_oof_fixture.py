"""Write a small fixture of *real* out-of-fold probabilities for the test suite.

From a scored benchmark run folder (corpus/ with clean_ner_tags, predictions.parquet) it takes a
seeded sample of audited sentences and stores, per word, the model's probabilities (float16), the
given tag and the clean tag, with sentence offsets and the label names: no token text (the
corpora's licences forbid committing them). tests/test_detection.py ranks these with the default
scoring and checks it against cleanlab alone: a measurement on real model output and real label
errors, not on probabilities simulated from the clean labels.

    python benchmarks/make_oof_fixture.py RUN_DIR tests/data/conll_dev_oof.npz --sentences 800
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from datasets import load_from_disk

from auditor.data.corpus import CLEAN_COLUMN, label_names
from auditor.tables import OofPredictions


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("out")
    p.add_argument("--sentences", type=int, default=800)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    run = Path(args.run_dir)
    corpus = load_from_disk(str(run / "corpus"))
    preds = OofPredictions.read(run / "predictions.parquet")
    audited = list(dict.fromkeys(preds.ids.tolist()))
    rows = {sid: (split, i) for split, ds in corpus.items() for i, sid in enumerate(ds["id"])}
    rng = np.random.default_rng(args.seed)
    pick = sorted(rng.choice(len(audited), size=min(args.sentences, len(audited)), replace=False).tolist())
    names = label_names(corpus)
    starts = np.flatnonzero(np.r_[True, preds.ids[1:] != preds.ids[:-1]])
    first_row = {preds.ids[s]: s for s in starts}
    probs, given, clean, offsets = [], [], [], [0]
    for j in pick:
        sid = audited[j]
        split, i = rows[sid]
        row = corpus[split][i]
        n = len(row["tokens"])
        a = first_row[sid]
        probs.append(preds.probs[a : a + n])
        given.extend(row["ner_tags"])
        clean.extend(row[CLEAN_COLUMN])
        offsets.append(offsets[-1] + n)
    np.savez_compressed(
        args.out,
        probs=np.concatenate(probs).astype(np.float16),
        given=np.asarray(given, dtype=np.int8),
        clean=np.asarray(clean, dtype=np.int8),
        offsets=np.asarray(offsets, dtype=np.int32),
        label_names=np.asarray(names),
    )
    print(f"wrote {args.out}: {len(pick)} sentences, {offsets[-1]} words")


if __name__ == "__main__":
    main()
