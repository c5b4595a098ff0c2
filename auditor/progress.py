"""Every progress bar of the auditor comes from ``progress_bar``.

On a terminal it is a tqdm bar; a nested bar (``nested=True``: the per-fold prediction
or training bar under the crossval bar) disappears when done, so finished work leaves one
line, not a stack. Off a terminal (a log file, CI) redrawing a bar makes one line per
redraw, hundreds of ``0%`` lines per fold; there, a top-level bar prints a plain line at
most every ``LOG_INTERVAL`` seconds plus one when it ends, and nested bars print nothing
(the stage lines around them already say what runs).

``progress_bar`` takes tqdm's arguments, so code written for tqdm switches by import.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any

# tqdm is imported inside the functions: it reads its TQDM_* defaults when first imported,
# and the CLI sets them (quiet_logs_environment) after importing this module.

# Seconds between two lines of the same bar off a terminal.
LOG_INTERVAL = 10.0
# Environment override of the terminal check: "bars" or "lines".
MODE_ENV = "AUDITOR_PROGRESS"


def _is_terminal(file: IO | None) -> bool:
    forced = os.environ.get(MODE_ENV, "").strip().lower()
    if forced in ("bars", "lines"):
        return forced == "bars"
    stream = file if file is not None else sys.stderr
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or not a real stream
        return False


def progress_bar(
    iterable: Iterable | None = None,
    *,
    desc: str | None = None,
    total: float | None = None,
    unit: str = "it",
    disable: bool = False,
    nested: bool = False,
    leave: bool | None = None,
    file: IO | None = None,
    **tqdm_kwargs: Any,
):
    """A progress bar over `iterable` (or updated by hand with `.update(n)`).

    nested: an inner bar (per fold, per epoch). `leave` is accepted for tqdm compatibility;
    leave=False marks a bar as nested too.
    """
    from tqdm.auto import tqdm

    nested = nested or leave is False
    if disable:
        return tqdm(iterable, total=total, disable=True)
    if _is_terminal(file):
        return tqdm(iterable, desc=desc, total=total, unit=unit, leave=not nested, dynamic_ncols=True, file=file, **tqdm_kwargs)
    if nested:
        return tqdm(iterable, total=total, disable=True)
    return LineProgress(iterable, desc=desc, total=total, unit=unit, file=file)


class LineProgress:
    """A progress report for logs: whole lines, at most one per `interval` seconds, and a
    last one when it ends. Offers the part of tqdm's interface the auditor uses."""

    def __init__(
        self,
        iterable: Iterable | None = None,
        desc: str | None = None,
        total: float | None = None,
        unit: str = "it",
        file: IO | None = None,
        interval: float | None = None,
    ):
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.desc, self.total, self.unit = desc or "", total, unit
        self.file = file
        # read at construction, not at import, so one setting governs every bar
        self.interval = LOG_INTERVAL if interval is None else interval
        self.n = 0
        self.postfix = ""
        self.start = self._last = time.monotonic()
        self._printed: float | None = None  # n at the last line, so close() does not repeat it
        self.closed = False

    def __iter__(self) -> Iterator:
        try:
            for item in self.iterable or ():
                yield item
                self.update(1)
        finally:
            self.close()

    def __len__(self) -> int:
        return int(self.total or 0)

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def update(self, n: float = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._emit(now)

    def set_postfix(self, ordered_dict: dict | None = None, refresh: bool = True, **kwargs: Any) -> None:
        items = {**(ordered_dict or {}), **kwargs}
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = s

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or ""

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self._printed != self.n:
                self._emit(time.monotonic())

    def line(self, now: float | None = None) -> str:
        from tqdm.auto import tqdm

        elapsed = (now or time.monotonic()) - self.start
        text = tqdm.format_meter(
            self.n, self.total, elapsed, ncols=0, prefix=self.desc, unit=self.unit, postfix=self.postfix or None
        )
        return " ".join(text.split())  # ncols=0 still leaves the empty bar's separators

    def _emit(self, now: float) -> None:
        stream = self.file if self.file is not None else sys.stderr
        stream.write(self.line(now) + "\n")
        stream.flush()
        self._printed = self.n


def quiet_logs_environment(environ: dict | None = None) -> None:
    """Off a terminal, slow down the bars of code that still calls tqdm directly.

    tqdm reads TQDM_* defaults when it is imported, so the CLI calls this first thing.
    """
    env = os.environ if environ is None else environ
    if _is_terminal(None):
        return
    env.setdefault("TQDM_MININTERVAL", str(LOG_INTERVAL))
    # a bar that ends sooner prints nothing at all (nested bars, short folds)
    env.setdefault("TQDM_DELAY", str(LOG_INTERVAL))
