"""Reproduce every figure of benchmarks/README.md and print them as markdown.

    # the published figures (real PAN-X, multilingual-e5-small, ~10 min on 2 CPU cores)
    python benchmarks/run_all.py --model .cache/e5-small --sentences 4000 --test-sentences 500 --existing
    # a smoke run: synthetic corpus, tiny model, a minute or two
    python benchmarks/run_all.py --quick

Sections: detection quality with injected noise (detection_panx), cleaning effect with an
oracle review (cleaning_effect), the chapter's naive per-token loss loop vs the product's
vectorised scoring, and (--existing) the tables of crossval_throughput, scoring_scale and
review_latency run as subprocesses.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from datasets import Dataset, DatasetDict
from torch.nn.functional import cross_entropy
from transformers import DataCollatorForTokenClassification

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cleaning_effect as ce  # noqa: E402
import detection_panx as dp  # noqa: E402

from auditor.config import ProbeConfig, SyntheticConfig  # noqa: E402
from auditor.data.corpus import label_names  # noqa: E402
from auditor.data.synthetic import generate_synthetic  # noqa: E402
from auditor.modeling.factory import load_model, load_tokenizer, resolve_model  # noqa: E402
from auditor.modeling.predict import predict_word_probs  # noqa: E402
from auditor.modeling.training import TrainedTagger  # noqa: E402
from auditor.scoring.losses import token_losses  # noqa: E402

HERE = Path(__file__).resolve().parent
PANX_LANGS = ["de", "fr", "it", "en"]


# --- the chapter's naive per-token loss, faithfully -----------------------------------------


def naive_token_losses(model, tokenizer, ds: Dataset, names: list[str], batch_size: int = 32) -> pd.DataFrame:
    """The chapter's method: tokenize_and_align_labels with a python loop over word_ids,
    Dataset.map with one forward pass + cross_entropy(reduction="none") per batch, then
    to_pandas, per-row trimming and explode. Returns one row per first-subword token."""
    collator = DataCollatorForTokenClassification(tokenizer)
    n_labels = len(names)

    def tokenize_and_align_labels(examples):
        tokenized = tokenizer(examples["tokens"], truncation=True, is_split_into_words=True)
        labels = []
        for idx, label in enumerate(examples["ner_tags"]):
            word_ids = tokenized.word_ids(batch_index=idx)
            previous, label_ids = None, []
            for word_idx in word_ids:
                if word_idx is None or word_idx == previous:
                    label_ids.append(-100)
                else:
                    label_ids.append(label[word_idx])
                previous = word_idx
            labels.append(label_ids)
        tokenized["labels"] = labels
        return tokenized

    encoded = ds.map(tokenize_and_align_labels, batched=True, remove_columns=ds.column_names)

    def forward_pass_with_label(batch):
        features = [dict(zip(batch, t)) for t in zip(*batch.values())]
        batch = collator(features)
        with torch.no_grad():
            output = model(batch["input_ids"], batch["attention_mask"])
            predicted = torch.argmax(output.logits, axis=-1).cpu().numpy()
        loss = cross_entropy(output.logits.view(-1, n_labels), batch["labels"].view(-1), reduction="none")
        loss = loss.view(len(batch["input_ids"]), -1).cpu().numpy()
        return {"loss": loss, "predicted_label": predicted}

    scored = encoded.map(forward_pass_with_label, batched=True, batch_size=batch_size)
    df = scored.to_pandas()
    index2tag = dict(enumerate(names)) | {-100: "IGN"}
    df["input_tokens"] = df["input_ids"].apply(lambda x: tokenizer.convert_ids_to_tokens(x))
    df["predicted_label"] = df["predicted_label"].apply(lambda x: [index2tag[i] for i in x])
    df["labels"] = df["labels"].apply(lambda x: [index2tag[i] for i in x])
    df["loss"] = df.apply(lambda x: x["loss"][: len(x["input_ids"])], axis=1)
    df["predicted_label"] = df.apply(lambda x: x["predicted_label"][: len(x["input_ids"])], axis=1)
    tokens = df.explode(["input_ids", "labels", "loss", "predicted_label", "input_tokens"])
    tokens = tokens.query("labels != 'IGN'")
    tokens["loss"] = tokens["loss"].astype(float)
    return tokens


def ours_token_losses(model, tokenizer, ds: Dataset, names: list[str], max_length: int = 128) -> np.ndarray:
    """The product's path: predict_word_probs (one row per word, sliding windows) and the
    vectorised token_losses over all words at once. Returns (n_words,) losses."""
    tagger = TrainedTagger(model, tokenizer, names, None)
    probs = predict_word_probs(tagger, ds, max_length, 16, batch_size=32, progress=False)
    labels = np.concatenate([np.asarray(t, dtype=np.int64) for t in ds["ner_tags"]])
    return token_losses(np.concatenate(probs), labels)


@dataclass
class LoopTiming:
    sentences: int
    naive_seconds: float
    ours_seconds: float
    naive_rows: int
    ours_rows: int

    def markdown(self) -> str:
        return (
            "| method | sentences | loss rows | seconds | sentences/s |\n|---|---|---|---|---|\n"
            f"| chapter loop (Dataset.map + cross_entropy + explode) | {self.sentences} | {self.naive_rows} | "
            f"{self.naive_seconds:.2f} | {self.sentences / self.naive_seconds:.0f} |\n"
            f"| auditor (predict_word_probs + token_losses) | {self.sentences} | {self.ours_rows} | "
            f"{self.ours_seconds:.2f} | {self.sentences / self.ours_seconds:.0f} |\n\n"
            f"naive / ours time ratio: {self.naive_seconds / self.ours_seconds:.2f}x\n"
        )


def time_loops(model_path: str, ds: Dataset) -> LoopTiming:
    """Both methods on the same model (its untrained token-classification head: timing only)."""
    names = label_names(ds)
    model, tokenizer = load_model(model_path, names).eval(), load_tokenizer(model_path)
    # warm-up so neither pays for first-call allocation
    ours_token_losses(model, tokenizer, ds.select(range(min(8, len(ds)))), names)
    t0 = time.perf_counter()
    naive = naive_token_losses(model, tokenizer, ds, names)
    t1 = time.perf_counter()
    ours = ours_token_losses(model, tokenizer, ds, names)
    t2 = time.perf_counter()
    return LoopTiming(len(ds), t1 - t0, t2 - t1, len(naive), len(ours))


# --- the existing benchmark scripts ---------------------------------------------------------


def run_existing(model: str | None, quick: bool) -> str:
    """Run the three existing scripts (quick settings) and return their printed tables."""
    py = sys.executable
    cmds = [
        [py, str(HERE / "crossval_throughput.py"), "--quick"] + ([model] if model else []),
        [py, str(HERE / "scoring_scale.py")] + (["--quick"] if quick else []),
        [py, str(HERE / "review_latency.py"), "--quick"],
    ]
    out = []
    for cmd in cmds:
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        out.append(f"`{' '.join(Path(c).name if c.endswith('.py') else c for c in cmd[1:])}`\n\n{res.stdout}")
    return "\n".join(out)


# --- figure -----------------------------------------------------------------------------------


def plot_detection_ap(markdown_text: str, out_png: Path) -> None:
    """Bar chart of sentence- and span-level AP per method and noise rate, read back from the
    markdown that run_all printed (so the figure shows exactly the published numbers)."""
    import re

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    blocks = re.split(r"^### injected noise ", markdown_text, flags=re.M)[1:]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, level in zip(axes, ("sentence", "span")):
        for b, block in enumerate(blocks):
            rate = block.split(" ", 1)[0]
            rows = [line.split("|")[1:-1] for line in block.splitlines() if line.startswith(f"| {level} |")]
            methods = [r[1].strip() for r in rows]
            ap = [float(r[2]) for r in rows]
            x = np.arange(len(methods)) + b * 0.4 - 0.2
            ax.bar(x, ap, width=0.4, label=f"noise {rate}")
            ax.set_xticks(np.arange(len(methods)), methods, rotation=30, ha="right")
        ax.set_title(f"{level}-level AP (PAN-X de, injected noise)")
        ax.legend()
    axes[0].set_ylabel("average precision")
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)


# --- everything -----------------------------------------------------------------------------


@dataclass
class Inputs:
    base: DatasetDict  # train split with ner_tags = the tags treated as clean
    tests: dict[str, Dataset]
    model_path: str


def quick_inputs(work: Path, sentences: int, test_sentences: int) -> Inputs:
    synth = generate_synthetic(SyntheticConfig(sentences={"train": sentences, "test": test_sentences}, noise_rate=0.0), ["de", "fr"], 0)
    train = synth["train"].filter(lambda r: r["lang"] == "de")
    cfg = dp.probe_config("tiny", dp.Budget(sentences, 2, 3), max_length=64)
    model_path = resolve_model(cfg.model, DatasetDict({"train": train}), work, seed=0)
    tests = {lang: synth["test"].filter(lambda r, l=lang: r["lang"] == l) for lang in ("de", "fr")}
    return Inputs(DatasetDict({"train": train}), tests, str(model_path))


def panx_inputs(
    model: str, sentences: int, test_sentences: int, langs: list[str], train_langs: dict[str, float],
    data_dir: str | Path = dp.DEFAULT_PANX_DIR,
) -> Inputs:
    base = dp.load_panx(train_langs, ["train"], sentences, data_dir)
    tests = {lang: dp.load_panx({lang: 1.0}, ["test"], test_sentences, data_dir)["test"] for lang in langs}
    return Inputs(base, tests, model)


def run_all(inp: Inputs, work: Path, rates: list[float], shares: list[float], budget: dp.Budget, loop_sentences: int,
            progress: bool = True) -> str:
    """Every section's markdown for the given inputs."""
    max_length = 64 if "tiny" in inp.model_path else 128
    sections = [f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, python {platform.python_version()}"]
    t0 = time.perf_counter()
    train_x = dp.encode(inp.model_path, list(inp.base["train"]["tokens"]), max_length, progress)
    runs = dp.run_detection(inp.base, inp.model_path, budget, rates, work, train_x, progress)
    sections.append(f"## Detection quality\n\nencode {train_x.seconds:.1f} s for {len(inp.base['train'])} sentences\n\n"
                    + dp.markdown(runs, budget, inp.model_path))
    tests = [ce.test_set(ds, lang, dp.encode(inp.model_path, list(ds["tokens"]), max_length, progress))
             for lang, ds in inp.tests.items()]
    worst = runs[-1]
    head_cfg = ProbeConfig(head=budget.head, epochs=budget.epochs, batch_size=budget.batch_size)
    rows = ce.cleaning_effect(worst.corpus, worst.issues, train_x, tests, shares, head_cfg)
    train_langs = "+".join(sorted(set(inp.base["train"]["lang"])))
    sections.append(f"## Cleaning effect (train {train_langs} with {worst.rate:.0%} injected noise, probe head)\n\n" + ce.markdown(rows))
    loop_ds = inp.base["train"].select(range(min(loop_sentences, len(inp.base["train"]))))
    sections.append("## Naive chapter loop vs auditor scoring\n\n" + time_loops(inp.model_path, loop_ds).markdown())
    sections.append(f"total {time.perf_counter() - t0:.0f} s")
    return "\n\n".join(sections)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=".cache/e5-small")
    p.add_argument("--sentences", type=int, default=4000)
    p.add_argument("--test-sentences", type=int, default=500)
    p.add_argument("--rates", type=float, nargs="+", default=[0.05, 0.10])
    p.add_argument("--shares", type=float, nargs="+", default=[0.01, 0.05, 0.10])
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--train-langs", nargs="+", default=["de=1.0"], metavar="LANG=FRACTION",
                   help="training languages and the share of each kept (the chapter's Swiss mix: de=0.629 fr=0.229 it=0.084 en=0.059)")
    p.add_argument("--head", choices=["logreg", "mlp"], default="logreg", help="probe head of crossval and of the final tagger")
    p.add_argument("--loop-sentences", type=int, default=500)
    p.add_argument("--work", default=str(dp.DEFAULT_WORK))
    p.add_argument("--panx", default=str(dp.DEFAULT_PANX_DIR), help="PAN-X folder (<lang>/<split>.jsonl.gz)")
    p.add_argument("--quick", action="store_true", help="synthetic corpus, tiny model, small sizes")
    p.add_argument("--existing", action="store_true", help="also run the three existing benchmark scripts")
    p.add_argument("--plot", nargs=2, metavar=("MARKDOWN", "PNG"), help="only draw the AP figure from a printed run and exit")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 avoids thread thrashing on a busy box)")
    args = p.parse_args()
    if args.plot:
        plot_detection_ap(Path(args.plot[0]).read_text(encoding="utf-8"), Path(args.plot[1]))
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    work = Path(args.work)
    if args.quick:
        inp = quick_inputs(work, 300, 100)
        budget = dp.Budget(len(inp.base["train"]), 2, 3)
        loop = min(args.loop_sentences, 100)
    else:
        train_langs = {k: float(v) for k, v in (x.split("=") for x in args.train_langs)}
        inp = panx_inputs(args.model, args.sentences, args.test_sentences, PANX_LANGS, train_langs, args.panx)
        budget = dp.Budget(len(inp.base["train"]), args.folds, args.epochs, args.head)
        loop = args.loop_sentences
    print(run_all(inp, work, args.rates, args.shares, budget, loop))
    if args.existing:
        print("\n## Existing benchmark scripts\n\n" + run_existing(None, quick=True))


if __name__ == "__main__":
    main()
