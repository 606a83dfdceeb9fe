"""The ``zenspec`` command line: parser, commands, what they print, progress, completion, init.

``zenspec.cli:main`` is the console script. Each piece is its own module:

* :mod:`zenspec.cli.parser` -- subcommands, options and their help (fills a Namespace);
* :mod:`zenspec.cli.commands` -- :func:`execute` and :func:`main`: the one place a
  :class:`~zenspec.errors.ZenspecError` becomes a message and an exit code;
* :mod:`zenspec.cli.output` -- what ``run``/``resume`` print when a launch returns;
* :mod:`zenspec.cli.progress` -- the live progress line, read from the records;
* :mod:`zenspec.cli.show` -- Hydra's show-and-exit options (``--cfg``, ``--info``);
* :mod:`zenspec.cli.completion` -- shell completion;
* :mod:`zenspec.cli.init` -- ``zenspec init TARGET``: a starter spec.

Nothing is imported until used, so ``validate``, ``schema`` and a completion start
without the launch layer or Hydra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zenspec._lazy import lazy_attributes

__all__ = ["build_parser", "execute", "main", "parse_args"]

_WHERE = {
    "build_parser": "zenspec.cli.parser",
    "parse_args": "zenspec.cli.parser",
    "execute": "zenspec.cli.commands",
    "main": "zenspec.cli.commands",
}

if TYPE_CHECKING:
    from zenspec.cli.commands import execute, main
    from zenspec.cli.parser import build_parser, parse_args


__getattr__, __dir__ = lazy_attributes(__name__, _WHERE, __all__)
