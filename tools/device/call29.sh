#!/bin/bash
# Device call 29: device/reduction_probe.cpp (what a batch's check costs on Cuda), built with
# nvcc_wrapper against a Kokkos release, no CMake.
# Usage (device tool): bash tools/device/call29.sh KOKKOS_ROOT 2>&1 | tee $OUT/call29.log
source tools/device/common.sh
: "${1:?the Kokkos installation}"
stage "build the probe"
mkdir -p "$W/include/sgpte"
printf '#define SGPTE_HAVE_LAPACK 0\n#define SGPTE_HAVE_CUSOLVER 1\n#define SGPTE_HAVE_CUBLAS 1\n' \
  > "$W/include/sgpte/config.hpp"
PATH=/usr/local/cuda/bin:$PATH "$1/bin/nvcc_wrapper" -std=c++17 -O3 -extended-lambda -arch=sm_90 -fopenmp \
  -I"$W/include" -Iinclude -Ibackends -I"$1/include" -I.devices/sysdeps/include/eigen3 \
  tools/device/reduction_probe.cpp -o "$W/reduction_probe" -L"$1/lib" -lkokkoskernels -lkokkoscore \
  -L/usr/local/cuda/lib64 -lcublasLt -lcublas -lcusolver -lcuda -ldl || exit 1
stage "run the probe, three times"
for round in 1 2 3; do "$W/reduction_probe" 2>&1 | grep " us$"; echo; done
stage "done"
