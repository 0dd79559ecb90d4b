"""The C++ standard mmcv's ops must be compiled with for the installed torch, and the patch of
mmcv 2.1.0's ``setup.py`` that applies it. Standard library only.

torch states what it needs in its own headers: ``torch/include/ATen/ATen.h`` opens with

    #if !defined(_MSC_VER) && __cplusplus < 201703L      (torch <= 2.13: C++17)
    #error C++17 or later compatible compiler is required to use ATen.

and torch 2.14 raised it to ``202002L`` (C++20). That line is the fact used here: it is read from
the torch that will compile the ops, so it holds for any build (CPU, CUDA, a nightly) without a
version table. Only when the header cannot be read (a torch without its include folder) does the
version decide, with 2.14 as the first release needing C++20.

mmcv 2.1.0's ``setup.py`` hard-codes ``-std=c++17`` for g++ and for nvcc (torch > 1.12), so on
torch >= 2.14 its source build stops at the ``#error`` above. :func:`patch_setup_py` raises both
flags; it refuses a ``setup.py`` that does not hold exactly the lines it expects rather than
building with a flag it did not set.
"""

from __future__ import annotations

import re

from mapsage.errors import MapSageError, PatchError

DEFAULT_STANDARD = "c++17"
"""What mmcv 2.1.0's setup.py passes for torch > 1.12 (unpatched)."""
FIRST_TORCH_NEEDING_CXX20 = (2, 14)
"""Fallback only, when ATen.h cannot be read: torch 2.14's ATen.h requires __cplusplus >= 202002L."""
ATEN_HEADER = "include/ATen/ATen.h"
"""Relative to the torch package folder."""

_CPLUSPLUS = {201402: "c++14", 201703: "c++17", 202002: "c++20", 202302: "c++23"}
_REQUIREMENT = re.compile(r"__cplusplus\s*<\s*(\d{6})L")
_VERSION = re.compile(r"^(\d+)\.(\d+)")

# The two non-Windows lines of mmcv 2.1.0's setup.py that choose the standard (torch > 1.12).
SETUP_PY_LINES = (
    "extra_compile_args['cxx'] = ['-std=c++17']",
    "extra_compile_args['nvcc'] += ['-std=c++17']",
)


def standard_from_header(text: str) -> str | None:
    """The standard an ``ATen.h`` demands (``"c++20"``), or None when it states no requirement."""
    values = [int(v) for v in _REQUIREMENT.findall(text)]
    if not values:
        return None
    value = max(values)
    known = [v for v in _CPLUSPLUS if v <= value]
    return _CPLUSPLUS[max(known)] if known else DEFAULT_STANDARD


def standard_from_version(torch_version: str) -> str:
    """Fallback when the header is unavailable: c++20 from torch 2.14 on, else c++17."""
    match = _VERSION.match(torch_version)
    if not match:
        raise MapSageError(f"torch version {torch_version!r} is not of the form MAJOR.MINOR...")
    version = (int(match.group(1)), int(match.group(2)))
    return "c++20" if version >= FIRST_TORCH_NEEDING_CXX20 else DEFAULT_STANDARD


def required_standard(torch_version: str, aten_header: str | None) -> tuple[str, str]:
    """(standard, how it was decided) for mmcv's ops against this torch.

    ``aten_header`` is the text of the installed torch's ``include/ATen/ATen.h`` (None when it
    could not be read).
    """
    if aten_header is not None:
        found = standard_from_header(aten_header)
        if found is not None:
            return found, f"torch {torch_version}'s ATen.h requires {found}"
    standard = standard_from_version(torch_version)
    return standard, (f"torch {torch_version}'s ATen.h was not readable; torch >= "
                      f"{'.'.join(map(str, FIRST_TORCH_NEEDING_CXX20))} needs c++20, so {standard}")


def needs_patch(standard: str) -> bool:
    """True when mmcv's own flag (c++17) is not the standard torch needs."""
    return standard != DEFAULT_STANDARD


def patch_setup_py(text: str, standard: str) -> tuple[str, list[str]]:
    """mmcv 2.1.0's setup.py with ``-std=c++17`` raised to ``standard`` for g++ and nvcc.

    Returns the patched text and one line per change. Raises :class:`PatchError` when either of
    :data:`SETUP_PY_LINES` is not present exactly once.
    """
    if not re.fullmatch(r"c\+\+\d\d", standard):
        raise PatchError(f"C++ standard {standard!r} is not of the form 'c++20'")
    changes = []
    for line in SETUP_PY_LINES:
        count = text.count(line)
        if count != 1:
            raise PatchError(
                f"mmcv's setup.py holds {count} copies of the line {line!r} (expected exactly "
                "one): this is not the mmcv 2.1.0 setup.py the C++ standard patch was written "
                "for, so it is not patched. Check the mmcv version being built."
            )
        new = line.replace("-std=c++17", f"-std={standard}")
        text = text.replace(line, new)
        changes.append(f"setup.py: {line} -> {new}")
    return text, changes
