"""How many CPU threads torch may use, chosen once when a command starts.

Why this exists: torch's default intra-op pool has one OpenMP thread per core, and GNU
OpenMP (the runtime torch's CPU wheels ship) lets idle pool threads spin for a while before
sleeping. On a machine shared with other busy processes, each parallel region then waits
for a pool thread the scheduler has given to someone else, while its siblings burn CPU
spinning: throughput collapses far below the share of CPU the process actually gets
(benchmarks/threads_contention.py measures it).

The policy:

- threads: ``runtime.threads`` / ``--threads`` when given, else ``OMP_NUM_THREADS`` when the
  user set it, else the CPUs this process may run on (``os.sched_getaffinity``, capped by a
  cgroup CPU quota such as a container's or a CI runner's limit).
- wait policy: ``OMP_WAIT_POLICY=PASSIVE`` (idle pool threads sleep instead of spinning),
  unless the user set ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` themselves. GNU OpenMP reads
  these once, when torch loads it, so they only take effect if set before ``import torch``;
  the CLI imports torch lazily inside its commands for that reason.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

# What the wait-policy variables are set to when the user has not set either.
PASSIVE_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}
_WAIT_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
_CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


@dataclass(frozen=True)
class ThreadPolicy:
    threads: int
    source: str  # "option" | "OMP_NUM_THREADS" | "affinity"
    wait_policy: str | None  # OMP_WAIT_POLICY in effect for this process's OpenMP, None = runtime default
    wait_policy_applied: bool  # False when torch was loaded before the policy could set it

    def describe(self) -> str:
        wait = self.wait_policy or "runtime default"
        if not self.wait_policy_applied:
            wait += " (torch was already loaded)"
        return f"{self.threads} torch thread(s) (from {self.source}), OpenMP wait policy {wait}"


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
        return requested, "option"
    env = _env_threads()
    if env is not None:
        return env, "OMP_NUM_THREADS"
    return available_cpus(), "affinity"


def prepare_openmp_environment(environ: dict | None = None) -> bool:
    """Set the passive wait policy in the environment unless the user chose one.

    Only useful before torch is imported in this process (or for child processes).
    Returns True when it set something.
    """
    env = os.environ if environ is None else environ
    if any(v in env for v in _WAIT_VARS):
        return False
    env.update(PASSIVE_ENV)
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
    return ThreadPolicy(
        threads=n,
        source=source,
        wait_policy=os.environ.get("OMP_WAIT_POLICY") if not torch_loaded else None,
        wait_policy_applied=not torch_loaded,
    )
