#!/bin/bash
# Device call 20: does the side stream (call 18) pay once the column statistics load eight
# values at a time (call 19)? sgpte-bench built twice against a Kokkos release, from the tree
# and from the tree with the patch $2 applied (the same code without the side stream), then
# the statistics at 768 columns, 1× and 4× the calibration tokens, three times each,
# alternating, and the 4096² statistics once each.
# Usage (device tool; carry .devdeps, .devices/prebuilt.tar.xz, the patch; HOST_LAPACK_DIR
# and LD_LIBRARY_PATH naming the OpenBLAS folder):
#   bash tools/device/call20.sh KOKKOS_ROOT PATCH 2>&1 | tee $OUT/call20.log
source tools/device/common.sh
: "${1:?the Kokkos installation}" "${2:?the patch}"
use_prebuilt > /dev/null
stage "build sgpte-bench twice (8 jobs each)"
root=/tmp/sgpte-ab; rm -rf $root; mkdir -p $root/with $root/without
tar cf - --exclude=./.git --exclude=./.devices/prebuilt.tar.xz . | tar xf - -C $root/with
cp -r $root/with/. $root/without/ && (cd $root/without && patch -p1 < "$OLDPWD/$2") || exit 1
for variant in with without; do
  (cmake -S $root/$variant -B $root/$variant/build -G Ninja -DCMAKE_BUILD_TYPE=Release \
     -DCMAKE_CXX_COMPILER=$1/bin/nvcc_wrapper -DKokkos_ROOT=$1 -DCMAKE_PREFIX_PATH=$root/$variant/.devices/sysdeps \
     -DSGPTE_ENABLE_LAPACK=ON -DBLA_VENDOR=OpenBLAS -DCMAKE_LIBRARY_PATH=$HOST_LAPACK_DIR \
     -DSGPTE_ENABLE_TESTS=OFF -DSGPTE_ENABLE_BENCHMARKS=ON > $W/logs/configure-$variant.log 2>&1 &&
   ninja -C $root/$variant/build -j 8 sgpte-bench > $W/logs/build-$variant.log 2>&1; echo "$variant build rc=$?") &
done
wait
stage "statistics, Cuda: side stream (with) against none (without)"
for round in 1 2 3; do
  for variant in with without; do
    for tokens in 262144 1048576; do
      echo "$variant tokens=$tokens $($root/$variant/build/bench/sgpte-bench --backend cuda --shapes 768x768,3072x768 \
        --configs sparse50 --tokens $tokens 2>&1 | tail -n 1)"
    done
  done
done
for variant in with without; do
  echo "$variant $($root/$variant/build/bench/sgpte-bench --backend cuda --shapes 768x768,4096x4096 --configs sparse50 2>&1 | tail -n 1)"
done
stage "done"
