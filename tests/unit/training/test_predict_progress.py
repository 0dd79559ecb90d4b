"""A long prediction reports count, rate and time left every N images or every few seconds."""

from __future__ import annotations

from mapsage.training.predict_progress import Progress


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_line_every_n_images_with_rate_and_eta():
    clock, lines = Clock(), []
    progress = Progress(10, lines.append, every=4, seconds=1000, clock=clock)
    for _ in range(10):
        clock.now += 2.0  # 0.5 images/s
        progress.step()
    assert lines == ["mapsage predict: 4/10 images, 0.50 images/s, ETA 12 s",
                     "mapsage predict: 8/10 images, 0.50 images/s, ETA 4 s",
                     "mapsage predict: 10/10 images, 0.50 images/s, ETA 0 s"]


def test_a_line_every_few_seconds_when_images_are_slow():
    clock, lines = Clock(), []
    progress = Progress(1000, lines.append, every=100, seconds=30, clock=clock)
    for _ in range(3):
        clock.now += 20.0
        progress.step()
    assert lines == ["mapsage predict: 2/1000 images, 0.05 images/s, ETA 5 h 32 min"]


def test_no_output_without_a_sink():
    progress = Progress(2, None, every=1)
    progress.step()
    progress.step()
    assert progress.done == 2
