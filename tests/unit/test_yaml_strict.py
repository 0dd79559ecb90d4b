"""A YAML file MapSage reads (a parameter file) never gives a key twice: the last one would win
without a word."""

from __future__ import annotations

import pytest
import yaml

from mapsage.errors import MapSageError
from mapsage.yaml_strict import DuplicateKey, safe_load_strict


def test_a_repeated_parameter_is_refused_naming_the_key_and_both_lines():
    text = "max_iters: 200\nlr: 0.001\nmax_iters: 20\n"
    assert yaml.safe_load(text)["max_iters"] == 20, "what PyYAML does: the last one wins"
    with pytest.raises(DuplicateKey) as err:
        safe_load_strict(text, "Parameter file 'p.yaml'")
    assert isinstance(err.value, MapSageError)
    assert str(err.value).startswith(
        "Parameter file 'p.yaml' gives 'max_iters' twice, at line 1 and again at line 3")


def test_a_repeated_key_in_a_nested_mapping_is_refused():
    with pytest.raises(DuplicateKey, match="gives 'x' twice, at line 3 and again at line 4"):
        safe_load_strict("model: b0\noptions:\n  x: 1\n  x: 2\n")


def test_equal_keys_spelt_differently_are_the_same_key():
    with pytest.raises(DuplicateKey, match="at line 1 and again at line 2"):
        safe_load_strict("1: a\n1.0: b\n")


def test_everything_else_loads_as_safe_load_does():
    text = ("max_iters: 200\nlr: 1.0e-3\namp: yes\nresume: null\ncrop_size: [64, 64]\n"
            "base: &b {x: 1}\nmerged:\n  <<: *b\n  x: 2\n")  # a merge key may be overridden
    assert safe_load_strict(text) == yaml.safe_load(text)
    assert safe_load_strict("") is None
    with pytest.raises(yaml.YAMLError):
        safe_load_strict("max_iters: [1, 2\n")
    with pytest.raises(yaml.constructor.ConstructorError):
        safe_load_strict("!!python/object/apply:os.system ['true']\n")
