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


def test_completion_offers_the_values_of_cfg_and_info(tmp_path):
    import shlex
    import shutil
    import subprocess

    from zenspec.cli.completion import bash_script
    from zenspec.cli.parser import build_parser

    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    script = tmp_path / "zenspec.bash"
    script.write_text(bash_script(build_parser()))

    def complete(*words: str) -> list:
        program = (
            f"source {shlex.quote(str(script))}; COMP_WORDS=({' '.join(shlex.quote(w) for w in words)}); "
            "COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); _zenspec_complete; "
            "printf '%s\\n' \"${COMPREPLY[@]}\""
        )
        out = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True)
        return sorted(x for x in out.stdout.splitlines() if x)

    assert complete("zenspec", "run", "s.toml", "--cfg", "") == ["all", "hydra", "job"]
    assert complete("zenspec", "run", "s.toml", "-c", "h") == ["hydra"]
    assert complete("zenspec", "run", "s.toml", "--info", "def") == ["defaults", "defaults-tree"]
    assert "--resolve" in complete("zenspec", "run", "--re")
