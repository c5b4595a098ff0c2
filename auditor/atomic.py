"""Write-to-temporary-then-rename, so a crash never leaves a half-written artifact.

A rename is atomic for other processes, but after a power cut the file system may hold the
new name with contents that never reached the disk. So the temporary file (every file of a
temporary folder) is fsynced before the rename, and the parent folder after it: once
`atomic_path` returns, the artifact is on disk whole or not at all. A replaced file's mode
and group carry over to the new one (a team's group-writable file stays group-writable).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path


def fsync_path(path: str | os.PathLike) -> None:
    """Flush a file, or every file and folder under a folder, to the disk."""
    path = Path(path)
    if path.is_dir():
        for root, _dirs, files in os.walk(path):
            for name in files:
                _fsync_one(Path(root) / name, os.O_RDONLY)
            _fsync_dir(Path(root))
    elif path.exists():
        _fsync_one(path, os.O_RDONLY)


def _fsync_one(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    # some file systems cannot fsync a folder (EINVAL); the files themselves are already synced
    try:
        _fsync_one(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        pass


def _keep_mode(final: Path, target: Path) -> None:
    """Give the new file the replaced one's mode and group: a sample a team shares at 0664
    stays 0664 when saved by an account whose umask is 022. A new file keeps what the umask
    gave it (the caller created it with open(), which honours the umask)."""
    try:
        old = final.stat()
    except OSError:
        return
    if target.is_dir() != stat.S_ISDIR(old.st_mode):
        return
    try:
        if target.stat().st_gid != old.st_gid:
            os.chown(target, -1, old.st_gid)  # allowed when we are in that group
    except OSError:
        pass
    try:
        os.chmod(target, stat.S_IMODE(old.st_mode))
    except OSError:
        pass


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike, *, is_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``final``; rename it onto ``final`` on success.

    On an exception the temporary file or folder is removed and ``final`` is untouched.
    A folder replaces an existing folder of the same name. A symlink (an artifact kept on
    another disk) stays a link: what it points to is replaced, next to itself.
    """
    final = Path(final)
    if final.is_symlink():
        final = final.resolve()
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    target = tmp / final.name
    try:
        if is_dir:
            target.mkdir()
        yield target
        _keep_mode(final, target)
        fsync_path(target)
        if is_dir and final.exists():
            # the old folder goes into this replacement's own temporary folder: no name that
            # another replacement (or an earlier crash) could also be using
            old = tmp / ".old"
            final.rename(old)
            target.rename(final)
        else:
            os.replace(target, final)
        _fsync_dir(final.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


@contextlib.contextmanager
def exclusive_lock(lock_path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive advisory lock on lock_path (created if missing) for the block: one
    builder of a shared artifact at a time, across processes and threads alike (each caller
    opens the file itself, and flock locks belong to the open file)."""
    import fcntl

    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    # read-only is enough for flock, so a lock file another account of the group created
    # (under its own umask) locks for everyone; a new one is created with the umask honoured
    fd = os.open(lock_path, os.O_RDONLY | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
