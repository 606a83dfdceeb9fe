"""Shell completion, driven through real shells the way a user's shell drives it.

bash: the script is eval'd as in ``~/.bashrc``; the test asks ``complete -p zenspec``
for the function bash would call, sets COMP_WORDS/COMP_CWORD as readline does and
reads COMPREPLY; ``compopt`` (which only works under readline) is replaced by a
function that records the options the script asks for.

zsh: an interactive ``zsh -f -i`` on a pseudo-terminal loads compinit and the script
(eval'd as in ``~/.zshrc``, or autoloaded as ``_zenspec`` from ``$fpath``); the test
types the command line and a TAB. The TAB runs ``complete-word``, and a ``compadd``
wrapper writes each match the completion system adds (with its ``-S`` suffix) to a
file. The zsh tests skip when zsh is not installed.
"""

from __future__ import annotations

import json
import os
import pty
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

import pytest

from zenspec.cli import build_parser, main
from zenspec.cli.completion import script

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the scripts call `zenspec completion keys`

SPEC = """\
[experiment]
target = "builtins:dict"

[config]
alpha = 1
beta = 2

[groups.optim.sgd]
lr = 0.1

[sweep]
alpha = [1, 2]
"""
KEYS = {"alpha=", "beta=", "optim="}


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A project: spec files, other files, sweep directories."""
    root = tmp_path_factory.mktemp("project")
    (root / "exp").mkdir()
    (root / "exp" / "hello.toml").write_text(SPEC)
    (root / "exp" / "hello.yaml").write_text("experiment: {target: 'builtins:dict'}\n")
    (root / "exp" / "help.txt").write_text("not a spec\n")
    (root / "exp" / "helpers").mkdir()
    (root / "multirun" / "2024-01-01").mkdir(parents=True)
    (root / "mnotes.txt").write_text("")
    (root / "s.toml").write_text(SPEC)
    return root


# -- bash ---------------------------------------------------------------------------


def bash(tree: Path, *words: str) -> Tuple[Set[str], List[str]]:
    """(what bash offers for *words*, the last being completed; compopt's arguments)."""
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    line = " ".join(shlex.quote(w) for w in words)
    program = f"""
        export PATH={shlex.quote(str(BIN))}:$PATH
        eval "$(zenspec completion bash)"
        compopt() {{ printf '%s\\n' "$*" >> "$OPTS"; }}
        fn=$(complete -p zenspec | sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p')
        COMP_WORDS=({line}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
        COMP_LINE="${{COMP_WORDS[*]}}"; COMP_POINT=${{#COMP_LINE}}
        "$fn" zenspec "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
        printf '%s\\n' "${{COMPREPLY[@]}}"
    """
    opts = tree / "compopt.log"
    opts.write_text("")
    out = subprocess.run(
        ["bash", "--norc", "-c", program],
        cwd=tree,
        capture_output=True,
        text=True,
        env=dict(os.environ, OPTS=str(opts)),
        timeout=60,
    )
    assert out.returncode == 0 and out.stderr == "", out.stderr
    return {x for x in out.stdout.splitlines() if x}, opts.read_text().splitlines()


def test_bash_registers_the_function_for_zenspec(capsys):
    assert main(["completion", "bash"]) == 0
    text = capsys.readouterr().out
    assert "complete -o filenames -F _zenspec_complete zenspec" in text
    assert "shtab" in text  # generated, not hand-written
    syntax = subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr


def test_bash_completes_subcommands_and_options(tree):
    assert bash(tree, "zenspec", "re")[0] == {"report", "results", "resume"}
    assert bash(tree, "zenspec", "")[0] >= {"run", "plan", "validate", "completion", "init"}
    assert bash(tree, "zenspec", "run", "--f")[0] == {"--fail-fast"}
    assert "--resolve" in bash(tree, "zenspec", "run", "--re")[0]
    assert bash(tree, "zenspec", "resume", "x", "--re")[0] == {"--retry-failed"}
    # --format: the choices of that subcommand's --format
    assert bash(tree, "zenspec", "init", "x", "--format", "y")[0] == {"yaml"}
    assert bash(tree, "zenspec", "results", "d", "--format", "")[0] == {
        "table",
        "csv",
        "json",
        "markdown",
    }
    assert bash(tree, "zenspec", "validate", "--format", "")[0] == {"text", "json"}


def test_bash_completes_spec_files_and_directories(tree):
    replies, opts = bash(tree, "zenspec", "run", "exp/hel")
    assert replies == {"exp/hello.toml", "exp/hello.yaml", "exp/helpers"}
    assert "-o filenames" in opts  # quoted as file names, a / after a directory
    assert bash(tree, "zenspec", "plan", "exp/hello.y")[0] == {"exp/hello.yaml"}
    assert bash(tree, "zenspec", "validate", "s.toml", "exp/hel")[0] == {
        "exp/hello.toml",
        "exp/hello.yaml",
        "exp/helpers",
    }
    assert bash(tree, "zenspec", "resume", "x", "--spec", "exp/hello.t")[0] == {"exp/hello.toml"}
    # sweep dirs: directories only
    assert bash(tree, "zenspec", "results", "m")[0] == {"multirun"}
    assert bash(tree, "zenspec", "resume", "multirun/")[0] == {"multirun/2024-01-01"}
    assert bash(tree, "zenspec", "init", "pkg:fn", "-o", "mno")[0] == {"mnotes.txt"}


def test_bash_completes_the_config_keys_of_the_spec(tree):
    replies, opts = bash(tree, "zenspec", "run", "exp/hello.toml", "")
    assert replies == KEYS
    assert "-o nospace" in opts  # the value follows the =
    assert bash(tree, "zenspec", "run", "exp/hello.toml", "alpha=3", "-m", "b")[0] == {"beta="}
    assert bash(tree, "zenspec", "--traceback", "plan", "s.toml", "--job", "1", "o")[0] == {
        "optim="
    }
    # a spec with no keys readable without imports, or none at all: nothing
    assert bash(tree, "zenspec", "run", "exp/hello.yaml", "")[0] == set()
    assert bash(tree, "zenspec", "run", "missing.toml", "")[0] == set()
    # no nospace for what is not a key
    assert "-o nospace" not in bash(tree, "zenspec", "re")[1]


def test_bash_completes_the_values_of_cfg_and_info(tree):
    assert bash(tree, "zenspec", "run", "s.toml", "--cfg", "")[0] == {"all", "hydra", "job"}
    assert bash(tree, "zenspec", "run", "s.toml", "-c", "h")[0] == {"hydra"}
    assert bash(tree, "zenspec", "run", "s.toml", "--info", "def")[0] == {
        "defaults",
        "defaults-tree",
    }
    assert bash(tree, "zenspec", "run", "s.toml", "-i", "")[0] == {
        "all",
        "config",
        "defaults",
        "defaults-tree",
        "plugins",
        "searchpath",
    }
    # after --cfg's value, the spec's keys again
    assert bash(tree, "zenspec", "run", "s.toml", "--cfg", "job", "b")[0] == {"beta="}


# -- zsh ----------------------------------------------------------------------------

# Loaded by the interactive zsh before the script: compinit, a TAB that completes and
# then marks the end of the completion, and compadd recording each match it adds.
_ZSH_SETUP = r"""
PROMPT='' RPROMPT='' PS2=''
unsetopt beep
path=($ZENSPEC_BIN $path)
autoload -U compinit && compinit -u -D
zstyle ':completion:*' insert-tab false
_test_complete() { zle complete-word; print -r -- '<done>' >> $CAPTURE }
zle -N _test_complete
bindkey '^I' _test_complete
compadd() {
  # compadd -O/-A/-D only filter matches for the caller: pass them through
  if (( ${@[(I)-[OAD]]} )); then builtin compadd "$@"; return; fi
  local -a __hits; local -A __opts; local __h
  builtin compadd -O __hits "$@"
  zparseopts -E -A __opts P: p: S: s:
  for __h in $__hits; do
    print -r -- "${__opts[-P]}${__opts[-p]}$__h${__opts[-s]}	${__opts[-S]-<space>}" >> $CAPTURE
  done
  builtin compadd "$@"
}
"""


def _need_zsh() -> str:
    zsh = shutil.which("zsh")
    if zsh is None:
        pytest.skip("zsh is not installed (apt-get install zsh): zsh completion not exercised")
    return zsh


@pytest.fixture(scope="module")
def zsh_script(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("zsh") / "_zenspec"
    path.write_text(script(build_parser(), "zsh"))
    return path


def zsh(tree: Path, line: str, *, fpath: Optional[Path] = None) -> Dict[str, str]:
    """What zsh offers when TAB is pressed after *line*: {match: suffix after it}.

    The script is eval'd after compinit, or, with *fpath*, autoloaded from that
    directory (which holds it as ``_zenspec``).
    """
    zsh = _need_zsh()
    capture = tree / "capture.txt"
    capture.unlink(missing_ok=True)
    setup = tree / "setup.zsh"
    load = (
        'eval "$(zenspec completion zsh)"'
        if fpath is None
        else f"fpath=({shlex.quote(str(fpath))} $fpath); compinit -u -D"
    )
    setup.write_text(_ZSH_SETUP + load + "\n")
    env = dict(os.environ, CAPTURE=str(capture), ZENSPEC_BIN=str(BIN), TERM="dumb")
    env.pop("ZDOTDIR", None)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [zsh, "-f", "-i"], stdin=slave, stdout=slave, stderr=slave, cwd=tree, env=env
    )
    os.close(slave)
    screen: List[bytes] = []

    def drain() -> None:  # the pty must be read, or zsh blocks writing to it
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                return
            if not chunk:
                return
            screen.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        os.write(master, f"source {shlex.quote(str(setup))}\n".encode())
        os.write(master, f"{line}\t".encode())
        deadline = time.monotonic() + 30
        while not (capture.exists() and "<done>" in capture.read_text()):
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail(
                    "zsh did not complete; its terminal:\n"
                    + b"".join(screen).decode(errors="replace")
                )
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
        reader.join(5)
    offered: Dict[str, str] = {}
    for row in capture.read_text().splitlines():
        if row != "<done>":
            match, _, suffix = row.partition("\t")
            offered[match.rstrip("/")] = suffix
    return offered


def test_zsh_script_is_a_zsh_completion_function(tmp_path, capsys):
    zsh_bin = _need_zsh()
    assert main(["completion", "zsh"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("#compdef zenspec\n") and "bashcompinit" not in text
    path = tmp_path / "_zenspec"
    path.write_text(text)
    syntax = subprocess.run([zsh_bin, "-n", str(path)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    # eval'd after compinit: zenspec is completed by the script's function
    program = (
        f"path=({shlex.quote(str(BIN))} $path); autoload -U compinit && compinit -u -D; "
        'eval "$(zenspec completion zsh)"; print -r -- $_comps[zenspec]; '
        "(( $+functions[_zenspec_config_keys] )) && print keys-helper"
    )
    out = subprocess.run(
        [zsh_bin, "-f", "-c", program], capture_output=True, text=True, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["_shtab_zenspec", "keys-helper"]


def test_zsh_completes_subcommands_and_options(tree):
    assert set(zsh(tree, "zenspec re")) == {"report", "results", "resume"}
    assert set(zsh(tree, "zenspec run --f")) == {"--fail-fast"}
    assert "--resolve" in zsh(tree, "zenspec run --re")
    assert set(zsh(tree, "zenspec init x --format y")) == {"yaml"}
    assert set(zsh(tree, "zenspec results d --format ")) == {"table", "csv", "json", "markdown"}


def test_zsh_completes_spec_files_and_directories(tree):
    assert set(zsh(tree, "zenspec run exp/hel")) == {
        "exp/hello.toml",
        "exp/hello.yaml",
        "exp/helpers",
    }
    # validate takes any number of them
    assert set(zsh(tree, "zenspec validate s.toml exp/hello.y")) == {"exp/hello.yaml"}
    assert set(zsh(tree, "zenspec resume x --spec exp/hello.t")) == {"exp/hello.toml"}
    assert set(zsh(tree, "zenspec results m")) == {"multirun"}
    assert set(zsh(tree, "zenspec init pkg:fn -o mno")) == {"mnotes.txt"}


def test_zsh_completes_the_config_keys_of_the_spec(tree):
    offered = zsh(tree, "zenspec run exp/hello.toml ")
    assert offered == dict.fromkeys(KEYS, "")  # no space after key=: the value follows
    # each override, after options too
    assert set(zsh(tree, "zenspec run exp/hello.toml alpha=3 -m b")) == {"beta="}
    assert set(zsh(tree, "zenspec --traceback plan s.toml --job 1 o")) == {"optim="}
    assert zsh(tree, "zenspec run exp/hello.yaml ") == {}


def test_zsh_completes_the_values_of_cfg_and_info(tree):
    assert set(zsh(tree, "zenspec run s.toml --cfg ")) == {"all", "hydra", "job"}
    assert set(zsh(tree, "zenspec run s.toml -c h")) == {"hydra"}
    assert set(zsh(tree, "zenspec run s.toml --info def")) == {"defaults", "defaults-tree"}


def test_zsh_script_autoloads_from_fpath(tree, zsh_script):
    assert set(zsh(tree, "zenspec re", fpath=zsh_script.parent)) == {"report", "results", "resume"}
    assert set(zsh(tree, "zenspec run s.toml ", fpath=zsh_script.parent)) == KEYS


# -- the commands -------------------------------------------------------------------


def test_completion_keys_lists_the_spec_keys_read_from_the_file(capsys):
    assert main(["completion", "keys", str(REPO / "specs" / "dict_builds.toml")]) == 0
    assert capsys.readouterr().out.split() == ["a=", "b="]
    # a config that lives in a dataclass would need an import: completion skips it
    assert main(["completion", "keys", str(REPO / "specs" / "hello.toml")]) == 0
    assert capsys.readouterr().out == ""


_MODULES = r"""
import json, sys
from zenspec.cli import main
code = main(sys.argv[1:])
sys.stdout.flush()
sys.stderr.write("\n@@" + json.dumps(sorted(sys.modules)) + "\n")
sys.exit(code)
"""


def modules_of(*argv: str) -> List[str]:
    """The modules ``zenspec ARGV`` imports, in a fresh process."""
    proc = subprocess.run(
        [sys.executable, "-c", _MODULES, *argv], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stderr.rpartition("\n@@")[2])


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_a_script_imports_shtab_and_no_hydra(shell):
    modules = modules_of("completion", shell)
    assert "shtab" in modules
    assert [m for m in modules if m.split(".")[0] in ("hydra", "omegaconf")] == []
    assert [m for m in modules if m.startswith(("zenspec.launch", "zenspec.launchers"))] == []


def test_completion_keys_imports_no_shtab():
    modules = modules_of("completion", "keys", str(REPO / "specs" / "dict_builds.toml"))
    assert "zenspec.cli.completion" in modules
    assert "shtab" not in modules and "hydra" not in modules


def test_no_argparse_private_in_zenspec():
    private = re.compile(r"argparse\._|\._(actions|get_positional_actions|subparsers)\b")
    found = [
        f"{path.relative_to(REPO)}:{n}"
        for path in sorted((REPO / "zenspec").rglob("*.py"))
        for n, text in enumerate(path.read_text().splitlines(), 1)
        if private.search(text)
    ]
    assert found == []
