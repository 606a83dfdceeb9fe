"""Shell completion for ``zenspec``, generated from its own argument parser.

``eval "$(zenspec completion bash)"`` (bash; zsh after ``autoload -U
bashcompinit && bashcompinit``) completes subcommands, their options, spec
files (``*.toml``, ``*.yaml``, ``*.yml``) where a spec is expected,
directories for sweep dirs, and, after a spec, the top-level keys of its
``[config]`` as ``key=`` overrides (read from the file, nothing imported), and
the values of ``run --cfg`` and ``run --info``.
"""

from __future__ import annotations

import argparse
from typing import Dict, List

__all__ = ["bash_script", "config_keys"]

_TEMPLATE = r"""# zenspec completion for bash (zsh: autoload -U bashcompinit && bashcompinit)
_zenspec_complete() {
    local cur prev cmd i
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    cmd=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            -*) ;;
            *) cmd="${COMP_WORDS[i]}"; break ;;
        esac
    done
    if [[ -z "$cmd" ]]; then
        COMPREPLY=($(compgen -W "%(commands)s %(global)s" -- "$cur"))
        return
    fi
    case "$prev" in
        --format) COMPREPLY=($(compgen -W "toml yaml table csv json markdown text" -- "$cur")); return ;;
        -o|--output|--spec) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --cfg|-c) COMPREPLY=($(compgen -W "%(cfg)s" -- "$cur")); return ;;
        --info|-i) COMPREPLY=($(compgen -W "%(info)s" -- "$cur")); return ;;
    esac
    if [[ "$cur" == -* ]]; then
        case "$cmd" in
%(options)s
        esac
        return
    fi
    case "$cmd" in
        run|plan|validate)
            local spec="" w
            for w in "${COMP_WORDS[@]:2:COMP_CWORD-2}"; do
                case "$w" in *.toml|*.yaml|*.yml) spec="$w" ;; esac
            done
            if [[ -n "$spec" && "$cmd" != validate ]]; then
                COMPREPLY=($(compgen -W "$(zenspec completion keys "$spec" 2>/dev/null)" -- "$cur"))
                compopt -o nospace 2>/dev/null
                return
            fi
            COMPREPLY=($(compgen -d -- "$cur") $(compgen -f -X '!*.@(toml|yaml|yml)' -- "$cur"))
            ;;
        results|resume) COMPREPLY=($(compgen -d -- "$cur")) ;;
    esac
}
shopt -s extglob 2>/dev/null
complete -o filenames -F _zenspec_complete zenspec
"""


def _subcommands(parser: argparse.ArgumentParser) -> Dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> List[str]:
    return [s for a in parser._actions for s in a.option_strings if s.startswith("--")]


def bash_script(parser: argparse.ArgumentParser) -> str:
    """The bash completion script for *parser* (the ``zenspec`` parser)."""
    subs = _subcommands(parser)
    options = "\n".join(
        f'            {name}) COMPREPLY=($(compgen -W "{" ".join(_options(sub))}" -- "$cur")) ;;'
        for name, sub in subs.items()
    )
    from zenspec.cli.parser import CFG_CHOICES, INFO_CHOICES

    return _TEMPLATE % {
        "cfg": " ".join(CFG_CHOICES),
        "info": " ".join(INFO_CHOICES),
        "commands": " ".join(subs),
        "global": " ".join(_options(parser)),
        "options": options,
    }


def config_keys(spec_file: str) -> List[str]:
    """``key=`` for each top-level config key and group of *spec_file* (nothing imported)."""
    from zenspec.spec.parse import parse_file

    try:
        data = parse_file(spec_file).data
    except Exception:  # completion must never print an error into the shell
        return []
    keys: List[str] = []
    for section in ("config", "groups", "sweep"):
        table = data.get(section)
        if isinstance(table, dict):
            keys.extend(f"{k}=" for k in table if isinstance(k, str) and f"{k}=" not in keys)
    return keys
