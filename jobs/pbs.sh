#!/bin/bash
# PBS Pro / OpenPBS, host sweep: 2 nodes × 64 ranks. Submit with the spec and output as variables:
#   qsub -v SPEC=input/reduced/fig1-wrn16-1-bn.toml,OUTPUT=results/fig1.h5 jobs/pbs.sh
# Rerunnable (-r y): a rerun finds the file and continues it with --resume.
#PBS -N sgdsweep
#PBS -l select=2:ncpus=64:mpiprocs=64
#PBS -l walltime=04:00:00
#PBS -r y
#PBS -j oe
set -euo pipefail
cd "${PBS_O_WORKDIR:-.}"
: "${SPEC:?qsub -v SPEC=...,OUTPUT=... jobs/pbs.sh}" "${OUTPUT:?qsub -v SPEC=...,OUTPUT=... jobs/pbs.sh}"
mkdir -p "$(dirname "$OUTPUT")"
resume=()
[[ -f "$OUTPUT" ]] && resume=(--resume)
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
mpiexec --bind-to core build/default/src/sgdsweep run "$SPEC" --out "$OUTPUT" "${resume[@]}"
build/default/postprocess/sgdsweep-analyze "$OUTPUT"
