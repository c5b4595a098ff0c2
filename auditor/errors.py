"""Errors a user can cause. The CLI prints them as one line and exits non-zero."""

from __future__ import annotations

import errno


class AuditorError(Exception):
    """A problem the user can fix: the message names the file/field and what to do."""


class ConfigError(AuditorError):
    pass


class DataError(AuditorError):
    pass


class ModelError(AuditorError):
    pass


class StoreError(AuditorError):
    pass


# what to do about the OS errors a user can cause (permissions, a full or read-only disk)
_OS_HINTS = {
    errno.EACCES: "check the permissions of the file and its folder, or choose another location",
    errno.EPERM: "check the permissions of the file and its folder, or choose another location",
    errno.EROFS: "the file system is read-only; choose another location (e.g. --runs-dir or --out)",
    errno.ENOSPC: "the disk is full; free some space and run the same command again",
    errno.EDQUOT: "the disk quota is used up; free some space and run the same command again",
    errno.ENOENT: "check that the path exists",
}


def os_error_line(err: OSError) -> str:
    """One line naming the path an OSError is about and what to do."""
    text = str(err).strip()
    what = err.strerror or (text.splitlines()[0] if text else type(err).__name__)
    where = ""
    if err.filename is not None:
        where = f"{err.filename}" + (f" -> {err.filename2}" if err.filename2 is not None else "")
    hint = _OS_HINTS.get(err.errno, "check the path, its permissions and the free disk space")
    return f"{where}: {what}; {hint}" if where else f"{what}; {hint}"
