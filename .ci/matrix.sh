#!/usr/bin/env bash
# CI: the supported Hydra range, proven. The differential suite (outputs equal to stock
# Hydra's), the launch tests and the spec tests run again on hydra-core's floor and on the
# newest pre-release, each in its own venv, installed from this checkout's own files.
#   bash .ci/matrix.sh            # every entry
#   bash .ci/matrix.sh floor      # one entry
set -euo pipefail
cd "$(dirname "$0")/.."

TESTS=(
  tests/differential
  tests/test_compatibility.py
  tests/test_fast_loader.py
  tests/test_launch_behaviour.py
  tests/test_launch_isolation.py
  tests/test_spec_api.py
  tests/test_spec_invalid.py
  tests/test_spec_security.py
  tests/test_preflight.py
)

# name | what pip installs besides zenspec[test]
ENTRIES=(
  "floor|hydra-core==1.3.6 omegaconf==2.3.0"
  "hydra14|--pre hydra-core==1.4.0rc3"
)

run_entry() {
  local name=$1 pins=$2
  local venv=".ci/venv-$name"
  echo "CI matrix: $name ($pins)" >&2
  python3 -m venv "$venv"
  # shellcheck disable=SC2086  # the pins are words
  "$venv/bin/pip" install --quiet --disable-pip-version-check $pins -e ".[test]"
  "$venv/bin/python" -c "import hydra, omegaconf; print('CI matrix:', '$name', 'hydra-core', hydra.__version__, 'omegaconf', omegaconf.__version__)" >&2
  set +e
  "$venv/bin/python" -m pytest -q -p no:randomly "${TESTS[@]}"
  local rc=$?
  set -e
  if [ "$rc" -eq 5 ]; then
    echo "CI matrix: $name collected no tests; that is a failure" >&2
    return 1
  fi
  return "$rc"
}

status=0
for entry in "${ENTRIES[@]}"; do
  name=${entry%%|*}
  if [ "$#" -gt 0 ] && [[ " $* " != *" $name "* ]]; then
    continue
  fi
  run_entry "$name" "${entry#*|}" || status=1
done
exit "$status"
