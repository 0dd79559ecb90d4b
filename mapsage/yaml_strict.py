"""YAML for files MapSage does not trust: PyYAML's safe loader, refusing a key given twice.

``yaml.safe_load`` keeps the last of two equal keys in a mapping without a word, so a parameter
file holding ``max_iters: 200`` and, further down, ``max_iters: 20`` trains 20 iterations. Here
a mapping that repeats a key is refused with a :class:`~mapsage.errors.MapSageError` naming
the key and both lines. Everything else is ``yaml.safe_load``'s: the same types, the same
``yaml.YAMLError`` for text that is not YAML (the caller names the file and the line).
"""

from __future__ import annotations

from typing import Any

import yaml

from mapsage.errors import MapSageError

MERGE_TAG = "tag:yaml.org,2002:merge"


class DuplicateKey(MapSageError):
    """A YAML mapping gives the same key twice."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader whose mappings refuse a repeated key."""

    source = "the YAML text"

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == MERGE_TAG:
                    continue  # keys merged in with << may be overridden: that is YAML's design
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: SafeLoader itself refuses it below
                    continue
                line = key_node.start_mark.line + 1
                if first is not None:
                    raise DuplicateKey(
                        f"{self.source} gives {key!r} twice, at line {first} and again at line "
                        f"{line}; YAML would silently keep only the last one. Keep one "
                        f"'{key}: value' line and delete the other."
                    )
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def safe_load_strict(text: str, source: str = "the YAML text") -> Any:
    """``yaml.safe_load(text)``, but a mapping that repeats a key raises :class:`DuplicateKey`
    naming ``source`` (e.g. "Parameter file 'p.yaml'"), the key and its lines."""
    loader = _StrictLoader(text)
    loader.source = source
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
