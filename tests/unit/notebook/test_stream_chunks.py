"""The training log reaches the notebook complete and in order, in few messages: a burst or a
steady log is coalesced, and nothing is held back through a quiet spell."""

from __future__ import annotations

import io
import sys
import time

from mapsage.notebook.launch import TAIL_LINES, how_it_ended, stream


class CountingSink(io.StringIO):
    """A text sink that counts flushes (each one is a message to the notebook in a kernel)."""

    flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


CHILD = r"""
import sys
out = sys.stdout.buffer
out.write("".join(f"config line {i}\n" for i in range(400)).encode())
out.flush()
out.write("Grüße über Ünïcödé\n".encode()[:-3])  # a chunk ending inside a UTF-8 character
out.flush()
out.write("Grüße über Ünïcödé\n".encode()[-3:] + b"mapsage.train: error: last words")
sys.exit(3)
"""


def test_a_burst_of_lines_is_a_few_writes_and_nothing_is_lost():
    sink = CountingSink()
    code, tail = stream([sys.executable, "-c", CHILD], out=sink)
    expected = ("".join(f"config line {i}\n" for i in range(400))
                + "Grüße über Ünïcödé\nmapsage.train: error: last words")
    assert code == 3
    assert sink.getvalue() == expected
    assert sink.flushes < 50, "hundreds of lines, one message each"
    assert tail == expected.split("\n")[-TAIL_LINES:]
    assert tail[-1] == "mapsage.train: error: last words"


class TimedSink(io.StringIO):
    """A text sink that records each write with the time it arrived."""

    def __init__(self):
        super().__init__()
        self.writes: list[tuple[float, str]] = []

    def write(self, text: str) -> int:
        self.writes.append((time.monotonic(), text))
        return super().write(text)


STEADY = r"""
import sys, time
for i in range(60):
    print(f"iteration {i}", flush=True)  # a log line every few iterations
    time.sleep(0.02)
"""


def test_a_steady_log_is_one_message_per_flush_interval():
    sink = TimedSink()
    code, tail = stream([sys.executable, "-c", STEADY], out=sink, flush_every=0.5)
    assert code == 0
    assert sink.getvalue() == "".join(f"iteration {i}\n" for i in range(60))
    # 60 lines over about 1.2 s (plus interpreter start-up): the first at once, then one
    # message per 0.5 s, not one per line
    assert len(sink.writes) <= 6, [text[:20] for _, text in sink.writes]
    assert tail[-1] == "iteration 59"


QUIET_SPELL = r"""
import sys, time
print("before validation", flush=True)
print("still before", flush=True)
time.sleep(2.0)  # a long validation: nothing is printed
print("after validation", flush=True)
"""


def test_output_before_a_quiet_spell_is_shown_during_it():
    sink = TimedSink()
    code, _ = stream([sys.executable, "-c", QUIET_SPELL], out=sink, flush_every=0.3)
    assert code == 0
    assert sink.getvalue() == "before validation\nstill before\nafter validation\n"
    before = [at for at, text in sink.writes if "still before" in text]
    after = [at for at, text in sink.writes if "after validation" in text]
    assert before and after
    assert "after validation" not in "".join(t for at, t in sink.writes if at <= before[0])
    # shown while the child was still sleeping, not held until the next output or the end
    assert after[0] - before[0] > 1.0, sink.writes


def test_a_killed_training_is_named_with_the_likely_cause():
    """What an out-of-memory kill looks like from the notebook: the process gets SIGKILL."""
    code, _ = stream([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), 9)"],
                     out=io.StringIO())
    assert code == -9
    said = how_it_ended(code)
    assert "SIGKILL" in said and "out-of-memory" in said and "batch_size" in said
    assert how_it_ended(3) == "exited with code 3"
    assert how_it_ended(-15) == "was stopped by SIGTERM"
