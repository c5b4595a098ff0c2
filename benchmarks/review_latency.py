"""Review UI latency with a large synthetic issue table.

Measures (1) start-up: from creating the app on RUN_DIR/issues.parquet to the first screen
drawn, and (2) keypress-to-render: a key pressed through Textual's Pilot until the screen has
processed it and repainted, for navigation (n/p/g) and decisions (a/k/s, each one an SQLite
commit). Prints median and p95 in milliseconds.

    python benchmarks/review_latency.py            # 100,000 issues, 200 key presses
    python benchmarks/review_latency.py --quick    # 20,000 issues, 40 key presses
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from auditor.tables import write_issues

LANGS = ("de", "fr", "it", "en")
TYPES = ("PER", "ORG", "LOC")
WORDS = "der die das Vereinten Nationen Berlin Paris Juli Kanton Zürich Genf Bank von und in am".split()


def synthetic_issues(n: int, seed: int = 0) -> pd.DataFrame:
    """n issues (columns of auditor.tables.ISSUE_COLUMNS) over n // 2 sentences of 8-30 words."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n):
        sid = k // 2
        length = int(rng.integers(8, 31))
        tokens = [WORDS[j] for j in rng.integers(0, len(WORDS), length)]
        start = int(rng.integers(0, length - 2))
        end = start + int(rng.integers(1, 3))
        given_type, new_type = rng.choice(TYPES, 2, replace=False)
        tags = ["O"] * length
        tags[start:end] = [f"B-{given_type}"] + [f"I-{given_type}"] * (end - start - 1)
        suggested = [f"B-{new_type}"] + [f"I-{new_type}"] * (end - start - 1)
        predicted = list(tags)
        predicted[start:end] = suggested
        losses = rng.exponential(0.3, length)
        losses[start:end] += rng.uniform(1, 5, end - start)
        lang = LANGS[sid % len(LANGS)]
        rows.append(
            {
                "issue_id": f"{lang}/train/{sid:06d}:{start}-{end}:{k % 2}",
                "id": f"{lang}/train/{sid:06d}",
                "lang": lang,
                "split": "train",
                "start": start,
                "end": end,
                "kind": "type",
                "entity_type": str(given_type),
                "surface": " ".join(tokens[start:end]),
                "given": tags[start:end],
                "suggested": suggested,
                "score": float(rng.random()),
                "cleanlab_score": float(rng.random()),
                "token_loss": float(losses[start:end].max()),
                "consistency_score": float(rng.random()),
                "sequence_loss": float(losses.sum()),
                "sequence_loss_mean": float(losses.mean()),
                "tokens": tokens,
                "tags": tags,
                "predicted": predicted,
                "token_losses": [float(x) for x in losses],
            }
        )
    return pd.DataFrame(rows)


def _ms(values: list[float]) -> str:
    arr = np.array(values) * 1000
    return f"median {np.median(arr):6.1f} ms   p95 {np.percentile(arr, 95):6.1f} ms   (n={len(arr)})"


def _record_renders(app) -> list[float]:
    """Timestamps of every screen update the app hands to its driver (the moment it is drawn)."""
    stamps: list[float] = []
    display = app._display

    def timed(screen, renderable) -> None:
        display(screen, renderable)
        if renderable is not None:
            stamps.append(time.perf_counter())

    app._display = timed
    return stamps


async def measure(run_dir: Path, presses: int) -> dict[str, list[float]]:
    """Start-up time and per-key latency: key sent -> last screen update it caused.

    Pilot waits for idle in 20 ms steps after each key, so its own round trip is not the
    latency; the timestamps of the screen updates are. "first frame": the first update after
    the key (Textual paints at most 60 frames a second); "settled": the last one (after the
    relayout of a sentence of a different height and its scrollbar).
    """
    from auditor.review.app import open_review

    t0 = time.perf_counter()
    app = open_review(run_dir, curator="bench")
    stamps = _record_renders(app)
    groups = ("navigate", "decide")
    timings: dict[str, list[float]] = {"start-up": []}
    timings.update({f"{g} {m}": [] for g in groups for m in ("first frame", "settled")})
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        timings["start-up"].append(stamps[-1] - t0)
        keys = {"navigate": ["n", "n", "p", "g"], "decide": ["a", "k", "s"]}
        for group, cycle in keys.items():
            for i in range(presses // 2):
                seen = len(stamps)
                t = time.perf_counter()
                await pilot.press(cycle[i % len(cycle)])
                await pilot.pause()
                if len(stamps) > seen:
                    timings[f"{group} first frame"].append(stamps[seen] - t)
                    timings[f"{group} settled"].append(stamps[-1] - t)
    app.store.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 issues and 40 key presses")
    parser.add_argument("--issues", type=int, default=None)
    args = parser.parse_args()
    n = args.issues or (20_000 if args.quick else 100_000)
    presses = 40 if args.quick else 200
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "bench"
        t = time.perf_counter()
        write_issues(synthetic_issues(n), run_dir / "issues.parquet")
        print(f"wrote {n:,} synthetic issues in {time.perf_counter() - t:.1f} s")
        timings = asyncio.run(measure(run_dir, presses))
    print(f"start-up (load {n:,} issues, first screen): {timings['start-up'][0] * 1000:.0f} ms")
    for name, values in timings.items():
        if name != "start-up":
            print(f"keypress to render, {name:<20} {_ms(values)}")


if __name__ == "__main__":
    main()
