"""The report under construction: what every section module gets to add its part.

A section module (auditor.reporting.sections.<name>) has one function, ``build(b)``, that
reads ``b.m`` (metrics.json's typed sections, auditor.metrics.Metrics), ``b.inputs`` (the run's artifacts) and ``b.cfg``, and adds
sections, tables and figures through the helpers here. Derived numbers go to ``b.derived``,
which becomes metrics.json["report"].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from auditor.config import PipelineConfig
from auditor.reporting import Column, Document, Figure, Paragraph, Section, Table
from auditor.reporting import figures as figs
from auditor.reporting.inputs import RunInputs
from auditor.reporting.oof import OofView, oof_view

# what each metrics.json section is and which stage writes it, for "missing" notes
SECTIONS = {
    "corpus": ("corpus statistics", "the load stage"),
    "crossval": ("cross-validation metrics", "the crossval stage"),
    "scoring": ("issue statistics", "the score stage"),
    "detection": ("detection quality", "the score stage on a corpus with known clean labels"),
    "review": ("review summary", "the review stage"),
    "apply": ("cleaning summary", "the apply stage"),
    "retrain": ("before/after F1", "the retrain and judge stages"),
    "analysis": ("error analysis", "`auditor analyze`"),
    "curve": ("learning curve", "`auditor curve`"),
}


@dataclass
class ReportDerived:
    """metrics.json["report"]: the numbers the report derived itself, so every number it shows
    is in metrics.json. tables: each registered table (Table.to_dict()) by key; values: the
    other derived numbers by key (confusion matrices, the loss histogram, the worst sentences,
    ...), written at the top level of the section; missing: the metrics sections the run
    lacked; figures: the figure files' names."""

    SECTION: ClassVar[str] = "report"

    tables: dict[str, dict] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)

    def __setitem__(self, key: str, value: Any) -> None:
        if key in ("tables", "missing", "figures"):
            raise KeyError(f"{key!r} is a field of the report section, not a derived value")
        self.values[key] = value

    def to_dict(self) -> dict:
        return {"tables": dict(self.tables), **self.values, "missing": list(self.missing), "figures": list(self.figures)}

    @classmethod
    def from_dict(cls, d: dict) -> ReportDerived:
        if not isinstance(d, dict):
            raise TypeError(f"a JSON {type(d).__name__}, not an object")
        values = {k: v for k, v in d.items() if k not in ("tables", "missing", "figures")}
        return cls(dict(d.get("tables") or {}), values, list(d.get("missing") or []), list(d.get("figures") or []))


R = TypeVar("R")


class ReportBuilder:
    """Collects sections, the derived numbers (for metrics["report"]) and the figures."""

    def __init__(self, inputs: RunInputs, report_dir: Path):
        self.inputs = inputs
        self.m = inputs.metrics
        self.cfg = inputs.cfg
        self.report_dir = report_dir
        self.sections: list[Section] = []
        self.derived = ReportDerived()
        self.figures: list[Path] = []
        self._view: OofView | None = None
        self._view_done = False

    def section(self, title: str, anchor: str, level: int = 2) -> Section:
        s = Section(title, anchor, level=level)
        self.sections.append(s)
        return s

    def section_for(self, title: str, anchor: str, record: type[R]) -> tuple[Section, R | None]:
        """A section showing a metrics.json section: the report section and the metrics
        section's record, or, when the run has none, the report section with a note saying
        which stage would have written it."""
        sec = self.section(title, anchor)
        data = self.m.section(record)
        if data is None:
            self.missing_note(sec, record.SECTION)  # type: ignore[attr-defined]
        return sec, data

    def table(self, sec: Section, table: Table) -> None:
        if table.key in self.derived.tables:
            raise ValueError(f"duplicate report table key {table.key}")
        self.derived.tables[table.key] = table.to_dict()
        sec.blocks.append(table)

    def figure(self, sec: Section, path: Path, caption: str) -> None:
        self.figures.append(path)
        sec.blocks.append(Figure(path, caption, alt=caption))

    def missing_note(self, sec: Section, key: str) -> None:
        what, stage = SECTIONS[key]
        sec.blocks.append(Paragraph(f"Not in this run: no {what} in metrics.json (written by {stage}).", note=True))

    @property
    def want_figures(self) -> bool:
        return self.cfg.report.figures

    def view(self) -> OofView | None:
        if not self._view_done:
            self._view_done = True
            if self.inputs.predictions is not None and self.inputs.corpus is not None:
                self._view = oof_view(self.inputs.predictions, self.inputs.corpus)
        return self._view

    @property
    def flagged_ids(self) -> set[str]:
        issues = self.inputs.issues
        return set(issues["id"]) if issues is not None else set()

    def confusion(self, sec: Section, key: str, labels: list[str], matrix: np.ndarray, source: str) -> None:
        """A normalized confusion matrix: a figure, or a table when figures are off."""
        self.derived[key] = {"labels": list(labels), "matrix": matrix.tolist(), "source": source}
        if self.want_figures:
            path = figs.confusion_matrix_figure(matrix, labels, self.report_dir / f"{key}.png")
            self.figure(sec, path, f"Normalized confusion matrix of the {source} (rows = given tag, each row sums to 1).")
        else:
            cols = [Column("given"), *[Column(lab, "num", ".2f") for lab in labels]]
            self.table(sec, Table(key, cols, [[lab, *row] for lab, row in zip(labels, matrix.tolist())]))

    def document(self) -> Document:
        """The document of the sections built so far, headed by a note naming what the run lacks."""
        missing = [k for k in SECTIONS if k not in self.m.present]
        self.derived.missing = missing
        if missing:
            items = "; ".join(f"{SECTIONS[k][0]} ({SECTIONS[k][1]})" for k in missing)
            self.sections[0].blocks.insert(0, Paragraph(f"Not in this run: {items}.", note=True))
        subtitle = _subtitle(self.cfg) if self.inputs.config_found else f"Run directory: {self.inputs.run_dir.name}."
        return Document(f"Label audit report: {self.cfg.name}", subtitle, self.sections)


def _subtitle(cfg: PipelineConfig) -> str:
    langs = ", ".join(cfg.data.languages)
    return f"Corpus languages: {langs}. Model: {cfg.model.name}."
