# Sourced by the device scripts with `archive` naming a build that pack_build.sh packed:
# unpacks it beside itself (once), sets `packed` to that directory, and exports what its
# programs need: its libraries and, for an MPI build, the OpenMPI it carries, relocated
# (OPAL_PREFIX), for mpirun and for single processes alike.
packed=${archive%.tar.xz}
[[ -d $packed ]] || python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
  "$archive" "$(dirname "$archive")" || exit 1
export LD_LIBRARY_PATH=$packed/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
if [[ -d $packed/openmpi ]]; then
  export OPAL_PREFIX=$packed/openmpi PATH=$packed/openmpi/bin:$PATH
  # The device runs as root; containers often forbid the cross-memory attach of OpenMPI's
  # shared-memory transfers, which then copy through shared memory.
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  export OMPI_MCA_btl_vader_single_copy_mechanism=none
fi
