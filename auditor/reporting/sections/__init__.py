"""The report's sections, one module each, named after the section; ORDER is the order in
the report. Each module has ``build(b: ReportBuilder)``."""

from __future__ import annotations

import importlib
from types import ModuleType

ORDER = ("overview", "corpus", "crossval", "issues", "detection", "review", "remaining", "adaptive", "apply", "retrain", "errors", "analysis", "curve")


def load(name: str) -> ModuleType:
    """The module of section `name` (auditor.reporting.sections.<name>)."""
    if name not in ORDER:
        raise KeyError(f"no report section {name!r}; sections: {', '.join(ORDER)}")
    return importlib.import_module(f"{__name__}.{name}")
