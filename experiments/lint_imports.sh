#!/usr/bin/env bash
# Check metarl's import contracts (pyproject.toml [tool.importlinter]: the layers point down, no
# cycles) with lint-imports from the dev extras.
# envs/ and agents/ install as metarl.envs and metarl.agents (setuptools' package-dir), which the
# import graph of an editable install does not see; so the package is installed, without its
# dependencies, into a temporary folder, and lint-imports reads it there.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
tmp="$(mktemp -d)"
made_build=0
[ -e "$root/build" ] || made_build=1  # setuptools' build folder: removed after only if made here
trap 'rm -rf "$tmp"; if [ "$made_build" = 1 ]; then rm -rf "$root/build"; fi' EXIT
"$python" -m pip install --quiet --no-deps --target "$tmp/site" "$root"
cd "$tmp/site" && "$(dirname "$python")/lint-imports" "$root/pyproject.toml"
