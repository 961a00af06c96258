"""A one-line progress display for long imports, drawn only on a terminal.

Cron and tests see nothing (stderr is not a TTY there), so logs carry no carriage-return
litter; an operator running `ebok import` by hand sees what stage a 5-million-row import is in:
the rows of a big file read so far, then the premises published of all.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30


class ProgressLine:
    """Callable as `progress(done, total)` (what `etl.publisher.publish.publish` accepts)."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.label = ""
        self._last = 0.0
        self._file = ""  # the file whose rows were shown last
        self._drawn = False

    def stage(self, label: str) -> None:
        """Start a stage with no count yet (reading, validating)."""
        self.label = label
        self._draw(f"{label}…")

    def rows(self, file: str, done: int) -> None:
        """Rows of a big file read so far (its total is not known before the end)."""
        now = time.monotonic()
        if now - self._last < 0.1 and file == self._file:  # a new file is always shown
            return
        self._last, self._file = now, file
        count = f"{done:,}".replace(",", " ")
        self._draw(f"{self.label}: {file}, {count} rows read")

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        filled = WIDTH * done // total if total else WIDTH
        pct = 100 * done // total if total else 100
        bar = "#" * filled + "." * (WIDTH - filled)
        self._draw(f"{self.label} [{bar}] {pct:3d}% {done:,}/{total:,}".replace(",", " "))

    def _draw(self, text: str) -> None:
        if not self.enabled:
            return
        self.stream.write("\r\x1b[2K" + text)
        self.stream.flush()
        self._drawn = True

    def clear(self) -> None:
        """Remove the line before ordinary output is printed."""
        if self.enabled and self._drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._drawn = False
