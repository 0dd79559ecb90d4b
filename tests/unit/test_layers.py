"""The layers of envcheck and mapsage, lowest first: a module imports only from its own layer
or the ones below it. Every module is parsed with ``ast`` (imports inside functions count); an
import of a higher layer fails the test unless it is one of the known edges listed below."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

LAYERS: tuple[tuple[str, ...], ...] = (
    ("envcheck",),
    ("mapsage", "mapsage.errors", "mapsage.paths", "mapsage.kaggle_platform", "mapsage.params",
     "mapsage.models", "mapsage.safe_write", "mapsage.yaml_strict", "mapsage.artefacts"),
    ("mapsage.data", "mapsage.provision"),
    ("mapsage.training",),
    ("mapsage.results", "mapsage.notebook"),
    ("mapsage.kaggle",),
    ("mapsage.cli", "mapsage.train", "mapsage.__main__", "mapsage.notebooks", "mapsage.configs"),
)
"""Each name stands for itself and everything below it (``mapsage.training`` is the package and
its modules); ``mapsage`` alone is the package's ``__init__``."""

KNOWN_UPWARD: dict[tuple[str, str], str] = {
    # (importer, imported): why it is still here. Remove an entry when its import goes.
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(name: str) -> int | None:
    """The layer of a module of envcheck or mapsage (None for any other package)."""
    best: tuple[int, int] | None = None  # (length of the matching prefix, layer)
    for index, names in enumerate(LAYERS):
        for prefix in names:
            if (name == prefix or name.startswith(prefix + ".")) and \
                    (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    return None if best is None else best[1]


def sources() -> list[Path]:
    files = [*(ROOT / "envcheck").rglob("*.py"), *(ROOT / "mapsage").rglob("*.py")]
    return sorted(f for f in files if "__pycache__" not in f.parts)


def imported_names(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in it; ``from a import b`` counts as ``a.b``
    when ``a/b`` is a module of the project, else as ``a``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path) if path.name == "__init__.py" \
        else module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = ROOT.joinpath(*f"{base}.{alias.name}".split("."))
                is_module = candidate.with_suffix(".py").is_file() or \
                    (candidate / "__init__.py").is_file()
                found.add(f"{base}.{alias.name}" if is_module else base)
    return found


def upward_imports() -> dict[tuple[str, str], str]:
    edges = {}
    for path in sources():
        importer = module_name(path)
        own = layer_of(importer)
        assert own is not None, f"{importer} is in no layer: add it to LAYERS"
        for imported in imported_names(path):
            theirs = layer_of(imported)
            if theirs is not None and theirs > own:
                edges[importer, imported] = f"layer {own} imports layer {theirs}"
    return edges


def test_no_module_imports_a_higher_layer():
    new = {edge: why for edge, why in upward_imports().items() if edge not in KNOWN_UPWARD}
    assert not new, "imports against the layers (lowest first: " + \
        " < ".join("/".join(names) for names in LAYERS) + "):\n" + \
        "\n".join(f"  {a} -> {b} ({why})" for (a, b), why in sorted(new.items()))


def test_every_known_upward_import_still_exists():
    stale = set(KNOWN_UPWARD) - set(upward_imports())
    assert not stale, f"remove these from KNOWN_UPWARD, the imports are gone: {sorted(stale)}"
