"""Silencing transformers' own output, shared by the factory and the tiny model builder
(a module of its own so that neither has to import the other for it)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from transformers.utils import logging as hf_logging


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' chatter for a block: info/warnings (newly initialised head, ...)
    and its own loading/saving bars (the Trainer's progress bar is separate and unaffected)."""
    old = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(old)
        if bars:
            hf_logging.enable_progress_bar()
