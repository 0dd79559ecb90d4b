"""``mapsage COMMAND``: commands that are another program under a second name get every argument,
options first included; every other command refuses what it does not know."""

from __future__ import annotations

import json

import pytest

from mapsage.cli import main


@pytest.mark.parametrize(("command", "usage"), [
    ("train", "usage: python -m mapsage.train"),
    ("provision", "usage: python -m mapsage.provision"),
    ("doctor", "usage: python -m envcheck"),
])
def test_a_forwarding_command_answers_help_with_its_programs_usage(command, usage, capsys):
    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith(usage)


def test_options_before_anything_else_reach_the_forwarded_program(capsys, tmp_path):
    code = main(["doctor", "--json", "--profile", "local", "--work-dir", str(tmp_path)])
    report = json.loads(capsys.readouterr().out)
    assert report["profile"] == "local" and code == report["exit_code"]


def test_other_commands_refuse_an_unknown_option(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["synth", "--no-such-option"])
    assert stop.value.code == 2
    assert "unrecognized arguments: --no-such-option" in capsys.readouterr().err
