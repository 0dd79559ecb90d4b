"""Which GPU architectures a compiled CUDA extension (``mmcv/_ext*.so``) carries code for.

nvcc embeds device code in the ELF section ``.nv_fatbin``: a sequence of fat binaries, each a
16-byte header (magic 0xBA55ED50, version, header size, payload size) followed by entries, one per
architecture: kind (1 = PTX, 2 = cubin), entry header size, payload size and, at byte 28, the
architecture number (75 for sm_75). Only headers are read (a seek per entry), never the code, so
a 200 MB extension is scanned in milliseconds. Standard library only.
"""

from __future__ import annotations

import struct
from pathlib import Path

FATBIN_MAGIC = 0xBA55ED50
KIND_PTX, KIND_CUBIN = 1, 2
_MAX_ENTRIES = 100_000


class NotAnElf(ValueError):
    pass


def _sections(fh) -> dict[str, tuple[int, int]]:
    """name -> (file offset, size) of every section of a little-endian ELF64 file."""
    ident = fh.read(64)
    if len(ident) < 64 or ident[:4] != b"\x7fELF":
        raise NotAnElf("not an ELF file")
    if ident[4] != 2 or ident[5] != 1:
        raise NotAnElf("not a little-endian 64-bit ELF file")
    shoff = struct.unpack_from("<Q", ident, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", ident, 0x3A)
    if not shoff or shentsize < 64:
        return {}
    fh.seek(shoff)
    table = fh.read(shentsize * shnum)
    headers = []
    for i in range(shnum):
        name, _type, _flags, _addr, offset, size = struct.unpack_from("<IIQQQQ", table,
                                                                      i * shentsize)
        headers.append((name, offset, size))
    _, str_off, str_size = headers[shstrndx]
    fh.seek(str_off)
    strtab = fh.read(str_size)
    out = {}
    for name, offset, size in headers:
        end = strtab.find(b"\0", name)
        out[strtab[name:end].decode("ascii", "replace")] = (offset, size)
    return out


def cuda_archs(path: str | Path) -> list[str]:
    """Sorted ``sm_XX`` (cubin) and ``compute_XX`` (PTX) names in ``path``'s fat binaries.

    An empty list means the file has no device code (a CPU-only build). Raises ``NotAnElf`` /
    ``OSError`` when the file cannot be read as an ELF shared object.
    """
    found: set[tuple[int, int]] = set()
    with open(path, "rb") as fh:
        section = _sections(fh).get(".nv_fatbin")
        if section is None:
            return []
        base, size = section
        pos = 0
        entries = 0
        while pos + 16 <= size and entries < _MAX_ENTRIES:
            fh.seek(base + pos)
            magic, _version, header_size, fat_size = struct.unpack("<IHHQ", fh.read(16))
            if magic != FATBIN_MAGIC:
                pos += 8  # fat binaries are 8-byte aligned; skip padding
                continue
            entry = pos + header_size
            end = min(entry + fat_size, size)
            while entry + 32 <= end and entries < _MAX_ENTRIES:
                fh.seek(base + entry)
                head = fh.read(32)
                kind, _ver, entry_header, payload = struct.unpack_from("<HHIQ", head, 0)
                arch = struct.unpack_from("<I", head, 28)[0]
                if entry_header < 32:
                    break  # not an entry header: stop walking this fat binary
                if kind in (KIND_PTX, KIND_CUBIN) and arch:
                    found.add((kind, arch))
                entries += 1
                entry += entry_header + payload
            pos = max(end, pos + 16)
            pos += -pos % 8
    names = {f"{'sm' if kind == KIND_CUBIN else 'compute'}_{arch}" for kind, arch in found}
    return sorted(names, key=lambda n: (int(n.split("_")[1]), n))
