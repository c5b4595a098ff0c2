"""The text layouts a run's tool-format source holds, re-read for the way out (export, the
issue round trip), so a sentence leaves in the text it came in with."""

from __future__ import annotations

import logging

from auditor.data.formats import FORMATS, module, unit_of
from auditor.data.offsets import Layout
from auditor.data.sources import expand_paths
from auditor.errors import DataError

log = logging.getLogger(__name__)


def source_layouts(data_cfg) -> tuple[dict[str, Layout], dict[tuple[str, ...], Layout]]:
    """The layouts the run's source files hold, by id and by token sequence (empty when the
    source is not a tool format or its files are gone: tokens are then joined by spaces)."""
    by_id: dict[str, Layout] = {}
    by_tokens: dict[tuple[str, ...], Layout] = {}
    if data_cfg is None or data_cfg.source not in FORMATS or not data_cfg.files:
        return by_id, by_tokens
    for spec in data_cfg.files.values():
        for f in expand_paths(spec, list(data_cfg.languages)):
            try:
                records = module(data_cfg.source).read(f.path, unit_of(data_cfg.source, data_cfg.offsets)).records
            except DataError as err:
                log.warning("%s: not re-read for its text layout (%s); tokens are joined by spaces", f.path, str(err).splitlines()[0])
                continue
            for r in records:
                if r.id is not None:
                    by_id.setdefault(r.id, r.layout)
                by_tokens.setdefault(tuple(r.tokens), r.layout)
    return by_id, by_tokens
