#!/bin/sh
# The GPU part of the suite as one command for a lent GPU machine (a bare image with
# python3, torch, scikit-learn, pandas and tqdm; skvae runs from this checkout).
#
#   OUT=/some/folder sh benchmarks/gpu.sh [more arguments for python -m benchmarks]
#
# Writes into $OUT: gpu.txt (nvidia-smi), results-cuda.json, RESULTS-cuda.md and log.txt
# (the throughput and inference areas), fixed_cost.txt (a fit's fixed cost against its
# cost per epoch) and gpu_options.txt (torch.compile and bf16 autocast per step). The
# areas run in quick mode by default: on an H200 a 784-512-512-32 step at batch 256 is
# launch-bound (about 3 ms), and the full mode's batch-256 comparison alone outlasts a
# 10-minute command. MODE= (empty) selects the full mode; AREAS_TIMEOUT caps the areas
# (300 s by default). The whole script takes about 4 minutes on an H200.
set -eu
: "${OUT:?set OUT to the folder that receives the results}"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1 || true
status=0
# shellcheck disable=SC2086 # MODE is one flag or nothing
timeout "${AREAS_TIMEOUT:-300}" python3 -m benchmarks --device cuda --only throughput,inference \
    ${MODE---quick} --out "$OUT/results-cuda.json" --markdown "$OUT/RESULTS-cuda.md" "$@" \
    > "$OUT/log.txt" 2>&1 || status=$?
tail -n 40 "$OUT/log.txt"
timeout 150 python3 -m benchmarks.fixed_cost --device cuda --batch-size 4096 --epochs 2,12 \
    > "$OUT/fixed_cost.txt" 2>&1 || status=$?
cat "$OUT/fixed_cost.txt"
timeout 200 python3 -m benchmarks.gpu_options --device cuda --steps 200 --rounds 5 \
    > "$OUT/gpu_options.txt" 2>&1 || status=$?
grep '^|\|^device' "$OUT/gpu_options.txt" || true
exit $status
