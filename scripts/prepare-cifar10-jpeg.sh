#!/usr/bin/env bash
# Extracts the CIFAR-10 JPEG copy in ../shared into an ImageNet-layout image folder, once:
# OUTPUT/train/<class>/NNNN.jpg (5,000 per class) and OUTPUT/test/<class>/NNNN.jpg (1,000 per
# class), 32×32 JPEGs, read by src/data/image_folder with the splits "train" and "test".
#
#   scripts/prepare-cifar10-jpeg.sh [OUTPUT_FOLDER]     default: data/cifar10-jpeg (repository root)
#
# Environment:
#   SGDSWEEP_SHARED   the shared folder (default: ../shared beside the repository); the archive is
#                     $SGDSWEEP_SHARED/data/cifar10/cifar10-jpeg.tar.gz
# Takes a few seconds. A complete folder (10 classes per split, 50,000 + 10,000 files) is left
# alone. The archive is extracted into a staging folder beside the output, checked, and renamed
# into place, so an interrupted run leaves nothing half-written behind.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${SGDSWEEP_SHARED:-$root/../shared}"
output="${1:-$root/data/cifar10-jpeg}"
if [[ $# -gt 1 || "${1:-}" == -* ]]; then
  sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  [[ "${1:-}" == -h || "${1:-}" == --help ]] && exit 0
  exit 2
fi

# True when `folder` holds both splits with 10 class folders and the right file counts; prints
# the first problem otherwise.
complete() {
  local folder="$1" split expected classes files
  for split in train test; do
    expected=$([[ $split == train ]] && echo 50000 || echo 10000)
    if [[ ! -d "$folder/$split" ]]; then
      echo "$folder/$split: missing"
      return 1
    fi
    classes=$(find "$folder/$split" -mindepth 1 -maxdepth 1 -type d | wc -l)
    files=$(find "$folder/$split" -mindepth 2 -maxdepth 2 -type f -name '*.jpg' | wc -l)
    if [[ "$classes" -ne 10 || "$files" -ne "$expected" ]]; then
      echo "$folder/$split: $classes class folders and $files JPEGs, expected 10 and $expected"
      return 1
    fi
  done
}

if problem=$(complete "$output"); then
  echo "CIFAR-10 JPEG folder already complete in $output (train: 50000, test: 10000 images in 10" \
       "classes, counts checked); nothing to do"
  exit 0
fi
[[ -e "$output" ]] && echo "rebuilding $output: $problem"

archive="$shared/data/cifar10/cifar10-jpeg.tar.gz"
if [[ ! -f "$archive" ]]; then
  echo "error: $archive not found." >&2
  echo "The shared folder ($shared) is missing or incomplete. Point SGDSWEEP_SHARED at the folder" >&2
  echo "that holds data/cifar10/cifar10-jpeg.tar.gz, e.g." >&2
  echo "  SGDSWEEP_SHARED=/path/to/shared scripts/prepare-cifar10-jpeg.sh" >&2
  exit 1
fi

parent="$(dirname "$output")"
mkdir -p "$parent"
staging="$(mktemp -d "$parent/.cifar10-jpeg-staging.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
echo "extracting $archive …"
tar -xzf "$archive" -C "$staging" --no-same-owner train test
if ! problem=$(complete "$staging"); then
  echo "error: $archive does not hold the expected layout: $problem" >&2
  exit 1
fi
# Swap in the complete folder: an incomplete old one goes aside first, then away.
if [[ -e "$output" ]]; then
  mv "$output" "$staging/previous"
fi
mkdir "$staging/cifar10-jpeg"
mv "$staging/train" "$staging/test" "$staging/cifar10-jpeg/"
mv "$staging/cifar10-jpeg" "$output"
echo "CIFAR-10 JPEGs ready in $output (train: 50000, test: 10000 images; splits \"train\" and \"test\")"
