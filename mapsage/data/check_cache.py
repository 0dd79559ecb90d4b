"""Remember a passed data check in ``work_dir`` so a resumed or continued run does not repeat it.

The record is keyed by content, not by what ``stat`` says: :func:`fingerprint` runs the
header pass of the check (:func:`mapsage.data.check.check_layout` without decoding: every
file's header, its size, channels and pixel limit; a PNG's signature, IHDR and IEND) and
hashes, with SHA-256, every image and mask file's path relative to the data root, its size,
its modification time (nanoseconds) and its first 33 and last 12 bytes, with the check's own settings
(its version, the decode sample, PIL's pixel limit), the data set's description
(:meth:`mapsage.data.dataset.Description.as_dict`: classes, suffixes, ignore index, ...: the
mask values allowed and the files paired depend on it) and the smallest training image the pass
found (which the key also carries, for the crop check). So:

- what the record lets a run skip is only the decode of the sample (every image verified, every
  sampled mask's values); the checks of every file run on every start, so a record that was
  forged or copied from another tree can at most skip what a crafted file outside the sample
  would escape anyway;
- a tree whose header pass finds a problem gets a key no record holds, and the full check runs
  and reports it;
- any change to a file's size, modification time or checked bytes (touching one mask is
  enough), a file added or removed, another description (a class added, another suffix) or
  other settings give another key, and the check runs
  again. A record written by a sample check does not stand in for a full one (``--all-masks``);
  a full one stands in for both.

The record is only ever a reason to *skip* work: a missing, unreadable or malformed record means
"check again", never an error. Only a passed check is recorded; ``mapsage check-data`` always
checks.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from mapsage import safe_write
from mapsage.artefacts import DATA_CHECK_RECORD
from mapsage.data.check import DECODE_SAMPLE, check_layout, max_pixels
from mapsage.data.layout import DataLayout

RECORD = DATA_CHECK_RECORD
VERSION = 3  # bump when the check starts looking for something new (2: keyed by content;
# 3: any described data set, keyed by its description too)
UNCHECKED = "unchecked-"  # prefix of a key no record can hold (random per call)
_KEY = re.compile(r"^[0-9a-f]{64}:(?:(\d+)x(\d+)|none)$")


@dataclass(frozen=True)
class Passed:
    """What a reused check still has to tell: the smallest training image (for the crop check)."""
    fingerprint: str
    files: int
    check_all: bool
    smallest_train_image: tuple[int, int] | None
    fresh: bool = False  # checked by this run (to be recorded), not read from a record


def fingerprint(layout: DataLayout) -> tuple[str, int]:
    """(key of the tree's content and the check's settings, number of files read): runs the
    check's header pass (module docstring). A tree that fails it gets a random key."""
    digest = hashlib.sha256(json.dumps(
        {"version": VERSION, "sample": DECODE_SAMPLE, "max_pixels": max_pixels(),
         "dataset": layout.description.as_dict()}, sort_keys=True).encode())
    scan = check_layout(layout, progress=None, decode=False, digest=digest)
    if scan.problems:
        return UNCHECKED + secrets.token_hex(16), scan.files
    smallest = scan.smallest_train_image
    size = f"{smallest[0]}x{smallest[1]}" if smallest else "none"
    return f"{digest.hexdigest()}:{size}", scan.files


def _smallest_of(key: str) -> tuple[int, int] | None:
    match = _KEY.match(key)
    return (int(match.group(1)), int(match.group(2))) if match and match.group(1) else None


def load(work_dir: str | Path, wanted: str, *, check_all: bool) -> Passed | None:
    """The record in ``work_dir`` if it is for the key ``wanted`` and covers ``check_all``;
    None otherwise (also for a missing or malformed record). The smallest training image comes
    from the key (this run's header pass), never from the file."""
    if not _KEY.match(wanted):
        return None
    path = Path(work_dir) / RECORD
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("fingerprint") != wanted:
        return None
    done_all, files = data.get("check_all"), data.get("files")
    if not isinstance(done_all, bool) or (check_all and not done_all):
        return None
    if not isinstance(files, int) or isinstance(files, bool):
        return None
    return Passed(wanted, files, done_all, _smallest_of(wanted))


def store(work_dir: str | Path, passed: Passed) -> Path:
    """Write the record atomically, never through a link (:mod:`mapsage.safe_write`)."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / RECORD
    safe_write.write_text(path, json.dumps({
        "fingerprint": passed.fingerprint, "files": passed.files, "check_all": passed.check_all,
        "smallest_train_image": list(passed.smallest_train_image)
        if passed.smallest_train_image else None}, indent=1) + "\n")
    return path
