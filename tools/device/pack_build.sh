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
find "$dest" -type f -executable -name 'sgpte*' -exec strip {} +
tar cJf "$archive" -C "$staging" "$(basename "$dest")"
ls -la "$archive"
