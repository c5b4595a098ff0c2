"""The thread policy (auditor.runtime): threads from the CPUs the process may use, the
OpenMP wait policy set before torch loads, runtime.threads / --threads."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
import yaml
from typer.testing import CliRunner

from auditor import runtime
from auditor.config import config_from_dict


@pytest.fixture
def no_user_threads(monkeypatch, tmp_path):
    """No OMP_NUM_THREADS, no cgroup quota file and no /proc/stat, so the affinity mask decides."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(runtime, "_CGROUP_CPU_MAX", tmp_path / "no-cpu.max")
    monkeypatch.setattr(runtime, "_PROC_STAT", tmp_path / "no-stat")
    old = torch.get_num_threads()
    yield
    torch.set_num_threads(old)


def test_threads_follow_the_affinity_mask(monkeypatch, no_user_threads):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 2, 5}, raising=False)
    assert runtime.available_cpus() == 3
    assert runtime.choose_threads(None)[0] == 3
    assert runtime.choose_threads(0)[0] == 3
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {1}, raising=False)
    policy = runtime.apply_thread_policy(None)
    assert policy.threads == 1 and torch.get_num_threads() == 1


def _proc_stat(path, running: int):
    path.write_text(f"cpu  1 2 3 4\nctxt 99\nprocs_running {running}\nprocs_blocked 0\n")
    return path


def test_cpus_other_processes_keep_busy_are_left_to_them(monkeypatch, tmp_path, no_user_threads):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    stat = _proc_stat(tmp_path / "stat", 1)  # only this process runs
    assert runtime.busy_cpus(stat, interval=0) == 0
    monkeypatch.setattr(runtime, "_PROC_STAT", stat)
    assert runtime.choose_threads(None) == (2, "2 of 2 available CPUs free")
    _proc_stat(stat, 5)  # four busy threads besides ours: one thread, never zero
    assert runtime.busy_cpus(stat, interval=0) == 4
    assert runtime.choose_threads(None) == (1, "1 of 2 available CPUs free")
    assert runtime.choose_threads(2) == (2, "--threads or runtime.threads")  # the user's count is not second-guessed
    # a container limited to 2 CPUs of a 64-CPU host with 40 busy: its own 2 are still free
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    _proc_stat(stat, 41)
    assert runtime.choose_threads(None)[0] == 2
    assert runtime.busy_cpus(tmp_path / "missing", interval=0) is None


def test_a_cgroup_quota_caps_the_affinity_mask(monkeypatch, tmp_path, no_user_threads):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("250000 100000\n")
    assert runtime.cgroup_cpu_limit(cpu_max) == 2.5
    assert runtime.available_cpus(cpu_max) == 2
    cpu_max.write_text("50000 100000\n")  # half a CPU still gets one thread
    assert runtime.available_cpus(cpu_max) == 1
    cpu_max.write_text("max 100000\n")
    assert runtime.cgroup_cpu_limit(cpu_max) is None and runtime.available_cpus(cpu_max) == 8


def test_an_explicit_count_wins_then_omp_num_threads(monkeypatch, no_user_threads):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert runtime.choose_threads(None) == (2, "OMP_NUM_THREADS")
    assert runtime.choose_threads(3) == (3, "--threads or runtime.threads")
    policy = runtime.apply_thread_policy(3)
    assert torch.get_num_threads() == 3 and policy.source == "--threads or runtime.threads"
    monkeypatch.setenv("OMP_NUM_THREADS", "garbage")
    assert runtime.choose_threads(None)[0] == 4


def test_wait_policy_is_a_short_spin_unless_the_user_chose_one():
    env: dict = {}
    assert runtime.prepare_openmp_environment(env) and env == {"GOMP_SPINCOUNT": "1000"}
    user = {"GOMP_SPINCOUNT": "300000"}
    assert not runtime.prepare_openmp_environment(user) and user == {"GOMP_SPINCOUNT": "300000"}
    user = {"OMP_WAIT_POLICY": "ACTIVE"}
    assert not runtime.prepare_openmp_environment(user) and user == {"OMP_WAIT_POLICY": "ACTIVE"}


def test_in_a_fresh_process_the_policy_reaches_openmp_before_torch_loads():
    """GNU OpenMP reads its wait policy once, when torch loads it; OMP_DISPLAY_ENV makes it
    print what it read."""
    code = (
        "from auditor.runtime import apply_thread_policy\n"
        "p = apply_thread_policy(None)\n"
        "import torch\n"
        "print('RESULT', p.threads, p.wait_policy, p.wait_policy_applied, torch.get_num_threads())\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env["OMP_DISPLAY_ENV"] = "VERBOSE"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT"))
    _, threads, wait, applied, torch_threads = line.split()
    assert 1 <= int(threads) == int(torch_threads) <= runtime.available_cpus()
    assert (wait, applied) == ("GOMP_SPINCOUNT=1000", "True")
    if "GOMP_SPINCOUNT = " in done.stderr:  # torch built with GNU OpenMP: it must have read the policy
        assert "GOMP_SPINCOUNT = '1000'" in done.stderr


def test_runtime_section_validates_and_does_not_invalidate_cached_stages(tmp_path):
    from auditor import pipeline

    cfg = config_from_dict({"runtime": {"threads": 2}})
    assert cfg.runtime.threads == 2 and config_from_dict({}).runtime.threads == 0
    with pytest.raises(Exception, match="runtime.threads"):
        config_from_dict({"runtime": {"threads": -1}})
    other = config_from_dict({"runtime": {"threads": 1}})
    outputs = {name: "x" for name in pipeline.STAGES}
    for stage in pipeline.PIPELINE.values():
        a = pipeline._input_hash(pipeline.RunContext(cfg, tmp_path, None), stage, outputs)
        b = pipeline._input_hash(pipeline.RunContext(other, tmp_path, None), stage, outputs)
        assert a == b, stage.name


def test_cli_applies_threads_from_the_option_else_the_config(monkeypatch, tmp_path):
    from auditor.cli import app

    seen: list = []

    def record(threads=None):
        seen.append(threads)
        return runtime.ThreadPolicy(threads or 1, "option", "GOMP_SPINCOUNT=1000", True)

    monkeypatch.setattr(runtime, "apply_thread_policy", record)
    pipeline_file = tmp_path / "p.yaml"
    pipeline_file.write_text(
        yaml.safe_dump(
            {
                "name": "thr",
                "runs_dir": str(tmp_path / "runs"),
                "runtime": {"threads": 3},
                "data": {"source": "synthetic", "synthetic": {"sentences": {"train": 4, "validation": 2, "test": 2}}},
            }
        )
    )
    runner = CliRunner()
    first = runner.invoke(app, ["run", str(pipeline_file), "--until", "load"])
    second = runner.invoke(app, ["run", str(pipeline_file), "--until", "load", "--threads", "1"])
    assert first.exit_code == 0 and second.exit_code == 0, (first.output, second.output)
    assert seen == [3, 1]
    assert "runtime: 1 torch thread(s)" in second.output
