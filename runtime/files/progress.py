"""Progress on stderr: a rich bar on a terminal, plain periodic lines elsewhere, or nothing."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

PLAIN_INTERVAL_S = 10.0


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Counts input lines done; mode is "bar", "plain" or "off". A context manager."""

    def __init__(self, mode: str, total: int | None = None, interval: float = PLAIN_INTERVAL_S,
                 count=None):
        """`count`, a callable, gives the total when a plain line first needs it."""
        if mode not in ("bar", "plain", "off"):
            raise ValueError("mode must be 'bar', 'plain' or 'off'")
        self.mode, self.total, self.interval = mode, total, interval
        self._count = count
        self.done = self._resumed = 0
        self._bar = None

    @classmethod
    def for_input(cls, src, show: bool | None, count_lines: Callable[[str], int]) -> Progress:
        """show None: a bar on a terminal, plain lines otherwise; False: off; True: a bar.
        `count_lines(src)` counts the input's lines (the reader's, which knows gzip)."""
        if show is False or sys.stderr is None:  # a closed stderr: nowhere to show it
            return cls("off")
        mode = "bar" if show or sys.stderr.isatty() else "plain"
        # Counting costs a pass over the file: up front for a bar (its length), and for
        # plain lines only once the first one is due (a short run never pays for it).
        count = (lambda: count_lines(src)) if str(src) != "-" and Path(str(src)).is_file() else None
        if mode == "bar":
            return cls(mode, count() if count else None)
        return cls(mode, count=count)

    def __enter__(self):
        self._start = self._last = time.perf_counter()
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
                console=Console(file=sys.stderr), transient=True)
            self._bar.start()
            self._task = self._bar.add_task("translate", total=self.total, rate="-")
        return self

    def resumed_at(self, lines: int) -> None:
        """Lines an interrupted run already did: counted as done, not in the rate."""
        self.done = self._resumed = lines
        if self._bar is not None:
            self._bar.update(self._task, completed=lines)

    def advance(self, lines: int) -> None:
        """Record `lines` more input lines done."""
        self.done += lines
        now = time.perf_counter()
        rate = (self.done - self._resumed) / max(now - self._start, 1e-9)
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, rate=f"{rate:,.0f}")
        elif self.mode == "plain" and now - self._last >= self.interval:
            self._last = now
            if self.total is None and self._count is not None:
                self.total, self._count = self._count(), None
            line = f"s2s-batch: {self.done:,}"
            if self.total:
                eta = (self.total - self.done) / max(rate, 1e-9)
                line += f"/{self.total:,} lines ({self.done / self.total:.0%}), ETA {_clock(eta)}"
            else:
                line += " lines"
            try:
                print(f"{line}, {rate:,.0f} lines/s", file=sys.stderr, flush=True)
            except OSError:  # a full stderr loses the progress line, not the run
                pass

    def __exit__(self, *exc_info):
        if self._bar is not None:
            self._bar.stop()
        return False
