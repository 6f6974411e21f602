#!/usr/bin/env bash
# The measurements of issue #4 on the GPU machine, in one command (run by the device tool from the
# repository root, with gpu-carry/ from bench/gpu/pack.sh carried):
#
#   bench/gpu/session.sh [all|gpu|packs]   # results in $OUT (the device tool's folder), else out/gpu-session
#
# `gpu` runs steps 1–5 (issue #4), `packs` steps 1 and 6 (issue #9), `all` (the default) both; as
# two device commands each stays well inside the 10-minute limit.
#
# 1. the device's identity (nvidia-smi, torch, cuDNN);
# 2. the PyTorch ground-truth fixtures (tests/reference/*.py, float64 on the CPU);
# 3. the unit tests that run on the GPU: CudaOps.* (every op against the host backend, and run-to-
#    run bit identity), the layer, model and PyTorch-reference suites instantiated for cuda, and
#    TrainerTest.* (a whole trial on the GPU against the host);
# 4. one autoencoder trial (312 steps) and one WRN-16-4 trial (320 steps) on the GPU, their
#    curves compared with the host's, computed beforehand on the development machine and committed
#    in bench/results/gpu-curves/ (bench/gpu/compare_curves.py); the autoencoder trial twice on the
#    GPU, which must agree bit for bit;
# 5. throughput, sgdsweep --device cuda beside PyTorch eager on the same GPU, FP32 both: the
#    autoencoder at B = 16, 128, 1024 and WRN-16-4 at B = 128 (bench/gpu/report.py: the ratios and
#    the fraction of the GPU's FP32 peak);
# 6. packs (issue #9): autoencoder trial-steps/s at B = 16, 64, 128, the paper's LSTM at B = 64
#    and WRN-16-4 at B = 128 in packs of P = 1, 8, 64 against PyTorch eager one trial per GPU (its
#    examples/s ÷ B; the LSTM as cuDNN's, bench/gpu/pytorch_lstm.py), and the reduced study of 528
#    trials (bench/gpu/pack-study.toml) trained in packs of 64 by sgdsweep-pack-study, its wall time
#    beside the planner's prediction.
# Libraries: the bundle's, plus cuBLAS and cuDNN from this machine's PyTorch wheels (nvidia/*/lib),
# or from CUDA_LIBS when set. Each step runs even if an earlier one failed; the exit status says
# whether all passed.
set -uo pipefail
part=${1:-all}
[[ $part == all || $part == gpu || $part == packs ]] || { echo "session.sh: all, gpu or packs, not '$part'" >&2; exit 2; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
out=${OUT:-out/gpu-session}
python=${PYTHON:-python3}
min_time=${MIN_TIME:-3}
mkdir -p "$out"
bundle=$(mktemp -d)
tar -C "$bundle" -xJf gpu-carry/bundle.tar.xz || { echo "session.sh: no gpu-carry/bundle.tar.xz (bench/gpu/pack.sh)" >&2; exit 1; }
cuda_libs=${CUDA_LIBS:-$("$python" - <<'PY'
import glob, os
try:
    import nvidia
    roots = list(nvidia.__path__)
except ImportError:
    roots = []
print(":".join(sorted({os.path.dirname(p) for r in roots for p in glob.glob(os.path.join(r, "*", "lib", "lib*.so*"))})))
PY
)}
export SGDSWEEP_TESTS_WITHOUT_MPI=1  # no MPI runtime on the GPU machine (tests/unit/test_main.cpp)
# The machine's own C/C++ runtimes if they load our binaries (cuDNN from a recent wheel may need
# a newer libstdc++ than ours), else ours through our loader.
if LD_LIBRARY_PATH="$bundle/lib:$cuda_libs" "$bundle/bin/sgdsweep_unit_tests" --gtest_list_tests >/dev/null 2>&1; then
  libraries="$bundle/lib:$cuda_libs"
  run() { LD_LIBRARY_PATH="$libraries" "$@"; }
else
  libraries="$bundle/lib:$cuda_libs:$bundle/lib/system"
  run() { "$bundle/lib/system/ld-linux-x86-64.so.2" --library-path "$libraries" "$@"; }
fi
status=0
step() {  # step NAME COMMAND...: runs, logs to $out/NAME.log, remembers a failure
  local name=$1; shift
  echo "== $name: $*" | tee -a "$out/commands.txt"
  "$@" >"$out/$name.log" 2>&1
  local rc=$?
  tail -5 "$out/$name.log"
  [[ $rc -eq 0 ]] || { echo "== $name failed (exit $rc)"; status=1; }
}

{ date -u +%FT%TZ; nvidia-smi || true; "$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version(), torch.cuda.get_device_name(0))'; echo "libraries: $libraries"; type run | tail -2; } >"$out/device.txt" 2>&1
cat "$out/device.txt"

data=$bundle/data
if [[ $part != packs ]]; then
step fixture_autoencoder "$python" tests/reference/autoencoder_torch.py "$out/autoencoder_torch.bin"
step fixture_models "$python" tests/reference/models_torch.py "$out/models_torch.bin"
export SGDSWEEP_TORCH_FIXTURE="$out/autoencoder_torch.bin" SGDSWEEP_MODELS_FIXTURE="$out/models_torch.bin"
step unit_tests run "$bundle/bin/sgdsweep_unit_tests" --gtest_filter='CudaOps.*:*/cuda:TrainerTest.*' \
  --gtest_output="json:$out/unit_tests.json"

for model in autoencoder wrn; do
  folder=$data/fashion-mnist; [[ $model == wrn ]] && folder=$data/cifar10
  step "curve_$model" run "$bundle/bin/sgdsweep-trial-curve" "bench/gpu/$model-curve.toml" --device cuda \
    --data "$folder" --out "$out/$model-cuda.json"
  step "compare_$model" "$python" bench/gpu/compare_curves.py "bench/results/gpu-curves/$model-host.json" "$out/$model-cuda.json"
done
# Determinism: the same trial again on the GPU must give the same bits.
step curve_autoencoder_again run "$bundle/bin/sgdsweep-trial-curve" bench/gpu/autoencoder-curve.toml --device cuda \
  --data "$data/fashion-mnist" --out "$out/autoencoder-cuda-again.json"
step repeat_autoencoder "$python" bench/gpu/compare_curves.py --tolerance 0 "$out/autoencoder-cuda.json" \
  "$out/autoencoder-cuda-again.json"
step sgdsweep_throughput run "$bundle/bin/sgdsweep-bench-autoencoder" --device cuda --data "$data/fashion-mnist" \
  --cifar "$data/cifar10" --benchmark_filter='train_step|evaluate' --benchmark_min_time="$min_time" --benchmark_repetitions=3 \
  --benchmark_out="$out/sgdsweep.json" --benchmark_out_format=json
step pytorch_autoencoder "$python" bench/pytorch_autoencoder.py --device cuda --data "$data/fashion-mnist" \
  --min-time "$min_time" --out "$out/pytorch_autoencoder.json"
step pytorch_wrn "$python" bench/gpu/pytorch_wrn.py --device cuda --cifar "$data/cifar10" --deterministic \
  --min-time "$min_time" --out "$out/pytorch_wrn.json"
fi
if [[ $part != gpu ]]; then
step pack_throughput run "$bundle/bin/sgdsweep-bench-autoencoder" --device cuda --data "$data/fashion-mnist" \
  --ptb "$data/ptb" --cifar "$data/cifar10" --packs "${PACKS:-1,8,64}" --benchmark_filter=pack_step --benchmark_min_time="$min_time" \
  --benchmark_out="$out/packed.json" --benchmark_out_format=json
step pytorch_pack_baseline "$python" bench/pytorch_autoencoder.py --device cuda --data "$data/fashion-mnist" \
  --batch-sizes 16,64,128 --no-evaluate --min-time "$min_time" --out "$out/pytorch_autoencoder_packs.json"
step pytorch_lstm "$python" bench/gpu/pytorch_lstm.py --device cuda --ptb "$data/ptb" --min-time "$min_time" \
  --out "$out/pytorch_lstm.json"
[[ -e $out/pytorch_wrn.json ]] || step pytorch_wrn "$python" bench/gpu/pytorch_wrn.py --device cuda \
  --cifar "$data/cifar10" --deterministic --min-time "$min_time" --out "$out/pytorch_wrn.json"
# The study under a time limit (STUDY_SECONDS), so that the report is still written if it runs long.
export -f run
export libraries bundle
step pack_study timeout "${STUDY_SECONDS:-300}" bash -c 'run "$@"' run "$bundle/bin/sgdsweep-pack-study" \
  bench/gpu/pack-study.toml --device cuda --data "$data/fashion-mnist" --out "$out/pack-study.json"
fi
step report "$python" bench/gpu/report.py "$out"
cat "$out/report.md" 2>/dev/null
rm -rf "$bundle"
exit $status
