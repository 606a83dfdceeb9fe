"""Running the ``zenspec`` command in-process, as the CLI tests do."""

from __future__ import annotations

from typing import Any, Tuple

from zenspec.cli import main


def run_cli(capsys: Any, *argv: Any, traceback_free: bool = False) -> Tuple[int, str, str]:
    """``zenspec ARGV``: its exit code, stdout and stderr (*capsys* is pytest's fixture).

    *traceback_free*: also assert that no Python traceback was printed.
    """
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    if traceback_free:
        assert "Traceback" not in out + err
    return code, out, err
