"""The chapter's experiment with seeds: does an oracle review of the top issues buy test F1?

For each training set (PAN-X de, or the Swiss mix de/fr/it/en) of ``--sentences`` sentences with
one injected error in a share ``--noise`` of them:

1. detection: the product's default CPU audit (5-fold probe crossval on the frozen encoder and
   the default ranking: ``benchmarks/detection_real.run_one``), giving the issue table;
2. cleaning: an oracle (the original silver tags) reviews the top 1/5/10 % of the issues
   (``auditor.review.policies`` "oracle", then ``auditor.cleaning.apply_decisions``), plus the
   two bounds: the noisy tags as given, and all injected errors undone ("clean");
3. the final tagger is trained on each version of the tags with ``--seeds`` seeds, both as a
   **fine-tuned** encoder (HF Trainer, word embeddings frozen for CPU speed) and as the **probe**
   (the frozen encoder's layer mix + MLP head, early-stopped on 10 % of its training sentences);
4. entity F1 (seqeval) on ``--test-sentences`` sentences of each language's PAN-X test split.

A seed varies the final training only (initialisation, order, dropout, the probe's holdout);
the noise, the detection run and so the cleaned tags are the same for every seed, so each
seed's cleaned-minus-noisy difference is paired. Results stream to WORK/results.jsonl (one line
per training; a rerun skips what is there) and the summary tables go to WORK/summary.md.

    python benchmarks/cleaning_seeds.py --model .cache/e5-small --work WORK/seeds

Run it alone on a quiet machine: torch slows down many times beside other busy processes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from detection_panx import inject_noise  # noqa: E402
from detection_real import DEFAULT_DATA, run_one  # noqa: E402

from auditor.cleaning import apply_decisions  # noqa: E402
from auditor.config import DataConfig, ModelConfig, ProbeConfig, ReviewConfig, TrainingConfig  # noqa: E402
from auditor.data.build import load_corpus  # noqa: E402
from auditor.data.corpus import CLEAN_COLUMN, label_names  # noqa: E402
from auditor.evaluation import seqeval_scores  # noqa: E402
from auditor.modeling.predict import predict_word_probs  # noqa: E402
from auditor.modeling.probe import WordFeatures, encode_word_features, train_probe  # noqa: E402
from auditor.modeling.training import train_tagger  # noqa: E402
from auditor.review.policies import apply_policy  # noqa: E402
from auditor.review.store import DecisionStore  # noqa: E402
from auditor.runtime import apply_thread_policy  # noqa: E402
from auditor.tables import read_issues  # noqa: E402

MIX = {"de": 0.629, "fr": 0.229, "it": 0.084, "en": 0.059}
TEST_LANGS = ["de", "fr", "it", "en"]
MAX_LENGTH, STRIDE = 128, 32


@dataclass(frozen=True)
class Version:
    """One version of the training tags: its label, how it was made, and the tags."""

    label: str
    reviewed_issues: int
    changed_sentences: int
    tags: list[list[int]]


@dataclass(frozen=True)
class Result:
    """Test F1 of one final training (one line of results.jsonl)."""

    train_set: str
    tagger: str
    version: str
    seed: int
    reviewed_issues: int
    changed_sentences: int
    f1: dict[str, float]
    seconds: float

    @property
    def key(self) -> tuple:
        return (self.train_set, self.tagger, self.version, self.seed)


def training_corpus(data: Path, train_set: str, sentences: int, noise: float, seed: int):
    langs = {"de": 1.0} if train_set == "de" else MIX
    cfg = DataConfig(
        source="jsonl",
        files={"train": str(data / "panx" / "{lang}" / "train.jsonl.gz")},
        languages=langs, splits=["train"], audit=["train"], train_splits=["train"],
        max_sentences=sentences, seed=seed,
    )
    from datasets import DatasetDict

    return DatasetDict({"train": inject_noise(load_corpus(cfg)["train"], noise, seed)})


def test_sets(data: Path, sentences: int, seed: int) -> dict:
    """{lang: Dataset} of `sentences` seeded test sentences per language."""
    out = {}
    for lang in TEST_LANGS:
        cfg = DataConfig(
            source="jsonl", files={"test": str(data / "panx" / "{lang}" / "test.jsonl.gz")},
            languages={lang: 1.0}, splits=["test"], audit=["test"], train_splits=["test"],
            max_sentences=sentences, seed=seed,
        )
        out[lang] = load_corpus(cfg)["test"]
    return out


def versions(corpus, issues, shares: list[float], store_dir: Path) -> list[Version]:
    """Noisy tags, the oracle's review of each top share of the issues, and the clean tags."""
    train = corpus["train"]
    out = [Version("noisy", 0, 0, [list(t) for t in train["ner_tags"]])]
    for share in shares:
        n_review = int(round(share * len(issues)))
        store_path = store_dir / f"oracle-{share}.sqlite"
        store_path.unlink(missing_ok=True)
        store = DecisionStore(store_path)
        if n_review:
            apply_policy(issues, corpus, ReviewConfig(policy="oracle", top_fraction=n_review / len(issues)), store)
        result = apply_decisions(corpus, issues, store.latest())
        out.append(Version(f"oracle top {share:.0%}", n_review, result.summary.changed_sentences,
                           [list(t) for t in result.cleaned["train"]["ner_tags"]]))
    clean = [list(t) for t in train[CLEAN_COLUMN]]
    changed = sum(a != b for a, b in zip(clean, out[0].tags))
    out.append(Version("clean (upper bound)", 0, changed, clean))
    return out


def _f1(gold_ds, names: list[str], pred: list[np.ndarray]) -> float:
    gold = [[names[t] for t in row] for row in gold_ds["ner_tags"]]
    tags = [[names[k] for k in np.asarray(p).argmax(axis=1)] for p in pred]
    return seqeval_scores(gold, tags).f1


def finetune_f1(train_ds, tags, names, tests, args, seed: int) -> dict[str, float]:
    ds = train_ds.remove_columns("ner_tags").add_column("ner_tags", tags, feature=train_ds.features["ner_tags"])
    model_cfg = ModelConfig(name=args.model, max_length=MAX_LENGTH, stride=STRIDE)
    training = TrainingConfig(epochs=args.epochs, batch_size=16, learning_rate=5e-5, seed=seed,
                              freeze_word_embeddings=True)
    tagger = train_tagger(ds, None, names, args.model, model_cfg, training, progress=args.progress)
    return {lang: _f1(ts, names, predict_word_probs(tagger, ts, MAX_LENGTH, STRIDE, 64, progress=False))
            for lang, ts in tests.items()}


def probe_f1(features: WordFeatures, tags, names, test_features: dict, tests, seed: int) -> dict[str, float]:
    n = len(tags)
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    hold, train = np.sort(order[: n // 10]), np.sort(order[n // 10 :])
    model = train_probe(features, train, tags, hold, len(names), ProbeConfig(), weight_decay=0.01, seed=seed,
                        progress=False)
    out = {}
    for lang, ts in tests.items():
        tf = test_features[lang]
        out[lang] = _f1(ts, names, model.logits(tf, np.arange(len(tf.offsets) - 1)))
    return out


def load_results(path: Path) -> dict[tuple, Result]:
    if not path.is_file():
        return {}
    rows = [Result(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {r.key: r for r in rows}


def _ms(xs: list[float]) -> str:
    if len(xs) < 2:
        return f"{xs[0]:.3f}" if xs else "–"
    return f"{statistics.mean(xs):.3f} ± {statistics.stdev(xs):.3f}"


def summary(results: list[Result]) -> str:
    """Markdown tables: per training set and tagger, F1 mean ± sd over seeds per version, and
    each version's paired gain over the noisy tags (mean over languages)."""
    lines = []
    for train_set in dict.fromkeys(r.train_set for r in results):
        for tagger in dict.fromkeys(r.tagger for r in results if r.train_set == train_set):
            rows = [r for r in results if r.train_set == train_set and r.tagger == tagger]
            seeds = sorted({r.seed for r in rows})
            lines += [f"\n**train {train_set}, {tagger} tagger, {len(seeds)} seeds** (F1 mean ± sd over seeds; "
                      "gain = paired difference to the noisy tags, mean over the four test languages)\n",
                      "| training tags | issues reviewed | sentences changed | " + " | ".join(f"F1 {l}" for l in TEST_LANGS)
                      + " | mean | gain over noisy | gain > seed sd? |",
                      "|" + "---|" * (6 + len(TEST_LANGS))]
            noisy = {r.seed: r for r in rows if r.version == "noisy"}
            for version in dict.fromkeys(r.version for r in rows):
                vr = sorted((r for r in rows if r.version == version), key=lambda r: r.seed)
                means = [statistics.mean(r.f1.values()) for r in vr]
                gains = [statistics.mean(r.f1.values()) - statistics.mean(noisy[r.seed].f1.values())
                         for r in vr if r.seed in noisy]
                verdict = "–"
                if version != "noisy" and len(gains) > 1:
                    spread = max(statistics.stdev(means), statistics.stdev(
                        [statistics.mean(noisy[s].f1.values()) for s in noisy]))
                    verdict = "yes" if statistics.mean(gains) > spread else "no"
                lines.append(
                    f"| {version} | {vr[0].reviewed_issues} | {vr[0].changed_sentences} | "
                    + " | ".join(_ms([r.f1[l] for r in vr]) for l in TEST_LANGS)
                    + f" | {_ms(means)} | {_ms(gains) if version != 'noisy' else '–'} | {verdict} |"
                )
            secs = [r.seconds for r in rows]
            lines.append(f"\n{len(rows)} trainings, {statistics.mean(secs):.0f} s each on average (train + test).")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="local HF model folder, e.g. .cache/e5-small")
    p.add_argument("--data", default=str(DEFAULT_DATA), help="the shared data folder (default ../shared/data)")
    p.add_argument("--work", required=True)
    p.add_argument("--train", nargs="+", default=["de", "mix"], choices=["de", "mix"])
    p.add_argument("--taggers", nargs="+", default=["probe", "finetune"], choices=["probe", "finetune"])
    p.add_argument("--sentences", type=int, default=1500)
    p.add_argument("--test-sentences", type=int, default=500)
    p.add_argument("--noise", type=float, default=0.10)
    p.add_argument("--shares", type=float, nargs="+", default=[0.01, 0.05, 0.10])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=float, default=2.0, help="fine-tuning epochs")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: auto, auditor.runtime)")
    p.add_argument("--progress", action="store_true")
    args = p.parse_args()
    policy = apply_thread_policy(args.threads or None)
    print(f"# {policy.describe()}", flush=True)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    data = Path(args.data)
    results_path = work / "results.jsonl"
    done = load_results(results_path)
    tests = test_sets(data, args.test_sentences, seed=0)
    test_features: dict = {}

    for train_set in args.train:
        corpus = training_corpus(data, train_set, args.sentences, args.noise, seed=0)
        t0 = time.perf_counter()
        det_args = argparse.Namespace(model=args.model, seed=0, work=str(work / "detection"), folds=None,
                                      progress=args.progress)
        det_file = work / "detection" / f"{train_set}.json"
        if not det_file.is_file():
            det = run_one(f"train-{train_set}", "default", {}, corpus, ["train"], ["train"], det_args)
            det_file.write_text(json.dumps(det), encoding="utf-8")
        det = json.loads(det_file.read_text(encoding="utf-8"))
        issues = read_issues(work / "detection" / f"train-{train_set}" / "default" / "issues.parquet")
        sent = next(r for r in det["detection"]["sentence"] if r["method"] == "combined")
        print(f"# train {train_set}: {len(corpus['train'])} sentences, {det['n_error_sentences']} with an injected "
              f"error, {len(issues)} issues, detection sentence AP {sent['ap']:.3f} "
              f"(fold F1 {det['fold_f1']:.3f}; {time.perf_counter() - t0:.0f} s)", flush=True)
        names = label_names(corpus)
        vers = versions(corpus, issues, args.shares, work)
        for v in vers:
            print(f"#   {v.label}: {v.reviewed_issues} issues reviewed, {v.changed_sentences} sentences changed", flush=True)

        features = None
        for tagger in args.taggers:
            for v in vers:
                for seed in args.seeds:
                    if (f"train-{train_set}", tagger, v.label, seed) in done:
                        continue
                    t = time.perf_counter()
                    if tagger == "finetune":
                        f1 = finetune_f1(corpus["train"], v.tags, names, tests, args, seed)
                    else:
                        if features is None:
                            kw = dict(max_length=MAX_LENGTH, stride=STRIDE, progress=args.progress,
                                      layers=ProbeConfig().layers)
                            features = encode_word_features(args.model, list(corpus["train"]["tokens"]), **kw)
                            for lang, ts in tests.items():
                                if lang not in test_features:
                                    test_features[lang] = encode_word_features(args.model, list(ts["tokens"]), **kw)
                        f1 = probe_f1(features, v.tags, names, test_features, tests, seed)
                    r = Result(f"train-{train_set}", tagger, v.label, seed, v.reviewed_issues, v.changed_sentences,
                               f1, time.perf_counter() - t)
                    done[r.key] = r
                    with open(results_path, "a", encoding="utf-8") as fh:
                        fh.write(json.dumps(asdict(r)) + "\n")
                    print(f"{r.train_set} | {tagger} | {v.label} | seed {seed} | "
                          + " ".join(f"{l} {x:.3f}" for l, x in f1.items()) + f" | {r.seconds:.0f} s", flush=True)
    text = summary(list(done.values()))
    (work / "summary.md").write_text(text, encoding="utf-8")
    print(text, flush=True)


if __name__ == "__main__":
    main()
