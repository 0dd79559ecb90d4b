"""Progress of a long prediction: a line every ``every`` images or every ``seconds`` seconds
(whichever comes first) with the count, the rate and the time left."""

from __future__ import annotations

import time
from collections.abc import Callable


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Progress:
    """``step()`` after each image; prints through ``emit`` when a line is due."""

    def __init__(self, total: int, emit: Callable[[str], object] | None, *, every: int = 100,
                 seconds: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.total, self.emit, self.every, self.seconds, self.clock = (
            total, emit, every, seconds, clock)
        self.done = 0
        self.started = self.last = clock()

    def line(self) -> str:
        elapsed = self.clock() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = _duration((self.total - self.done) / rate) if rate > 0 else "unknown"
        return (f"mapsage predict: {self.done}/{self.total} images, {rate:.2f} images/s, "
                f"ETA {eta}")

    def step(self) -> None:
        self.done += 1
        now = self.clock()
        due = (self.done % self.every == 0 or now - self.last >= self.seconds
               or self.done == self.total)
        if self.emit and due:
            self.last = now
            self.emit(self.line())
