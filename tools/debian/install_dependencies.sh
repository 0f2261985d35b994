#!/usr/bin/env bash
# Installs what sgpte needs to build and test on Debian 12 (as root). Safe to rerun.
set -euo pipefail
packages=(
  cmake ninja-build g++ pkg-config
  libtrilinos-kokkos-dev libtrilinos-kokkos-kernels-dev # Kokkos 3.4 (Serial) + Kokkos Kernels
  libopenblas0-pthread liblapack-dev                    # fast BLAS/LAPACK behind Kokkos Kernels
  libeigen3-dev                                         # native Cholesky, test references
  nlohmann-json3-dev                                    # safetensors headers, statistics JSON
  libcli11-dev                                          # command-line options
  libboost-test-dev                                     # unit tests
  libopenmpi-dev openmpi-bin                            # -DSGPTE_ENABLE_MPI=ON (mpirun -np N)
  python3                                               # reference unpacker of exports (tests/export)
)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
