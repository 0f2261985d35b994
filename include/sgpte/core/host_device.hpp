#ifndef SGPTE_CORE_HOST_DEVICE_HPP
#define SGPTE_CORE_HOST_DEVICE_HPP

// SGPTE_HOST_DEVICE: a function that host code and GPU kernels both call, in a header that the
// Kokkos-free I/O layer includes too (KOKKOS_INLINE_FUNCTION means the same where Kokkos is).

#if defined(__CUDACC__) || defined(__HIPCC__)
#define SGPTE_HOST_DEVICE __host__ __device__ inline
#else
#define SGPTE_HOST_DEVICE inline
#endif

#endif
