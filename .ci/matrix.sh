#!/usr/bin/env bash
# CI: the supported range, proven. The differential suite (outputs equal to stock Hydra's),
# the launch, launcher and spec tests run again on hydra-core's floor, on the newest
# pre-release, and on each supported Python besides CI's own (3.9, 3.10, 3.12, 3.13), each
# in its own venv, installed from this checkout's own files.
#   bash .ci/matrix.sh              # every entry
#   bash .ci/matrix.sh floor py3.9  # the entries named
set -euo pipefail
cd "$(dirname "$0")/.."

# One list for every entry.
TESTS=(
  tests/differential
  tests/test_compatibility.py
  tests/test_composition_cache.py
  tests/test_launch_behaviour.py
  tests/test_launch_isolation.py
  tests/test_spec_api.py
  tests/test_spec_invalid.py
  tests/test_spec_security.py
  tests/test_preflight.py
  tests/test_cli.py
  tests/test_launchers.py
  tests/test_fork_workers.py
  tests/test_switches.py
  tests/test_execution_whitelist.py
  tests/test_errors_point_somewhere.py
  tests/test_adaptive.py
  tests/test_seeds.py
  tests/test_compare_and_labels.py
)
# Entries that change Hydra/OmegaConf (not Python) also run what depends on their
# versions: the Hydra-free spec layer checked against them, the single-run cache, the
# YAML scalars, the show-and-exit options, the grammar and skeleton pieces.
VERSION_TESTS=(
  tests/test_layers.py
  tests/test_single_run_cache.py
  tests/test_hydra_yaml_skeleton.py
  tests/test_interpolation_cache.py
  tests/test_yaml_numbers.py
  tests/test_cli_hydra_habits.py
)

# zenspec's extras every entry installs: the launchers' tests need them (the joblib
# launcher's cloudpickle and psutil, submitit), and tests/test_spec_api.py the joblib one
EXTRAS="test,joblib,optuna,submitit"

# name | Python (3.X; empty: python3 on PATH) | what pip installs besides zenspec[EXTRAS]
ENTRIES=(
  "floor||hydra-core==1.3.6 omegaconf==2.3.0"
  "hydra14||--pre hydra-core==1.4.0rc3"
  "py3.9|3.9|"
  "py3.10|3.10|"
  "py3.12|3.12|"
  "py3.13|3.13|"
)

# The interpreter for Python 3.X: python3.X on PATH if it runs (a pyenv shim of a version
# that is not selected does not), else the newest pyenv build of 3.X. Nothing: no output.
find_python() {
  local version=$1 candidate root
  local -a builds=()
  if candidate=$(command -v "python$version") && _is_python "$candidate" "$version"; then
    echo "$candidate"
    return 0
  fi
  root=$(pyenv root 2>/dev/null || echo /root/.pyenv)
  shopt -s nullglob
  builds=("$root"/versions/"$version".*/bin/"python$version")
  shopt -u nullglob
  for candidate in $(printf '%s\n' "${builds[@]}" | sort -rV); do
    if _is_python "$candidate" "$version"; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

_is_python() {
  [ "$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$2" ]
}

run_entry() {
  local name=$1 version=$2 pins=$3
  local venv=".ci/venv-$name" python=python3
  if [ -n "$version" ]; then
    if ! python=$(find_python "$version"); then
      echo "CI matrix: python $version not found on this machine, entry skipped" >&2
      return 0
    fi
  fi
  echo "CI matrix: $name (${python}${pins:+; $pins})" >&2
  # (set -e does not reach into a function called as `run_entry ... || status=1`)
  local start=$SECONDS rc
  # shellcheck disable=SC2086  # the pins are words
  if ! "$python" -m venv "$venv" \
    || ! "$venv/bin/pip" install --quiet --disable-pip-version-check $pins -e ".[$EXTRAS]" \
    || ! "$venv/bin/python" -c "import sys, hydra, omegaconf; print('CI matrix:', '$name', 'python', sys.version.split()[0], 'hydra-core', hydra.__version__, 'omegaconf', omegaconf.__version__)" >&2; then
    echo "CI matrix: $name: the venv could not be made; that is a failure" >&2
    return 1
  fi
  echo "CI matrix: $name: venv ready in $((SECONDS - start)) s" >&2
  start=$SECONDS
  local -a tests=("${TESTS[@]}")
  if [ -n "$pins" ]; then
    tests+=("${VERSION_TESTS[@]}")
  fi
  set +e
  "$venv/bin/python" -m pytest -q -p no:randomly -p no:cacheprovider "${tests[@]}"
  rc=$?
  set -e
  echo "CI matrix: $name: pytest exit $rc in $((SECONDS - start)) s" >&2
  if [ "$rc" -eq 5 ]; then
    echo "CI matrix: $name collected no tests; that is a failure" >&2
    return 1
  fi
  return "$rc"
}

names=()
for entry in "${ENTRIES[@]}"; do
  names+=("${entry%%|*}")
done
for wanted in "$@"; do
  if [[ " ${names[*]} " != *" $wanted "* ]]; then
    echo "CI matrix: no entry named '$wanted' (entries: ${names[*]})" >&2
    exit 2
  fi
done

status=0
for entry in "${ENTRIES[@]}"; do
  IFS='|' read -r name version pins <<<"$entry"
  if [ "$#" -gt 0 ] && [[ " $* " != *" $name "* ]]; then
    continue
  fi
  run_entry "$name" "$version" "$pins" || status=1
done
exit "$status"
