"""What freezing the word-embedding matrix buys a CPU fine-tune (training.freeze_word_embeddings).

Fine-tunes the same local encoder on the same PAN-X de sentences for one epoch, once with every
weight trained and once with the input word embeddings frozen, in one process and one after the
other, and prints sentences per second, trainable weights and the speed ratio. (Whether a
frozen fine-tune still learns is shown by tests/test_modeling_training.py and by the
panx_cpu cycle's fold F1 in benchmarks/README.md; one epoch on a few hundred sentences is too
short to say anything about F1.)

    python benchmarks/freeze_embeddings.py --model .cache/e5-small --threads 2

Run it alone: torch slows down many times beside other busy processes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from detection_real import DEFAULT_DATA  # noqa: E402

from auditor.runtime import apply_thread_policy  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="local HF model folder, e.g. .cache/e5-small")
    p.add_argument("--data", default=str(DEFAULT_DATA), help="the shared data folder (default ../shared/data)")
    p.add_argument("--sentences", type=int, default=480)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: auto, auditor.runtime)")
    args = p.parse_args()
    print("#", apply_thread_policy(args.threads or None))

    from auditor.config import DataConfig, ModelConfig, TrainingConfig
    from auditor.data.build import load_corpus
    from auditor.data.corpus import label_names
    from auditor.modeling.training import train_tagger

    panx = Path(args.data) / "panx" / "de"
    cfg = DataConfig(
        source="jsonl",
        files={"train": str(panx / "train.jsonl.gz")},
        splits=["train"], audit=["train"], train_splits=["train"],
        languages={"de": 1.0},
        max_sentences=args.sentences,
        seed=0,
    )
    corpus = load_corpus(cfg)
    train = corpus["train"].select(range(min(args.sentences, len(corpus["train"]))))
    names = label_names(corpus)
    model_cfg = ModelConfig(name=args.model, max_length=128, stride=32)
    rows = []
    for frozen in (False, True):
        training = TrainingConfig(epochs=1, batch_size=args.batch_size, learning_rate=5e-5, precision="fp32",
                                  freeze_word_embeddings=frozen, seed=0)
        started = time.perf_counter()
        tagger = train_tagger(train, None, names, args.model, model_cfg, training, progress=False)
        seconds = time.perf_counter() - started
        trainable = sum(x.numel() for x in tagger.model.parameters() if x.requires_grad)
        rows.append((frozen, seconds, len(train) / seconds, trainable))
        print(f"frozen={frozen}: {seconds:.1f} s, {len(train) / seconds:.1f} sentences/s, "
              f"{trainable / 1e6:.1f} M trainable weights", flush=True)
    print(f"\nspeed-up from freezing: {rows[1][2] / rows[0][2]:.2f}x "
          f"({len(train)} sentences, 1 epoch, batch {args.batch_size})")


if __name__ == "__main__":
    main()
