"""Review UI latency with a large synthetic issue table, while a teammate decides too.

Measures (1) start-up: from creating the app on RUN_DIR/issues.parquet to the first screen
drawn, (2) keypress-to-render: a key pressed through Textual's Pilot until the screen has
processed it and repainted, for navigation (n/p/g) and decisions (a/k/s, each one a guarded
SQLite commit), and (3) the refresh: the store poll that shows the teammate's decisions
(a separate process committing one decision every --write-every seconds), from the tick to
the screen updated. The poll runs every --poll seconds (the app's default is 2 s; the
benchmark polls more often so that many ticks fall between the key presses it times).
Prints median and p95 in milliseconds.

    python benchmarks/review_latency.py            # 100,000 issues, 200 key presses
    python benchmarks/review_latency.py --quick    # 20,000 issues, 40 key presses
    python benchmarks/review_latency.py --solo     # no teammate, the app's own poll interval
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
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


def teammate(run_dir: str, every: float, stop) -> None:
    """Another curator in another process: one committed decision every `every` seconds."""
    import pyarrow.parquet as pq

    from auditor.review.store import DecisionStore

    ids = pq.read_table(Path(run_dir) / "issues.parquet", columns=["issue_id"]).column("issue_id").to_pylist()
    rng = np.random.default_rng(1)
    with DecisionStore(Path(run_dir) / "review.sqlite", curator="teammate") as store:
        while not stop.wait(every):
            store.record(ids[int(rng.integers(len(ids)))], "keep" if rng.random() < 0.5 else "skip")


async def measure(run_dir: Path, presses: int, poll: float | None = None) -> dict[str, list[float]]:
    """Start-up time, per-key latency and refresh latency.

    Key: sent -> last screen update it caused. Pilot waits for idle in 20 ms steps after each
    key, so its own round trip is not the latency; the timestamps of the screen updates are.
    "first frame": the first update after the key (Textual paints at most 60 frames a
    second); "settled": the last one (after the relayout of a sentence of a different height
    and its scrollbar). Refresh: poll tick that found new rows -> the next screen update.
    """
    from auditor.review import bindings
    from auditor.review.app import open_review

    if poll is not None:
        bindings.POLL_SECONDS = poll
    t0 = time.perf_counter()
    app = open_review(run_dir, curator="bench")
    stamps = _record_renders(app)
    groups = ("navigate", "decide")
    timings: dict[str, list[float]] = {"start-up": [], "refresh tick work": [], "refresh tick to frame": []}
    timings.update({f"{g} {m}": [] for g in groups for m in ("first frame", "settled")})
    ticks: list[tuple[float, float, int]] = []  # (tick start, tick end, renders before) when rows arrived
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        timings["start-up"].append(stamps[-1] - t0)
        screen = app.review
        polled = screen.poll

        def timed_poll() -> None:
            seq, start, seen = screen.queue.ledger.seq, time.perf_counter(), len(stamps)
            polled()
            if screen.queue.ledger.seq != seq:
                ticks.append((start, time.perf_counter(), seen))

        screen.poll = timed_poll  # the interval timer calls the attribute, so it runs timed_poll
        for timer in list(screen._timers):
            if timer.name == "poll-store":
                timer.stop()
        screen.set_interval(bindings.POLL_SECONDS, lambda: screen.poll(), name="poll-store")
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
        await pilot.pause(max(0.1, 2 * bindings.POLL_SECONDS))  # a last tick or two
    for start, end, seen in ticks:
        timings["refresh tick work"].append(end - start)
        later = [x for x in stamps[seen:] if x >= start]
        if later:
            timings["refresh tick to frame"].append(later[0] - start)
    app.store.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 issues and 40 key presses")
    parser.add_argument("--issues", type=int, default=None)
    parser.add_argument("--solo", action="store_true", help="no teammate writing; the app's own poll interval")
    parser.add_argument("--poll", type=float, default=0.25, help="seconds between store polls (with a teammate)")
    parser.add_argument("--write-every", type=float, default=0.1, help="seconds between the teammate's decisions")
    args = parser.parse_args()
    n = args.issues or (20_000 if args.quick else 100_000)
    presses = 40 if args.quick else 200
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "bench"
        t = time.perf_counter()
        write_issues(synthetic_issues(n), run_dir / "issues.parquet")
        print(f"wrote {n:,} synthetic issues in {time.perf_counter() - t:.1f} s")
        writer = stop = None
        if not args.solo:
            from auditor.review.store import DecisionStore

            DecisionStore(run_dir / "review.sqlite").close()  # created before two processes race to
            ctx = mp.get_context("spawn")
            stop = ctx.Event()
            writer = ctx.Process(target=teammate, args=(str(run_dir), args.write_every, stop))
            writer.start()
            print(f"a teammate commits a decision every {args.write_every:g} s; the app polls every {args.poll:g} s")
        try:
            timings = asyncio.run(measure(run_dir, presses, None if args.solo else args.poll))
        finally:
            if writer is not None:
                stop.set()
                writer.join(30)
    print(f"start-up (load {n:,} issues, first screen): {timings['start-up'][0] * 1000:.0f} ms")
    for name, values in timings.items():
        if name != "start-up" and values:
            label = "keypress to render," if not name.startswith("refresh") else "store poll,"
            print(f"{label:<20}{name:<22} {_ms(values)}")


if __name__ == "__main__":
    main()
