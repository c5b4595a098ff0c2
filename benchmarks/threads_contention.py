"""Throughput of CPU workloads idle vs beside two busy torch processes, per thread setting.

    python benchmarks/threads_contention.py               # about 110 s; saturates the machine
    python benchmarks/threads_contention.py --seconds 1   # a quicker, noisier pass
    python benchmarks/threads_contention.py --settings before,one,passive,spin10k,spin1k --seconds 1.5

Every setting runs in a fresh process (GNU OpenMP reads its wait policy when torch loads,
so it cannot be changed inside a running process) and measures three workloads for
--seconds each:

- encoder: a frozen-encoder-like forward pass (6 transformer layers, d=384 like
  multilingual-e5-small, batch 16 x 48 tokens), in tokens/s;
- head b64: a probe head's training step (384 -> 256 -> K MLP, AdamW) on batches of 64
  word vectors, in vectors/s: many small operations;
- head b1024: the same on batches of 1,024 (larger work per call).

"Contended" = beside two CPU hogs, each a separate `python` doing 1024x1024 float32 torch
matrix products with torch's defaults (one thread per core, default OpenMP spinning), as
other engineers' torch jobs would. The hogs start once and are paused (SIGSTOP) during the
idle measurements, so idle and contended alternate within one run.

Settings (--settings): `before` = torch's defaults (GNU OpenMP spins 300,000 rounds before a
pool thread sleeps); `one` = 1 thread; `passive` = N threads + OMP_WAIT_POLICY=PASSIVE (GNU
OpenMP turns it into GOMP_SPINCOUNT=0: sleep at once); `spin10k`, `spin1k` = N threads +
GOMP_SPINCOUNT=10000 / 1000 (spin briefly, then sleep); `policy` =
auditor.runtime.apply_thread_policy() with nothing set, i.e. what the auditor CLI does.
N = the CPUs this process may use.
The ratio that matters is contended / idle of the same setting (the goal: >= 0.30 beside two
busy processes on 2 cores, where a fair share is about 0.33), and contended / idle of
`before` (what the user actually gets compared with a quiet box).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

# The auditor package, for the child that measures the policy, even without `pip install -e`.
ROOT = Path(__file__).resolve().parents[1]

_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_DYNAMIC")

HOG = """
import torch
a = torch.randn(1024, 1024)
b = torch.randn(1024, 1024)
while True:
    a @ b
"""


DEFAULT_SETTINGS = "before,one,spin1k,policy"


def settings(n: int) -> dict[str, tuple[str, dict]]:
    """key -> (name, how the child sets up torch: env set before import, threads, or the policy)."""
    return {
        "before": ("before (torch defaults)", {"env": {}, "threads": None}),
        "one": ("1 thread", {"env": {}, "threads": 1}),
        "passive": (f"{n} threads + PASSIVE", {"env": {"OMP_WAIT_POLICY": "PASSIVE"}, "threads": n}),
        "spin10k": (f"{n} threads + spin 10k", {"env": {"GOMP_SPINCOUNT": "10000"}, "threads": n}),
        "spin1k": (f"{n} threads + spin 1k", {"env": {"GOMP_SPINCOUNT": "1000"}, "threads": n}),
        "policy": ("policy (auditor.runtime)", {"env": {}, "policy": True}),
    }


def clean_env(extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in _THREAD_VARS}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra or {})
    return env


# --- the child: one setting, three workloads ------------------------------------------


def child(setting: dict, seconds: float) -> dict:
    policy = None
    if setting.get("policy"):
        from auditor.runtime import apply_thread_policy

        policy = apply_thread_policy(None).describe()
    import torch

    if setting.get("threads"):
        torch.set_num_threads(setting["threads"])
    torch.manual_seed(0)
    out = {"threads": torch.get_num_threads(), "policy": policy, "rates": {}}
    for name, (make, items) in _workloads(torch).items():
        step = make()
        step()  # warm-up: allocations, OpenMP pool start
        n, t0 = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - t0) < seconds:
            step()
            n += items
        out["rates"][name] = n / elapsed
    return out


def _workloads(torch) -> dict:
    from torch import nn

    def encoder():
        layer = nn.TransformerEncoderLayer(384, 6, 1536, dropout=0.0, batch_first=True)
        model = nn.TransformerEncoder(layer, 6, enable_nested_tensor=False).eval()
        x = torch.randn(16, 48, 384)

        def step():
            with torch.inference_mode():
                model(x)

        return step

    def head(batch: int):
        def make():
            model = nn.Sequential(nn.Linear(384, 256), nn.ReLU(), nn.Linear(256, 7))
            opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
            x, y = torch.randn(8192, 384), torch.randint(0, 7, (8192,))
            pos = [0]

            def step():
                lo = pos[0]
                pos[0] = (lo + batch) % (8192 - batch)
                loss = nn.functional.cross_entropy(model(x[lo : lo + batch]), y[lo : lo + batch])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()

            return step

        return make

    return {"encoder": (encoder, 16 * 48), "head b64": (head(64), 64), "head b1024": (head(1024), 1024)}


# --- the parent: hogs, settings, table ------------------------------------------------


def run_child(name: str, setting: dict, seconds: float) -> dict:
    cmd = [sys.executable, __file__, "--child", json.dumps(setting), "--seconds", str(seconds)]
    done = subprocess.run(cmd, env=clean_env(setting.get("env")), capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"{name}: child failed\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def busy_processes() -> list[str]:
    """Other processes using CPU right now (ps), so the numbers can be read in context."""
    try:
        ps = subprocess.run(["ps", "-eo", "pcpu,args", "--sort=-pcpu"], capture_output=True, text=True).stdout
    except OSError:
        return []
    rows = []
    for line in ps.splitlines()[1:]:
        cpu, _, args = line.strip().partition(" ")
        if float(cpu or 0) >= 5 and str(os.getpid()) not in args:
            rows.append(f"{cpu}% {args[:100]}")
    return rows[:6]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per workload and measurement")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the raw results as JSON")
    parser.add_argument(
        "--settings", default=DEFAULT_SETTINGS, help=f"comma-separated, from: before, one, passive, spin10k, spin1k, policy (default {DEFAULT_SETTINGS})"
    )
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child), args.seconds)))
        return

    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    known = settings(n)
    chosen = [k.strip() for k in args.settings.split(",") if k.strip()]
    unknown = [k for k in chosen if k not in known]
    if unknown or "before" not in chosen:
        parser.error(f"--settings: unknown {unknown}" if unknown else "--settings must include 'before'")
    print(f"{n} CPUs in the affinity mask; load average {os.getloadavg()[0]:.2f} at start")
    for row in busy_processes():
        print(f"  busy: {row}")
    t_start = time.perf_counter()
    hogs = [subprocess.Popen([sys.executable, "-c", HOG], env=clean_env()) for _ in range(2)]
    results: dict[str, dict] = {}
    try:
        time.sleep(2.0)  # the hogs import torch and start multiplying
        for name, setting in (known[k] for k in chosen):
            results[name] = {}
            for condition in ("idle", "contended"):
                sig = signal.SIGCONT if condition == "contended" else signal.SIGSTOP
                for h in hogs:
                    h.send_signal(sig)
                time.sleep(0.3)
                results[name][condition] = run_child(name, setting, args.seconds)
                print(f"  measured {name}, {condition}", file=sys.stderr)
    finally:
        for h in hogs:
            h.send_signal(signal.SIGCONT)
            h.kill()
            h.wait()
    wall = time.perf_counter() - t_start
    if args.json:
        print(json.dumps(results, indent=2))
    before = results["before (torch defaults)"]["idle"]["rates"]
    workloads = list(before)
    print(f"\nwall {wall:.0f} s, {args.seconds:g} s per measurement")
    print("| setting | torch threads | " + " | ".join(f"{w} idle | {w} contended | ratio" for w in workloads) + " |")
    print("|---|---:|" + "---:|---:|---:|" * len(workloads))
    for name, r in results.items():
        cells = []
        for w in workloads:
            idle, busy = r["idle"]["rates"][w], r["contended"]["rates"][w]
            cells += [f"{idle:,.0f}", f"{busy:,.0f}", f"{busy / idle:.2f}"]
        print(f"| {name} | {r['idle']['threads']} | " + " | ".join(cells) + " |")
    print("\ncontended throughput / idle throughput of `before` (what a user gets vs a quiet box):")
    for name, r in results.items():
        ratios = ", ".join(f"{w} {r['contended']['rates'][w] / before[w]:.2f}" for w in workloads)
        print(f"  {name}: {ratios}")
    if "policy" in chosen:
        print(f"\npolicy chose: {results[known['policy'][0]]['idle']['policy']}")


if __name__ == "__main__":
    main()
