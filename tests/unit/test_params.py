import ast

import pytest

from mapsage.errors import ParamError
from mapsage.params import (
    BY_NAME,
    DEFAULTS,
    RECIPE_OWNED,
    parse_assignments,
    typed,
    validate,
)


def test_defaults_validate():
    assert validate({}).as_dict() == DEFAULTS


def test_unknown_parameter_names_the_nearest_valid_one():
    with pytest.raises(ParamError) as err:
        validate({"max_iter": 10})
    text = str(err.value)
    assert "'max_iter'" in text and "did you mean 'max_iters'" in text


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("max_iters", "abc", "is not an integer"),
    ("max_iters", 2.5, "expected an integer"),
    ("max_iters", True, "expected an integer"),
    ("lr", "fast", "is not a number"),
    ("amp", "maybe", "is not a boolean"),
    ("amp", 2, "expected a boolean"),
    ("lr", float("nan"), "not a finite number"),
    ("model", "b9", "is not one of"),
    ("device", "gpu", "is not one of"),
    ("batch_size", 0, "below its minimum"),
    ("lr", 0, "greater than 0"),
    ("data_root", None, "is None"),
])
def test_wrong_type_or_range_is_refused_with_the_value(name, value, expected):
    with pytest.raises(ParamError) as err:
        validate({name: value})
    assert expected in str(err.value)
    assert repr(name) in str(err.value)


def test_int_is_accepted_for_a_float_and_none_for_optional():
    params = validate({"lr": 1, "load_from": None})
    assert params.lr == 1.0 and isinstance(params.lr, float)
    assert params.load_from is None


def test_val_interval_above_max_iters_is_refused():
    with pytest.raises(ParamError, match="val_interval"):
        validate({"max_iters": 10, "val_interval": 20})


def test_assignments_round_trip_through_the_cli_form():
    params = validate({"max_iters": 7, "val_interval": 7, "lr": 0.5, "amp": True,
                       "load_from": "x.pth"})
    values, options = parse_assignments(params.to_cli_args())
    assert options == {}
    assert validate(values).as_dict() == params.as_dict()


def test_assignments_split_config_options_and_reject_junk():
    values, options = parse_assignments(["max_iters=5", "train_dataloader.num_workers=0"])
    assert values == {"max_iters": 5}
    assert options == {"train_dataloader.num_workers": "0"}
    with pytest.raises(ParamError, match="key=value"):
        parse_assignments(["max_iters"])
    with pytest.raises(ParamError, match="did you mean 'seed'"):
        parse_assignments(["sed=1"])
    with pytest.raises(ParamError, match="not an integer"):
        parse_assignments(["max_iters=lots"])


def test_notebook_parameters_cell_matches_the_schema(repo_root):
    import papermill

    declared = papermill.inspect_notebook(
        str(repo_root / "mapsage" / "notebooks" / "train_segformer_loveda.ipynb"))
    assert list(declared) == list(BY_NAME)
    for name, info in declared.items():
        assert ast.literal_eval(info["default"]) == DEFAULTS[name], name


def test_recipe_owned_parameters_default_to_the_config():
    assert all(DEFAULTS[name] is None for name in RECIPE_OWNED)
    assert DEFAULTS["pretrained"] == "auto"


_NOT_VALID = ParamError
# (parameter, text as typed on a command line, the value every route must give, or ParamError)
SPELLINGS = [
    ("amp", "yes", True), ("amp", "no", False), ("amp", "True", True), ("amp", "false", False),
    ("amp", "1", True), ("amp", "0", False), ("amp", "ON", True), ("amp", "Off", False),
    ("amp", "maybe", _NOT_VALID), ("amp", "2", _NOT_VALID), ("amp", "None", _NOT_VALID),
    ("resume", "auto", "auto"), ("resume", "yes", True), ("resume", "False", False),
    ("data_root", "123", "123"), ("data_root", "True", "True"), ("data_root", "/d/x", "/d/x"),
    ("data_root", "None", _NOT_VALID),
    ("work_dir", "1.5", "1.5"),
    ("load_from", "None", None), ("load_from", "none", None), ("load_from", "null", None),
    ("load_from", "runs/a/best.pth", "runs/a/best.pth"),
    ("pretrained", "auto", "auto"), ("pretrained", "imagenet", "imagenet"),
    ("pretrained", "None", None), ("pretrained", "w/mit.pth", "w/mit.pth"),
    ("model", "b2", "b2"), ("model", "B2", _NOT_VALID),
    ("max_iters", "200", 200), ("max_iters", "None", None), ("max_iters", "2.5", _NOT_VALID),
    ("max_iters", "1e3", _NOT_VALID), ("max_iters", "ten", _NOT_VALID),
    ("max_iters", "0", _NOT_VALID), ("seed", "007", 7),
    ("lr", "6e-5", 6e-5), ("lr", "1", 1.0), ("lr", "0.004", 0.004), ("lr", "None", None),
    ("lr", "nan", _NOT_VALID), ("lr", "inf", _NOT_VALID), ("lr", "0", _NOT_VALID),
    ("lr", "fast", _NOT_VALID),
    ("crop_size", "512", 512), ("crop_size", "16", _NOT_VALID),
    ("device", "cpu", "cpu"), ("gpus", "2", 2),
]


def _key_value(name, text):  # python -m mapsage.train key=value
    return validate(parse_assignments([f"{name}={text}"])[0]).values[name]


def _mapsage_run(name, text):  # mapsage run -p NAME TEXT, parsed by the real CLI; what the
    # notebook receives (execute passes typed values to papermill), then validates
    from mapsage.cli import build_parser
    from mapsage.cli.run import collect_parameters

    args = build_parser().parse_args(["run", "-p", name, text])
    return validate(typed(collect_parameters(args))).values[name]


def _papermill(name, text):  # papermill -p NAME TEXT: papermill's own CLI typing, then the notebook
    from papermill.cli import _resolve_type

    return validate({name: _resolve_type(text)}).values[name]


@pytest.mark.parametrize(("name", "text", "expected"), SPELLINGS)
@pytest.mark.parametrize("route", [_key_value, _mapsage_run, _papermill])
def test_every_route_reads_a_spelling_the_same_way(route, name, text, expected):
    if expected is _NOT_VALID:
        with pytest.raises(ParamError, match=repr(name)):
            route(name, text)
    else:
        value = route(name, text)
        assert value == expected and type(value) is type(expected)


def test_readme_table_lists_every_parameter_with_its_default(repo_root):
    """The README's parameter table is checked against the schema (its one source)."""
    import re

    from mapsage.params import SCHEMA

    readme = (repo_root / "README.md").read_text()
    rows = re.findall(r"^\| `([a-z_]+)` \| `([^`]*)` \|", readme, flags=re.M)
    table = {name: default for name, default in rows if name in {p.name for p in SCHEMA}}
    assert list(table) == [p.name for p in SCHEMA]
    for param in SCHEMA:
        expected = "None" if param.default is None else (
            f'"{param.default}"' if isinstance(param.default, str) else repr(param.default))
        assert table[param.name] == expected, param.name


def test_replace_checks_only_what_changes_and_keeps_the_rest():
    from mapsage.errors import ParamError
    from mapsage.params import validate

    params = validate({"max_iters": "40", "data_root": "synthetic"})
    moved = params.replace(data_root="/data/LoveDA")
    assert moved.data_root == "/data/LoveDA" and moved.max_iters == 40
    assert params.data_root == "synthetic", "the original is unchanged"
    with pytest.raises(ParamError, match="not an integer|expected"):
        params.replace(max_iters="many")
    with pytest.raises(ParamError, match="NUL"):
        params.replace(data_root="a\0b")
    with pytest.raises(ParamError, match="Unknown parameter"):
        params.replace(max_iter=3)
