"""Stand-in mmcv wheels whose compiled ops say what a test needs: CPU-only, or CUDA code for
given GPU architectures. A real CUDA build of mmcv cannot be made for every case here (no CUDA 12
toolkit exists on this machine; CUDA ops take 18 minutes), so the extension inside is a minimal
but well-formed ELF64 shared object whose ``.nv_fatbin`` section holds real fat-binary headers
(the layout nvcc writes and :mod:`envcheck.fatbin` reads; ``tests/unit/envcheck/
test_envcheck_real.py`` checks that reader against a library nvcc compiled). CPU-only wheels
carry a real extension module of this Python (no device code)."""

from __future__ import annotations

import _ctypes
import struct
import zipfile
from pathlib import Path

from envcheck.fatbin import FATBIN_MAGIC, KIND_CUBIN, KIND_PTX


def _fatbin(cubins: list[int], ptx: list[int]) -> bytes:
    entries = b""
    for kind, arch in [(KIND_CUBIN, a) for a in cubins] + [(KIND_PTX, a) for a in ptx]:
        head = struct.pack("<HHIQ", kind, 0x0101, 64, 0) + b"\0" * 12 + struct.pack("<I", arch)
        entries += head + b"\0" * (64 - len(head))
    return struct.pack("<IHHQ", FATBIN_MAGIC, 1, 16, len(entries)) + entries


def elf_with_device_code(cubins: list[int], ptx: list[int] = ()) -> bytes:
    """An ELF64 shared object with a ``.shstrtab`` and a ``.nv_fatbin`` section."""
    names = b"\0.shstrtab\0.nv_fatbin\0"
    fat = _fatbin(list(cubins), list(ptx))
    body_at = 64
    names_at, fat_at = body_at, body_at + len(names) + (-len(names) % 8)
    shoff = fat_at + len(fat) + (-len(fat) % 8)
    header = (b"\x7fELF" + bytes([2, 1, 1]) + b"\0" * 9
              + struct.pack("<HHIQQQIHHHHHH", 3, 62, 1, 0, 0, shoff, 0, 64, 0, 0, 64, 3, 1))
    blob = bytearray(header.ljust(64, b"\0"))
    blob += names.ljust(fat_at - names_at, b"\0") + fat.ljust(shoff - fat_at, b"\0")
    section = "<IIQQQQIIQQ"
    blob += struct.pack(section, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    blob += struct.pack(section, 1, 3, 0, 0, names_at, len(names), 0, 0, 1, 0)
    blob += struct.pack(section, 11, 1, 2, 0, fat_at, len(fat), 0, 0, 8, 0)
    return bytes(blob)


def mmcv_wheel(folder: Path, python_tag: str = "cp311", cubins: list[int] = (),
               ptx: list[int] = (), with_ops: bool = True) -> Path:
    """``folder/mmcv-2.1.0-<tag>-<tag>-linux_x86_64.whl`` with ``mmcv/_ext*.so``: CUDA code for
    ``cubins`` (75 = sm_75) and ``ptx``, or (neither given) a CPU-only extension."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"mmcv-2.1.0-{python_tag}-{python_tag}-linux_x86_64.whl"
    ext = (elf_with_device_code(cubins, ptx) if cubins or ptx
           else Path(_ctypes.__file__).read_bytes())
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("mmcv/__init__.py", "__version__ = '2.1.0'\n")
        if with_ops:
            archive.writestr(f"mmcv/_ext.{python_tag}-x86_64-linux-gnu.so", ext)
    return wheel
