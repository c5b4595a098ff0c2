"""Can a group decision be made safe on real errors? (issue 23)

Reads the audits `benchmarks/cleaning_real.py` left under --work (each CoNLL dev half with the
100-sentence verified sample, its issues and the frozen encoder's word vectors) and measures,
for the groups of issues (same words, same change; `auditor.review.groups`), how often the
decision a curator makes on the best-ranked member is right for the others:

1. split: each group cut into context sub-groups (average-linkage clustering of the members'
   word or sentence vectors at a cosine-distance threshold) before the decision is repeated;
2. look: the curator decides the best-ranked member, then looks at the other members one by
   one in some order (worst-ranked first = the review UI's group preview; least similar in
   context first), leaving out the wrong ones, and stops after `stop` right ones in a row; the
   decision is repeated on the members not looked at. Precision = share of those right.

    python benchmarks/group_context.py --work WORK/cleaning-real --model .cache/e5-small
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cleaning_real import conll_data, split_halves  # noqa: E402
from curator import _right, group_plan, own_decision  # noqa: E402
from datasets import DatasetDict  # noqa: E402
from detection_real import DEFAULT_DATA, pipeline_config  # noqa: E402
from scipy.cluster.hierarchy import fcluster, linkage  # noqa: E402

from auditor.data.corpus import CLEAN_COLUMN, label_names  # noqa: E402
from auditor.modeling.crossval import audited_word_vectors  # noqa: E402
from auditor.review.queue import IssueTable  # noqa: E402


def member_vectors(vec, recs: list[dict]) -> dict[str, np.ndarray]:
    """(N, D) unit vectors per issue: the span's words ("word") and the whole sentence ("sent")."""
    pos = {str(s): i for i, s in enumerate(vec.ids)}
    out = {}
    for mode in ("word", "sent"):
        rows = []
        for r in recs:
            i = pos[r["id"]]
            a, b = (vec.offsets[i] + r["start"], vec.offsets[i] + r["end"]) if mode == "word" else (vec.offsets[i], vec.offsets[i + 1])
            x = np.asarray(vec.vectors[a:b], dtype=np.float32).mean(0)
            rows.append(x / np.linalg.norm(x))
        out[mode] = np.stack(rows)
    return out


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", required=True, help="cleaning_real.py's --work")
    p.add_argument("--model", required=True)
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--sample", type=int, default=100)
    args = p.parse_args(argv)
    data = conll_data(Path(args.data), args.model, False)
    names = label_names(DatasetDict({"dev": data.dev}))
    halves = split_halves(data.docs, 0)
    truth = {i: [names[t] for t in c] for i, c in zip(data.dev["id"], data.dev[CLEAN_COLUMN])}
    split_rows, look = {}, {}
    for h in (0, 1):
        root = Path(args.work) / "audit" / f"h{h}-none"
        sample = root / f"sample-{args.sample}-seed0.jsonl"
        corpus = DatasetDict({"dev": data.dev.select(halves[h].tolist())})
        cfg = pipeline_config(data.model, ["dev"], ["dev"], {"scoring.reference.file": str(sample)}, 0)
        vec = audited_word_vectors(corpus, cfg, root)
        df = pd.read_parquet(sample.with_suffix(".issues.parquet"))
        sampled = {json.loads(line)["id"] for line in sample.read_text(encoding="utf-8").splitlines() if line.strip()}
        df = df[~df["id"].isin(sampled)].sort_values("score", kind="stable").reset_index(drop=True)
        table = IssueTable(pa.Table.from_pandas(df, preserve_index=False))
        recs = df.to_dict("records")
        acc = np.array([_right(r, {"action": "accept"}, truth[r["id"]]) for r in recs])
        keep = np.array([_right(r, {"action": "keep"}, truth[r["id"]]) for r in recs])
        own = [own_decision(r, truth[r["id"]]) for r in recs]
        V = member_vectors(vec, recs)
        code = table.groups.code
        # 1. context sub-groups
        for mode, t in [("none", None)] + [(m, t) for m in ("word", "sent") for t in (0.05, 0.1, 0.15, 0.2)]:
            sub = code.astype(np.int64) * 1000
            if t is not None:
                for c in np.unique(code):
                    rows = np.flatnonzero(code == c)
                    if len(rows) >= 2:
                        sub[rows] += fcluster(linkage(V[mode][rows], "average", metric="cosine"), t, "distance")
            s = split_rows.setdefault((mode, t), [0, 0, 0, 0])
            for c in np.unique(sub):
                rows = np.flatnonzero(sub == c)
                if len(rows) < 2:
                    continue
                rest = rows[1:]
                if own[rows[0]]["action"] == "keep":
                    s[2] += len(rest)
                    s[3] += int(keep[rest].sum())
                elif own[rows[0]]["action"] == "accept":
                    s[0] += len(rest)
                    s[1] += int(acc[rest].sum())
        # 2. looks in an order, stop after `stop` right ones in a row (accept/relabel decisions)
        is_open = np.ones(len(recs), dtype=bool)
        for order in ("worst-ranked", "least similar word", "least similar sentence"):
            for stop in (1, 2, 3, 5):
                s = look.setdefault((order, stop), [0, 0, 0])
                for c in np.unique(code):
                    rows = np.flatnonzero(code == c)
                    if len(rows) < 3 or own[rows[0]]["action"] == "keep":
                        continue
                    first = int(rows[0])
                    others = group_plan(table, first, own[first], is_open)
                    if order == "worst-ranked":
                        seq = others[::-1]
                    else:
                        M = V["word" if "word" in order else "sent"]
                        sims = [float(M[table.index_of(d["issue_id"])] @ M[first]) for d in others]
                        seq = [others[k] for k in np.argsort(sims, kind="stable")]
                    run = k = 0
                    while k < len(seq) and run < stop:
                        r = recs[table.index_of(seq[k]["issue_id"])]
                        run = run + 1 if _right(r, seq[k], truth[r["id"]]) else 0
                        k += 1
                    s[2] += k
                    for d in seq[k:]:
                        r = recs[table.index_of(d["issue_id"])]
                        s[0] += 1
                        s[1] += int(_right(r, d, truth[r["id"]]))
    lines = ["## Context sub-groups (both halves; the best-ranked member's decision repeated on the rest)", "",
             "| vectors | cosine-distance cut | accept: repeated, right | precision | keep: repeated, right | precision |",
             "|---|---|---|---|---|---|"]
    for (mode, t), (an, ar, kn, kr) in split_rows.items():
        lines.append(f"| {mode} | {'–' if t is None else t} | {an}, {ar} | {ar / max(an, 1):.3f} | {kn}, {kr} | {kr / max(kn, 1):.3f} |")
    lines += ["", "## Looks before an accept/relabel group decision (both halves)", "",
              "| look order | stop after right in a row | members looked at | repeated unseen | right | precision |",
              "|---|---|---|---|---|---|"]
    for (order, stop), (n, r, k) in look.items():
        lines.append(f"| {order} | {stop} | {k} | {n} | {r} | {r / max(n, 1):.3f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    return text


if __name__ == "__main__":
    main()
