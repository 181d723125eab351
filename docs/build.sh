#!/usr/bin/env bash
# Build the HTML documentation with warnings as errors, running the gallery's examples.
# Installs nothing: it needs skvae and its "docs" extra (pip install -e ".[docs]").
#   bash docs/build.sh                  clean build into docs/_build/html
#   bash docs/build.sh -D plot_gallery=0   extra arguments go to sphinx-build
# PYTHON picks the interpreter (default: .venv/bin/python when it exists, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
# One thread per library: the gallery's small models run fastest that way, and thread
# pools spinning on a busy 2-core CI machine can be many times slower.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export MPLBACKEND="${MPLBACKEND:-Agg}"

# Start clean: sphinx-gallery skips examples whose source did not change, which would
# hide a change in skvae that breaks them; autosummary would keep stale pages.
rm -rf docs/_build docs/auto_examples docs/generated docs/gen_modules \
  docs/sg_execution_times.rst

start=$(date +%s)
"$PYTHON" -m sphinx -W --keep-going -b html "$@" docs docs/_build/html
echo "docs built in $(( $(date +%s) - start )) s: docs/_build/html/index.html"
