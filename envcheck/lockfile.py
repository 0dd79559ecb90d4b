"""MapSage's one reader of ``requirements-lock.txt`` (standard library only).

The lock is the output of ``uv pip compile --universal --generate-hashes --emit-index-annotation``
(``make lock``): one resolution for every supported Python and platform, so a package may appear
several times with different environment markers::

    numpy==2.2.6 ; python_full_version < '3.11' \\
        --hash=sha256:... \\
        --hash=sha256:...
        # via
        #   -r requirements.in
        #   mmengine
        # from https://pypi.org/simple

This module parses that (and pip-compile's older format), evaluates the markers for an
interpreter, follows the ``# via`` graph, and checks that a lock is installable from PyPI alone:
``envcheck`` (pins to compare with what is installed), ``noxfile.py`` (what to install) and
``tests/unit/test_lock.py`` all use it. ``read_pins(path)`` is the simple entry point.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from envcheck.version import SpecifierSet, try_parse

PYPI = "https://pypi.org/simple"
DIGEST_KEY = "inputs-sha256"


def canonical(name: str) -> str:
    """PEP 503 name: ``MMCV_Lite`` -> ``mmcv-lite``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Entry:
    """One pinned requirement of the lock (a name can have several, one per marker)."""

    name: str  # canonical
    version: str
    marker: str | None = None
    extras: tuple[str, ...] = ()
    hashes: list[str] = field(default_factory=list)  # "sha256:..."
    via: list[str] = field(default_factory=list)  # package names, "-r requirements.in", ...
    index: str | None = None  # "# from URL": where the resolver found it
    line: int = 0  # 1-based line of the requirement
    text: str = ""  # the requirement line and its --hash lines, as in the lock

    @property
    def requirement(self) -> str:
        """``name==version ; marker`` (no hashes)."""
        extras = f"[{','.join(self.extras)}]" if self.extras else ""
        return f"{self.name}{extras}=={self.version}" + (f" ; {self.marker}" if self.marker else "")

    def applies(self, environment: dict[str, str] | None = None) -> bool:
        return self.marker is None or evaluate_marker(self.marker, environment)


@dataclass
class Lock:
    entries: list[Entry]
    header: dict[str, str] = field(default_factory=dict)  # "# key: value" lines before the pins
    options: list[str] = field(default_factory=list)  # --index-url, --find-links, ... lines
    path: str | None = None

    def pins(self, environment: dict[str, str] | None = None) -> dict[str, str]:
        """canonical name -> version, for the entries whose markers hold in ``environment``."""
        pins: dict[str, str] = {}
        for entry in self.entries:
            if entry.name not in pins and entry.applies(environment):
                pins[entry.name] = entry.version
        return pins

    def by_name(self, name: str) -> list[Entry]:
        return [e for e in self.entries if e.name == canonical(name)]

    def pin(self, name: str, environment: dict[str, str] | None = None) -> str:
        """``name==version`` for ``environment``; KeyError when the lock has none."""
        version = self.pins(environment).get(canonical(name))
        if version is None:
            raise KeyError(f"{name} is not pinned in {self.path or 'the lock'} for this Python "
                           "and platform")
        return f"{canonical(name)}=={version}"


# --- parsing ----------------------------------------------------------------------------------

_REQ = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[(?P<extras>[^\]]*)\])?\s*"
                  r"==\s*(?P<version>[^\s;#\\]+)\s*(?:;\s*(?P<marker>[^#\\]+?))?\s*(?:\\)?\s*$")
_HASH = re.compile(r"--hash[=\s]+(\S+)")
_HEADER_FIELD = re.compile(r"^#\s*([A-Za-z][A-Za-z0-9 _-]*):\s*(.*)$")


def parse(text: str, path: str | None = None) -> Lock:
    """Parse a pip-compile or uv requirements lock. Lines it does not understand are ignored."""
    entries: list[Entry] = []
    header: dict[str, str] = {}
    options: list[str] = []
    current: Entry | None = None
    in_via = False
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        raw = lines[i]
        lineno = i + 1
        i += 1
        stripped = raw.strip()
        if not stripped:
            in_via = False
            continue
        if stripped.startswith("#"):
            body = stripped[1:].strip()
            if current is None:
                m = _HEADER_FIELD.match(stripped)
                if m:
                    header[m.group(1).strip().lower()] = m.group(2).strip()
                continue
            if body.startswith("via"):
                rest = body[3:].strip()
                in_via = not rest
                if rest:
                    current.via.extend(v.strip() for v in rest.split(",") if v.strip())
            elif body.startswith("from "):
                current.index = body[5:].strip()
                in_via = False
            elif in_via and raw.lstrip().startswith("#   "):
                current.via.append(body)
            else:
                in_via = False
            continue
        in_via = False
        if stripped.startswith("-"):
            if stripped.startswith("--hash") and current is not None:
                current.hashes += _HASH.findall(stripped)
                current.text += "\n" + raw.rstrip()
            else:
                options.append(stripped)
                current = None
            continue
        # a requirement, possibly continued with backslashes onto --hash lines
        logical = [raw.rstrip()]
        while logical[-1].endswith("\\") and i < len(lines):
            logical.append(lines[i].rstrip())
            i += 1
        first = logical[0].strip()
        m = _REQ.match(first)
        if not m:
            current = None
            continue
        extras = tuple(canonical(x) for x in (m.group("extras") or "").split(",") if x.strip())
        marker = (m.group("marker") or "").strip() or None
        current = Entry(canonical(m.group("name")), m.group("version"), marker, extras,
                        _HASH.findall(" ".join(logical[1:])), line=lineno,
                        text="\n".join(logical))
        entries.append(current)
    return Lock(entries, header, options, path)


def read(path: str | Path) -> Lock:
    path = Path(path)
    return parse(path.read_text(encoding="utf-8"), str(path))


def read_pins(path: str | Path, environment: dict[str, str] | None = None) -> dict[str, str]:
    """canonical name -> pinned version of the lock at ``path``, for this interpreter and platform
    (or ``environment``): where the lock pins a name per Python or platform, the one that
    applies."""
    return read(path).pins(environment)


# --- environment markers (PEP 508), enough for what resolvers emit ------------------------------

def default_environment() -> dict[str, str]:
    """The marker variables of the running interpreter."""
    impl = sys.implementation
    iver = f"{impl.version.major}.{impl.version.minor}.{impl.version.micro}"
    if impl.version.releaselevel != "final":
        iver += impl.version.releaselevel[0] + str(impl.version.serial)
    return {
        "implementation_name": impl.name,
        "implementation_version": iver,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_python_implementation": platform.python_implementation(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def target_environment(python: str, system: str, machine: str) -> dict[str, str]:
    """Marker variables of another target, e.g. ``("3.12", "Darwin", "arm64")``."""
    sys_platform = {"Linux": "linux", "Darwin": "darwin", "Windows": "win32"}[system]
    full = python if python.count(".") >= 2 else python + ".0"
    return {
        "implementation_name": "cpython", "implementation_version": full,
        "os_name": "nt" if system == "Windows" else "posix", "platform_machine": machine,
        "platform_python_implementation": "CPython", "platform_release": "",
        "platform_system": system, "platform_version": "", "python_full_version": full,
        "python_version": ".".join(full.split(".")[:2]), "sys_platform": sys_platform,
    }


_TOKEN = re.compile(r"\s*(?:(?P<str>'[^']*'|\"[^\"]*\")|(?P<op>===|==|!=|<=|>=|~=|<|>|\(|\))"
                    r"|(?P<word>not in|in|and|or|[A-Za-z_][A-Za-z0-9_.]*))")
_VERSION_VARS = {"python_version", "python_full_version", "implementation_version"}


def _tokens(marker: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    marker = re.sub(r"\bnot\s+in\b", "not in", marker)
    while pos < len(marker):
        if marker[pos:].strip() == "":
            break
        m = _TOKEN.match(marker, pos)
        if not m:
            raise ValueError(f"cannot parse marker {marker!r} at {marker[pos:]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def evaluate_marker(marker: str, environment: dict[str, str] | None = None) -> bool:
    """PEP 508 marker: ``python_full_version >= '3.11' and sys_platform == 'linux'``.
    ``extra`` is never set (a lock's markers do not use it; Requires-Dist extras do not apply)."""
    env = default_environment() if environment is None else environment
    tokens = _tokens(marker)
    pos = 0

    def peek() -> tuple[str, str] | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal pos
        if pos >= len(tokens):
            raise ValueError(f"marker ends early: {marker!r}")
        pos += 1
        return tokens[pos - 1]

    def value(tok: tuple[str, str]) -> tuple[str, str | None]:
        kind, text = tok
        if kind == "str":
            return text[1:-1], None
        if kind == "word":
            if text == "extra":
                return "\0no-extra", text
            return env.get(text, ""), text
        raise ValueError(f"unexpected {text!r} in marker {marker!r}")

    def compare() -> bool:
        if peek() == ("op", "("):
            take()
            result = disjunction()
            if take() != ("op", ")"):
                raise ValueError(f"unbalanced parentheses in {marker!r}")
            return result
        left, lvar = value(take())
        op = take()[1]
        right, rvar = value(take())
        if op in ("in", "not in"):
            hit = left in right
            return hit if op == "in" else not hit
        var = lvar or rvar
        if var in _VERSION_VARS:
            # python_version < '3.11', or the other way round: '3.11' > python_version
            version, vop, spec = (left, op, right) if lvar else (right, _flip(op), left)
            if try_parse(version) is not None:
                return SpecifierSet.parse(f"{vop}{spec}").contains(version)
        return {"==": left == right, "!=": left != right, "<": left < right, "<=": left <= right,
                ">": left > right, ">=": left >= right, "===": left == right,
                "~=": left == right}[op]

    def conjunction() -> bool:
        result = compare()
        while peek() == ("word", "and"):
            take()
            result = compare() and result
        return result

    def disjunction() -> bool:
        result = conjunction()
        while peek() == ("word", "or"):
            take()
            result = conjunction() or result
        return result

    result = disjunction()
    if pos != len(tokens):
        raise ValueError(f"cannot parse marker {marker!r}")
    return result


def _flip(op: str) -> str:
    return {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, op)


# --- the via graph: what a separately installed package (torch) brings -------------------------

def _is_root(via: str) -> bool:
    return via.startswith(("-r ", "-c ")) or via.endswith(")")  # "mapsage (pyproject.toml)"


def _requires_names(requires: list[str], environment: dict[str, str] | None) -> set[str]:
    """Names of Requires-Dist lines whose markers hold (extras never do)."""
    names = set()
    for req in requires:
        m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
        if not m:
            continue
        marker = req.split(";", 1)[1] if ";" in req else None
        try:
            if marker is None or evaluate_marker(marker, environment):
                names.add(canonical(m.group(1)))
        except ValueError:
            names.add(canonical(m.group(1)))
    return names


def install_entries(lock: Lock, environment: dict[str, str] | None = None,
                    separately: dict[str, list[str]] | None = None) -> list[Entry]:
    """The entries to install in ``environment`` when the packages in ``separately`` (canonical
    name -> the Requires-Dist of the build that is installed) are installed on their own.

    The lock holds everything a PyPI install needs, including the CUDA runtime packages PyPI's
    Linux torch pulls in. A torch installed separately (a CPU build, say) decides for itself:
    the packages the lock has only because of torch are installed when that torch requires them,
    and left out when it does not. Everything else applies as the markers say.
    """
    separately = {canonical(k): v for k, v in (separately or {}).items()}
    children: dict[str, set[str]] = {}
    roots: set[str] = set()
    for entry in lock.entries:
        for via in entry.via:
            if _is_root(via):
                roots.add(entry.name)
            else:
                children.setdefault(canonical(via), set()).add(entry.name)

    def closure(start: set[str], skip: set[str]) -> set[str]:
        seen, todo = set(), [n for n in start if n not in skip]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            todo += [c for c in children.get(name, ()) if c not in skip and c not in seen]
        return seen

    if not any(e.via for e in lock.entries):  # no annotations: no graph to follow
        wanted = {e.name for e in lock.entries} - set(separately)
    else:
        wanted = closure(roots, set(separately))
        for reqs in separately.values():
            wanted |= closure(_requires_names(reqs, environment), set(separately))
        # entries the graph does not reach (hand-edited lock): keep them
        wanted |= {e.name for e in lock.entries if not e.via} - set(separately)
    return [e for e in lock.entries if e.name in wanted and e.applies(environment)]


SEPARATE = ("torch",)
"""Installed on their own, before the lock: the machine picks the build (CPU, CUDA, an index)."""


def installed_separately() -> dict[str, list[str]]:
    """The Requires-Dist of each :data:`SEPARATE` package installed in this interpreter."""
    import importlib.metadata

    found = {}
    for name in SEPARATE:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[name] = importlib.metadata.requires(name) or []
    return found


def selection(lock: Lock, lock_name: str = "requirements-lock.txt") -> str:
    """``python -m envcheck --lock-selection``: a requirements file of the lock's entries for
    this interpreter (:func:`install_entries` with what :func:`installed_separately` finds),
    hashes included: what ``pip install --require-hashes -r`` needs to bring an environment to
    the lock without touching the torch build it has, or pulling a CUDA runtime a CPU torch does
    not use."""
    separately = installed_separately()
    entries = install_entries(lock, default_environment(), separately)
    kept = ", ".join(f"{name} (installed)" for name in separately) or "nothing installed apart"
    return (f"# {lock_name}: the entries for this Python and platform; kept: {kept}\n"
            + "".join(e.text + "\n" for e in entries))


def expected_pins(lock: Lock, environment: dict[str, str] | None = None,
                  separately: dict[str, list[str]] | None = None) -> dict[str, str]:
    """The pins an environment installed from the lock should show: :func:`install_entries` plus
    the separately installed packages' own pins."""
    pins = {e.name: e.version for e in install_entries(lock, environment, separately)}
    for name in separately or {}:
        version = lock.pins(environment).get(canonical(name))
        if version is not None:
            pins[canonical(name)] = version
    return dict(sorted(pins.items()))


# --- inputs and checks --------------------------------------------------------------------------

def requirements_in(path: str | Path) -> list[tuple[str, str]]:
    """``(canonical name, specifier)`` of each requirement line of a requirements.in."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        m = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*([^;]*)", line)
        if m:
            out.append((canonical(m.group(1)), m.group(2).replace(" ", "")))
    return out


def _load_toml(path: Path) -> dict:
    try:
        import tomllib  # Python >= 3.11
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # the lock pins tomli for Python < 3.11
    return tomllib.loads(path.read_text(encoding="utf-8"))


def input_digest(root: str | Path) -> str:
    """sha256 of what the resolution depends on: requirements.in's requirement lines (comments
    and blank lines do not count) and pyproject.toml's requires-python, dependencies and
    optional-dependencies (the rest of pyproject.toml does not count)."""
    root = Path(root)
    reqs = sorted(f"{n}{s}" for n, s in requirements_in(root / "requirements.in"))
    project = _load_toml(root / "pyproject.toml").get("project", {})
    data = {"requirements.in": reqs,
            "pyproject.toml": {k: project.get(k) for k in
                               ("requires-python", "dependencies", "optional-dependencies")}}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


# What the lock must hold for, checked offline by check_lock (docs/setup.md says why these).
PYTHONS = ("3.10", "3.11", "3.12", "3.13")
PLATFORMS = (("Linux", "x86_64"), ("Linux", "aarch64"), ("Darwin", "arm64"))


def check_lock(lock: Lock, root: str | Path, index: str = PYPI,
               requirements: str = "requirements.in", digest: bool = True) -> list[str]:
    """Everything that makes ``lock`` not installable from ``index`` alone, or out of date with
    ``root``'s ``requirements`` (and, with ``digest``, pyproject.toml): empty when it is fine. No
    network: the lock itself records what the resolver saw (a ``# from`` index annotation and
    the sha256 of the index's files for every pin)."""
    problems = []
    for opt in lock.options:
        problems.append(f"option line {opt!r}: the lock must not name indexes or wheel folders")
    for e in lock.entries:
        where = f"{e.name}=={e.version} (line {e.line})"
        v = try_parse(e.version)
        if v is None:
            problems.append(f"{where}: not a PEP 440 version")
        elif v.local:
            label = "+" + e.version.split("+", 1)[1]
            problems.append(f"{where}: local version label '{label}' (a build PyPI does not "
                            "serve; pin the public version)")
        if not e.hashes:
            problems.append(f"{where}: no --hash (every pin needs the sha256 of its PyPI files)")
        if e.index is None:
            problems.append(f"{where}: no '# from' annotation (regenerate with make lock)")
        elif e.index.rstrip("/") != index.rstrip("/"):
            problems.append(f"{where}: resolved from {e.index}, not {index}")
        if e.marker:
            try:
                evaluate_marker(e.marker, target_environment("3.11", "Linux", "x86_64"))
            except (ValueError, KeyError) as exc:
                problems.append(f"{where}: marker: {exc}")
    root = Path(root)
    wanted = requirements_in(root / requirements)
    for py in PYTHONS:
        for system, machine in PLATFORMS:
            env = target_environment(py, system, machine)
            applicable: dict[str, list[Entry]] = {}
            for e in lock.entries:
                if e.applies(env):
                    applicable.setdefault(e.name, []).append(e)
            for name, entries in applicable.items():
                if len(entries) > 1:
                    problems.append(f"{name}: {len(entries)} pins apply on Python {py} "
                                    f"{system} {machine}")
            for name, spec in wanted:
                if name not in applicable:
                    problems.append(f"{name} ({requirements}) is not pinned for Python {py} "
                                    f"{system} {machine}")
                elif spec and not SpecifierSet.parse(spec).contains(applicable[name][0].version):
                    problems.append(f"{name}=={applicable[name][0].version} does not satisfy "
                                    f"{requirements}'s {name}{spec}")
    recorded = lock.header.get(DIGEST_KEY)
    if not digest:
        pass
    elif recorded is None:
        problems.append(f"no '# {DIGEST_KEY}:' line in the header (regenerate with make lock)")
    elif recorded.split()[0] != input_digest(root):
        problems.append("requirements.in or pyproject.toml's dependencies changed since the lock "
                        "was made (the input digest differs): run make lock")
    return problems


def main(argv: list[str] | None = None) -> int:
    """``python -m envcheck.lockfile check [ROOT]``: check_lock on ROOT's requirements-lock.txt.
    ``python -m envcheck.lockfile requires NAME...``: this interpreter's marker environment and
    the Requires-Dist of each installed NAME, as JSON (noxfile.py asks a session venv this)."""
    import importlib.metadata

    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["requires"]:
        requires = {}
        for name in args[1:]:
            with contextlib.suppress(importlib.metadata.PackageNotFoundError):
                requires[canonical(name)] = importlib.metadata.requires(name) or []
        print(json.dumps({"environment": default_environment(), "requires": requires}))
        return 0
    if args[:1] == ["check"] and len(args) <= 2:
        root = Path(args[1] if len(args) == 2 else ".")
        problems = check_lock(read(root / "requirements-lock.txt"), root)
        for problem in problems:
            print(problem)
        print(f"{root / 'requirements-lock.txt'}: "
              + (f"{len(problems)} problem(s)" if problems else "installable from PyPI alone, "
                 "up to date with requirements.in and pyproject.toml"))
        return 1 if problems else 0
    print("usage: python -m envcheck.lockfile check [ROOT] | requires NAME...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
