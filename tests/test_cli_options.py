"""Global options where users put them, and option values checked before anything runs."""

from __future__ import annotations

import pytest

from zenspec.cli import main
from zenspec.cli.parser import parse_args


@pytest.mark.parametrize(
    "argv",
    [
        ["--traceback", "validate", "specs"],
        ["validate", "specs", "--traceback"],
        ["validate", "--traceback", "specs"],
    ],
)
def test_traceback_is_accepted_before_or_after_the_subcommand(argv):
    args = parse_args(argv)
    assert args.traceback is True and args.command == "validate" and args.paths == ["specs"]


def test_traceback_after_run_is_not_taken_for_an_override():
    args = parse_args(["run", "specs/hello.toml", "bar=mom", "--traceback"])
    assert args.traceback is True and args.overrides == ["bar=mom"]


@pytest.mark.parametrize("value", ["-5", "0", "many"])
def test_max_jobs_must_be_a_positive_whole_number(capsys, value):
    with pytest.raises(SystemExit) as info:
        main(["run", "specs/hello.toml", "--max-jobs", value])
    assert info.value.code == 2
    assert "--max-jobs" in capsys.readouterr().err
