#!/usr/bin/env bash
# Packs a CUDA build made on this machine for a machine that has the GPU but none of Debian's
# packages (the device machine): the programs and test executables, CTest's files, and the
# shared libraries they load that are neither the system's nor CUDA's (OpenBLAS with its
# Fortran runtime, libgomp, Boost.Test). nvcc compiles sgpte here as well as there, so the device's time
# goes to running, not compiling.
#
#   bash tools/device/pack_build.sh BUILD ARCHIVE
#
# ARCHIVE (e.g. .devices/build-cuda.tar.xz, git-ignored: OpenBLAS alone takes 36 MB, the
# archive about 9) is what the device tool carries; there, tools/device/test_backends.sh
# unpacks and runs it in place of BUILD.
set -euo pipefail
build=$(realpath "${1:?the build directory}")
archive=$(realpath -m "${2:?the archive}")
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
dest=$staging/$(basename "$archive" .tar.xz)
mkdir -p "$dest/lib"
(cd "$build" && find . -name CTestTestfile.cmake -o -type f -executable -path './drivers/*' \
  -o -type f -executable -path './tests/*' -name 'sgpte*' -o -type f -executable -path './bench/*' -name 'sgpte*' |
  grep -v CMakeFiles | cpio -pdm --quiet "$dest")
# Where the build's CTest files expect the sources (a link to the checkout is made there).
grep -m1 CMAKE_HOME_DIRECTORY "$build/CMakeCache.txt" | cut -d= -f2 > "$dest/SOURCE_DIR"
echo "$build" > "$dest/BUILD_DIR"
grep -m1 '^CMAKE_COMMAND:' "$build/CMakeCache.txt" | cut -d= -f2 > "$dest/CMAKE_COMMAND"
find "$dest" -type f -executable -name 'sgpte*' -exec ldd {} + | awk '/=> \// {print $3}' | sort -u |
  grep -E 'openblas|gfortran|quadmath|gomp|boost' | xargs -r -I{} cp -L {} "$dest/lib/"
# A build with -DSGPTE_ENABLE_MPI=ON also carries Debian's OpenMPI runtime, laid out under
# openmpi/ as under its prefix /usr, so that OPAL_PREFIX=openmpi relocates it (run_distributed.sh):
# the launcher, the components and their help texts, and in lib/ the MPI libraries and every
# library they, the launcher and the components load but the C and C++ runtimes (about 12 MB).
if ldd "$dest/drivers/sgpte-opt" | grep 'libmpi\.so' > /dev/null; then # not -q: ldd, cut short, would fail the pipe
  components=/usr/lib/x86_64-linux-gnu/openmpi/lib/openmpi3
  relocated=$dest/openmpi${components#/usr} # where OPAL_PREFIX takes the place of /usr
  mkdir -p "$dest/openmpi/bin" "$dest/openmpi/share" "${relocated%/*}"
  cp -L /usr/bin/orterun "$dest/openmpi/bin/mpirun"
  cp -L /usr/bin/orted "$dest/openmpi/bin/"
  cp -rL "$components" "$relocated"
  cp -rL /usr/share/openmpi "$dest/openmpi/share/"
  # The launcher CTest's files name (tests/distributed), mapped to the carried one there.
  grep -m1 '^MPIEXEC_EXECUTABLE:' "$build/CMakeCache.txt" | cut -d= -f2 > "$dest/MPIEXEC"
  mpi_libraries=$(ldd "$dest/drivers/sgpte-opt" | awk '/libmpi.*=> \// {print $3}')
  { echo "$mpi_libraries"
    ldd $mpi_libraries /usr/bin/orterun /usr/bin/orted "$components"/*.so | awk '/=> \// {print $3}'; } |
    sort -u | grep -v -E '/(libc|libm|libdl|librt|libpthread|libstdc\+\+|libgcc_s)\.so' |
    xargs -r -I{} cp -L {} "$dest/lib/"
fi
find "$dest" -type f -executable -name 'sgpte*' -exec strip {} +
tar cJf "$archive" -C "$staging" "$(basename "$dest")"
ls -la "$archive"
