#ifndef SGPTE_DRIVERS_SGPTE_OPT_OPENMPI_LEAK_SUPPRESSIONS_HPP
#define SGPTE_DRIVERS_SGPTE_OPT_OPENMPI_LEAK_SUPPRESSIONS_HPP

// LeakSanitizer's defaults for sgpte-opt built with AddressSanitizer and MPI: OpenMPI
// (4.1, Debian 12) leaves about 3,300 allocations of its own, and of the hwloc and libevent it
// brings, unfreed after MPI_Finalize, in every process. Those are suppressed by library, so a
// leak of sgpte's still fails the run. The suppressions match any frame of an allocation's
// stack, which the fast unwinder cuts short in these libraries (built without frame
// pointers): allocations are unwound fully (about 10 % slower on the tiny model). LSAN_OPTIONS
// still adds to or overrides these.

#include <sgpte/config.hpp>

#if SGPTE_HAVE_MPI && defined(__SANITIZE_ADDRESS__)
extern "C" char const *__lsan_default_suppressions()
{
  return "leak:libmpi.so\n"
         "leak:libopen-pal.so\n"
         "leak:libopen-rte.so\n"
         "leak:libhwloc.so\n"
         "leak:libevent\n";
}

extern "C" char const *__lsan_default_options() { return "fast_unwind_on_malloc=0"; }
#endif

#endif
