"""Progress on stderr: a rich bar with rate and ETA on a terminal, or nothing (a run's
summary line, printed by the command, says what was done)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path


class Progress:
    """Counts input lines done; mode is "bar" or "off". A context manager.

    A chunk's lines are counted done when the chunk is written (`advance`); while it is
    translated, `within` moves the bar through it as its batches finish, so the bar moves
    a batch at a time, not a chunk at a time."""

    def __init__(self, mode: str, total: int | None = None):
        if mode not in ("bar", "off"):
            raise ValueError("mode must be 'bar' or 'off'")
        self.mode, self.total = mode, total
        self.done = self._resumed = 0
        self._bar = None

    @classmethod
    def for_input(cls, src, show: bool | None, count_lines: Callable[[str], int]) -> Progress:
        """show None: a bar when stderr is a terminal, else off; False: off; True: a bar.
        `count_lines(src)` counts the input's lines (the reader's, which knows gzip)."""
        if show is False or sys.stderr is None:  # a closed stderr: nowhere to show it
            return cls("off")
        if not show and not _is_terminal(sys.stderr):
            return cls("off")
        is_file = str(src) != "-" and Path(str(src)).is_file()
        return cls("bar", count_lines(src) if is_file else None)

    def __enter__(self):
        self._start = time.perf_counter()
        if self.mode == "bar":
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("translating"), BarColumn(), MofNCompleteColumn(),
                TextColumn("lines, {task.fields[rate]} lines/s"), TimeElapsedColumn(),
                TextColumn("ETA"), TimeRemainingColumn(),
                console=Console(file=sys.stderr), transient=True,
                speed_estimate_period=10.0)  # rich's ETA: from the last 10 s of updates
            self._bar.start()
            self._task = self._bar.add_task("translate", total=self.total, rate="-")
        return self

    def resumed_at(self, lines: int) -> None:
        """Lines an interrupted run already did: counted as done, not in the rate."""
        self.done = self._resumed = lines
        if self._bar is not None:
            self._bar.update(self._task, completed=lines)

    def within(self, lines: float) -> None:
        """The chunk under way has about `lines` of its lines translated."""
        self._show(self.done + lines)

    def advance(self, lines: int) -> None:
        """Record `lines` more input lines done (a chunk written)."""
        self.done += lines
        self._show(self.done)

    def _show(self, done: float) -> None:
        if self._bar is None:
            return
        rate = (done - self._resumed) / max(time.perf_counter() - self._start, 1e-9)
        self._bar.update(self._task, completed=done, rate=f"{rate:,.0f}")

    def __exit__(self, *exc_info):
        if self._bar is not None:
            self._bar.stop()
        return False


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (ValueError, AttributeError):
        return False
