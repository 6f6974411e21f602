#!/usr/bin/env bash
# Autoencoder training throughput, sgdsweep (host backend) beside PyTorch on this machine, written
# to bench/results/autoencoder-throughput-<YYYY-MM-DD>.md (raw JSON beside it in a folder).
#
#   bench/run_autoencoder_vs_pytorch.sh   # about 3 minutes on 2 cores, plus at most 1 of waiting
#
# Two measurements, each with one BLAS/OpenMP thread per process, every process pinned:
#   1. alone: one process on core 0, the other core idle;
#   2. per_core (one rank per core, as a sweep runs): a copy on each of cores 0 and 1 at the same
#      time (two sgdsweep copies together, then two PyTorch copies together), per process.
# Each is taken in ROUNDS rounds that alternate which program goes first; the report gives the
# median over rounds (and repetitions) with the range.
# Environment knobs [defaults]: BUILD_DIR [build/bench], PYTHON [/usr/bin/python3, Debian's, which
# has python3-torch], DATA [/usr/share/datasets/fashion-mnist], MIN_TIME [2] seconds per
# measurement, REPETITIONS [1] per round, ROUNDS [3], QUIET_BUSY [10] and QUIET_WAIT [60]:
# before each measurement wait until neither core is more than QUIET_BUSY % busy (other
# processes), out of a budget of QUIET_WAIT seconds for the whole run; past it the figures are
# still taken. The report records the load and each core's busy share beside them.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build_dir=${BUILD_DIR:-build/bench}
python=${PYTHON:-/usr/bin/python3}
data=${DATA:-/usr/share/datasets/fashion-mnist}
min_time=${MIN_TIME:-2}
repetitions=${REPETITIONS:-1}
rounds=${ROUNDS:-3}
quiet_busy=${QUIET_BUSY:-10}
quiet_wait=${QUIET_WAIT:-60}
date=$(date +%F)
report=bench/results/autoencoder-throughput-$date.md
raw=bench/results/autoencoder-throughput-$date
mkdir -p "$raw"
rm -f "$raw"/*.json "$raw"/*.txt
commands=$raw/commands.txt
printf '# %s: MIN_TIME=%s REPETITIONS=%s ROUNDS=%s QUIET_BUSY=%s QUIET_WAIT=%s\n' "$0" "$min_time" \
  "$repetitions" "$rounds" "$quiet_busy" "$quiet_wait" >"$commands"

# Runs a command after writing it down (the report quotes commands.txt verbatim).
logged() {
  printf '%s\n' "$*" >>"$commands"
  "$@"
}

# /proc/stat jiffies of cpu0 and cpu1: "busy0 steal0 total0 busy1 steal1 total1".
cpu_jiffies() {
  awk '/^cpu[01] / { busy = $2 + $3 + $4 + $7 + $8; printf "%d %d %d ", busy, $9, busy + $5 + $6 + $9 }' /proc/stat
}

# Measurement bookkeeping: loadavg before, each core's busy and steal share while it ran.
phase_start() {
  phase=$1
  printf '%-34s load %s\n' "$phase" "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$raw/load.txt"
  read -r b0 s0 t0 b1 s1 t1 <<<"$(cpu_jiffies)"
}
phase_end() {
  local c0 r0 u0 c1 r1 u1
  read -r c0 r0 u0 c1 r1 u1 <<<"$(cpu_jiffies)"
  awk -v phase="$phase" -v busy0=$((c0 - b0)) -v steal0=$((r0 - s0)) -v total0=$((u0 - t0)) \
    -v busy1=$((c1 - b1)) -v steal1=$((r1 - s1)) -v total1=$((u1 - t1)) 'BEGIN {
      printf "%-34s busy cpu0 %3.0f%% cpu1 %3.0f%%, steal cpu0 %2.0f%% cpu1 %2.0f%%\n", phase,
        100 * busy0 / (total0 + 1e-9), 100 * busy1 / (total1 + 1e-9),
        100 * steal0 / (total0 + 1e-9), 100 * steal1 / (total1 + 1e-9) }' >>"$raw/load.txt"
}

echo "== configure and build ($build_dir)"
logged cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
  -DHDF5_ROOT=/usr/lib/x86_64-linux-gnu/hdf5/openmpi -DSGDSWEEP_TESTS=OFF -DSGDSWEEP_BENCH=ON \
  >"$raw/build.txt"
logged cmake --build "$build_dir" --target sgdsweep-bench-autoencoder -j "$(nproc)" >>"$raw/build.txt"
bench=$build_dir/bench/sgdsweep-bench-autoencoder

cores=$(nproc)
if ((cores < 2)); then
  echo "only $cores core(s): the one-rank-per-core measurement needs 2 and is skipped" >&2
fi

# Before each measurement: wait (out of a budget of QUIET_WAIT seconds for the whole run) until
# neither core has been more than QUIET_BUSY % busy over the last 3 seconds.
quiet_budget=$quiet_wait
wait_until_quiet() {
  local before after busiest
  while :; do
    before=$(cpu_jiffies)
    sleep 3
    after=$(cpu_jiffies)
    busiest=$(awk -v before="$before" -v after="$after" 'BEGIN {
      split(before, b, " "); split(after, a, " ")
      for (c = 0; c < 2; c++) {
        total = a[3 * c + 3] - b[3 * c + 3]
        share = total > 0 ? 100 * (a[3 * c + 1] - b[3 * c + 1]) / total : 0
        if (share > most) most = share
      }
      printf "%.0f", most }')
    if ((busiest <= quiet_busy || quiet_budget <= 0)); then break; fi
    echo "   busiest core ${busiest}% busy; waiting (${quiet_budget}s of waiting left)"
    sleep 7
    quiet_budget=$((quiet_budget - 10))
  done
  printf '%-34s busiest core before: %s%%\n' "$1" "$busiest" >>"$raw/load.txt"
}

export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
printf 'export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1\n' >>"$commands"
bench_flags=(--data "$data" --benchmark_min_time="$min_time" --benchmark_repetitions="$repetitions"
  --benchmark_out_format=json)
torch_flags=(--data "$data" --min-time "$min_time" --repetitions "$repetitions")

# One measurement of a program: on one core (alone) or one copy per core at once (per_core).
# $1 = sgdsweep | pytorch, $2 = alone | per_core, $3 = round number.
measure() {
  local program=$1 mode=$2 round=$3 core pid
  local cores_used=(0) pids=()
  [[ $mode == per_core ]] && cores_used=(0 1)
  echo "== round $round, $mode: $program on core(s) ${cores_used[*]}"
  wait_until_quiet "round${round}_${mode}_$program"
  phase_start "round${round}_${mode}_$program"
  for core in "${cores_used[@]}"; do
    local name=$program-$mode-core$core-r$round
    if [[ $program == sgdsweep ]]; then
      logged taskset -c "$core" "$bench" "${bench_flags[@]}" --benchmark_out="$raw/$name.json" \
        >"$raw/$name.txt" &
    else
      logged taskset -c "$core" "$python" bench/pytorch_autoencoder.py "${torch_flags[@]}" \
        --out "$raw/$name.json" >"$raw/$name.txt" &
    fi
    pids+=($!)
  done
  for pid in "${pids[@]}"; do
    wait "$pid" || { echo "$program failed on $mode round $round; see $raw/*.txt" >&2; exit 1; }
  done
  phase_end
}

# Rounds alternate which program goes first (ABBA…), so that a drift of the machine's speed
# over the run (clock, neighbours of the virtual machine) falls on both alike.
modes=(alone)
((cores >= 2)) && modes+=(per_core)
for mode in "${modes[@]}"; do
  for ((round = 1; round <= rounds; round++)); do
    if ((round % 2)); then order=(sgdsweep pytorch); else order=(pytorch sgdsweep); fi
    for program in "${order[@]}"; do measure "$program" "$mode" "$round"; done
  done
done

echo "== writing $report"
"$python" bench/autoencoder_report.py "$raw" "$report" "$build_dir"
cat "$report"
