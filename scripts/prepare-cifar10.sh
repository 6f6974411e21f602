#!/usr/bin/env bash
# Builds CIFAR-10 in its standard binary layout (data_batch_1..5.bin, test_batch.bin,
# batches.meta.txt) from the JPEG archive in ../shared, once: a complete folder is left alone.
#
#   scripts/prepare-cifar10.sh [OUTPUT_FOLDER]     default: data/cifar-10-batches-bin (repository root)
#
# Environment:
#   SGDSWEEP_SHARED   the shared folder (default: ../shared beside the repository); the archive is
#                     $SGDSWEEP_SHARED/data/cifar10/cifar10-jpeg.tar.gz with make-cifar10-bin.py
#   SGDSWEEP_PYTHON   Python 3 with Pillow and NumPy (default: /usr/bin/python3)
# Takes 10–30 s. The files are written to a staging folder beside the output and moved in only
# when all six have the right sizes, so an interrupted run leaves nothing half-written behind.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${SGDSWEEP_SHARED:-$root/../shared}"
python="${SGDSWEEP_PYTHON:-/usr/bin/python3}"
output="${1:-$root/data/cifar-10-batches-bin}"
if [[ $# -gt 1 || "${1:-}" == -* ]]; then
  sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  [[ "${1:-}" == -h || "${1:-}" == --help ]] && exit 0
  exit 2
fi

record=3073
records=10000
expected_size=$((records * record))  # 30,730,000 bytes per file
files=(data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin
       test_batch.bin)

# True when every .bin file of `folder` exists with the expected size; prints the first problem.
complete() {
  local folder="$1" name size
  for name in "${files[@]}"; do
    if [[ ! -f "$folder/$name" ]]; then
      echo "$folder/$name: missing"
      return 1
    fi
    size=$(stat -c %s "$folder/$name")
    if [[ "$size" -ne "$expected_size" ]]; then
      echo "$folder/$name: $size bytes, expected $expected_size ($records records of $record)"
      return 1
    fi
  done
}

if problem=$(complete "$output"); then
  echo "CIFAR-10 binary layout already complete in $output (5 × $records train + $records test" \
       "records, sizes checked); nothing to do"
  exit 0
fi
[[ -d "$output" ]] && echo "rebuilding $output: $problem"

archive="$shared/data/cifar10/cifar10-jpeg.tar.gz"
converter="$shared/data/cifar10/make-cifar10-bin.py"
for needed in "$archive" "$converter"; do
  if [[ ! -f "$needed" ]]; then
    echo "error: $needed not found." >&2
    echo "The shared folder ($shared) is missing or incomplete. Point SGDSWEEP_SHARED at the folder" >&2
    echo "that holds data/cifar10/cifar10-jpeg.tar.gz and make-cifar10-bin.py, e.g." >&2
    echo "  SGDSWEEP_SHARED=/path/to/shared scripts/prepare-cifar10.sh" >&2
    exit 1
  fi
done
if ! "$python" -c "import numpy, PIL" 2>/dev/null; then
  echo "error: $python cannot import numpy and PIL (Debian: apt-get install python3-numpy" \
       "python3-pil), or set SGDSWEEP_PYTHON to a Python 3 that has them" >&2
  exit 1
fi

mkdir -p "$(dirname "$output")"
staging="$(mktemp -d "$(dirname "$output")/.cifar-10-staging.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
echo "decoding $archive (10–30 s) …"
# make-cifar10-bin.py writes ARCHIVE → OUTDIR/cifar-10-batches-bin.
"$python" "$converter" "$archive" "$staging"
if ! problem=$(complete "$staging/cifar-10-batches-bin"); then
  echo "error: $converter produced an incomplete layout: $problem" >&2
  exit 1
fi
mkdir -p "$output"
for name in "${files[@]}" batches.meta.txt; do
  mv -f "$staging/cifar-10-batches-bin/$name" "$output/$name"
done
echo "CIFAR-10 ready in $output (50000 train and 10000 test records)"
