#!/bin/sh
# The GPU part of the suite as one command for a lent GPU machine (a bare image with
# python3, torch, scikit-learn, pandas and tqdm; skvae runs from this checkout).
#
#   OUT=/some/folder sh benchmarks/gpu.sh [more arguments for python -m benchmarks]
#
# Writes gpu.txt (nvidia-smi), results-cuda.json, RESULTS-cuda.md and log.txt into $OUT.
# The areas with GPU targets (throughput, inference) are capped at AREAS_TIMEOUT seconds
# (500 by default) so a 10-minute command limit leaves time to bring the files back; RESULTS-cuda.md then goes into
# benchmarks/RESULTS.md with the device named.
set -eu
: "${OUT:?set OUT to the folder that receives the results}"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1 || true
status=0
timeout "${AREAS_TIMEOUT:-500}" python3 -m benchmarks --device cuda --only throughput,inference \
    --out "$OUT/results-cuda.json" --markdown "$OUT/RESULTS-cuda.md" "$@" \
    > "$OUT/log.txt" 2>&1 || status=$?
tail -n 40 "$OUT/log.txt"
exit $status
