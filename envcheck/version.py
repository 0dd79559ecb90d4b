"""A small PEP 440 version parser and specifier matcher.

Hand-written on purpose: envcheck imports only the standard library, so it can run first in a bare
Kaggle kernel, and ``packaging`` may be missing there (or be the very thing that is broken). It
covers what the compatibility table and lock files use: ``2.0.0rc4``, ``2.13.0+cpu``, ``0.10.7``,
``1.2.2.post1``, ``2.1.0.dev3``, and the operators ``== != >= <= > < ~=`` with ``==X.*``.

One deliberate difference from ``packaging``: ``<V`` is plain ordering, so ``2.2.0rc1 < 2.2.0``
holds. That is how mmseg's own import-time check (``digit_version``) compares mmcv versions, and
the table's rows exist to predict that check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

_VERSION = re.compile(
    r"""^\s*v?
    (?:(?P<epoch>\d+)!)?
    (?P<release>\d+(?:\.\d+)*)
    (?:[-_.]?(?P<pre_l>a|b|c|rc|alpha|beta|pre|preview)[-_.]?(?P<pre_n>\d+)?)?
    (?:-(?P<post_n1>\d+)|[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>\d+)?)?
    (?:[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>\d+)?)?
    (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
    \s*$""",
    re.VERBOSE | re.IGNORECASE,
)
_PRE_ORDER = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}
# sentinels that sort below / above any real component
_LOW, _HIGH = (-1,), (1 << 62,)


class InvalidVersion(ValueError):
    pass


@total_ordering
@dataclass(frozen=True)
class Version:
    epoch: int
    release: tuple[int, ...]
    pre: tuple[int, int] | None
    post: int | None
    dev: int | None
    local: tuple[int | str, ...] | None
    text: str

    @classmethod
    def parse(cls, text: str) -> Version:
        m = _VERSION.match(str(text))
        if not m:
            raise InvalidVersion(f"not a PEP 440 version: {text!r}")
        pre = None
        if m["pre_l"]:
            pre = (_PRE_ORDER[m["pre_l"].lower()], int(m["pre_n"] or 0))
        post = None
        if m["post_n1"] is not None:
            post = int(m["post_n1"])
        elif m["post_l"]:
            post = int(m["post_n2"] or 0)
        dev = int(m["dev_n"] or 0) if m["dev_l"] else None
        local = None
        if m["local"]:
            local = tuple(int(p) if p.isdigit() else p.lower()
                          for p in re.split(r"[-_.]", m["local"]))
        return cls(int(m["epoch"] or 0), tuple(int(p) for p in m["release"].split(".")),
                   pre, post, dev, local, str(text).strip())

    @property
    def public(self) -> Version:
        """The version without its local label (``2.13.0+cpu`` -> ``2.13.0``)."""
        return Version(self.epoch, self.release, self.pre, self.post, self.dev, None,
                       self.text.split("+")[0])

    @property
    def is_prerelease(self) -> bool:
        return self.pre is not None or self.dev is not None

    def series(self, parts: int = 2) -> str:
        """``2.1.2+cu121`` -> ``2.1`` (the first ``parts`` release numbers)."""
        return ".".join(str(p) for p in (self.release + (0,) * parts)[:parts])

    def _key(self) -> tuple:
        release = list(self.release)
        while len(release) > 1 and release[-1] == 0:
            release.pop()
        if self.pre is None and self.post is None and self.dev is not None:
            pre: tuple = _LOW  # 1.0.dev0 sorts before 1.0a0
        elif self.pre is None:
            pre = _HIGH
        else:
            pre = self.pre
        post = _LOW if self.post is None else (self.post,)
        dev = _HIGH if self.dev is None else (self.dev,)
        # numeric local segments sort above alphanumeric ones (PEP 440)
        local = () if self.local is None else tuple(
            (1, p, "") if isinstance(p, int) else (0, 0, p) for p in self.local)
        return (self.epoch, tuple(release), pre, post, dev, local)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() == other._key()

    def __lt__(self, other: Version) -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return self.text


def parse(text: str) -> Version:
    return Version.parse(text)


def try_parse(text: str | None) -> Version | None:
    if text is None:
        return None
    try:
        return Version.parse(text)
    except InvalidVersion:
        return None


_SPEC = re.compile(r"^\s*(~=|===|==|!=|<=|>=|<|>)\s*([^\s,;]+)\s*$")


@dataclass(frozen=True)
class Specifier:
    op: str
    version: str

    @classmethod
    def parse(cls, text: str) -> Specifier:
        m = _SPEC.match(text)
        if not m:
            raise InvalidVersion(f"not a version specifier: {text!r}")
        op, ver = m.groups()
        if not ver.endswith(".*"):
            Version.parse(ver)
        elif op not in ("==", "!="):
            raise InvalidVersion(f"'.*' only goes with == and !=: {text!r}")
        return cls(op, ver)

    def contains(self, version: str | Version) -> bool:
        v = version if isinstance(version, Version) else Version.parse(version)
        if self.op == "===":
            return str(v) == self.version
        if self.version.endswith(".*"):
            prefix = Version.parse(self.version[:-2]).release
            hit = v.release[: len(prefix)] + (0,) * max(0, len(prefix) - len(v.release)) == prefix
            return hit if self.op == "==" else not hit
        target = Version.parse(self.version)
        if self.op in ("==", "!="):
            # ==2.13.0 matches 2.13.0+cpu; ==2.13.0+cpu matches only that local build
            same = (v if target.local is not None else v.public) == target
            return same if self.op == "==" else not same
        if self.op == "~=":
            if len(target.release) < 2:
                raise InvalidVersion(f"~= needs at least two release numbers: {self.version!r}")
            prefix = target.release[:-1]
            return v.public >= target and v.release[: len(prefix)] == prefix
        left = v.public
        return {
            ">=": left >= target,
            "<=": left <= target,
            ">": left > target,
            "<": left < target,
        }[self.op]

    def __str__(self) -> str:
        return f"{self.op}{self.version}"


@dataclass(frozen=True)
class SpecifierSet:
    specifiers: tuple[Specifier, ...]

    @classmethod
    def parse(cls, text: str) -> SpecifierSet:
        parts = [p for p in text.split(",") if p.strip()]
        return cls(tuple(Specifier.parse(p) for p in parts))

    def contains(self, version: str | Version) -> bool:
        return all(s.contains(version) for s in self.specifiers)

    def __str__(self) -> str:
        return ",".join(str(s) for s in self.specifiers)


def satisfies(version: str | None, spec: str) -> bool | None:
    """True/False when ``version`` parses; None when it is missing or not PEP 440."""
    v = try_parse(version)
    if v is None:
        return None
    return SpecifierSet.parse(spec).contains(v)
