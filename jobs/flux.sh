#!/bin/bash
# Flux, host sweep: 128 ranks, one per core, on 2 nodes (the last argument: ranks).
#   flux batch -N 2 -n 128 jobs/flux.sh input/reduced/fig1-wrn16-1-bn.toml results/fig1.h5 128
# (GPU: flux batch -N 4 -n 16 -g 1 …, with a CUDA build and device = "cuda" in the spec.)
# Run it again after an interruption: it finds the file and continues it with --resume.
set -euo pipefail
usage="usage: flux batch -N NODES -n RANKS jobs/flux.sh SPEC.toml OUTPUT.h5 RANKS"
spec=${1:?$usage}
output=${2:?$usage}
ranks=${3:?$usage}
mkdir -p "$(dirname "$output")"
resume=()
[[ -f "$output" ]] && resume=(--resume)
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
flux run -n "$ranks" -c 1 build/default/src/sgdsweep run "$spec" --out "$output" "${resume[@]}"
build/default/postprocess/sgdsweep-analyze "$output"
