"""Progress that shows everywhere: bars in a terminal, periodic plain lines in a log.

A run of the main job can spend many minutes in one stage; with stderr redirected to a file, a bar
prints nothing useful, and silence looks like a hang. :class:`Progress` counts work per task and
shows it as rich bars when stderr is a terminal, and otherwise as one line per task at most every
``interval`` seconds (and when it completes)::

    progress: generation examples 37/120 (31 %), 0.8/s, ETA 1m44s

Whether progress is on is a user choice (``--progress/--no-progress``); how it shows is decided
here from the terminal, so the choice never depends on where stderr goes (and never enters a
cache key).
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable

#: Seconds between plain progress lines of one task (a log gets a line a minute at most per task).
LINE_INTERVAL_S = 30.0


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class _LineTask:
    def __init__(self, owner: "Progress", name: str, total: int):
        self.owner, self.name, self.total, self.done = owner, name, total, 0
        self.t0 = self.last = time.monotonic()
        self.reported_done = False

    def advance(self, k: int = 1) -> None:
        self.done += k
        now = time.monotonic()
        finished = self.done >= self.total
        if (finished and not self.reported_done) or (not finished and now - self.last >= self.owner.interval):
            self.last, self.reported_done = now, finished
            self.owner.write(self.line(now))

    def add_total(self, k: int) -> None:
        self.total += k
        self.reported_done = self.reported_done and self.done >= self.total

    def line(self, now: float) -> str:
        rate = self.done / max(now - self.t0, 1e-9)
        pct = f" ({100 * self.done / self.total:.0f} %)" if self.total else ""
        eta = f", ETA {_duration((self.total - self.done) / rate)}" if rate > 0 and self.done < self.total else ""
        return f"progress: {self.name} {self.done}/{self.total}{pct}, {rate:.2g}/s{eta}"


class Progress:
    """Tasks with a total and an ``advance(k)``; bars on a terminal, lines otherwise, nothing when off.

    ``enabled`` False shows nothing; ``mode`` forces ``"bars"`` or ``"lines"`` (default: bars when
    ``stream`` is a terminal). Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, enabled: bool = True, mode: str | None = None, stream: Any = None, interval: float = LINE_INTERVAL_S):
        self.enabled = enabled
        self.mode = mode
        self.stream = stream
        self.interval = interval

    def _stream(self) -> Any:
        return self.stream if self.stream is not None else sys.stderr

    def _mode(self) -> str:
        if not self.enabled:
            return "off"
        if self.mode:
            return self.mode
        isatty = getattr(self._stream(), "isatty", None)
        return "bars" if isatty is not None and isatty() else "lines"

    def write(self, line: str) -> None:
        print(line, file=self._stream(), flush=True)

    def task(self, name: str, total: int) -> tuple[Callable[[int], None], Callable[[int], None]]:
        """Start a task: returns ``advance(k)`` and ``add_total(k)`` (for work that is asked again)."""
        mode = self._mode()
        if mode == "off":
            return (lambda k=1: None), (lambda k: None)
        if mode == "lines":
            t = _LineTask(self, name, total)
            self.write(f"progress: {name} 0/{total}")
            return t.advance, t.add_total
        if getattr(self, "bars_", None) is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self.bars_ = RichProgress(TextColumn("{task.description:>12}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), TimeRemainingColumn(), console=Console(file=self._stream()))
            self.bars_.start()
        bars, tid = self.bars_, self.bars_.add_task(name, total=total)

        def add_total(k: int) -> None:
            bars.update(tid, total=next(t.total for t in bars.tasks if t.id == tid) + k)

        return (lambda k=1: bars.advance(tid, k)), add_total

    def close(self) -> None:
        if getattr(self, "bars_", None) is not None:
            self.bars_.stop()
            self.bars_ = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> bool:
        self.close()
        return False
