#!/usr/bin/env bash
# A workstation or an interactive allocation: mpirun with one rank per core.
#   jobs/local.sh SPEC.toml OUTPUT.h5 [RANKS]     (RANKS defaults to the number of cores)
set -euo pipefail
spec=${1:?usage: jobs/local.sh SPEC.toml OUTPUT.h5 [RANKS]}
output=${2:?usage: jobs/local.sh SPEC.toml OUTPUT.h5 [RANKS]}
ranks=${3:-$(nproc)}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
[ "$(id -u)" -ne 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
resume=()
[[ -f "$output" ]] && resume=(--resume)  # an interrupted run continues where it stopped
mpirun -np "$ranks" --bind-to core "$(dirname "$0")/../build/default/src/sgdsweep" run "$spec" --out "$output" "${resume[@]}"
"$(dirname "$0")/../build/default/postprocess/sgdsweep-analyze" "$output"
