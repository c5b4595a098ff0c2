"""Lines of a UTF-8 text file (gzip by suffix), for every reader of text formats.

One place knows how data files are decoded: a BOM on the first line is dropped (editors on
Windows write one; it would stick to the first token), bad bytes and truncated .gz files are
one DataError line naming the file and line.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

from auditor.errors import DataError


def read_lines(path: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, text without the newline); gzip by suffix; DataError on bad bytes.

    A lone CR ends a line too (files from old Mac editors): such a file is not one line."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{path}: no such file")
    opener = gzip.open if p.name.endswith(".gz") else open
    try:
        with opener(p, "rb") as fh:
            n = 0
            for physical in fh:
                body = physical.rstrip(b"\r\n")
                for raw in body.split(b"\r") if b"\r" in body else (body,):
                    n += 1
                    try:
                        # utf-8-sig on the first line: editors on Windows start files with a BOM,
                        # which would otherwise stick to the first token (or hide -DOCSTART-, `en:`)
                        yield n, raw.decode("utf-8-sig" if n == 1 else "utf-8")
                    except UnicodeDecodeError as err:
                        raise DataError(
                            f"{path}:{n}: not UTF-8 text (byte 0x{raw[err.start]:02x} at column {err.start + 1}); "
                            "convert the file to UTF-8"
                        ) from None
    except (OSError, EOFError) as err:  # e.g. a truncated or fake .gz
        raise DataError(f"{path}: cannot read ({err})") from None
