"""The training log reaches the notebook in the chunks the pipe delivers, complete and in order."""

from __future__ import annotations

import io
import sys

from mapsage.notebook.launch import TAIL_LINES, stream


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
