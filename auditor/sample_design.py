"""A verified test sample drawn with unequal chances, and what each of its sentences stands for.

A before/after change is decided by the test sentences where the two taggers disagree: on
every other sentence both score the same. On CoNLL with expert corrections they disagree on
140-390 of ~1,600 test sentences, so a uniform sample of 300 spends most of its checks on
sentences that cannot tell the taggers apart, and gets the sign of a +0.01 change right only
about 70 % of the time (benchmarks/README.md, "disagreement-stratified"). ``auditor sample
--split test --where disagree`` draws most of the sample from the disagreeing sentences and
the rest from the others, and records on each line its stratum and the stratum's size. Then
every verified sentence stands for N_h / n_h test sentences (the Horvitz-Thompson weight:
N_h sentences in its stratum, n_h of them verified), and an F1 is the F1 of the weighted
TP/FP/FN sums (a ratio estimator, consistent for the whole test split's F1).

Intervals resample within each stratum with the rescaling bootstrap of Rao & Wu (1988):
m_h = n_h - 1 draws with replacement, weights rescaled by lambda_h = sqrt(1 - n_h / N_h),
so a stratum verified in full adds no sampling noise (it is the population) and a small
share of a big stratum adds nearly the plain bootstrap's. A stratum with a single verified
sentence of several cannot show its own noise (one sentence resampled is always itself), so
for the intervals only it is pooled with its language's other stratum (collapsed strata, a
standard and slightly conservative variance estimate); left alone, its sentence would keep
its weight in every resample and the interval would be too narrow without saying so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# the two strata of a disagreement draw, as the sample file spells them (with the language
# after a slash when the draw is stratified by language: "disagree/de")
DISAGREE = "disagree"
AGREE = "agree"
# the share of a focus draw taken where the taggers disagree: enough to measure the change
# nearly in full, the rest (a quarter) to keep the F1 level itself honest (measured on CoNLL
# with expert corrections: benchmarks/README.md, "disagreement-stratified")
FOCUS_SHARE = 0.75
# the keys a weighted draw adds to each line of the sample file (auditor.data.sample)
STRATUM = "stratum"
STRATUM_SIZE = "stratum_size"


@dataclass(frozen=True)
class SampleDesign:
    """How N verified sentences were drawn.

    strata: (N,) int, each sentence's stratum; weights: (N,) float, the test sentences each
    one stands for (N_h / n_h); fraction: (N,) float, its stratum's sampled share n_h / N_h
    (in (0, 1]); groups: (N,) int, the strata the bootstrap resamples within (None: the
    strata; design_from_strata pools a one-sentence stratum, see the module docstring).
    Sentence i here is sentence i of the tag lists it is used with."""

    strata: np.ndarray
    weights: np.ndarray
    fraction: np.ndarray
    groups: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.strata)
        if len(self.weights) != n or len(self.fraction) != n or (self.groups is not None and len(self.groups) != n):
            raise ValueError(f"sample design: {n} strata, {len(self.weights)} weights, {len(self.fraction)} fractions")

    def __len__(self) -> int:
        return len(self.strata)

    def subset(self, idx: list[int] | np.ndarray) -> SampleDesign:
        """The design of some of the sentences (e.g. one language's): each keeps the weight of
        its place in the whole sample (a domain estimate)."""
        idx = np.asarray(idx, dtype=np.int64)
        groups = None if self.groups is None else self.groups[idx]
        return SampleDesign(self.strata[idx], self.weights[idx], self.fraction[idx], groups)

    def bootstrap_weights(self, n_boot: int, rng: np.random.Generator) -> np.ndarray:
        """(n_boot, N) rescaled bootstrap weights (Rao-Wu, m_h = n_h - 1; see the module
        docstring). Non-negative; a stratum of one sentence or verified in full keeps its
        weights in every resample."""
        out = np.tile(self.weights, (n_boot, 1))
        groups = self.strata if self.groups is None else self.groups
        for h in np.unique(groups):
            units = np.flatnonzero(groups == h)
            n = len(units)
            # per sentence: a pooled group may hold strata sampled at different shares
            lam = np.sqrt(np.clip(1.0 - self.fraction[units].astype(np.float64), 0.0, None))
            if n < 2 or not lam.any():
                continue
            draws = rng.integers(0, n, size=(n_boot, n - 1))
            times = np.zeros((n_boot, n))
            np.add.at(times, (np.arange(n_boot)[:, None], draws), 1.0)
            out[:, units] = self.weights[units] * ((1.0 - lam) + lam * n / (n - 1) * times)
        return out


def design_from_strata(strata: list[str], population: dict[str, int]) -> SampleDesign:
    """The design of N verified sentences from their stratum names and each stratum's size.

    strata: N names; population: name -> N_h, the test sentences the stratum had when the
    sample was drawn. n_h is counted here, over the sentences given (the verified ones), so a
    sample verified only in part still weighs each verified sentence by what it stands for.
    Raises ValueError when a stratum has more sentences than its size."""
    names = sorted(set(strata))
    index = {s: i for i, s in enumerate(names)}
    codes = np.array([index[s] for s in strata], dtype=np.int64)
    n_h = np.bincount(codes, minlength=len(names))
    size = np.array([population[s] for s in names], dtype=np.float64)
    over = next((s for s, k, big in zip(names, n_h, size) if k > big), None)
    if over is not None:
        raise ValueError(f"stratum {over!r} has {n_h[index[over]]} verified sentences but only {population[over]} in the test split")
    return SampleDesign(codes, (size / n_h)[codes], (n_h / size)[codes], _pooled(names, n_h, size)[codes])


def _pooled(names: list[str], n_h: np.ndarray, size: np.ndarray) -> np.ndarray:
    """(H,) the bootstrap group of each stratum: its own, except that a stratum with one
    verified sentence of several joins its language's other stratum ("agree/de" with
    "disagree/de"), else the stratum with the most verified sentences."""
    group = np.arange(len(names))
    for h, name in enumerate(names):
        if n_h[h] != 1 or size[h] <= 1:
            continue
        lang = name.split("/", 1)[1] if "/" in name else None
        same = [k for k, other in enumerate(names) if k != h and lang is not None and other.endswith("/" + lang)]
        others = same or [k for k in range(len(names)) if k != h]
        if others:
            group[h] = group[max(others, key=lambda k: n_h[k])]
    return group


def is_focus(stratum: str) -> bool:
    """True for a stratum of the sentences where the taggers disagree."""
    return stratum.split("/", 1)[0] == DISAGREE


def stratum_name(focus: bool, lang: str | None) -> str:
    """The name a disagreement draw writes: "disagree" / "agree", with "/lang" when by language."""
    base = DISAGREE if focus else AGREE
    return f"{base}/{lang}" if lang is not None else base
