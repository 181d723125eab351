#!/usr/bin/env bash
# Set up a virtual environment in .venv (once) and run the demo or the test suite.
#   bash dev.sh demo    fit PCA and a VAE on the bundled digits, print scores, write a PNG
#   bash dev.sh test    run the whole test suite
# SKVAE_TORCH overrides the torch requirement (default: torch==2.13.0, a CPU build here).
set -euo pipefail
cd "$(dirname "$0")"
python=${PYTHON:-python3}
torch_spec=${SKVAE_TORCH:-torch==2.13.0}

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
# torch first and pinned: an unpinned requirement would pull a multi-GB CUDA build.
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/pip install -q "$torch_spec"

case "${1:-}" in
  demo)
    .venv/bin/pip install -q -e ".[plots]"
    shift
    exec .venv/bin/python -m skvae demo "$@"
    ;;
  test)
    .venv/bin/pip install -q -e ".[tests]"
    shift
    exec .venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
    ;;
  *)
    echo "usage: bash dev.sh demo|test [extra arguments]" >&2
    exit 2
    ;;
esac
