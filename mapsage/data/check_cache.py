"""Remember a passed data check in ``work_dir`` so a resumed or continued run does not repeat it.

The record holds a fingerprint of the tree: a SHA-256 over every image and mask file's path
relative to the data root, size and modification time (nanoseconds), and over the check's own
settings (its version, the decode sample, PIL's pixel limit). Any change to a file (touching one
mask is enough), a file added or removed, or other settings give another fingerprint, and the
check runs again. A record written by a sample check does not stand in for a full one
(``--all-masks``); a full one stands in for both.

The record is only ever a reason to *skip* work: a missing, unreadable or malformed record means
"check again", never an error. Only a passed check is recorded; ``mapsage check-data`` always
checks.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from mapsage.data.check import DECODE_SAMPLE, list_pngs, max_pixels
from mapsage.data.layout import LoveDALayout

RECORD = ".data_check.json"
VERSION = 1  # bump when the check starts looking for something new


@dataclass(frozen=True)
class Passed:
    """What a reused check still has to tell: the smallest training image (for the crop check)."""
    fingerprint: str
    files: int
    check_all: bool
    smallest_train_image: tuple[int, int] | None
    fresh: bool = False  # checked by this run (to be recorded), not read from a record


def fingerprint(layout: LoveDALayout) -> tuple[str, int]:
    """(SHA-256 hex of the tree and the check's settings, number of files) from one stat each."""
    digest = hashlib.sha256(json.dumps(
        {"version": VERSION, "sample": DECODE_SAMPLE, "max_pixels": max_pixels()}).encode())
    files = 0
    for domain in layout.domains:
        for folder in (domain.images, domain.masks):
            relative = os.fsencode(str(folder.relative_to(layout.root)))
            for name, stat in sorted(list_pngs(folder).items()):
                digest.update(b"%s/%s\0%d\0%d\n" % (relative, os.fsencode(name), stat.st_size,
                                                     stat.st_mtime_ns))
                files += 1
    return digest.hexdigest(), files


def load(work_dir: str | Path, wanted: str, *, check_all: bool) -> Passed | None:
    """The record in ``work_dir`` if it is for the fingerprint ``wanted`` and covers
    ``check_all``; None otherwise (also for a missing or malformed record)."""
    path = Path(work_dir) / RECORD
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("fingerprint") != wanted:
        return None
    done_all, files, smallest = data.get("check_all"), data.get("files"), data.get(
        "smallest_train_image")
    if not isinstance(done_all, bool) or (check_all and not done_all):
        return None
    if not isinstance(files, int) or isinstance(files, bool):
        return None
    if smallest is not None:
        if not (isinstance(smallest, list) and len(smallest) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                        for v in smallest)):
            return None
        smallest = (smallest[0], smallest[1])
    return Passed(wanted, files, done_all, smallest)


def store(work_dir: str | Path, passed: Passed) -> Path:
    """Write the record atomically (a temporary file renamed over it)."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / RECORD
    tmp = path.with_name(f"{RECORD}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({
        "fingerprint": passed.fingerprint, "files": passed.files, "check_all": passed.check_all,
        "smallest_train_image": list(passed.smallest_train_image)
        if passed.smallest_train_image else None}, indent=1) + "\n")
    tmp.replace(path)
    return path
