#!/usr/bin/env bash
# Packs what bench/gpu/session.sh needs on the GPU machine (which has no Debian packages) into
# gpu-carry/bundle.tar.xz, ignored by git (.git/info/exclude) and carried by the device tool:
# the unit-test, throughput, trial-curve and pack-study binaries of a CUDA build, every shared library they load except
# cuBLAS and cuDNN (too large to carry; session.sh takes them from the GPU machine's CUDA toolkit
# and its PyTorch wheels, whose sonames match: libcublas.so.13, libcudnn.so.9), the C/C++ runtimes and dynamic
# loader of this machine (session.sh falls back to them when the GPU machine's glibc or
# libstdc++ is older than ours), and small real
# data subsets: the first 10,000 Fashion-MNIST training and 2,000 test images, the first 512
# records of each CIFAR-10 training batch and 512 evenly spaced test records, and the PTB
# validation and test texts.
#
#   bench/gpu/pack.sh            # after cmake --build --preset default (SGDSWEEP_CUDA=ON)
# Environment: BUILD_DIR [build/default], FASHION [/usr/share/datasets/fashion-mnist],
# CIFAR [data/cifar-10-batches-bin], PTB [../shared/data/ptb].
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
build=${BUILD_DIR:-build/default}
fashion=${FASHION:-/usr/share/datasets/fashion-mnist}
cifar=${CIFAR:-data/cifar-10-batches-bin}
ptb=${PTB:-../shared/data/ptb}
binaries=("$build/tests/sgdsweep_unit_tests" "$build/bench/sgdsweep-bench-autoencoder" "$build/bench/sgdsweep-trial-curve"
          "$build/bench/sgdsweep-pack-study")
for binary in "${binaries[@]}"; do
  [[ -x $binary ]] || { echo "pack.sh: $binary is missing: build first (cmake --build --preset default)" >&2; exit 1; }
done
ldd "${binaries[0]}" | grep -q libcudart || { echo "pack.sh: ${binaries[0]} has no CUDA backend (configure with -DSGDSWEEP_CUDA=ON)" >&2; exit 1; }

mkdir -p .git/info && touch .git/info/exclude
grep -qx 'gpu-carry/' .git/info/exclude || echo 'gpu-carry/' >>.git/info/exclude
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,lib/system,data/fashion-mnist,data/cifar10,data/ptb}
cp "$ptb/ptb.valid.txt" "$ptb/ptb.test.txt" "$stage/data/ptb/"
cp "${binaries[@]}" "$stage/bin/"
# The C and C++ runtimes apart (lib/system): session.sh uses the GPU machine's own when they load
# our binaries, and these with their loader when not.
ldd "${binaries[@]}" | awk '/=> \// { print $3 }' | sort -u | grep -v -E 'lib(cublas|cublasLt|cudnn[a-z_]*)\.so' |
  while read -r library; do
    case $(basename "$library") in
      libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|libresolv.so.*|libstdc++.so.*|libgcc_s.so.*)
        cp -L "$library" "$stage/lib/system/" ;;
      *) cp -L "$library" "$stage/lib/" ;;
    esac
  done
cp -L /lib64/ld-linux-x86-64.so.2 "$stage/lib/system/"

/usr/bin/python3 - "$fashion" "$cifar" "$stage/data" <<'PY'
import gzip, os, sys
fashion, cifar, out = sys.argv[1:4]
def subset(name, count, target):
    path = os.path.join(fashion, name)
    data = gzip.open(path + ".gz").read() if os.path.exists(path + ".gz") else open(path, "rb").read()
    header = bytearray(data[:16]); header[4:8] = count.to_bytes(4, "big")
    with open(os.path.join(out, "fashion-mnist", target), "wb") as f:
        f.write(bytes(header) + data[16:16 + 784 * count])
subset("train-images-idx3-ubyte", 10000, "train-images-idx3-ubyte")
subset("t10k-images-idx3-ubyte", 2000, "t10k-images-idx3-ubyte")
for name in [f"data_batch_{b}.bin" for b in range(1, 6)]:
    with open(os.path.join(cifar, name), "rb") as f, open(os.path.join(out, "cifar10", name), "wb") as g:
        g.write(f.read(3073 * 512))
# The test file may be sorted by class (the copy in ../shared is): 512 evenly spaced records.
with open(os.path.join(cifar, "test_batch.bin"), "rb") as f:
    test = f.read()
count = len(test) // 3073
with open(os.path.join(out, "cifar10", "test_batch.bin"), "wb") as g:
    for i in range(512):
        start = (i * count // 512) * 3073
        g.write(test[start:start + 3073])
PY
mkdir -p gpu-carry
tar -C "$stage" -cJf gpu-carry/bundle.tar.xz .
echo "gpu-carry/bundle.tar.xz: $(du -h gpu-carry/bundle.tar.xz | cut -f1) ($(ls "$stage/lib" | wc -l) libraries)"
