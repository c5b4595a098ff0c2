"""One writer per run folder: `auditor run`, `auditor apply` and `auditor export` hold
RUN_DIR/.run.lock while they write. A second one waits, after saying who holds the folder
(pid, command, since when), instead of interleaving its folder replacements with the first.

The lock is an flock on the file, so it is released when its holder dies, however it dies;
the holder's line in the file is only what the waiting one prints. It is re-entrant within a
thread (the pipeline's apply stage calls the same body as `auditor apply`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import threading
import time
from collections.abc import Iterator

from auditor.run_dir import RunDir

_held = threading.local()


def _counts() -> dict[str, int]:
    if not hasattr(_held, "counts"):
        _held.counts = {}
    return _held.counts


def holder(rd: RunDir) -> str:
    """Who holds the lock, as one phrase (what its holder wrote), or "another process"."""
    try:
        info = json.loads(rd.lock.read_text(encoding="utf-8"))
        since = time.strftime("%H:%M:%S", time.localtime(float(info["since"])))
        return f"pid {int(info['pid'])} ({info['command']}, since {since})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextlib.contextmanager
def run_lock(run_dir: str | os.PathLike | RunDir, command: str, say=None, create: bool = False) -> Iterator[None]:
    """Hold the run folder's write lock for the block; wait for it when another process holds
    it, after `say(line)` (default: print to stderr) names the holder. A folder that does not
    exist is made only with create (a run); otherwise there is nothing to guard and the body
    says what is missing."""
    rd = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    if not rd.path.is_dir() and not create:
        yield
        return
    key = str(rd.lock.resolve()) if rd.path.exists() else str(rd.lock.absolute())
    counts = _counts()
    if counts.get(key):
        counts[key] += 1
        try:
            yield
        finally:
            counts[key] -= 1
        return
    rd.path.mkdir(parents=True, exist_ok=True)
    fh = open(rd.lock, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            line = f"{rd.path} is being written by {holder(rd)}; waiting for it to finish (Ctrl-C to give up)"
            (say or (lambda s: print(s, file=sys.stderr, flush=True)))(line)
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "command": command, "since": time.time()}))
        fh.flush()
        counts[key] = 1
        try:
            yield
        finally:
            counts.pop(key, None)
            fh.seek(0)
            fh.truncate()
            fh.flush()
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    finally:
        fh.close()
