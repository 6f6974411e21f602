#!/usr/bin/env bash
# The measurements of issues #4 and #9 on the GPU machine, in one device command (run by the
# device tool from the repository root, with gpu-carry/ from bench/gpu/pack.sh carried):
#
#   bench/gpu/session.sh [all|gpu|packs]   # device tool: timeout_s = SESSION_SECONDS + 60
#
# A task is lent 15 minutes of device time in all, a machine's start included, and at most 8 files
# come back, so the session is sized to end by itself inside SESSION_SECONDS (default 330: room
# to run it twice) and leaves three files in $OUT (else out/gpu-session):
#   summary.txt      one line per step: its name, status (ok, failed, timed out, not run) and seconds
#   report.md        bench/gpu/report.py over what was measured
#   session.tar.gz   every log and JSON, device.txt and commands.txt; rewritten after each step, so
#                    that a session stopped from outside still returns what it had finished
# Steps in order of the issues' "must show", each under its own time limit and what is left of
# the session's (a step that would start with under 10 s left is "not run"):
#  1. device: nvidia-smi, torch and cuDNN versions;
#  2. (gpu) the PyTorch ground-truth fixtures (tests/reference/*.py, float64 on the CPU) and the
#     unit tests that need a GPU: DeviceOps.*/cuda (every op against the host backend, run-to-run bit
#     identity, packed ops independent of the pack), every backend suite's cuda instance (*/cuda)
#     and TrainerTest.Cuda* (a trial on the GPU against the host curve; packs against trials alone);
#  3. (gpu) one autoencoder trial (312 steps) and one WRN-16-4 trial (320 steps) on the GPU, their
#     curves against the host's committed in bench/results/gpu-curves/ (compare_curves.py: within
#     1e-2 relative, or 4 times the drift a 1-ulp change of the rate causes on the host), and the
#     autoencoder trial again, which must give the same bits;
#  4. (gpu) throughput, sgdsweep beside PyTorch eager on the same GPU, FP32 both: the autoencoder
#     at B = 16, 128, 1024 and WRN-16-4 at B = 128;
#  5. (packs) packed trial-steps/s (pack_autoencoder, pack_lstm, pack_wrn16_4): the autoencoder at
#     B = 16, 64, 128 in packs of PACKS_AUTOENCODER (1,8,64,256), the LSTM at B = 64 and WRN-16-4 at
#     B = 128 in packs of PACKS (1,8,64) (a pack the GPU cannot hold is skipped, named),
#     and PyTorch eager one trial per GPU at the same B (pytorch_autoencoder.py, pytorch_lstm.py);
#  6. (packs) the reduced study of 528 trials (pack-study.toml) in packs of 64, its wall time and
#     GPU-hours beside the planner's prediction, under what time is left.
# Environment: SESSION_SECONDS [330]; MIN_TIME [1] seconds per benchmark repetition (3 of them);
# PACKS [1,8,64], PACKS_AUTOENCODER [PACKS, else 1,8,64,256]; ONLY / SKIP: regular expressions of
# step names to run / leave out (a rerun of what did not finish: ONLY='pack_study'); PYTHON
# [python3]; CUDA_LIBS (cuBLAS and cuDNN; default:
# /usr/local/cuda/lib64, then this machine's PyTorch wheels' nvidia/*/lib); DEVICE [cuda]:
# host rehearses the whole session on a machine without a GPU (the host backend, PyTorch on the
# CPU; the CUDA tests skip), to find a fault in the script before it costs device time.
set -uo pipefail
part=${1:-all}
[[ $part == all || $part == gpu || $part == packs ]] || { echo "session.sh: all, gpu or packs, not '$part'" >&2; exit 2; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
budget=${SESSION_SECONDS:-330}
device=${DEVICE:-cuda}
torch_device=$([[ $device == cuda ]] && echo cuda || echo cpu)
out=${OUT:-out/gpu-session}
python=${PYTHON:-python3}
min_time=${MIN_TIME:-1}
mkdir -p "$out"
rm -f "$out/summary.txt" "$out/report.md" "$out/session.tar.gz"
work=$(mktemp -d)
bundle=$(mktemp -d)
trap 'rm -rf "$work" "$bundle"' EXIT
tar -C "$bundle" -xJf gpu-carry/bundle.tar.xz || { echo "session.sh: no gpu-carry/bundle.tar.xz (bench/gpu/pack.sh)" >&2; exit 1; }
cuda_libs=${CUDA_LIBS:-$("$python" - <<'PY'
import glob, os
try:
    import nvidia
    roots = list(nvidia.__path__)
except ImportError:
    roots = []
folders = sorted({os.path.dirname(p) for r in roots for p in glob.glob(os.path.join(r, "*", "lib", "lib*.so*"))})
# The machine's CUDA toolkit first (the release we build with), then the wheels (cuDNN).
print(":".join([f for f in ["/usr/local/cuda/lib64"] if os.path.isdir(f)] + folders))
PY
)}
export SGDSWEEP_TESTS_WITHOUT_MPI=1  # no MPI runtime on the GPU machine (tests/unit/test_main.cpp)
# The machine's own C/C++ runtimes if they load our binaries (cuDNN from a recent wheel may need
# a newer libstdc++ than ours), else ours through our loader.
if LD_LIBRARY_PATH="$bundle/lib:$cuda_libs" "$bundle/bin/sgdsweep_unit_tests" --gtest_list_tests >/dev/null 2>&1; then
  launch=(env "LD_LIBRARY_PATH=$bundle/lib:$cuda_libs")
else
  launch=("$bundle/lib/system/ld-linux-x86-64.so.2" --library-path "$bundle/lib:$cuda_libs:$bundle/lib/system")
fi
bin=$bundle/bin
data=$bundle/data

status=0
save() {  # the archive of everything so far, replaced whole, and the summary beside it
  tar -C "$work" -czf "$out/session.tar.gz.part" . && mv "$out/session.tar.gz.part" "$out/session.tar.gz"
  cp "$work/summary.txt" "$out/summary.txt" 2>/dev/null
}
verdict() { echo "$1" | tee -a "$work/summary.txt"; }
step() {  # step NAME LIMIT COMMAND...: runs under min(LIMIT, time left), logs to NAME.log
  local name=$1 limit=$2; shift 2
  if [[ -n ${ONLY:-} && ! $name =~ ^(${ONLY})$ ]] || [[ -n ${SKIP:-} && $name =~ ^(${SKIP})$ ]]; then return; fi
  local left=$((budget - SECONDS))
  if ((left < 10)); then verdict "$name: not run (${left} s of the session left)"; status=1; return; fi
  ((limit > left)) && limit=$left
  echo "== $name (at most $limit s): $*" >>"$work/commands.txt"
  local began=$SECONDS rc
  timeout --kill-after=5 "$limit" "$@" >"$work/$name.log" 2>&1
  rc=$?
  tail -3 "$work/$name.log"
  case $rc in
    0) verdict "$name: ok ($((SECONDS - began)) s)" ;;
    124 | 137) verdict "$name: timed out after $((SECONDS - began)) s"; status=1 ;;
    *) verdict "$name: failed, exit $rc ($((SECONDS - began)) s)"; status=1 ;;
  esac
  save
}

pytorch_wrn() {  # PyTorch eager WRN-16-4 at B = 128: beside ours (gpu) and the packs' baseline (packs)
  step pytorch_wrn 60 "$python" bench/gpu/pytorch_wrn.py --device "$torch_device" --cifar "$data/cifar10" \
    --deterministic --min-time "$min_time" --out "$work/pytorch_wrn.json"
}

{ date -u +%FT%TZ; echo "session.sh $part, DEVICE=$device, $(git describe --always --dirty 2>/dev/null)"
  nvidia-smi || true
  "$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU")'
  echo "CUDA libraries: $cuda_libs"; echo "launch: ${launch[*]}"
  LD_LIBRARY_PATH="$bundle/lib:$cuda_libs" ldd "$bin/sgdsweep_unit_tests" | grep -E 'cublas|cudnn|cudart|stdc'; } >"$work/device.txt" 2>&1
cat "$work/device.txt"
save

if [[ $part != packs ]]; then
  step fixture_autoencoder 60 "$python" tests/reference/autoencoder_torch.py "$work/autoencoder_torch.bin"
  step fixture_models 60 "$python" tests/reference/models_torch.py "$work/models_torch.bin"
  # SGDSWEEP_REQUIRE_DEVICE: a CUDA backend that does not start fails the GPU tests, not skips them.
  step unit_tests 150 env SGDSWEEP_TORCH_FIXTURE="$work/autoencoder_torch.bin" SGDSWEEP_MODELS_FIXTURE="$work/models_torch.bin" \
    SGDSWEEP_REQUIRE_DEVICE="$([[ $device == cuda ]] && echo cuda)" \
    "${launch[@]}" "$bin/sgdsweep_unit_tests" --gtest_filter='*/cuda:TrainerTest.Cuda*' \
    --gtest_output="json:$work/unit_tests.json"
  rm -f "$work"/*_torch.bin  # large, and made again by the scripts

  for model in autoencoder wrn; do
    folder=$data/fashion-mnist
    [[ $model == wrn ]] && folder=$data/cifar10
    step "curve_$model" 90 "${launch[@]}" "$bin/sgdsweep-trial-curve" "bench/gpu/$model-curve.toml" --device "$device" \
      --data "$folder" --out "$work/$model-$device.json"
    step "compare_$model" 20 "$python" bench/gpu/compare_curves.py "bench/results/gpu-curves/$model-host.json" \
      "$work/$model-$device.json" --baseline "bench/results/gpu-curves/$model-host-perturbed.json"
  done
  # Determinism: the same trial again must give the same bits.
  step curve_autoencoder_again 60 "${launch[@]}" "$bin/sgdsweep-trial-curve" bench/gpu/autoencoder-curve.toml \
    --device "$device" --data "$data/fashion-mnist" --out "$work/autoencoder-$device-again.json"
  step repeat_autoencoder 20 "$python" bench/gpu/compare_curves.py --tolerance 0 "$work/autoencoder-$device.json" \
    "$work/autoencoder-$device-again.json"

  step sgdsweep_throughput 90 "${launch[@]}" "$bin/sgdsweep-bench-autoencoder" --device "$device" \
    --data "$data/fashion-mnist" --cifar "$data/cifar10" --benchmark_filter='train_step|evaluate' \
    --benchmark_min_time="$min_time" --benchmark_repetitions=3 --benchmark_out="$work/sgdsweep.json" \
    --benchmark_out_format=json
  step pytorch_autoencoder 60 "$python" bench/pytorch_autoencoder.py --device "$torch_device" \
    --data "$data/fashion-mnist" --min-time "$min_time" --out "$work/pytorch_autoencoder.json"
  pytorch_wrn
fi

if [[ $part != gpu ]]; then
  # One process per model, so that a model that runs out of time costs only its own figures (the
  # JSON is written at the end).
  # The autoencoder also in packs of 256: a copy takes about 35 MB, and 64 of them may not fill the GPU.
  for model in autoencoder lstm wrn16_4; do
    packs=${PACKS:-1,8,64}
    [[ $model == autoencoder ]] && packs=${PACKS_AUTOENCODER:-${PACKS:-1,8,64,256}}
    step "pack_$model" 90 "${launch[@]}" "$bin/sgdsweep-bench-autoencoder" --device "$device" \
      --data "$data/fashion-mnist" --ptb "$data/ptb" --cifar "$data/cifar10" --packs "$packs" \
      --benchmark_filter="${model}_pack_step" --benchmark_min_time="$min_time" --benchmark_repetitions=3 \
      --benchmark_out="$work/packed_$model.json" --benchmark_out_format=json
  done
  step pytorch_autoencoder_packs 45 "$python" bench/pytorch_autoencoder.py --device "$torch_device" \
    --data "$data/fashion-mnist" --batch-sizes 16,64,128 --no-evaluate --min-time "$min_time" \
    --out "$work/pytorch_autoencoder_packs.json"
  step pytorch_lstm 45 "$python" bench/gpu/pytorch_lstm.py --device "$torch_device" --ptb "$data/ptb" \
    --min-time "$min_time" --out "$work/pytorch_lstm.json"
  [[ -e $work/pytorch_wrn.json ]] || pytorch_wrn  # the packs' baseline too
  step pack_study 600 "${launch[@]}" "$bin/sgdsweep-pack-study" bench/gpu/pack-study.toml --device "$device" \
    --data "$data/fashion-mnist" --out "$work/pack-study.json"
fi

# The report whatever time is left: it reads what is there.
timeout 30 "$python" bench/gpu/report.py "$work" >"$work/report.log" 2>&1 || { verdict "report: failed"; status=1; }
save
cp "$work/report.md" "$out/report.md" 2>/dev/null
echo; cat "$out/report.md" 2>/dev/null || cat "$out/summary.txt"
exit $status
