"""What the annotation-tool formats share: reading JSON (lines), span checks, the Misfit report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from auditor.data.offsets import AlignmentError, CharSpan, Misfit
from auditor.data.textlines import read_lines as _lines
from auditor.errors import DataError


def json_lines(path: str) -> Iterator[tuple[int, dict]]:
    """(line number, object) of a JSON Lines file; blank lines skipped; DataError on bad JSON."""
    for n, line in _lines(path):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{n}: not valid JSON ({err.msg} at column {err.colno})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{path}:{n}: expected a JSON object per line")
        yield n, obj


def json_file(path: str):
    """The parsed JSON document of a file; DataError on bad JSON."""
    text = "\n".join(line for _, line in _lines(path))
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"{path}:{err.lineno}: not valid JSON ({err.msg} at column {err.colno})") from None


def text_of(value, where: str, what: str = "text") -> str:
    if not isinstance(value, str):
        raise DataError(f"{where}: no `{what}` string (got {type(value).__name__})")
    return value


def span(start, end, label, where: str, text=None) -> CharSpan:
    """A CharSpan from a file's fields; DataError when they are not two integers and a label."""
    if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
        raise DataError(f"{where}: span offsets must be integers, got {start!r} and {end!r}")
    if not isinstance(label, str):
        raise DataError(f"{where}: span label must be a string, got {label!r}")
    return CharSpan(start, end, label, text if isinstance(text, str) else None)


def raise_misfits(path: str | Path, misfits: list[Misfit], unit: str | None = None) -> None:
    if not misfits:
        return
    hint = ""
    offsets = ("inside or between words", "outside the text", "inside a character", "the text there is")
    if unit is not None and any(any(o in m.reason for o in offsets) for m in misfits):
        other = "utf16" if unit == "codepoint" else "codepoint"
        hint = (
            f"fix these spans in the annotation tool and export again; if most spans are off by one after an "
            f"emoji, the file counts offsets in {other} units: set data.offsets: {other}"
        )
    raise AlignmentError(str(path), misfits, hint)


def optional_str(value) -> str | None:
    return None if value is None else str(value)


def given_layout(text: str, tokens, where: str):
    """The layout of a text-only format's record: its `tokens` field ([[start, end], ...], code
    points, which our writers add when the tokenizer would split the text otherwise), else the
    text tokenised."""
    from auditor.data.offsets import layout_from_offsets, tokenize

    if tokens is None:
        return tokenize(text)
    if not isinstance(tokens, list) or not all(isinstance(t, list) and len(t) == 2 for t in tokens):
        raise DataError(f"{where}: `tokens` must be a list of [start, end] offsets")
    return layout_from_offsets(text, [t[0] for t in tokens], [t[1] for t in tokens], where)


def tokens_field(layout) -> list[list[int]] | None:
    """[[start, end], ...] when tokenize(text) would not give the layout's tokens back, else None."""
    from auditor.data.offsets import tokenize

    again = tokenize(layout.text)
    if (again.starts, again.ends) == (layout.starts, layout.ends):
        return None
    return [[s, e] for s, e in zip(layout.starts, layout.ends)]
