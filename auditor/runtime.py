"""How many CPU threads torch may use, chosen once when a command starts.

Why this exists: torch's default intra-op pool has one OpenMP thread per core, and GNU
OpenMP (the runtime torch's CPU wheels ship) lets idle pool threads spin for a while before
sleeping. On a machine shared with other busy processes, each parallel region then waits
for a pool thread the scheduler has given to someone else, while its siblings burn CPU
spinning: throughput collapses far below the share of CPU the process actually gets
(benchmarks/threads_contention.py measures it).

The policy (measured in benchmarks/threads_contention.py, see benchmarks/README.md):

- threads: ``runtime.threads`` / ``--threads`` when given, else ``OMP_NUM_THREADS`` when the
  user set it, else the CPUs this process may run on (``os.sched_getaffinity``, capped by a
  cgroup CPU quota such as a container's or a CI runner's limit) that other processes are not
  keeping busy when the command starts (runnable threads in /proc/stat), at least one. Beside
  busy processes one thread degrades in proportion to the CPU it gets; two threads that must
  meet at every parallel region lose far more.
- wait policy: ``GOMP_SPINCOUNT=1000`` (an idle pool thread spins briefly, then sleeps: the
  count GNU OpenMP itself uses when it knows the CPUs are oversubscribed), unless the user set
  ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT``. It keeps most of the quiet-box speed of the
  default (300,000 spins) and avoids most of its collapse when load arrives later;
  ``OMP_WAIT_POLICY=PASSIVE`` (no spinning) was slower idle and no better contended.
  GNU OpenMP reads these once, when torch loads it, so they only take effect if set before
  ``import torch``; the CLI sets them first thing and imports torch inside its commands.

Thread counts can change the last bits of floating-point sums: set ``runtime.threads`` for
runs that must reproduce bit for bit across machines and loads.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# What the wait-policy variables are set to when the user has set neither.
WAIT_ENV = {"GOMP_SPINCOUNT": "1000"}
_WAIT_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
_CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
_PROC_STAT = Path("/proc/stat")


@dataclass(frozen=True)
class ThreadPolicy:
    threads: int
    source: str  # "--threads or runtime.threads" | "OMP_NUM_THREADS" | "N of M available CPUs free"
    wait_policy: str | None  # the OpenMP wait variables as set, e.g. "GOMP_SPINCOUNT=1000"; None = runtime default
    wait_policy_applied: bool  # False when torch was loaded before the policy could set it

    def describe(self) -> str:
        wait = self.wait_policy or "the OpenMP default"
        if not self.wait_policy_applied:
            wait += " (torch was already loaded)"
        return f"{self.threads} torch thread(s) ({self.source}), {wait}"


def cgroup_cpu_limit(path: Path = _CGROUP_CPU_MAX) -> float | None:
    """The cgroup v2 CPU quota in CPUs (``cpu.max`` = "<quota> <period>"), None if unlimited/unknown."""
    try:
        quota, period = path.read_text().split()[:2]
        if quota == "max":
            return None
        return int(quota) / int(period)
    except (OSError, ValueError):
        return None


def available_cpus(cgroup_cpu_max: Path = _CGROUP_CPU_MAX) -> int:
    """CPUs this process may use: its affinity mask, capped by the cgroup quota (at least 1)."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        n = os.cpu_count() or 1
    limit = cgroup_cpu_limit(cgroup_cpu_max)
    if limit is not None:
        # a quota of 1.5 CPUs cannot keep two threads busy: round down, never below one
        n = min(n, max(1, math.floor(limit)))
    return max(1, n)


def busy_cpus(stat: Path = _PROC_STAT, samples: int = 5, interval: float = 0.02) -> float | None:
    """CPUs other processes keep busy right now: the median count of runnable threads
    (procs_running in /proc/stat) over a few samples, less this process's own. None where
    there is no /proc/stat."""
    counts = []
    for i in range(samples):
        try:
            line = next(x for x in stat.read_text().splitlines() if x.startswith("procs_running"))
            counts.append(int(line.split()[1]))
        except (OSError, StopIteration, ValueError, IndexError):
            return None
        if i + 1 < samples:
            time.sleep(interval)
    return max(0.0, statistics.median(counts) - 1)


def _env_threads() -> int | None:
    raw = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    try:
        n = int(raw)
    except ValueError:
        return None
    return n if n > 0 else None


def choose_threads(requested: int | None = None) -> tuple[int, str]:
    """(threads, where the number came from) for a requested count (None or 0 = auto)."""
    if requested:
        if requested < 0:
            raise ValueError(f"threads must be positive or 0 (auto), got {requested}")
        return requested, "--threads or runtime.threads"
    env = _env_threads()
    if env is not None:
        return env, "OMP_NUM_THREADS"
    mine = available_cpus(_CGROUP_CPU_MAX)
    busy = busy_cpus(_PROC_STAT)
    if busy is None:
        return mine, f"{mine} CPUs available"
    # busy counts the whole machine, so compare it with the whole machine's CPUs
    free = (os.cpu_count() or mine) - int(busy + 0.5)
    n = max(1, min(mine, free))
    return n, f"{n} of {mine} available CPUs free"


def prepare_openmp_environment(environ: dict | None = None) -> bool:
    """Set the short spin-then-sleep wait policy in the environment unless the user chose one.

    Only useful before torch is imported in this process (or for child processes).
    Returns True when it set something.
    """
    env = os.environ if environ is None else environ
    if any(v in env for v in _WAIT_VARS):
        return False
    env.update(WAIT_ENV)
    return True


def apply_thread_policy(threads: int | None = None) -> ThreadPolicy:
    """Choose and apply the thread count (and, if torch is not loaded yet, the wait policy).

    Call once at start-up, before any heavy work; the CLI does it in every command that
    computes. Library users may call it themselves with ``cfg.runtime.threads``.
    """
    torch_loaded = "torch" in sys.modules
    if not torch_loaded:
        prepare_openmp_environment()
    n, source = choose_threads(threads)
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    wait = ", ".join(f"{v}={os.environ[v]}" for v in _WAIT_VARS if v in os.environ)
    return ThreadPolicy(threads=n, source=source, wait_policy=wait or None, wait_policy_applied=not torch_loaded)
