import ast

import pytest

from mapsage.errors import ParamError
from mapsage.params import (
    BY_NAME,
    DEFAULTS,
    parse_assignments,
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
    ("max_iters", "abc", "expected an integer"),
    ("max_iters", 2.5, "expected an integer"),
    ("max_iters", True, "expected an integer"),
    ("lr", "fast", "expected a number"),
    ("amp", "yes", "expected a boolean"),
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
