"""Every readable form of a file's bytes, for the credential scan (:mod:`mapsage.kaggle.secrets`).

A pattern over raw bytes misses a key that is compressed, stored as UTF-16 or escaped inside a
JSON string. :func:`views` returns the raw bytes and what they decode to, recursively:

- gzip, bzip2 and xz streams are decompressed; zip and tar archives give each member;
- UTF-16 and UTF-32 text (by its byte-order mark) is decoded, and other text with NUL bytes
  (UTF-16/32 without a mark) is read with the NUL bytes removed;
- a JSON document gives its strings (keys and values, unescaped), one a line, so that code in a
  notebook cell reads as code.

Containers are opened by their magic bytes, never by their name. What cannot be opened (a
damaged or encrypted archive, more than :data:`MAX_DECODED_BYTES` decompressed, nesting deeper
than :data:`MAX_DEPTH`) is returned as a problem: the scan cannot vouch for it, so it refuses it.
Standard library only.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import tarfile
import zipfile
import zlib

MAX_DECODED_BYTES = 64 * 2**20
"""Decompressed bytes read per scanned file, all containers together (a zip bomb stops here)."""
MAX_DEPTH = 4
"""Containers inside containers opened (a .tar.gz holding a .zip is depth 3)."""
_MAX_FORMS = 16  # decodings in a row (containers and text forms), a bound on JSON inside JSON

_BOMS = ((b"\xff\xfe\x00\x00", "utf-32-le", "UTF-32"), (b"\x00\x00\xfe\xff", "utf-32-be", "UTF-32"),
         (b"\xff\xfe", "utf-16-le", "UTF-16"), (b"\xfe\xff", "utf-16-be", "UTF-16"))


class _Budget:
    """Decompressed bytes still allowed for one file."""

    def __init__(self, limit: int = MAX_DECODED_BYTES):
        self.left = limit

    def take(self, data: bytes) -> bytes:
        if len(data) > self.left:
            raise _Unreadable(f"decompresses to more than {MAX_DECODED_BYTES // 2**20} MiB")
        self.left -= len(data)
        return data


class _Unreadable(Exception):
    """A container the scan recognises but cannot open."""


def _container(data: bytes) -> str | None:
    if data[:2] == b"\x1f\x8b":
        return "gzip"
    if data[:3] == b"BZh" and data[3:4].isdigit():
        return "bzip2"
    if data[:6] == b"\xfd7zXZ\x00":
        return "xz"
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if data[257:262] == b"ustar":
        return "tar"
    return None


def _decompress(kind: str, data: bytes, budget: _Budget) -> list[tuple[str, bytes]]:
    limit = budget.left + 1
    if kind == "gzip":
        return [("inside gzip", budget.take(gzip.GzipFile(fileobj=io.BytesIO(data)).read(limit)))]
    if kind in ("bzip2", "xz"):
        decompressor = bz2.BZ2Decompressor() if kind == "bzip2" else lzma.LZMADecompressor()
        return [(f"inside {kind}", budget.take(decompressor.decompress(data, max_length=limit)))]
    members = []
    if kind == "zip":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                if not info.is_dir():
                    with archive.open(info) as member:
                        members.append((f"zip member {info.filename}",
                                        budget.take(member.read(budget.left + 1))))
        return members
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        for info in archive:
            if info.isfile():
                member = archive.extractfile(info)
                members.append((f"tar member {info.name}", budget.take(member.read(budget.left + 1))))
    return members


def _json_strings(data: bytes) -> bytes | None:
    """The keys and string values of a JSON document, one a line; None if ``data`` is not JSON."""
    if data.lstrip()[:1] not in (b"{", b"["):
        return None
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    strings, stack = [], [document]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            strings.append(item)
        elif isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            for key, value in reversed(item.items()):
                stack.append(value)
                stack.append(key)
    return "\n".join(strings).encode("utf-8", errors="replace")


def _text_forms(data: bytes) -> list[tuple[str, bytes]]:
    for mark, codec, name in _BOMS:
        if data.startswith(mark):
            return [(f"as {name} text", data[len(mark):].decode(codec, errors="replace").encode())]
    if b"\x00" in data:
        return [("with its NUL bytes removed (UTF-16/32 text)", data.replace(b"\x00", b""))]
    strings = _json_strings(data)
    return [("in its JSON strings", strings)] if strings is not None else []


def _expand(where: str, data: bytes, containers: int, forms: int, budget: _Budget,
            out: list[tuple[str, bytes]], problems: list[str]) -> None:
    out.append((where, data))
    kind = _container(data)
    at = f" ({where})" if where else ""
    if kind is None:
        children = _text_forms(data) if forms < _MAX_FORMS else []
        inside = containers
    elif containers >= MAX_DEPTH:
        problems.append(f"{kind} data nested more than {MAX_DEPTH} containers deep{at}")
        return
    else:
        try:
            children = _decompress(kind, data, budget)
        except _Unreadable as exc:
            problems.append(f"{kind} data that {exc}{at}")
            return
        except (OSError, EOFError, ValueError, RuntimeError, NotImplementedError, zlib.error,
                lzma.LZMAError, zipfile.BadZipFile, tarfile.TarError) as exc:
            problems.append(f"{kind} data the scan cannot open ({type(exc).__name__}: {exc}){at}")
            return
        inside = containers + 1
    for label, child in children:
        _expand(f"{where}, {label}" if where else label, child, inside, forms + 1, budget, out,
                problems)


def views(data: bytes) -> tuple[list[tuple[str, bytes]], list[str]]:
    """``([(where, bytes), ...], problems)``: ``data`` itself (where ``""``) and every form it
    decodes to (where says how, e.g. ``"inside gzip, as UTF-16 text"``), and the containers in it
    that could not be opened."""
    out: list[tuple[str, bytes]] = []
    problems: list[str] = []
    _expand("", data, 0, 0, _Budget(), out, problems)
    return out, problems
