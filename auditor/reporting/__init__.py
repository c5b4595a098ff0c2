"""The run report: Markdown and self-contained HTML, with matplotlib figures.

`build.build_report(run_dir, report_dir)` reads a run directory and writes the report.
It first assembles a neutral document (the dataclasses below: sections of paragraphs,
tables, figures and tagged sentences); `markdown.render` and `html.render` turn the same
document into text, so both formats always show the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Column:
    """A table column. kind: "text" (left-aligned), "num" (right-aligned, formatted with fmt),
    "delta" (a signed difference: shown with its sign, coloured green > 0, red < 0)."""

    name: str
    kind: str = "text"
    fmt: str = ".3f"


@dataclass
class Table:
    """A table whose numbers are also stored in metrics.json["report"]["tables"][key].

    rows: cell values; None shows as an em dash. row_kinds: optional per-row style,
    "delta" colours the row's numeric cells by sign (the before/after difference row),
    "total" emphasises a summary row.
    """

    key: str
    columns: list[Column]
    rows: list[list]
    caption: str = ""
    row_kinds: list[str] | None = None

    def to_dict(self) -> dict:
        return {"columns": [c.name for c in self.columns], "rows": self.rows}


@dataclass(frozen=True)
class Paragraph:
    text: str
    note: bool = False  # a plain statement that something is missing or was not done by a human


@dataclass(frozen=True)
class Figure:
    path: Path  # PNG inside the report folder
    caption: str
    alt: str = ""


@dataclass(frozen=True)
class TaggedSentence:
    """One sentence shown word by word with its given and predicted tags and word losses (nats)."""

    id: str
    lang: str
    loss: float
    tokens: list[str]
    given: list[str]
    predicted: list[str]
    losses: list[float] | None = None
    flagged: bool = False
    clean: list[str] | None = None  # known clean tags (synthetic corpus or truth file)
    given_name: str = "given"  # what the reference row is called ("gold" for a test split)


@dataclass
class Section:
    title: str
    anchor: str
    blocks: list = field(default_factory=list)
    level: int = 2


@dataclass
class Document:
    title: str
    subtitle: str
    sections: list[Section] = field(default_factory=list)
