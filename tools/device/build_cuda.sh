#!/usr/bin/env bash
# Builds sgpte for CUDA + OpenMP + Serial (Hopper, sm_90), with the Kokkos and Kokkos Kernels
# it needs, from their public sources.
#
#   BLAS_DIR=DIR bash tools/device/build_cuda.sh KOKKOS_SRC KERNELS_SRC PREFIX [BUILD [TARGET...]]
#
# KOKKOS_SRC, KERNELS_SRC: source trees of the kokkos/kokkos and kokkos/kokkos-kernels
# releases (tested: 4.6.01 both). PREFIX: where both are installed (skipped when Kokkos
# Kernels is already installed there). BUILD (optional): sgpte's build directory, configured
# with the tests and benchmarks, TARGETs built (default: everything). BLAS_DIR (optional): a
# folder holding libopenblas.so, the host BLAS and LAPACK of the OpenMP and Serial backends
# (e.g. Debian's /usr/lib/x86_64-linux-gnu/openblas-openmp); without it Kokkos Kernels runs
# its own host GEMM and Eigen factorises on the host.
#
# Patch step: nvcc_wrapper's default architecture becomes sm_90, and Kokkos 4.6 calls three
# CUDA runtime functions whose signatures CUDA 13 changed (cudaGraphAddDependencies gained
# edge data; cudaMemAdvise and cudaMemPrefetchAsync take a cudaMemLocation). With nvcc >= 13 the script edits those three calls in KOKKOS_SRC (once;
# the edits are guarded by CUDART_VERSION, so the tree still builds with older CUDA).
# Kokkos Kernels is configured with its BLAS component only, cuBLAS on, cuSPARSE and
# cuSOLVER off (sgpte links cuSOLVER itself) and no explicit instantiation (ETI), which
# sgpte's header-only use does not need: about 40 s on 16 cores, 90 s on 2. sgpte itself takes
# minutes per source file with nvcc (its tests about an hour on 2 cores).
set -euo pipefail
kokkos_src=$(realpath "${1:?Kokkos source tree}")
kernels_src=$(realpath "${2:?Kokkos Kernels source tree}")
prefix=$(realpath -m "${3:?install prefix}")
build=${4:-}
targets=("${@:5}")
blas_dir=${BLAS_DIR:-}
jobs=${JOBS:-$(nproc)}
work=${KOKKOS_BUILD_DIR:-$prefix.build} # Kokkos' own build trees
export PATH=$PATH:/usr/local/cuda/bin

patch_for_cuda13() {
  # nvcc_wrapper's default architecture, sm_70, which CUDA 13 no longer compiles for, is used
  # for CMake's compiler checks before Kokkos_ARCH_HOPPER90 applies.
  sed -i 's/^default_arch="sm_70"$/default_arch="sm_90"/' "$kokkos_src/bin/nvcc_wrapper"
  local instance=$kokkos_src/core/src/Cuda/Kokkos_Cuda_Instance.hpp
  grep -q "sgpte: CUDA 13" "$instance" && return
  perl -0pi -e '
    s{return cudaGraphAddDependencies\(graph, from, to, numDependencies\);}
     {// sgpte: CUDA 13 adds edge data
#if CUDART_VERSION >= 13000
    return cudaGraphAddDependencies(graph, from, to, nullptr, numDependencies);
#else
    return cudaGraphAddDependencies(graph, from, to, numDependencies);
#endif};
    s{return cudaMemAdvise\(devPtr, count, advice, device\);}
     {#if CUDART_VERSION >= 13000
    cudaMemLocation location{};
    location.type = device == cudaCpuDeviceId ? cudaMemLocationTypeHost : cudaMemLocationTypeDevice;
    location.id = device;
    return cudaMemAdvise(devPtr, count, advice, location);
#else
    return cudaMemAdvise(devPtr, count, advice, device);
#endif};
    s{return cudaMemPrefetchAsync\(devPtr, count, dstDevice,\s*get_input_stream\(stream\)\);}
     {#if CUDART_VERSION >= 13000
    cudaMemLocation location{};
    location.type = dstDevice == cudaCpuDeviceId ? cudaMemLocationTypeHost : cudaMemLocationTypeDevice;
    location.id = dstDevice;
    return cudaMemPrefetchAsync(devPtr, count, location, 0, get_input_stream(stream));
#else
    return cudaMemPrefetchAsync(devPtr, count, dstDevice, get_input_stream(stream));
#endif};
  ' "$instance"
  [ "$(grep -c "CUDART_VERSION >= 13000" "$instance")" -ge 3 ] ||
    { echo "build_cuda.sh: $instance: the CUDA 13 fixes did not apply (another Kokkos release?)" >&2; exit 1; }
}

if [[ -e $prefix/lib/cmake/KokkosKernels/KokkosKernelsConfig.cmake ]]; then
  echo "build_cuda.sh: Kokkos Kernels already in $prefix"
else
patch_for_cuda13

cmake -S "$kokkos_src" -B "$work/kokkos" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$kokkos_src/bin/nvcc_wrapper" -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DCMAKE_CXX_STANDARD=17 -DKokkos_ENABLE_CUDA=ON -DKokkos_ENABLE_OPENMP=ON \
  -DKokkos_ENABLE_SERIAL=ON -DKokkos_ARCH_HOPPER90=ON -DKokkos_ENABLE_TESTS=OFF
cmake --build "$work/kokkos" --parallel "$jobs"
cmake --install "$work/kokkos"

blas=(-DKokkosKernels_ENABLE_TPL_BLAS=OFF)
if [[ -n $blas_dir ]]; then
  # F77_BLAS_MANGLE: Kokkos Kernels otherwise asks a Fortran compiler for the symbol names.
  blas=(-DKokkosKernels_ENABLE_TPL_BLAS=ON -DKokkosKernels_ENABLE_TPL_LAPACK=ON
    "-DBLAS_LIBRARY_DIRS=$blas_dir" -DBLAS_LIBRARIES=openblas
    "-DLAPACK_LIBRARY_DIRS=$blas_dir" -DLAPACK_LIBRARIES=openblas
    "-DF77_BLAS_MANGLE=(name,NAME) name ## _")
fi
cmake -S "$kernels_src" -B "$work/kernels" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$prefix/bin/nvcc_wrapper" -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DKokkos_ROOT="$prefix" -DKokkosKernels_ENABLE_ALL_COMPONENTS=OFF \
  -DKokkosKernels_ENABLE_COMPONENT_BLAS=ON -DKokkosKernels_ADD_DEFAULT_ETI=OFF \
  -DKokkosKernels_ENABLE_TPL_CUBLAS=ON -DKokkosKernels_ENABLE_TPL_CUSPARSE=OFF \
  -DKokkosKernels_ENABLE_TPL_CUSOLVER=OFF "${blas[@]}" -DKokkosKernels_ENABLE_TESTS=OFF
cmake --build "$work/kernels" --parallel "$jobs"
cmake --install "$work/kernels"
echo "build_cuda.sh: Kokkos and Kokkos Kernels installed in $prefix"
fi

[[ -n $build ]] || exit 0
lapack=(-DSGPTE_ENABLE_LAPACK=OFF)
[[ -n $blas_dir ]] && lapack=(-DSGPTE_ENABLE_LAPACK=ON -DBLA_VENDOR=OpenBLAS "-DCMAKE_LIBRARY_PATH=$blas_dir")
cmake -S "$(dirname "$0")/../.." -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$prefix/bin/nvcc_wrapper" -DKokkos_ROOT="$prefix" "${lapack[@]}" \
  -DSGPTE_ENABLE_TESTS=ON -DSGPTE_ENABLE_BENCHMARKS=ON ${CMAKE_PREFIX_PATH:+"-DCMAKE_PREFIX_PATH=$CMAKE_PREFIX_PATH"}
cmake --build "$build" --parallel "$jobs" ${targets[@]+--target "${targets[@]}"}
