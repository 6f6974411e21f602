#!/usr/bin/env bash
# Parallel efficiency of a real sweep: the same spec on 1 and on N ranks (default: the demo on 2),
# wall time of each, speedup, efficiency = T1 / (N · TN), and a bitwise comparison of the two files.
# Writes bench/results/parallel-efficiency-<date>.md. Needs the default build.
#   bench/parallel_efficiency.sh [SPEC] [RANKS]
set -euo pipefail
cd "$(dirname "$0")/.."
spec=${1:-input/fashion-mnist-demo.toml}
ranks=${2:-2}
work=out/parallel-efficiency
mkdir -p "$work" bench/results
[ "$(id -u)" -ne 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
run() {  # run RANKS OUTPUT: sets `seconds` to the wall time
  local start
  start=$(date +%s.%N)
  mpirun -np "$1" --bind-to core build/default/src/sgdsweep --log-level warn run "$spec" --out "$2" --overwrite
  seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
run 1 "$work/np1.h5"
t1=$seconds
run "$ranks" "$work/np$ranks.h5"
tn=$seconds
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
compare=$(/usr/bin/python3 tests/integration/check_sweep.py --compare "$work/np1.h5" "$work/np$ranks.h5" | tail -1)
# Where the time went: the sum of the trials' wall times (trial work, evaluation included) per rank,
# and the mean training throughput of a trial, in each run.
split=$(/usr/bin/python3 - "$work/np1.h5" "$work/np$ranks.h5" <<'PY'
import sys
import h5py
for path in sys.argv[1:]:
    with h5py.File(path, "r") as f:
        wall, rank, eps = f["wall_seconds"][()], f["rank"][()], f["examples_per_second"][()]
        per_rank = ", ".join(f"{wall[rank == r].sum():.1f}" for r in sorted(set(rank.tolist())))
        print(f"| {int(f.attrs['ranks'])} | {wall.sum():.1f} | {per_rank} | {eps.mean():.0f} |")
PY
)
plan=$(build/default/src/sgdsweep plan "$spec" --ranks "$ranks" | grep -E "makespan|efficiency")
read -r speedup efficiency < <(echo "$t1 $tn $ranks" | awk '{printf "%.3f %.3f\n", $1/$2, $1/($3*$2)}')
out="bench/results/parallel-efficiency-$(date +%F).md"
cat > "$out" <<REPORT
# Parallel efficiency of a real sweep ($(date +%F))

The same sweep on 1 and on $ranks ranks, one rank per core, measured by \`bench/parallel_efficiency.sh $spec $ranks\`.

- Machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc --all) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; load average before $load_before, after $load_after
- sgdsweep: $(git describe --always --dirty), spec \`$spec\` ($(/usr/bin/python3 -c "import h5py; print(len(h5py.File('$work/np1.h5', 'r')['trial']))") trials)
- Commands: \`mpirun -np 1 --bind-to core build/default/src/sgdsweep --log-level warn run $spec --out $work/np1.h5\`, then the same with \`-np $ranks\`

| ranks | wall time (s) | speedup | efficiency |
|---:|---:|---:|---:|
| 1 | $(printf %.1f "$t1") | 1.000 | 1.000 |
| $ranks | $(printf %.1f "$tn") | $speedup | $efficiency |

Results of the two runs: \`$compare\`.

The plan predicted for $ranks ranks (\`sgdsweep plan $spec --ranks $ranks\`):
\`\`\`
$plan
\`\`\`
REPORT
cat "$out"
