"""Where a decision store lives: the file system holding it, from the mount table.

SQLite's WAL mode needs shared memory between the processes that open a file, which network
file systems do not provide; and a read-only mount lets a store be read (immutable) but never
written. Both are properties of the mount, read here so the store can say so in one line.
"""

from __future__ import annotations

import os
from pathlib import Path


def read_only_fs(path: Path) -> bool:
    """The file system holding path (a file or a folder) is mounted read-only."""
    folder = path if path.is_dir() else path.parent
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


# file systems on which SQLite's WAL mode is unsafe: WAL needs shared memory between the
# processes that open the file, which network file systems do not provide (see sqlite.org/wal.html)
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "ncpfs", "afs", "9p", "ceph", "glusterfs",
    "fuse.glusterfs", "fuse.sshfs", "sshfs", "fuse.rclone", "davfs", "fuse.davfs2", "lustre", "gpfs", "beegfs",
})
MOUNTS_FILE = Path("/proc/self/mounts")


def _unescape_mount(path: str) -> str:
    # /proc/mounts writes space, tab, newline and backslash as octal escapes
    return path.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def filesystem_type(path: str | Path, mounts: str | None = None) -> str | None:
    """The type of the file system holding path (e.g. 'ext4', 'nfs4'), from the mount table;
    None where there is none to read (not Linux). mounts: the table's text (tests)."""
    if mounts is None:
        try:
            mounts = MOUNTS_FILE.read_text()
        except OSError:
            return None
    target = Path(path).resolve()  # symlinks followed; the file itself need not exist yet
    best, fstype = "", None
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        point = _unescape_mount(parts[1])
        inside = str(target) == point or str(target).startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, fstype = point, parts[2]
    return fstype


def network_warning(path: str | Path, mounts: str | None = None) -> str | None:
    """One line telling what to do when the store sits on a network file system, else None."""
    fstype = filesystem_type(path, mounts)
    if fstype is None or fstype.lower() not in NETWORK_FILESYSTEMS:
        return None
    return (
        f"warning: {path} is on a network file system ({fstype}), where SQLite's WAL mode can lose or "
        "corrupt decisions; run the review on the machine that holds the run folder (over SSH, in tmux)"
    )
