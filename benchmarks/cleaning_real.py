"""Does cleaning real label errors pay, judged on verified tags? (issue 23)

CoNLL-2003 dev (``../shared/data/conll_clean``: original tags, CleanCoNLL's expert corrections
as the truth, each sentence with its Reuters article ``doc``) is split by article into two
halves (seeded, balanced by sentence count). Each half is once the training part, the other
half's *corrected* tags the test (its original tags beside them, the "silver" verdict).

1. audit: the product's default CPU audit of the training part (5-fold probe crossval, default
   ranking; ``detection_real.run_one``'s recipe), then a simulated curator's random verified
   sample (``benchmarks/curator.py``) as ``scoring.reference.file`` and a re-score with it;
2. cleaning: the curator works down the review queue at several effort budgets (actions per
   training sentence, sample included), its decisions applied by ``auditor.cleaning``; plus the
   original tags and all corrected (the upper bound);
3. final taggers on each version of the tags, several seeds: fine-tuned e5-small (HF Trainer
   through ``auditor.modeling.training``, pipelines/panx_cpu.yaml's settings) and the probe;
   entity F1 (seqeval) on the test half's corrected and original tags; every tagger's test
   predictions are saved, so
4. the sign question (how many verified test sentences give a before/after change its true
   sign, ``auditor.evaluation.paired_bootstrap_delta``) needs no retraining; and
5. cheap measurements on the audit outputs: the curator's settings (order, group decisions,
   looking at members), propagation precision, span coverage, a second pass with the decisions
   as extra evidence, calibration of a remaining-errors interval.

Everything is cached under --work (audits, curator runs, predictions); a re-run skips what is
done and rewrites WORK/summary.md.

    python benchmarks/cleaning_real.py --model .cache/e5-small --work WORK/cleaning-real --threads 2
    python benchmarks/cleaning_real.py --quick --work WORK/quick   # synthetic corpus, tiny model, about a minute
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from datasets import DatasetDict
from sklearn.metrics import average_precision_score

sys.path.insert(0, str(Path(__file__).resolve().parent))

from curator import CuratorRun, CuratorSettings, cleaned_tags, review  # noqa: E402
from detection_real import DEFAULT_DATA, conll_corpus, pipeline_config, write_verified_sample  # noqa: E402

from auditor.config import ModelConfig, ProbeConfig, SyntheticConfig, TrainingConfig  # noqa: E402
from auditor.data.corpus import CLEAN_COLUMN, label_names  # noqa: E402
from auditor.data.iob import spans  # noqa: E402
from auditor.data.sample import SampleRow, draw_sample, read_sample, write_sample  # noqa: E402
from auditor.data.synthetic import generate_synthetic  # noqa: E402
from auditor.evaluation import paired_bootstrap_delta, seqeval_scores  # noqa: E402
from auditor.modeling.crossval import audited_word_vectors, run_crossval  # noqa: E402
from auditor.modeling.factory import resolve_model  # noqa: E402
from auditor.modeling.predict import predict_word_probs  # noqa: E402
from auditor.modeling.probe import WordFeatures, cached_word_features, encode_word_features, train_probe  # noqa: E402
from auditor.modeling.training import train_tagger  # noqa: E402
from auditor.runtime import apply_thread_policy  # noqa: E402
from auditor.scoring.detection import evaluate_detection  # noqa: E402
from auditor.scoring.score import compute_signals, score_corpus, sentence_combined  # noqa: E402
from auditor.tables import OofPredictions, read_issues, write_issues  # noqa: E402

ORIGINAL, ALL_ISSUES, ALL_CORRECTED = "original", "all issues", "all corrected"


# --- data --------------------------------------------------------------------------------


@dataclass
class Data:
    """dev: the corpus to split (original tags + clean column); docs: (S,) article per dev
    sentence; context: training-only sentences for the audit (CoNLL train) or None; model:
    the encoder's folder; max_length/stride: the final taggers' windows; audit_overrides:
    config overrides of the audit (quick mode: tiny sizes)."""

    dev: object
    docs: np.ndarray
    context: object | None
    model: str
    max_length: int = 128
    stride: int = 32
    audit_overrides: dict = field(default_factory=dict)


def conll_data(data_dir: Path, model: str, with_context: bool) -> Data:
    corpus, _, _ = conll_corpus(data_dir)
    with gzip.open(data_dir / "conll_clean" / "dev_original.jsonl.gz", "rt", encoding="utf-8") as f:
        docs = np.array([json.loads(line)["doc"] for line in f if line.strip()], dtype=np.int64)
    assert len(docs) == len(corpus["dev"]), "dev_original.jsonl.gz and the loaded dev split differ in length"
    return Data(corpus["dev"], docs, corpus["train"] if with_context else None, model)


def quick_data(work: Path) -> Data:
    """A synthetic corpus with 15 % noisy sentences, articles of 4 sentences, the tiny model."""
    synth = generate_synthetic(SyntheticConfig(sentences={"train": 160}, noise_rate=0.15), ["en"], 0)
    dev = synth["train"]
    model = resolve_model(ModelConfig(name="tiny", max_length=64, stride=16), DatasetDict({"dev": dev}), work, seed=0)
    overrides = {"model.max_length": 64, "model.stride": 16, "crossval.folds": 3}
    return Data(dev, np.arange(len(dev)) // 4, None, str(model), 64, 16, overrides)


def split_halves(docs: np.ndarray, seed: int) -> list[np.ndarray]:
    """Two sorted index arrays of whole articles, balanced by sentence count: the articles in a
    seeded random order, each to the half that has fewer sentences so far."""
    uniq, counts = np.unique(docs, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(uniq))
    halves: list[list[int]] = [[], []]
    sizes = [0, 0]
    for i in order:
        h = int(sizes[1] < sizes[0])
        halves[h].append(int(uniq[i]))
        sizes[h] += int(counts[i])
    return [np.flatnonzero(np.isin(docs, h)) for h in halves]


def names_of(rows, names: list[str]) -> list[list[str]]:
    return [[names[t] for t in r] for r in rows]


# --- the audit ---------------------------------------------------------------------------


@dataclass
class Audit:
    """One half's audit: corpus (dev = the training part), its OOF predictions, the issues
    without and with the verified sample, their detection numbers, the fitted weight."""

    corpus: DatasetDict
    cfg: object
    run_dir: Path
    preds: OofPredictions
    issues: object
    detection: dict


def audit_half(data: Data, part: np.ndarray, name: str, work: Path, progress: bool, context: bool) -> Audit:
    run_dir = work / "audit" / name
    run_dir.mkdir(parents=True, exist_ok=True)
    splits = {"dev": data.dev.select(part.tolist())}
    if context and data.context is not None:
        splits["train"] = data.context
    corpus = DatasetDict(splits)
    train_splits = ["train", "dev"] if "train" in corpus else ["dev"]
    cfg = pipeline_config(data.model, ["dev"], train_splits, data.audit_overrides, 0)
    t0 = time.perf_counter()
    cv = run_crossval(corpus, cfg, run_dir, progress=progress)
    preds = OofPredictions.read(cv.predictions)
    issues_file, det_file = run_dir / "issues.parquet", run_dir / "detection.json"
    if not det_file.is_file():
        scored = score_corpus(corpus, preds, cfg.scoring, progress=False)
        write_issues(scored.issues, issues_file)
        rep = evaluate_detection(corpus, scored.issues, preds, cfg.scoring)
        f1s = [f.f1 for f in cv.folds if f.f1 is not None]
        det = {"sentence_ap": rep.row("sentence", "combined").ap, "span_ap": rep.row("span", "combined").ap,
               "n_sentences": rep.n_sentences, "n_error_sentences": rep.n_error_sentences,
               "n_error_spans": rep.n_error_spans, "n_issues": rep.n_issues,
               "fold_f1": float(np.mean(f1s)) if f1s else None, "seconds": time.perf_counter() - t0}
        det_file.write_text(json.dumps(det), encoding="utf-8")
    det = json.loads(det_file.read_text(encoding="utf-8"))
    print(f"# audit {name}: {det['n_sentences']} sentences ({det['n_error_sentences']} wrong, {det['n_error_spans']} "
          f"error spans), {det['n_issues']} issues, sentence AP {det['sentence_ap']:.3f}, span AP {det['span_ap']:.3f}, "
          f"fold F1 {det['fold_f1']:.3f}", flush=True)
    return Audit(corpus, cfg, run_dir, preds, read_issues(issues_file), det)


@dataclass
class Sampled:
    """The audit re-scored with a verified sample: issues, detection on the other sentences,
    the fitted weight, the sample's ids and file."""

    issues: object
    detection: dict
    weight: float
    ids: set
    path: Path


def with_sample(audit: Audit, n: int, seed: int, model: str, overrides: dict) -> Sampled:
    path = audit.run_dir / f"sample-{n}-seed{seed}.jsonl"
    issues_file, det_file = path.with_suffix(".issues.parquet"), path.with_suffix(".detection.json")
    if not det_file.is_file():
        write_verified_sample(audit.corpus, ["dev"], n, seed, path)
        cfg = pipeline_config(model, ["dev"], _train_splits(audit), {**overrides, "scoring.reference.file": str(path)}, 0)
        vectors = audited_word_vectors(audit.corpus, cfg, audit.run_dir)
        scored = score_corpus(audit.corpus, audit.preds, cfg.scoring, progress=False, vectors=vectors)
        write_issues(scored.issues, issues_file)
        rep = evaluate_detection(audit.corpus, scored.issues, audit.preds, cfg.scoring, vectors=vectors)
        ref = scored.summary.reference
        det = {"sentence_ap": rep.row("sentence", "combined").ap, "span_ap": rep.row("span", "combined").ap,
               "n_issues": rep.n_issues, "weight": ref["weight"], "corrected": ref["corrected_sentences"],
               "verified": ref["verified_sentences"]}
        det_file.write_text(json.dumps(det), encoding="utf-8")
    det = json.loads(det_file.read_text(encoding="utf-8"))
    ids = {json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}
    return Sampled(read_issues(issues_file), det, float(det["weight"]), ids, path)


def _train_splits(audit: Audit) -> list[str]:
    return ["train", "dev"] if "train" in audit.corpus else ["dev"]


# --- the curator's versions of the training tags -------------------------------------------


@dataclass
class Version:
    label: str
    actions: int
    changed_sentences: int
    tags: list[list[int]]
    run: dict | None = None


def truth_of(corpus: DatasetDict) -> dict[str, list[str]]:
    names = label_names(corpus)
    return {r["id"]: [names[t] for t in r[CLEAN_COLUMN]] for r in corpus["dev"].select_columns(["id", CLEAN_COLUMN])}


def curate(audit: Audit, sampled: Sampled | None, budget: float | None, settings: CuratorSettings, sample_n: int,
           store_dir: Path) -> tuple[CuratorRun, list[list[int]], object]:
    """One curator session: the sample (sample_n actions, 0 = none) then the queue."""
    n = len(audit.corpus["dev"])
    actions = None if budget is None else int(round(budget * n))
    issues = sampled.issues if sampled is not None else audit.issues
    tag = "all" if budget is None else f"{budget:g}"
    store_path = store_dir / f"{settings.order}-g{int(settings.groups)}-l{settings.look}{'c' if settings.careful else ''}{'w' if settings.look_at == 'worst' else ''}-s{sample_n}-b{tag}.sqlite"
    store_path.parent.mkdir(parents=True, exist_ok=True)
    rows = read_sample(sampled.path) if sampled is not None else None
    store, run = review(issues, truth_of(audit.corpus), actions, settings, store_path, spent=sample_n if sampled else 0,
                        sample=rows)
    run.budget = budget
    tags = cleaned_tags(audit.corpus, issues, store, "dev", run, rows)
    return run, tags, store


def versions_for(audit: Audit, sampled: Sampled, budgets: list[float | None], settings: CuratorSettings,
                 sample_n: int, work: Path, name: str) -> list[Version]:
    cache = work / "versions" / f"{name}.json"
    if cache.is_file():
        return [Version(**v) for v in json.loads(cache.read_text(encoding="utf-8"))]
    dev = audit.corpus["dev"]
    out = [Version(ORIGINAL, 0, 0, [list(t) for t in dev["ner_tags"]])]
    for b in budgets:
        run, tags, _ = curate(audit, sampled, b, settings, sample_n, work / "stores" / name)
        label = ALL_ISSUES if b is None else f"curator {b:g}"
        out.append(Version(label, run.actions, run.changed_sentences, tags, run.to_dict()))
    clean = [list(t) for t in dev[CLEAN_COLUMN]]
    out.append(Version(ALL_CORRECTED, 0, sum(a != b for a, b in zip(clean, out[0].tags)), clean))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps([v.__dict__ for v in out]), encoding="utf-8")
    return out


# --- final taggers ---------------------------------------------------------------------------


def audit_features(audits: dict, halves: list[np.ndarray], data: Data, work: Path, progress: bool):
    """The probe's input for every dev sentence: the two halves' audit feature caches (the
    12-layer mean-pooled vectors the audit's crossval encoded, no second encoder pass) joined
    in dev order; encoded here only for a half that was not audited. Returns the features and
    (S,) the feature row of each dev sentence (= the dev index)."""
    parts, order = [], []
    for h, idx in enumerate(halves):
        cache = audits[h].run_dir / "folds" / "probe-features" if h in audits else None
        if cache is not None and (cache / "meta.json").is_file():
            meta = json.loads((cache / "meta.json").read_text(encoding="utf-8"))
            feats = cached_word_features(cache, meta["fingerprint"], lambda: None, layers=ProbeConfig().layers)
            n = len(idx)
            feats = WordFeatures(feats.vectors[: feats.offsets[n]], feats.offsets[: n + 1], 0.0, feats.layers,
                                 feats.encoder_layers)
        else:
            tokens = list(data.dev.select(idx.tolist())["tokens"])
            feats = encode_word_features(data.model, tokens, data.max_length, data.stride, 64, progress,
                                         layers=ProbeConfig().layers, pooling=ProbeConfig().pooling)
        parts.append(feats)
        order.append(idx)
    lengths = np.concatenate([np.diff(f.offsets) for f in parts])
    vectors = np.concatenate([f.vectors for f in parts])
    joined = np.concatenate(order)
    # rows back in dev order
    starts = np.concatenate([[0], np.cumsum(lengths)])
    perm = np.argsort(joined, kind="stable")
    pieces = [vectors[starts[i]: starts[i + 1]] for i in perm]
    new_offsets = np.concatenate([[0], np.cumsum(lengths[perm])]).astype(np.int64)
    return WordFeatures(np.concatenate(pieces), new_offsets, 0.0, parts[0].layers, parts[0].encoder_layers)


def probe_predict(features, train: np.ndarray, test: np.ndarray, tags_by_row: dict[int, list[int]], n_labels: int,
                  seed: int) -> list[np.ndarray]:
    """The product's probe head on the training rows (10 % of them held out for early stopping)."""
    order = np.random.default_rng(seed).permutation(len(train))
    hold, fit = np.sort(train[order[: len(train) // 10]]), np.sort(train[order[len(train) // 10:]])
    all_tags = [tags_by_row.get(i, []) for i in range(len(features.offsets) - 1)]
    model = train_probe(features, fit, all_tags, hold, n_labels, ProbeConfig(), weight_decay=0.01, seed=seed, progress=False)
    return model.logits(features, test)


@dataclass(frozen=True)
class FinetuneSettings:
    """The final fine-tuned tagger's recipe (defaults: pipelines/panx_cpu.yaml's)."""

    epochs: float = 2.0
    batch_size: int = 16
    learning_rate: float = 5e-5

    @property
    def tag(self) -> str:
        # in the predictions' path: another recipe never reuses a cached prediction
        return f"finetune-e{self.epochs:g}-b{self.batch_size}-lr{self.learning_rate:g}"


def finetune_predict(data: Data, train_ds, tags: list[list[int]], test_ds, names: list[str], recipe: FinetuneSettings,
                     seed: int, progress: bool) -> list[np.ndarray]:
    """e5-small fine-tuned through the product's HF Trainer path (auditor.modeling.training)."""
    ds = train_ds.remove_columns("ner_tags").add_column("ner_tags", tags, feature=train_ds.features["ner_tags"])
    model_cfg = ModelConfig(name=data.model, max_length=data.max_length, stride=data.stride)
    training = TrainingConfig(epochs=recipe.epochs, batch_size=recipe.batch_size, learning_rate=recipe.learning_rate,
                              weight_decay=0.01, seed=seed, freeze_word_embeddings=True)
    tagger = train_tagger(ds, None, names, data.model, model_cfg, training, progress=progress)
    return predict_word_probs(tagger, test_ds, data.max_length, data.stride, 64, progress=False)


def slug(label: str) -> str:
    return label.replace(" ", "-")


def pred_path(work: Path, tagger: str, half: int, version: str, seed: int, curator: str = "") -> Path:
    """curator: the curator setting's tag, for the versions a curator made (the original and
    all-corrected tags do not depend on it)."""
    tag = f"--{curator}" if curator and version not in (ORIGINAL, ALL_CORRECTED) else ""
    return work / "preds" / tagger / f"h{half}" / f"{slug(version)}{tag}-s{seed}.json.gz"


def settings_tag(settings: CuratorSettings) -> str:
    return f"{settings.order}-" + (f"groups-look{settings.look}" if settings.groups else "nogroups")


def save_preds(path: Path, tags: list[list[str]], seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as f:
        json.dump({"pred": tags, "seconds": seconds}, f)
    tmp.replace(path)


def load_preds(path: Path) -> dict | None:
    if not path.is_file():
        return None
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return json.load(f)


# --- cheap measurements on the audit ----------------------------------------------------------


def true_errors(given: list[str], clean: list[str]) -> list[tuple[int, int, str]]:
    """The sentence's error spans: (start, end, change) with change 'LOC→ORG' (same words,
    other type), 'O→MISC' (missed), 'PER→O' (spurious) or 'boundary' (overlapping, other words)."""
    g, c = set(spans(given)), set(spans(clean))
    out = []
    g_only, c_only = g - c, c - g
    used: set = set()
    for a, b, t in sorted(g_only):
        same = next((x for x in c_only if x[0] == a and x[1] == b), None)
        if same is not None:
            out.append((a, b, f"{t}→{same[2]}"))
            used.add(same)
        elif any(x[0] < b and x[1] > a for x in c_only):
            out.append((a, b, "boundary"))
            used |= {x for x in c_only if x[0] < b and x[1] > a}
        else:
            out.append((a, b, f"{t}→O"))
    for a, b, t in sorted(c_only - used):
        if not any(x[0] < b and x[1] > a for x in g_only):
            out.append((a, b, f"O→{t}"))
    return out


def span_coverage(audit: Audit, sampled: Sampled) -> list[dict]:
    """Per kind of true error span: how many, covered by an issue without / with the sample,
    and of the uncovered, how many the out-of-fold model tags as given (it agrees with the error)."""
    names = label_names(audit.corpus)
    dev = audit.corpus["dev"]
    p = audit.preds
    pred_of: dict[str, np.ndarray] = {}
    cuts = np.flatnonzero(np.r_[True, p.ids[1:] != p.ids[:-1], True])
    for a, b in zip(cuts[:-1], cuts[1:]):
        pred_of[str(p.ids[a])] = p.probs[a:b].argmax(axis=1)
    def covered_by(issues) -> dict[str, list[tuple[int, int]]]:
        out: dict[str, list] = {}
        for r in issues[["id", "start", "end"]].itertuples(index=False):
            out.setdefault(r.id, []).append((int(r.start), int(r.end)))
        return out

    base, withs = covered_by(audit.issues), covered_by(sampled.issues)
    rows: dict[str, Counter] = {}
    for r in dev:
        given, clean = [names[t] for t in r["ner_tags"]], [names[t] for t in r[CLEAN_COLUMN]]
        if given == clean or r["id"] in sampled.ids:
            continue
        pred = [names[k] for k in pred_of[r["id"]]]
        for a, b, change in true_errors(given, clean):
            c = rows.setdefault(change, Counter())
            hit = lambda cov, a=a, b=b, sid=r["id"]: any(s < b and e > a for s, e in cov.get(sid, []))  # noqa: E731
            c["spans"] += 1
            c["base"] += hit(base)
            c["sample"] += hit(withs)
            if not hit(withs):
                c["missed"] += 1
                c["missed_model_agrees"] += pred[a:b] == given[a:b]
    return [{"change": k, **v} for k, v in sorted(rows.items(), key=lambda kv: -kv[1]["spans"])]


def remaining_interval(k: int, n: int, population: int, level: float = 0.9) -> tuple[float, float]:
    """A Clopper-Pearson interval for the number of wrong sentences in the whole corpus from k
    wrong of n verified random sentences: the n verified ones counted as they are, the rest
    as the interval of the proportion times the unverified count."""
    from scipy.stats import beta

    alpha = 1 - level
    lo = 0.0 if k == 0 else beta.ppf(alpha / 2, k, n - k + 1)
    hi = 1.0 if k == n else beta.ppf(1 - alpha / 2, k + 1, n - k)
    rest = population - n
    return k + lo * rest, k + hi * rest


def calibration(audit: Audit, sizes: list[int], draws: int) -> list[dict]:
    dev = audit.corpus["dev"]
    wrong = {r["id"]: r["ner_tags"] != r[CLEAN_COLUMN] for r in dev.select_columns(["id", "ner_tags", CLEAN_COLUMN])}
    total = sum(wrong.values())
    from auditor.scoring.remaining import population_errors

    out = []
    for n in sizes:
        for method in ("hypergeometric (auditor.scoring.remaining)", "Clopper-Pearson"):
            held, widths, first10 = 0, [], 0
            for seed in range(draws):
                rows = draw_sample(audit.corpus, ["dev"], n, seed)
                k = sum(wrong[r.id] for r in rows)
                if method == "Clopper-Pearson":
                    lo, hi = remaining_interval(k, len(rows), len(dev))
                else:
                    est = population_errors(len(rows), k, len(dev))
                    lo, hi = est.low, est.high
                ok = lo <= total <= hi
                held += ok
                first10 += ok and seed < 10
                widths.append(hi - lo)
            out.append({"n": n, "method": method, "true": total, "draws": draws, "held": held, "held_first10": first10,
                        "width": float(np.mean(widths))})
    return out


def second_pass(audit: Audit, sampled: Sampled, store, model: str, overrides: dict, work: Path, name: str) -> dict:
    """Re-score with the sample plus the curator's decided sentences as verified evidence (their
    tags after the decisions), the weight fixed at the sample's own fit; sentence AP of the
    sentences neither sampled nor decided, first pass vs second pass."""
    names = label_names(audit.corpus)
    decided_ids = {str(i) for i in audit_issue_ids(sampled.issues, store)}
    dev = audit.corpus["dev"]
    cleaned = store_cleaned(audit, sampled, store)
    rows = read_sample(sampled.path)
    extra = []
    for r, tags in zip(dev, cleaned):
        if r["id"] in decided_ids and r["id"] not in sampled.ids:
            extra.append(SampleRow(r["id"], list(r["tokens"]), [names[t] for t in tags],
                                   [names[t] for t in r["ner_tags"]], r["lang"], True))
    path = work / "second-pass" / f"{name}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_sample(path, rows + extra)
    out = {"decided_sentences": len(extra), "weight": sampled.weight}
    for label, file in (("first", sampled.path), ("second", path)):
        cfg = pipeline_config(model, ["dev"], _train_splits(audit),
                              {**overrides, "scoring.reference.file": str(file), "scoring.reference.weight": sampled.weight}, 0)
        vectors = audited_word_vectors(audit.corpus, cfg, audit.run_dir)
        frame, signals = compute_signals(audit.corpus, audit.preds, cfg.scoring, vectors=vectors)
        score = sentence_combined(frame, signals, cfg.scoring)
        diff = (frame.labels != frame.clean).astype(np.int64)
        csum = np.concatenate([[0], np.cumsum(diff)])
        is_error = (csum[frame.offsets[1:]] - csum[frame.offsets[:-1]]) > 0
        keep = np.array([str(i) not in decided_ids and str(i) not in sampled.ids for i in frame.ids])
        out[f"{label}_ap"] = float(average_precision_score(is_error[keep], 1.0 - score[keep]))
        out["remaining_sentences"], out["remaining_wrong"] = int(keep.sum()), int(is_error[keep].sum())
    return out


def audit_issue_ids(issues, store) -> set:
    """Sentence ids touched by a decision in the store."""
    decided = store.latest()
    return set(issues.loc[issues["issue_id"].isin(list(decided)), "id"])


def store_cleaned(audit: Audit, sampled: Sampled, store) -> list[list[int]]:
    from auditor.cleaning import apply_decisions

    return [list(t) for t in apply_decisions(audit.corpus, sampled.issues, store.latest()).cleaned["dev"]["ner_tags"]]


# --- summaries ------------------------------------------------------------------------------


def _ms(xs: list[float], digits: int = 3) -> str:
    if not xs:
        return "–"
    if len(xs) < 2:
        return f"{xs[0]:.{digits}f}"
    return f"{statistics.mean(xs):.{digits}f} ± {statistics.stdev(xs):.{digits}f}"


def _signed(xs: list[float]) -> str:
    if not xs:
        return "–"
    if len(xs) < 2:
        return f"{xs[0]:+.3f}"
    return f"{statistics.mean(xs):+.3f} ± {statistics.stdev(xs):.3f}"


def f1_table(results: dict, taggers: list[str], seeds: list[int], halves: list[int], versions: dict) -> str:
    """results[(tagger, half, version, seed)] = (F1 corrected test, F1 original test)."""
    lines = ["| tagger | training tags | actions / training sentence | sentences changed | F1 corrected test | "
             "F1 original test | paired gain, corrected | share of all-corrected gain | gain > 2 sd? | paired gain, original |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    labels = list(dict.fromkeys(v.label for h in halves for v in versions[h]))
    for tagger in taggers:
        def per_seed(label: str, which: int, tagger: str = tagger) -> dict[int, float]:
            out = {}
            for s in seeds:
                vals = [results.get((tagger, h, label, s)) for h in halves]
                if all(v is not None for v in vals):
                    out[s] = statistics.mean(v[which] for v in vals)
            return out

        base_c, base_o = per_seed(ORIGINAL, 0), per_seed(ORIGINAL, 1)
        top_c = per_seed(ALL_CORRECTED, 0)
        top_gain = [top_c[s] - base_c[s] for s in top_c if s in base_c]
        for label in labels:
            fc, fo = per_seed(label, 0), per_seed(label, 1)
            if not fc:
                continue
            gain_c = [fc[s] - base_c[s] for s in fc if s in base_c]
            gain_o = [fo[s] - base_o[s] for s in fo if s in base_o]
            vs = [v for h in halves for v in versions[h] if v.label == label]
            n_train = [len(v.tags) for v in vs]
            effort = statistics.mean(v.actions / n for v, n in zip(vs, n_train))
            changed = sum(v.changed_sentences for v in vs)
            share = "–"
            if label != ORIGINAL and top_gain and statistics.mean(top_gain) > 0:
                share = f"{statistics.mean(gain_c) / statistics.mean(top_gain):.0%}"
            verdict = "–"
            if label != ORIGINAL and len(gain_c) > 1:
                verdict = "yes" if statistics.mean(gain_c) > 2 * statistics.stdev(gain_c) else "no"
            lines.append(
                f"| {tagger} | {label} | {effort:.2f} | {changed} | {_ms(list(fc.values()))} | {_ms(list(fo.values()))} | "
                f"{_signed(gain_c) if label != ORIGINAL else '–'} | {share} | {verdict} | "
                f"{_signed(gain_o) if label != ORIGINAL else '–'} |"
            )
    return "\n".join(lines)


def sign_table(changes: list[dict], sizes: list[int], key: str = "by_n") -> str:
    cols = " | ".join(f"n = {'all' if n == 0 else n}" for n in sizes)
    lines = ["| changes | count | " + cols + " |", "|---|---|" + "---|" * len(sizes)]
    for label, sel in (("all", lambda c: True), ("silver sign wrong", lambda c: c["silver_wrong"]),
                       ("silver wrong, Δ at least ±0.005", lambda c: c["silver_wrong"] and abs(c["delta"]) >= 0.005)):
        picked = [c for c in changes if sel(c)]
        if not picked:
            continue
        cells = []
        for n in sizes:
            at = [c[key][str(n)] for c in picked]
            sign = statistics.mean(a["sign"] for a in at)
            sure = statistics.mean(a["sure"] for a in at)
            wrong = statistics.mean(a["sure_wrong"] for a in at)
            allright = sum(a["sign"] >= 0.9 for a in at)
            cells.append(f"{sign:.0%} / {sure:.0%} / {wrong:.0%} ({allright}/{len(picked)})")
        lines.append(f"| {label} | {len(picked)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------------------


def parse_budgets(raw: list[str]) -> list[float | None]:
    return [None if b == "all" else float(b) for b in raw]


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="local HF model folder, e.g. .cache/e5-small (not needed with --quick)")
    p.add_argument("--data", default=str(DEFAULT_DATA), help="the shared data folder (default ../shared/data)")
    p.add_argument("--work", required=True)
    p.add_argument("--quick", action="store_true", help="synthetic corpus, tiny model, tiny grid (a smoke run)")
    p.add_argument("--split-seed", type=int, default=0)
    p.add_argument("--halves", type=int, nargs="+", default=[0, 1])
    p.add_argument("--context", action="store_true", help="CoNLL train as training-only context of the audit")
    p.add_argument("--context-check", action="store_true",
                   help="also audit half 0 with CoNLL train as context and report both APs")
    p.add_argument("--sample", type=int, default=100, help="verified random sample the curator checks first")
    p.add_argument("--sample-seed", type=int, default=0)
    p.add_argument("--budgets", nargs="+", default=["0.1", "0.2", "0.3", "all"],
                   help="curator actions per training sentence (sample included); 'all' = every issue")
    p.add_argument("--order", default="score", choices=["score", "groups"], help="queue order of the trained versions")
    p.add_argument("--look", type=int, default=3, help="members a group decision looks at (the preview's three)")
    p.add_argument("--groups", default="off", choices=["off", "on"],
                   help="the trained versions' curator makes group decisions (off: measured not to pay on CoNLL, see README)")
    p.add_argument("--taggers", nargs="+", default=["probe", "finetune"], choices=["probe", "finetune"])
    p.add_argument("--finetune-versions", nargs="+", default=None,
                   help="fine-tune only these versions (labels as in the table, e.g. original 'curator 0.3' 'all corrected')")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=float, default=2.0, help="fine-tuning epochs (pipelines/panx_cpu.yaml: 2)")
    p.add_argument("--batch-size", type=int, default=16, help="fine-tuning batch size (pipelines/panx_cpu.yaml: 16)")
    p.add_argument("--lr", type=float, default=5e-5, help="fine-tuning learning rate (pipelines/panx_cpu.yaml: 5e-5)")
    p.add_argument("--sign-sizes", type=int, nargs="+", default=[50, 100, 200, 300, 500, 0], help="0 = all test sentences")
    p.add_argument("--sign-draws", type=int, default=100)
    p.add_argument("--n-boot", type=int, default=500)
    p.add_argument("--calibration-sizes", type=int, nargs="+", default=[100, 200])
    p.add_argument("--calibration-draws", type=int, default=200)
    p.add_argument("--no-train", action="store_true", help="audits and cheap measurements only")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: auto, auditor.runtime)")
    p.add_argument("--progress", action="store_true")
    args = p.parse_args(argv)
    policy = apply_thread_policy(args.threads or None)
    print(f"# {policy.describe()}", flush=True)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.quick:
        data = quick_data(work)
        args.sample = min(args.sample, 12)
        args.seeds = args.seeds[:2]
        args.epochs = min(args.epochs, 1.0)
        args.sign_sizes = [10, 0]
        args.sign_draws, args.n_boot = min(args.sign_draws, 5), min(args.n_boot, 50)
        args.calibration_sizes, args.calibration_draws = [20], min(args.calibration_draws, 10)
    else:
        if not args.model:
            p.error("--model is required (or --quick)")
        data = conll_data(Path(args.data), args.model, args.context or args.context_check)
    budgets = parse_budgets(args.budgets)
    names = label_names(DatasetDict({"dev": data.dev}))
    halves = split_halves(data.docs, args.split_seed)
    print(f"# halves: {[len(h) for h in halves]} sentences, {[len(np.unique(data.docs[h])) for h in halves]} articles", flush=True)
    sections = [f"# cleaning_real summary\n\nhalves {[len(h) for h in halves]} sentences; sample {args.sample} "
                f"(seed {args.sample_seed}); curator of the trained versions: {args.order} order, group decisions {args.groups} "
                f"(look {args.look}); "
                f"fine-tune {args.epochs:g} epochs, batch {args.batch_size}, lr {args.lr:g}\n"]

    # 1. audits and the sample
    audits, sampled = {}, {}
    ctx = "train" if args.context else "none"
    for h in args.halves:
        audits[h] = audit_half(data, halves[h], f"h{h}-{ctx}", work, args.progress, args.context)
        sampled[h] = with_sample(audits[h], args.sample, args.sample_seed, data.model, data.audit_overrides)
    det_lines = ["| half (training part) | context | sentences | wrong | issues | sentence AP | span AP | fold F1 | "
                 "with the sample: sentence AP | span AP | issues | weight | sample corrected |",
                 "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def det_row(h: int, c: str, a: Audit, s: Sampled) -> str:
        d, e = a.detection, s.detection
        return (f"| {h} | {c} | {d['n_sentences']} | {d['n_error_sentences']} | {d['n_issues']} | {d['sentence_ap']:.3f} | "
                f"{d['span_ap']:.3f} | {d['fold_f1']:.3f} | {e['sentence_ap']:.3f} | {e['span_ap']:.3f} | {e['n_issues']} | "
                f"{e['weight']:g} | {e['corrected']} of {e['verified']} |")

    det_lines += [det_row(h, ctx, audits[h], sampled[h]) for h in args.halves]
    if args.context_check and not args.quick and 0 in args.halves:
        other = not args.context
        a = audit_half(data, halves[0], f"h0-{'train' if other else 'none'}", work, args.progress, other)
        det_lines.append(det_row(0, "train" if other else "none", a, with_sample(a, args.sample, args.sample_seed, data.model, {})))
    sections.append("## Audit of each training half\n\n" + "\n".join(det_lines))
    print(sections[-1], flush=True)

    train_settings = CuratorSettings(args.order, args.groups == "on", args.look)
    tag = args.curator_tag = settings_tag(train_settings)
    # 4. versions and final taggers
    versions = {h: versions_for(audits[h], sampled[h], budgets, train_settings, args.sample, work, f"h{h}-{tag}") for h in args.halves}
    for h in args.halves:
        for v in versions[h]:
            print(f"#   half {h}: {v.label}: {v.actions} actions, {v.changed_sentences} sentences changed", flush=True)
    results: dict = {}
    test_tags, test_sets = {}, {}
    for h in args.halves:
        test = halves[1 - h]
        ds = data.dev.select(test.tolist())
        test_tags[h] = (names_of(ds[CLEAN_COLUMN], names), names_of(ds["ner_tags"], names))
        test_sets[h] = ds
    features = None
    recipe = FinetuneSettings(args.epochs, args.batch_size, args.lr)
    ft_versions = set(args.finetune_versions) if args.finetune_versions else None
    # seed by seed (every tagger and version of a seed, then the next): a cut-short run still
    # holds complete, paired seeds
    for seed in args.seeds:
        for tagger in args.taggers:
            for h in args.halves:
                order = sorted(versions[h], key=lambda v: [ORIGINAL, ALL_CORRECTED].index(v.label)
                               if v.label in (ORIGINAL, ALL_CORRECTED) else 2)
                for v in order:
                    if tagger == "finetune" and ft_versions is not None and v.label not in ft_versions:
                        continue
                    path = pred_path(work, recipe.tag if tagger == "finetune" else tagger, h, v.label, seed, tag)
                    if args.no_train and not path.is_file():
                        continue
                    got = load_preds(path)
                    if got is None:
                        t = time.perf_counter()
                        train_idx, test_idx = halves[h], halves[1 - h]
                        if tagger == "probe":
                            if features is None:
                                features = audit_features(audits, halves, data, work, args.progress)
                            logits = probe_predict(features, train_idx, test_idx, dict(zip(train_idx.tolist(), v.tags)),
                                                   len(names), seed)
                        else:
                            logits = finetune_predict(data, data.dev.select(train_idx.tolist()), v.tags,
                                                      data.dev.select(test_idx.tolist()), names, recipe, seed, args.progress)
                        pred = [[names[k] for k in np.asarray(x).argmax(axis=1)] for x in logits]
                        save_preds(path, pred, time.perf_counter() - t)
                        got = load_preds(path)
                    true_c, true_o = test_tags[h]
                    fc, fo = seqeval_scores(true_c, got["pred"]).f1, seqeval_scores(true_o, got["pred"]).f1
                    results[(tagger, h, v.label, seed)] = (fc, fo, got["pred"])
                    print(f"{tagger} | half {h} | {v.label} | seed {seed} | F1 corrected {fc:.3f} original {fo:.3f} | "
                          f"{got['seconds']:.0f} s", flush=True)
    sections.append("## Test F1 by training tags (mean ± sd over seeds of the two halves' mean)\n\n"
                    + f_table_text(results, args, versions))

    # 2. the curator: settings compared on the training tags (no training needed; after the taggers, which take longest)
    settings_grid = [CuratorSettings("score", False), CuratorSettings("score", True, 0), CuratorSettings("score", True, args.look),
                     CuratorSettings("score", True, args.look, careful=True),
                     CuratorSettings("score", True, args.look, careful=True, look_at="worst"),
                     CuratorSettings("groups", True, 0), CuratorSettings("groups", True, args.look),
                     CuratorSettings("groups", True, args.look, careful=True)]
    cur_file = work / "curator.jsonl"
    cur_done = {}
    if cur_file.is_file():
        for line in cur_file.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            cur_done[tuple(r["key"])] = r
    cur_lines = ["| half | sample | queue | budget | actions | issues decided | group decisions (members unseen) | "
                 "wrong tokens before → after | wrong sentences before → after | propagation precision accept/relabel | keep |",
                 "|---|---|---|---|---|---|---|---|---|---|---|"]
    for h in args.halves:
        for sample_n in (0, args.sample):
            for st in settings_grid:
                for b in budgets:
                    key = [h, sample_n, st.order, st.groups, st.look, "all" if b is None else b] + (["careful"] if st.careful else []) + (["worst"] if st.look_at == "worst" else [])
                    if tuple(key) not in cur_done:
                        run, _, _ = curate(audits[h], sampled[h] if sample_n else None, b, st, sample_n, work / "stores" / f"grid-h{h}")
                        cur_done[tuple(key)] = {"key": key, "label": st.label, **run.to_dict()}
                        with open(cur_file, "a", encoding="utf-8") as f:
                            f.write(json.dumps(cur_done[tuple(key)]) + "\n")
                    r = cur_done[tuple(key)]
                    pa_n = r["propagated"].get("accept", 0) + r["propagated"].get("relabel", 0)
                    pa_r = r["propagated_right"].get("accept", 0) + r["propagated_right"].get("relabel", 0)
                    pk_n, pk_r = r["propagated"].get("keep", 0), r["propagated_right"].get("keep", 0)
                    cur_lines.append(
                        f"| {h} | {sample_n} | {r['label']} | {'all' if b is None else b} | {r['actions']} | {r['decided']} | "
                        f"{r['group_decisions']} ({sum(r['propagated'].values())}) | {r['wrong_tokens_before']} → {r['wrong_tokens_after']} | "
                        f"{r['wrong_sentences_before']} → {r['wrong_sentences_after']} | "
                        f"{(f'{pa_r / pa_n:.3f} ({pa_r}/{pa_n})') if pa_n else '–'} | {(f'{pk_r / pk_n:.3f} ({pk_n})') if pk_n else '–'} |")
    sections.append("## The simulated curator: effort and what it fixes (training half's tags)\n\n" + "\n".join(cur_lines))
    print(sections[-1], flush=True)

    # 3. cheap measurements: span coverage, calibration, second pass
    cov_lines = ["| half | true error span | count | covered, no sample | covered, with the sample | not covered: model agrees with the given tag |",
                 "|---|---|---|---|---|---|"]
    cal_lines = ["| half | verified n | interval | true wrong sentences | 90 % interval holds: first 10 samples | all samples | mean width |",
                 "|---|---|---|---|---|---|---|"]
    sp_lines = ["| half | budget | decided sentences added | weight (fitted on the sample) | remaining sentences (wrong) | "
                "AP first pass | AP second pass |", "|---|---|---|---|---|---|---|"]
    for h in args.halves:
        for r in span_coverage(audits[h], sampled[h]):
            cov_lines.append(f"| {h} | {r['change']} | {r['spans']} | {r['base']} | {r['sample']} | "
                             f"{r.get('missed_model_agrees', 0)} of {r.get('missed', 0)} |")
        for r in calibration(audits[h], args.calibration_sizes, args.calibration_draws):
            cal_lines.append(f"| {h} | {r['n']} | {r['method']} | {r['true']} | {r['held_first10']} of {min(10, r['draws'])} | "
                             f"{r['held']} of {r['draws']} | {r['width']:.0f} |")
        for b in [x for x in budgets if x is not None][-1:] + [None]:
            sp_file = work / "second-pass" / f"h{h}-b{b}-{tag}.json"
            if not sp_file.is_file():
                _, _, store = curate(audits[h], sampled[h], b, train_settings, args.sample, work / "stores" / f"sp-h{h}-{tag}")
                res = second_pass(audits[h], sampled[h], store, data.model, data.audit_overrides, work, f"h{h}-b{b}-{tag}")
                sp_file.write_text(json.dumps(res), encoding="utf-8")
            res = json.loads(sp_file.read_text(encoding="utf-8"))
            sp_lines.append(f"| {h} | {'all' if b is None else b} | {res['decided_sentences']} | {res['weight']:g} | "
                            f"{res['remaining_sentences']} ({res['remaining_wrong']}) | {res['first_ap']:.3f} | {res['second_ap']:.3f} |")
    sections += ["## Span coverage (training half, sample sentences left out)\n\n" + "\n".join(cov_lines),
                 "## Remaining-errors interval (90 %, from a random verified sample)\n\n" + "\n".join(cal_lines),
                 "## Second pass: decisions as extra verified evidence\n\n" + "\n".join(sp_lines)]
    print("\n\n".join(sections[-3:]), flush=True)

    # 5. the sign question
    changes = sign_question(results, test_tags, test_sets, args)
    if changes:
        sections.append(
            "## How many verified test sentences give a change its sign?\n\n"
            "cells: share of draws whose point Δ has the full corrected-test sign / share whose 90 % interval excludes 0 on "
            "that side / share whose interval excludes 0 on the wrong side (changes with the sign right in ≥ 90 % of draws)\n\n"
            "A uniform random sample (`auditor sample --split test`):\n\n"
            + sign_table(changes, args.sign_sizes)
            + "\n\nDrawn mostly where the two taggers disagree, weighted (`auditor sample --split test --where disagree`):\n\n"
            + sign_table(changes, [n for n in args.sign_sizes if n], key="by_n_focus")
            + "\n\n" + change_list(changes))
    text = "\n\n".join(sections) + "\n"
    (work / "summary.md").write_text(text, encoding="utf-8")
    print(text, flush=True)
    return text


def f_table_text(results: dict, args, versions: dict) -> str:
    plain = {k: v[:2] for k, v in results.items()}
    taggers = [t for t in args.taggers if any(k[0] == t for k in plain)]
    return f1_table(plain, taggers, args.seeds, args.halves, versions)


def sign_question(results: dict, test_tags: dict, test_sets: dict, args) -> list[dict]:
    """Every before/after change (original -> each version, per tagger, half and seed): the
    full corrected-test delta, the silver delta, and per subsample size how often a paired
    bootstrap on the corrected tags of just those sentences gets the full sign: "by_n" for a
    uniform draw, "by_n_focus" for the product's draw where the taggers disagree, weighted
    (auditor.data.sample.draw_sample(focus=...), auditor.verified_test.read_design)."""
    cache = Path(args.work) / "sign.jsonl"
    done = {}
    if cache.is_file():
        for line in cache.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            done[r["key"]] = r
    out = []
    for (tagger, h, label, seed), (fc, fo, pred) in sorted(results.items(), key=lambda kv: str(kv[0])):
        if label == ORIGINAL or (tagger, h, ORIGINAL, seed) not in results:
            continue
        key = json.dumps([tagger, h, label, seed, args.sign_draws, args.n_boot, list(args.sign_sizes), args.curator_tag])
        bc, bo, before = results[(tagger, h, ORIGINAL, seed)]
        true_c = test_tags[h][0]
        if key in done:
            rec = done[key]
            if "by_n_focus" not in rec:  # a cache from before the focus draw: add it
                rec["by_n_focus"] = focus_signs(true_c, before, pred, rec["delta"], test_sets[h], args)
                with open(cache, "a", encoding="utf-8") as f:
                    f.write(json.dumps(rec) + "\n")
            out.append(rec)
            continue
        delta, silver = fc - bc, fo - bo
        rec = {"key": key, "tagger": tagger, "half": h, "version": label, "seed": seed, "delta": delta,
               "silver": silver, "silver_wrong": bool(np.sign(silver) != np.sign(delta)), "by_n": {}}
        n_all = len(true_c)
        for n in args.sign_sizes:
            size = n_all if n == 0 or n >= n_all else n
            sign = sure = sure_wrong = 0
            draws = 1 if size == n_all else args.sign_draws
            for d in range(draws):
                idx = np.sort(np.random.default_rng(1000 * d + n).choice(n_all, size, replace=False)) if size < n_all else np.arange(n_all)
                iv = paired_bootstrap_delta([true_c[i] for i in idx], [before[i] for i in idx], [pred[i] for i in idx],
                                            n_boot=args.n_boot, seed=d)
                right = np.sign(iv.f1) == np.sign(delta)
                sign += right
                sure += (iv.low > 0 and delta > 0) or (iv.high < 0 and delta < 0)
                sure_wrong += (iv.low > 0 and delta < 0) or (iv.high < 0 and delta > 0)
            rec["by_n"][str(n)] = {"sign": sign / draws, "sure": sure / draws, "sure_wrong": sure_wrong / draws}
        rec["by_n_focus"] = focus_signs(true_c, before, pred, delta, test_sets[h], args)
        done[key] = rec
        with open(cache, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")
        out.append(rec)
        print(f"# sign: {tagger} half {h} {label} seed {seed}: Δ corrected {delta:+.4f}, silver {silver:+.4f}", flush=True)
    return out


def focus_signs(true_c: list[list[str]], before: list[list[str]], after: list[list[str]], delta: float, test,
                args) -> dict:
    """Per sample size: how often the product's disagreement draw, weighted, gets the sign.

    The draw is `auditor sample --where disagree`'s own (auditor.data.sample.focus_draw, which
    draw_sample calls with the same seeded generator), the weights its sample file's
    (auditor.sample_design), the interval the retrain stage's (paired_counts_delta is
    paired_bootstrap_delta on counts taken once, so thousands of draws stay cheap)."""
    from auditor.data.sample import focus_draw
    from auditor.evaluation import entity_counts, paired_counts_delta
    from auditor.sample_design import design_from_strata
    from auditor.test_predictions import TestPrediction, disagreement_mask

    ids = list(test["id"])
    preds = [TestPrediction("x", "before", i, t) for i, t in zip(ids, before)]
    preds += [TestPrediction("x", "after", i, t) for i, t in zip(ids, after)]
    focus = disagreement_mask(preds, ids)
    langs = np.asarray(test["lang"], dtype=object)
    cb, ca = entity_counts(true_c, before), entity_counts(true_c, after)
    out = {}
    for n in args.sign_sizes:
        if n == 0 or n >= len(ids):
            continue
        sign = sure = sure_wrong = 0
        for d in range(args.sign_draws):
            picked, strata = focus_draw(langs, focus, n, np.random.default_rng(1000 * d + n), True)
            design = design_from_strata([strata[int(i)][0] for i in picked], dict(strata.values()))
            iv = paired_counts_delta(cb[picked], ca[picked], n_boot=args.n_boot, seed=d, design=design)
            sign += np.sign(iv.f1) == np.sign(delta)
            sure += (iv.low > 0 and delta > 0) or (iv.high < 0 and delta < 0)
            sure_wrong += (iv.low > 0 and delta < 0) or (iv.high < 0 and delta > 0)
        out[str(n)] = {"sign": sign / args.sign_draws, "sure": sure / args.sign_draws, "sure_wrong": sure_wrong / args.sign_draws,
                       "disagree": int(focus.sum())}
    return out


def change_list(changes: list[dict]) -> str:
    lines = ["| tagger | half | training tags | seed | Δ F1 corrected test | Δ F1 original test | silver sign wrong? | "
             "test sentences the taggers disagree on | sign right at n = 300: uniform | where they disagree |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for c in changes:
        at = c["by_n"].get("300", {}).get("sign")
        focus = c.get("by_n_focus", {}).get("300", {})
        lines.append(f"| {c['tagger']} | {c['half']} | {c['version']} | {c['seed']} | {c['delta']:+.4f} | {c['silver']:+.4f} | "
                     f"{'yes' if c['silver_wrong'] else 'no'} | {focus.get('disagree', '–')} | {'–' if at is None else f'{at:.0%}'} | "
                     f"{'–' if not focus else format(focus['sign'], '.0%')} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
