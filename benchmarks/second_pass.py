"""Does a second pass pay? Review in rounds, re-scoring with the decisions as evidence (issue 23).

The product's second pass (``scoring.reference.decisions``): after a round of review the words
each decision covered join the verified sample's words as neighbours of the evidence
(``auditor.cleaning.decided_words`` -> ``score_corpus(decided=...)``; the weight still fitted on
the random sample), so the rest of a corrected convention rises in the queue.

Per training half of ``benchmarks/cleaning_real.py`` (its cached audits and 100-sentence samples
under --work), the simulated curator (``benchmarks/curator.py``: score order, no group
decisions, the product's decision store and apply) spends B actions per training sentence:
the sample first, then the queue in R rounds of equal size; between rounds the product
re-scores with the decisions so far, and the next round works down the new queue (what is
decided stays decided). R = 1 is cleaning_real's curator. Reported per half, budget and R:
wrong tokens and sentences left in the training half; after round 1 of R = 2, the sentence AP
of the sentences neither sampled nor decided, first pass vs second pass; open issues of the
new queue on words already decided (actions a re-score makes the curator repeat); and the
probe tagger's entity F1 on the other half's corrected tags, trained on each version of the
tags (3 seeds), with the share of the all-corrected gain reached.

    python benchmarks/second_pass.py --model .cache/e5-small --work WORK/cleaning-real --threads 2

Everything is cached under WORK/second-pass-rounds; WORK/second-pass-rounds/summary.md holds the tables.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from datasets import DatasetDict
from sklearn.metrics import average_precision_score

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cleaning_real import (  # noqa: E402
    DEFAULT_DATA,
    _train_splits,
    audit_features,
    audit_half,
    conll_data,
    names_of,
    probe_predict,
    split_halves,
    truth_of,
    with_sample,
)
from curator import CuratorSettings, cleaned_tags, review  # noqa: E402
from detection_real import pipeline_config  # noqa: E402

from auditor.cleaning import apply_decisions, decided_words  # noqa: E402
from auditor.data.corpus import CLEAN_COLUMN, label_names  # noqa: E402
from auditor.data.sample import read_sample  # noqa: E402
from auditor.evaluation import seqeval_scores  # noqa: E402
from auditor.modeling.crossval import audited_word_vectors  # noqa: E402
from auditor.runtime import apply_thread_policy  # noqa: E402
from auditor.scoring.score import build_issues, compute_signals, sentence_combined  # noqa: E402


def sentence_errors(frame) -> np.ndarray:
    """(S,) bool: the audited sentence has a word whose given tag differs from the truth."""
    diff = (frame.labels != frame.clean).astype(np.int64)
    csum = np.concatenate([[0], np.cumsum(diff)])
    return (csum[frame.offsets[1:]] - csum[frame.offsets[:-1]]) > 0


def rescore(audit, cfg, vectors, decided):
    """The score stage's issue table with the decided words as evidence, (S,) sentence scores
    and (S,) cleanlab's own sentence quality on the same predictions (cleanlab alone)."""
    frame, signals = compute_signals(audit.corpus, audit.preds, cfg.scoring, vectors=vectors, decided=decided)
    return (frame, build_issues(frame, signals, cfg.scoring), sentence_combined(frame, signals, cfg.scoring),
            signals.cleanlab.sentence_quality)


def in_rounds(audit, sampled, budget: float, rounds: int, sample_n: int, cfg, vectors, store_path: Path) -> dict:
    """The curator's R rounds; the cleaned tags, its effort and what the re-scores did."""
    dev = audit.corpus["dev"]
    total = int(round(budget * len(dev)))
    rows = read_sample(sampled.path)
    truth = truth_of(audit.corpus)
    settings = CuratorSettings("score", groups=False)
    issues, store, spent, out = sampled.issues, None, sample_n, {"rounds": []}
    for r in range(rounds):
        target = sample_n + int(round((total - sample_n) * (r + 1) / rounds))
        store, run = review(issues, truth, target, settings, store_path, spent=spent, sample=rows, store=store)
        out["rounds"].append({"actions": run.actions - spent, "decided": run.decided, "issues": len(issues)})
        spent = run.actions
        if r == rounds - 1:
            break
        decided = decided_words(apply_decisions(audit.corpus, issues, store.latest(), rows, ["dev"]))
        frame, new_issues, second, cleanlab_alone = rescore(audit, cfg, vectors, decided)
        latest = set(store.latest())
        covered = {(sid, i) for sid, c in decided.covered.items() for i, w in enumerate(c) if w}
        repeat = sum(
            any((row.id, i) in covered for i in range(int(row.start), int(row.end)))
            for row in new_issues.itertuples() if row.issue_id not in latest
        )
        out["rounds"][-1].update(decided_words=len(decided), open_on_decided=int(repeat))
        if r == 0:
            _, _, first, _ = rescore(audit, cfg, vectors, None)
            keep = np.array([str(s) not in decided.covered and str(s) not in sampled.ids for s in frame.ids])
            wrong = sentence_errors(frame)
            out["ap_first"] = float(average_precision_score(wrong[keep], 1.0 - first[keep]))
            out["ap_second"] = float(average_precision_score(wrong[keep], 1.0 - second[keep]))
            out["ap_cleanlab"] = float(average_precision_score(wrong[keep], 1.0 - cleanlab_alone[keep]))
            out["rest"], out["rest_wrong"] = int(keep.sum()), int(wrong[keep].sum())
        issues = new_issues
    final = run
    tags = cleaned_tags(audit.corpus, issues, store, "dev", final, rows)
    out.update(actions=final.actions, wrong_tokens=[final.wrong_tokens_before, final.wrong_tokens_after],
               wrong_sentences=[final.wrong_sentences_before, final.wrong_sentences_after],
               stale=final.stale, tags=tags)
    return out


def crossval_again(audit, sampled, budget: float, sample_n: int, work: Path) -> dict:
    """Two rounds with a new audit between them: round 1 as in in_rounds(R = 2), then the
    product's cycle run again on the cleaned tags (probe crossval on them, the frozen
    vectors reused; scored without the sample, whose sentences now hold its tags), round 2 on
    that queue with a new store, as a curator starting a second cycle would."""
    import shutil

    from datasets import DatasetDict

    from auditor.modeling.crossval import run_crossval
    from auditor.scoring.score import score_corpus
    from auditor.tables import OofPredictions

    dev = audit.corpus["dev"]
    total = int(round(budget * len(dev)))
    rows = read_sample(sampled.path)
    truth = truth_of(audit.corpus)
    settings = CuratorSettings("score", groups=False)
    half = sample_n + int(round((total - sample_n) / 2))
    store1, run1 = review(sampled.issues, truth, half, settings, work / "r1.sqlite", spent=sample_n, sample=rows)
    first = cleaned_tags(audit.corpus, sampled.issues, store1, "dev", run1, rows)
    keep = ["id", "tokens", "ner_tags", "lang", CLEAN_COLUMN]
    cleaned = apply_decisions(audit.corpus, sampled.issues, store1.latest(), rows, ["dev"]).cleaned
    corpus2 = DatasetDict({"dev": cleaned["dev"].select_columns(keep),
                           **({"train": audit.corpus["train"]} if "train" in audit.corpus else {})})
    run_dir = work / "audit2"
    features = audit.run_dir / "folds" / "probe-features"
    if not (run_dir / "folds" / "probe-features").is_dir():
        shutil.copytree(features, run_dir / "folds" / "probe-features")
    t0 = time.perf_counter()
    cv = run_crossval(corpus2, audit.cfg, run_dir, progress=False)
    issues2 = score_corpus(corpus2, OofPredictions.read(cv.predictions), audit.cfg.scoring, progress=False).issues
    seconds = time.perf_counter() - t0
    store2, run2 = review(issues2, truth, total, settings, work / "r2.sqlite", spent=run1.actions, sample=rows)
    tags = cleaned_tags(corpus2, issues2, store2, "dev", run2, rows)
    return {"actions": run2.actions, "wrong_tokens": [run1.wrong_tokens_before, run2.wrong_tokens_after],
            "wrong_sentences": [run1.wrong_sentences_before, run2.wrong_sentences_after],
            "after_round_1": [run1.wrong_tokens_after, run1.wrong_sentences_after], "issues_2": len(issues2),
            "crossval_seconds": seconds, "rounds": [{"actions": run1.actions - sample_n}, {"actions": run2.actions - run1.actions}],
            "tags": tags, "first_tags_changed": sum(a != b for a, b in zip(first, dev["ner_tags"]))}


def _ms(xs: list[float]) -> str:
    return f"{statistics.mean(xs):.3f} ± {statistics.stdev(xs):.3f}" if len(xs) > 1 else f"{xs[0]:.3f}"


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="local HF model folder, e.g. .cache/e5-small")
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--work", required=True, help="cleaning_real.py's --work folder (its audits are reused)")
    p.add_argument("--halves", type=int, nargs="+", default=[0, 1])
    p.add_argument("--sample", type=int, default=100)
    p.add_argument("--budgets", type=float, nargs="+", default=[0.1, 0.2, 0.3])
    p.add_argument("--rounds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--crossval-again", action="store_true",
                   help="also: two rounds with the probe crossval run again on the cleaned tags between them")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args(argv)
    print(f"# {apply_thread_policy(args.threads or None).describe()}", flush=True)
    work = Path(args.work)
    out_dir = work / "second-pass-rounds"
    out_dir.mkdir(parents=True, exist_ok=True)
    data = conll_data(Path(args.data), args.model, False)
    halves = split_halves(data.docs, 0)
    names = label_names(DatasetDict({"dev": data.dev}))
    audits, sampled = {}, {}
    for h in args.halves:
        audits[h] = audit_half(data, halves[h], f"h{h}-none", work, False, False)
        sampled[h] = with_sample(audits[h], args.sample, 0, data.model, data.audit_overrides)
    features = audit_features(audits, halves, data, work, False)
    t0 = time.perf_counter()
    results: dict = {}
    for h in args.halves:
        a, s = audits[h], sampled[h]
        cfg = pipeline_config(data.model, ["dev"], _train_splits(a), {"scoring.reference.file": str(s.path)}, 0)
        vectors = audited_word_vectors(a.corpus, cfg, a.run_dir)
        test = halves[1 - h]
        true_c = names_of(data.dev.select(test.tolist())[CLEAN_COLUMN], names)
        dev = a.corpus["dev"]
        versions = {"original": [list(t) for t in dev["ner_tags"]], "all corrected": [list(t) for t in dev[CLEAN_COLUMN]]}
        runs = {}
        for b in args.budgets:
            for r in args.rounds:
                cache = out_dir / f"h{h}-b{b:g}-r{r}.json"
                if not cache.is_file():
                    got = in_rounds(a, s, b, r, args.sample, cfg, vectors, out_dir / "stores" / f"h{h}-b{b:g}-r{r}.sqlite")
                    cache.write_text(json.dumps(got), encoding="utf-8")
                runs[(b, r)] = json.loads(cache.read_text(encoding="utf-8"))
                versions[f"{b:g} × {r}"] = runs[(b, r)]["tags"]
                print(f"# half {h}: budget {b:g} in {r} round(s): {runs[(b, r)]['actions']} actions, wrong tokens "
                      f"{runs[(b, r)]['wrong_tokens']} ({time.perf_counter() - t0:.0f} s)", flush=True)
        if args.crossval_again:
            for b in args.budgets:
                cache = out_dir / f"h{h}-b{b:g}-cv.json"
                if not cache.is_file():
                    got = crossval_again(a, s, b, args.sample, out_dir / "cv-again" / f"h{h}-b{b:g}")
                    cache.write_text(json.dumps(got), encoding="utf-8")
                runs[(b, "cv")] = json.loads(cache.read_text(encoding="utf-8"))
                versions[f"{b:g} × cv"] = runs[(b, "cv")]["tags"]
                print(f"# half {h}: budget {b:g}, crossval again: {runs[(b, 'cv')]['actions']} actions, wrong tokens "
                      f"{runs[(b, 'cv')]['wrong_tokens']} (crossval {runs[(b, 'cv')]['crossval_seconds']:.0f} s)", flush=True)
        for label, tags in versions.items():
            for seed in args.seeds:
                cache = out_dir / "preds" / f"h{h}-{label.replace(' ', '_')}-s{seed}.json"
                if not cache.is_file():
                    logits = probe_predict(features, halves[h], test, dict(zip(halves[h].tolist(), tags)), len(names), seed)
                    cache.parent.mkdir(parents=True, exist_ok=True)
                    pred = [[names[k] for k in np.asarray(x).argmax(axis=1)] for x in logits]
                    cache.write_text(json.dumps(pred), encoding="utf-8")
                pred = json.loads(cache.read_text(encoding="utf-8"))
                results[(h, label, seed)] = seqeval_scores(true_c, pred).f1
            print(f"# half {h}: {label}: F1 {[round(results[(h, label, s_)], 4) for s_ in args.seeds]}", flush=True)
        results[("runs", h)] = runs

    lines = ["| half | budget | rounds | actions | wrong tokens before → after | wrong sentences after | "
             "open issues on decided words (re-decided) | probe F1, corrected test | gain | share of all-corrected gain |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    summary = ["| budget | rounds | F1 gain over original (mean of halves, ± sd over seeds) | share of the all-corrected gain |",
               "|---|---|---|---|"]
    ap_lines = ["| half | budget | decided words after round 1 | rest (wrong) | sentence AP: cleanlab alone | "
                "first pass | second pass |", "|---|---|---|---|---|---|---|"]

    def f1s(h: int, label: str) -> list[float]:
        return [results[(h, label, s_)] for s_ in args.seeds]

    kinds = list(args.rounds) + (["cv"] if args.crossval_again else [])
    for b in args.budgets:
        for r in kinds:
            per_seed_gain, per_seed_full = [], []
            for i, _ in enumerate(args.seeds):
                per_seed_gain.append(statistics.mean(f1s(h, f"{b:g} × {r}")[i] - f1s(h, "original")[i] for h in args.halves))
                per_seed_full.append(statistics.mean(f1s(h, "all corrected")[i] - f1s(h, "original")[i] for h in args.halves))
            share = statistics.mean(per_seed_gain) / statistics.mean(per_seed_full)
            what = "2, crossval again between" if r == "cv" else r
            summary.append(f"| {b:g} | {what} | {statistics.mean(per_seed_gain):+.4f} ± {statistics.stdev(per_seed_gain):.4f} | {share:.0%} |")
            for h in args.halves:
                run = results[("runs", h)][(b, r)]
                gain = [x - o for x, o in zip(f1s(h, f"{b:g} × {r}"), f1s(h, "original"))]
                full = statistics.mean(x - o for x, o in zip(f1s(h, "all corrected"), f1s(h, "original")))
                repeat = sum(x.get("open_on_decided", 0) for x in run["rounds"])
                lines.append(f"| {h} | {b:g} | {what} | {run['actions']} | {run['wrong_tokens'][0]} → {run['wrong_tokens'][1]} | "
                             f"{run['wrong_sentences'][1]} | {repeat} | {_ms(f1s(h, f'{b:g} × {r}'))} | {_ms(gain)} | "
                             f"{statistics.mean(gain) / full:.0%} |")
                if r == 2:
                    ap_lines.append(f"| {h} | {b:g} | {run['rounds'][0]['decided_words']} | {run['rest']} ({run['rest_wrong']}) | "
                                    f"{run['ap_cleanlab']:.3f} | {run['ap_first']:.3f} | {run['ap_second']:.3f} |")
    base = ["| half | original | all corrected |", "|---|---|---|"] + [
        f"| {h} | {_ms(f1s(h, 'original'))} | {_ms(f1s(h, 'all corrected'))} |" for h in args.halves]
    text = ("# second_pass summary\n\n## Probe F1 on the corrected test tags\n\n" + "\n".join(base)
            + "\n\n## Cleaning in rounds\n\n" + "\n".join(summary) + "\n\n" + "\n".join(lines)
            + "\n\n## The rest of the queue after round 1 (sentences neither sampled nor decided)\n\n" + "\n".join(ap_lines) + "\n")
    (out_dir / "summary.md").write_text(text, encoding="utf-8")
    print(text, flush=True)
    return text


if __name__ == "__main__":
    main()
