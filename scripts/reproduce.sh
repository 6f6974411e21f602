#!/usr/bin/env bash
# One reproduction study of docs/reproduction.md from its spec to its tables and figures: run
# input/reproduction/studyN-*.toml under mpirun (continuing the file with --resume if a run was
# interrupted), then analyse and refine — `sgdsweep-analyze --refine` and `sgdsweep run --append`,
# round after round — until no optimum or error bar touches the edge of its rates, then write the
# tables (Markdown, CSV, LaTeX) and figures. Needs the default build (cmake --preset default &&
# cmake --build --preset default). Everything it writes goes under out/reproduction/ (data, not in
# git): studyN.h5, studyN-roundK.toml (the refinement specs), studyN.md|csv|tex, studyN-figures/.
# Usage: scripts/reproduce.sh N [RANKS]      (RANKS default 2; more than the cores oversubscribes)
# Environment: REPRODUCTION_INPUT [input/reproduction] (where studyN-*.toml is),
# REPRODUCTION_OUT [out/reproduction], BUILD_DIR [build/default] (the test suite runs a tiny study).
set -euo pipefail
cd "$(dirname "$0")/.."
study=${1:?usage: scripts/reproduce.sh N [RANKS]}
ranks=${2:-2}
max_rounds=6
input=${REPRODUCTION_INPUT:-input/reproduction}
build=${BUILD_DIR:-build/default}
specs=("$input"/study"$study"-*.toml)
[ -f "${specs[0]}" ] || { echo "reproduce.sh: no $input/study$study-*.toml" >&2; exit 1; }
out=${REPRODUCTION_OUT:-out/reproduction}
file=$out/study$study.h5
mkdir -p "$out"
if [ "$(id -u)" -eq 0 ]; then
  # Open MPI refuses to run as root unless told; containers and CI machines often are root.
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
mpi=(mpirun -np "$ranks")
[ "$ranks" -gt "$(nproc)" ] && mpi+=(--oversubscribe)
run() { time "${mpi[@]}" "$build/src/sgdsweep" run "$@"; }
analyze() { "$build/postprocess/sgdsweep-analyze" "$file" "$@"; }

# The newest spec the file was run with: the base spec, or the last refinement round appended.
latest=${specs[0]}
round=0
while [ -f "$out/study$study-round$((round + 1)).toml" ]; do
  round=$((round + 1))
  latest=$out/study$study-round$round.toml
done
if [ -f "$file" ]; then
  run "$latest" --out "$file" --append  # with the file's own spec, --append is --resume
else
  [ "$round" -eq 0 ] || { echo "reproduce.sh: $latest exists but $file does not; remove the round files" >&2; exit 1; }
  run "$latest" --out "$file"
fi

while [ "$round" -lt "$max_rounds" ]; do
  next=$out/study$study-round$((round + 1)).toml
  analyze --no-write --refine "$next" > /dev/null
  [ -f "$next" ] || break  # no optimum or error bar at an edge: done
  round=$((round + 1))
  echo "reproduce.sh: refinement round $round: $(grep -c '^\[\[grid.extend\]\]' "$next") configuration(s) extended"
  run "$next" --out "$file" --append
done
[ "$round" -lt "$max_rounds" ] || echo "reproduce.sh: still at an edge after $max_rounds rounds (see the tables)" >&2

analyze --markdown "$out/study$study.md" --csv "$out/study$study.csv" --latex "$out/study$study.tex"
/usr/bin/python3 postprocess/plots.py "$file" --out "$out/study$study-figures" --format png
