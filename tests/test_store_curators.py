"""Two review UIs are never one curator by accident (issue 24, row 5): a second UI with a name
already open on the run refuses to start, with one line saying how to go on."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditor.errors import StoreError
from auditor.review.store import curator_session

REPO = Path(__file__).resolve().parents[1]


def test_a_name_open_on_a_store_cannot_be_opened_again(tmp_path: Path) -> None:
    store = tmp_path / "review.sqlite"
    with curator_session(store, "ana"):
        with pytest.raises(StoreError, match=r"ana already has the review of .* open .*--curator"):
            with curator_session(store, "ana"):
                pass
        with curator_session(store, "ben"):  # another name: fine, at the same time
            pass
        with curator_session(tmp_path / "other.sqlite", "ana"):  # another run's store: fine
            pass
    with curator_session(store, "ana"):  # closed: free again
        pass


def test_a_name_is_freed_when_its_process_dies(tmp_path: Path) -> None:
    store = tmp_path / "review.sqlite"
    code = (f"import sys, time; sys.path.insert(0, {str(REPO)!r}); from auditor.review.store import curator_session\n"
            f"with curator_session({str(store)!r}, 'ana'):\n    print('held', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreError, match=f"pid {holder.pid}"):
            with curator_session(store, "ana"):
                pass
    finally:
        holder.kill()
        holder.wait()
    with curator_session(store, "ana"):
        pass


def _run_in_terminal(args: list[str], cwd: Path, timeout: float = 60) -> tuple[int, str]:
    """Run a command with a pseudo-terminal as stdin and stdout (the UI needs one)."""
    master, slave = os.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TERM": "xterm"}
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env, close_fds=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    if proc.poll() is None:
        proc.kill()
    rc = proc.wait()
    os.close(master)
    return rc, out.decode(errors="replace")


def test_a_second_ui_without_curator_refuses_to_start(tmp_path: Path) -> None:
    from auditor.review.store import default_curator
    from tests.test_cleaning import make_run

    run = make_run(tmp_path)
    with curator_session(run / "review.sqlite", default_curator()):  # the first UI, still open
        rc, out = _run_in_terminal([sys.executable, "-m", "auditor", "review", str(run)], tmp_path)
    text = " ".join(out.split())
    assert rc == 2, text
    assert f"{default_curator()} already has the review of" in text and "--curator" in text
