"""Unpack mmcv's sdist and raise the C++ standard its setup.py passes to g++ and nvcc.

Used by the source build when the installed torch needs a newer standard than mmcv's hard-coded
``-std=c++17`` (see :mod:`mapsage.provision.cxx_standard`). It runs as its own provisioning step,
so ``--dry-run`` can print it and a failure names it:

    python -m mapsage.provision.sdist SDIST_DIR TREE_DIR --standard c++20

unpacks the single ``mmcv-*.tar.gz`` in SDIST_DIR into TREE_DIR, patches ``setup.py`` there and
writes the changes to ``TREE_DIR/mapsage-patch.json`` (the wheel's manifest records them).
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
from pathlib import Path

from mapsage.errors import MapSageError
from mapsage.provision.cxx_standard import patch_setup_py

PATCH_RECORD = "mapsage-patch.json"


def unpack(sdist_dir: Path, tree_dir: Path) -> Path:
    """Extract the one ``mmcv-*.tar.gz`` in ``sdist_dir``; return the source tree (with setup.py)."""
    archives = sorted(Path(sdist_dir).glob("mmcv-*.tar.gz"))
    if len(archives) != 1:
        raise MapSageError(f"expected one mmcv-*.tar.gz in {sdist_dir}, found "
                           f"{[a.name for a in archives] or 'none'}: the sdist download failed")
    with tarfile.open(archives[0]) as archive:
        archive.extractall(tree_dir, filter="data")  # no absolute paths, links out or devices
    trees = [p.parent for p in Path(tree_dir).glob("*/setup.py")]
    if len(trees) != 1:
        raise MapSageError(f"{archives[0].name} does not unpack to one folder with a setup.py")
    return trees[0]


def patch_tree(tree: Path, standard: str) -> dict:
    """Patch ``tree/setup.py`` to ``standard``; return (and write) the record of what changed."""
    setup_py = tree / "setup.py"
    patched, changes = patch_setup_py(setup_py.read_text(), standard)
    setup_py.write_text(patched)
    record = {"cxx_standard": standard, "setup_py_patch": changes}
    (tree / PATCH_RECORD).write_text(json.dumps(record, indent=2) + "\n")
    return record


def read_record(tree: Path) -> dict | None:
    path = Path(tree) / PATCH_RECORD
    return json.loads(path.read_text()) if path.is_file() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mapsage.provision.sdist",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("sdist_dir", type=Path)
    parser.add_argument("tree_dir", type=Path, help="where the patched source tree goes")
    parser.add_argument("--standard", required=True, help="e.g. c++20")
    args = parser.parse_args(argv)
    try:
        tree = unpack(args.sdist_dir, args.tree_dir)
        record = patch_tree(tree, args.standard)
    except MapSageError as exc:
        print(f"mapsage provision: error: {exc}", file=sys.stderr)
        return 2
    for change in record["setup_py_patch"]:
        print(change)
    print(f"patched source tree: {tree}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
