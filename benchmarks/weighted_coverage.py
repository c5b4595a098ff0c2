"""What the disagreement draw costs: bias, spread and interval coverage of the verified F1
level and of after - before, from a uniform test sample and from `auditor sample --where
disagree`'s draw (weighted), on a finished `cleaning_real.py` run's probe predictions.

    python benchmarks/weighted_coverage.py --model .cache/e5-small --work WORK/cleaning-real

The truth is each change's full corrected-test F1; the draws, the weights and the intervals are
the product's (auditor.data.sample.focus_draw, auditor.sample_design, auditor.evaluation).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cleaning_real as cr  # noqa: E402
from datasets import DatasetDict  # noqa: E402

from auditor.data.corpus import label_names  # noqa: E402
from auditor.data.sample import focus_draw  # noqa: E402
from auditor.evaluation import bootstrap_f1, entity_counts, micro_f1, paired_counts_delta  # noqa: E402
from auditor.sample_design import design_from_strata  # noqa: E402


def level_interval(true, pred, idx, design, seed, n_boot):
    return bootstrap_f1([true[i] for i in idx], [pred[i] for i in idx], n_boot=n_boot, seed=seed, design=design)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--data", default=str(cr.DEFAULT_DATA))
    p.add_argument("--work", required=True, help="a finished cleaning_real.py work folder (its preds/probe)")
    p.add_argument("--sizes", type=int, nargs="+", default=[80, 300])
    p.add_argument("--draws", type=int, default=100)
    p.add_argument("--n-boot", type=int, default=500)
    args = p.parse_args(argv)
    data = cr.conll_data(Path(args.data), args.model, False)
    names = label_names(DatasetDict({"dev": data.dev}))
    halves = cr.split_halves(data.docs, 0)
    work = Path(args.work)
    print("| n | draw | before-F1 bias | before-F1 sd | before-F1 interval holds | Δ interval holds | changes × draws |")
    print("|---|---|---|---|---|---|---|")
    for n in args.sizes:
        res: dict[str, list[float]] = {k: [] for k in ("bias_u", "bias_f", "level_u", "level_f", "delta_u", "delta_f")}
        changes = 0
        for h in (0, 1):
            ds = data.dev.select(halves[1 - h].tolist())
            true = cr.names_of(ds[cr.CLEAN_COLUMN], names)
            langs = np.asarray(ds["lang"], dtype=object)
            for seed in (0, 1):
                before = cr.load_preds(cr.pred_path(work, "probe", h, cr.ORIGINAL, seed))["pred"]
                for path in sorted((work / "preds" / "probe" / f"h{h}").glob(f"curator-0.3*-s{seed}.json.gz")) + [
                        cr.pred_path(work, "probe", h, cr.ALL_CORRECTED, seed)]:
                    after = cr.load_preds(path)["pred"]
                    changes += 1
                    cb, ca = entity_counts(true, before), entity_counts(true, after)
                    f1_before = micro_f1(cb.sum(axis=0))
                    delta = micro_f1(ca.sum(axis=0)) - f1_before
                    focus = np.array([b != a for b, a in zip(before, after)])
                    for d in range(args.draws):
                        uniform = np.sort(np.random.default_rng(d).choice(len(cb), n, replace=False))
                        picked, strata = focus_draw(langs, focus, n, np.random.default_rng(d), True)
                        design = design_from_strata([strata[int(i)][0] for i in picked], dict(strata.values()))
                        for tag, idx, des in (("u", uniform, None), ("f", picked, design)):
                            iv = level_interval(true, before, idx, des, d, args.n_boot)
                            res[f"bias_{tag}"].append(iv.f1 - f1_before)
                            res[f"level_{tag}"].append(iv.low <= f1_before <= iv.high)
                            dv = paired_counts_delta(cb[idx], ca[idx], n_boot=args.n_boot, seed=d, design=des)
                            res[f"delta_{tag}"].append(dv.low <= delta <= dv.high)
        for tag, label in (("u", "uniform"), ("f", "where the taggers disagree, weighted")):
            print(f"| {n} | {label} | {np.mean(res[f'bias_{tag}']):+.4f} | {np.std(res[f'bias_{tag}']):.3f} | "
                  f"{np.mean(res[f'level_{tag}']):.0%} | {np.mean(res[f'delta_{tag}']):.0%} | {changes} × {args.draws} |", flush=True)


if __name__ == "__main__":
    main()
