#!/usr/bin/env bash
# Installs everything sgdsweep needs to build, test and run on Debian 12 (bookworm), from Debian's
# own packages. Idempotent: apt-get runs only when a package is missing. Uses sudo when not root.
set -euo pipefail

packages=(
  cmake g++ make pkg-config git
  openmpi-bin libopenmpi-dev                   # MPI
  libhdf5-openmpi-dev hdf5-tools               # parallel HDF5 (MPI-IO) + h5dump
  libtrilinos-kokkos-dev                       # Kokkos 3.4 (host kernels)
  libopenblas-dev                              # single-threaded BLAS per rank
  libcli11-dev libtomlplusplus-dev zlib1g-dev  # command line, spec files, gzip'd IDX data
  libturbojpeg0-dev                            # ImageNet-layout JPEG folders (libjpeg-turbo's TurboJPEG)
  libgtest-dev libbenchmark-dev                # tests and benchmarks
  python3 python3-h5py python3-numpy python3-matplotlib python3-pil python3-torch  # readers, reference
  dataset-fashion-mnist                        # the demo and test data
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
