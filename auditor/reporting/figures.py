"""The report's figures as PNG files (matplotlib, Agg).

Figures are drawn on `matplotlib.figure.Figure` objects rather than through pyplot, so no
global figure state or interactive backend is involved; PNG output goes through Agg.
Files are byte-identical for the same inputs: PNG metadata (the "Software" tag carrying
the matplotlib version) is stripped and there are no timestamps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from auditor.atomic import atomic_path

DPI = 110
BEFORE_COLOR = "#8c9bb0"
AFTER_COLOR = "#2a6fbb"
FLAGGED_COLOR = "#d9822b"


def _canvas(width: float, height: float, nrows: int = 1, ncols: int = 1, **subplots_kw):
    """A constrained-layout figure of width x height inches and its axes (a single Axes for 1 x 1)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(nrows, ncols, **subplots_kw)


def _grid(ax, axis: str = "both", ylim: tuple[float, float] | None = None) -> None:
    """The light grid every figure uses, behind the data; optionally the y range."""
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(axis=axis, alpha=0.3)
    ax.set_axisbelow(True)


def save_png(fig: Figure, path: Path) -> Path:
    """Write fig as a deterministic PNG at path (atomically) and return path."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None}, bbox_inches="tight", pad_inches=0.15)
    return path


@dataclass(frozen=True)
class F1Bars:
    """F1 of one experiment per test language: before (may be None) and after (may be None)."""

    experiment: str
    langs: list[str]
    before: list[float | None]
    after: list[float | None]


def f1_before_after(bars: Sequence[F1Bars], labels: str, path: Path) -> Path:
    """Grouped bars: one panel per experiment, test languages on x, before/after side by side."""
    n = len(bars)
    fig, axes = _canvas(min(4.2 * n, 12.6), 3.4, 1, n, sharey=True, squeeze=False)
    axes = axes[0]
    width = 0.38
    for ax, exp in zip(axes, bars):
        x = np.arange(len(exp.langs))
        for offset, values, color, name in (
            (-width / 2, exp.before, BEFORE_COLOR, "before cleaning"),
            (width / 2, exp.after, AFTER_COLOR, "after cleaning"),
        ):
            heights = [np.nan if v is None else v for v in values]
            rects = ax.bar(x + offset, heights, width, color=color, label=name)
            ax.bar_label(rects, labels=["" if v is None else f"{v:.2f}" for v in values], fontsize=7, padding=1)
        ax.set_xticks(x, exp.langs)
        ax.set_title(f"trained on {exp.experiment}", fontsize=10)
        _grid(ax, "y", ylim=(0, 1.08))
    axes[0].set_ylabel(f"entity F1 ({labels} test tags)")
    # above the panels: inside, it would cover the bars of low-F1 languages
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside upper center", ncols=2, fontsize=8, frameon=False)
    return save_png(fig, path)


def confusion_matrix_figure(matrix: np.ndarray, labels: Sequence[str], path: Path) -> Path:
    """The row-normalized confusion matrix (rows = given tag, cols = predicted), as in the chapter."""
    from sklearn.metrics import ConfusionMatrixDisplay

    size = 1.6 + 0.62 * len(labels)
    fig, ax = _canvas(size, size)
    disp = ConfusionMatrixDisplay(confusion_matrix=np.asarray(matrix), display_labels=list(labels))
    disp.plot(cmap="Blues", values_format=".2f", ax=ax, colorbar=False)
    ax.set_xlabel("predicted (out of fold)")
    ax.set_ylabel("given")
    ax.set_title("Normalized confusion matrix", fontsize=10)
    return save_png(fig, path)


def loss_histogram(edges: np.ndarray, unflagged: np.ndarray, flagged: np.ndarray, path: Path) -> Path:
    """Stacked histogram of sequence losses (nats); flagged sentences in a contrasting colour.

    edges: (B+1,) bin edges; unflagged, flagged: (B,) counts per bin.
    """
    fig, ax = _canvas(7.2, 3.2)
    widths = np.diff(edges)
    ax.bar(edges[:-1], unflagged, widths, align="edge", color=BEFORE_COLOR, label="not flagged")
    ax.bar(edges[:-1], flagged, widths, bottom=unflagged, align="edge", color=FLAGGED_COLOR, label="flagged")
    ax.set_xlabel("sequence loss (sum of word cross-entropies, nats)")
    ax.set_ylabel("sentences")
    ax.legend(fontsize=8)
    _grid(ax, "y")
    return save_png(fig, path)


@dataclass(frozen=True)
class DetectionCurve:
    """Precision and recall of one detection method at the top-k ranked items."""

    method: str
    ks: list[int]
    precision: list[float | None]
    recall: list[float | None]


def detection_figure(curves: Sequence[DetectionCurve], level: str, path: Path) -> Path:
    """Two panels, precision@k and recall@k, one line per method."""
    fig, (ax_p, ax_r) = _canvas(8.4, 3.2, 1, 2, sharex=True)
    for c in curves:
        ax_p.plot(c.ks, [np.nan if v is None else v for v in c.precision], marker="o", label=c.method)
        ax_r.plot(c.ks, [np.nan if v is None else v for v in c.recall], marker="o", label=c.method)
    for ax, name in ((ax_p, "precision"), (ax_r, "recall")):
        ax.set_xlabel(f"top k {level}s reviewed")
        ax.set_ylabel(f"{name}@k")
        _grid(ax, ylim=(0, 1.05))
    ax_r.legend(fontsize=8, loc="lower right")
    fig.suptitle(f"Detection of known label errors ({level} level)", fontsize=10)
    return save_png(fig, path)


def learning_curve_figure(
    sizes: Sequence[int], series: dict[str, list[float | None]], zero_shot: dict[str, float], target: str, path: Path
) -> Path:
    """F1 on the target language against the number of target training sentences, per model,
    with the zero-shot F1 of each model as a horizontal line."""
    fig, ax = _canvas(6.4, 3.4)
    colors = {"before": BEFORE_COLOR, "after": AFTER_COLOR}
    for model, values in series.items():
        color = colors.get(model)
        ax.plot(sizes, [np.nan if v is None else v for v in values], marker="o", color=color, label=f"fine-tuned ({model})")
        if model in zero_shot and zero_shot[model] is not None:
            ax.axhline(zero_shot[model], linestyle="--", color=color, label=f"zero-shot ({model})")
    ax.set_xscale("log")
    ax.set_xticks(list(sizes), [str(s) for s in sizes])
    ax.minorticks_off()
    ax.set_xlabel(f"{target} training sentences")
    ax.set_ylabel(f"F1 on {target}")
    _grid(ax, ylim=(0, 1.05))
    ax.legend(fontsize=8)
    return save_png(fig, path)
