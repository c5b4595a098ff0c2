"""Render a report Document as GitHub-flavoured Markdown (figures linked as PNG files)."""

from __future__ import annotations

import os
from pathlib import Path

from auditor.reporting import Column, Document, Figure, Paragraph, Table, TaggedSentence

DASH = "—"


def format_cell(value, column: Column) -> str:
    """The text of one cell: numbers with the column's format, deltas with an explicit sign."""
    if value is None or (isinstance(value, float) and value != value):
        return DASH
    if column.kind == "delta" and isinstance(value, (int, float)):
        return f"{value:+{column.fmt}}"
    if column.kind in ("num", "delta") and isinstance(value, (int, float)) and not isinstance(value, bool):
        if column.fmt.endswith("d") and not float(value).is_integer():
            return f"{value:,.3f}"
        return format(int(value) if column.fmt.endswith("d") else value, column.fmt)
    return str(value)


def cell_text(value, column: Column, row_kind: str) -> str:
    """format_cell, with delta rows' numbers signed too."""
    if row_kind == "delta" and column.kind == "num" and isinstance(value, (int, float)):
        return format_cell(value, Column(column.name, "delta", column.fmt))
    return format_cell(value, column)


def _escape(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _table(t: Table) -> list[str]:
    kinds = t.row_kinds or [""] * len(t.rows)
    lines = [f"*{t.caption}*", ""] if t.caption else []
    lines += [
        "| " + " | ".join(_escape(c.name) for c in t.columns) + " |",
        "|" + "|".join("---:" if c.kind != "text" else ":---" for c in t.columns) + "|",
    ]
    for row, kind in zip(t.rows, kinds):
        cells = [_escape(cell_text(v, c, kind)) for v, c in zip(row, t.columns)]
        if kind == "total":
            cells = [f"**{x}**" if x else x for x in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _sentence(s: TaggedSentence) -> list[str]:
    """A code block with token, given and predicted tags aligned in columns (like the chapter's DataFrame)."""
    rows = {"tokens": s.tokens, s.given_name: s.given, "predicted": s.predicted}
    if s.clean is not None:
        rows["clean"] = s.clean
    if s.losses is not None:
        rows["loss"] = [f"{x:.2f}" for x in s.losses]
    rows["differs"] = ["^" * max(1, len(g)) if g != p else "" for g, p in zip(s.given, s.predicted)]
    widths = [max(len(str(r[i])) for r in rows.values()) for i in range(len(s.tokens))]
    flag = ", flagged" if s.flagged else ""
    out = [f"**{s.id}** ({s.lang}, sequence loss {s.loss:.2f}{flag})", "", "```"]
    for name, values in rows.items():
        out.append(f"{name:<10}" + "  ".join(str(v).ljust(w) for v, w in zip(values, widths)).rstrip())
    return [*out, "```"]


def _block(block, report_dir: Path) -> list[str]:
    if isinstance(block, Paragraph):
        return [f"> {block.text}" if block.note else block.text]
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Figure):
        rel = os.path.relpath(block.path, report_dir) if block.path.is_absolute() == report_dir.is_absolute() else block.path.name
        return [f"![{_escape(block.alt)}]({Path(rel).as_posix()})", "", f"*{block.caption}*"]
    if isinstance(block, TaggedSentence):
        return _sentence(block)
    raise TypeError(f"unknown report block {type(block).__name__}")


def render(doc: Document, report_dir: Path) -> str:
    """The whole report as Markdown; figure links are relative to report_dir."""
    lines = [f"# {doc.title}", "", doc.subtitle, "", "Contents: " + " · ".join(f"[{s.title}](#{s.anchor})" for s in doc.sections if s.level == 2), ""]
    for sec in doc.sections:
        # an explicit anchor: the contents links must not depend on a renderer's slug rules
        lines += [f'<a id="{sec.anchor}"></a>', "", f'{"#" * sec.level} {sec.title}', ""]
        for block in sec.blocks:
            lines += _block(block, report_dir) + [""]
    return "\n".join(lines).rstrip() + "\n"
