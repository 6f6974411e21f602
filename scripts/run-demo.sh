#!/usr/bin/env bash
# The main job: the demo sweep (input/fashion-mnist-demo.toml) on 2 ranks under mpirun, then its
# analysis (tables, regimes, /analysis in the file) and figures (PNG and SVG beside the file). Needs the default build (cmake --preset default && cmake --build --preset default).
# Usage: scripts/run-demo.sh [OUTPUT.h5]   (default: out/fashion-mnist-demo.h5)
set -euo pipefail
cd "$(dirname "$0")/.."
output=${1:-out/fashion-mnist-demo.h5}
mkdir -p "$(dirname "$output")"
if [ "$(id -u)" -eq 0 ]; then
  # Open MPI refuses to run as root unless told; containers and CI machines often are root.
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
time mpirun -np 2 build/default/src/sgdsweep run input/fashion-mnist-demo.toml --out "$output" --overwrite
build/default/postprocess/sgdsweep-analyze "$output"
/usr/bin/python3 postprocess/plots.py "$output" --out "$(dirname "$output")/figures"
