#ifndef SGPTE_BACKENDS_CUDA_CUBLAS_HANDLE_HPP
#define SGPTE_BACKENDS_CUDA_CUBLAS_HANDLE_HPP

// What the cuBLAS backends share: status checks, one handle per host thread, and the
// translation of BLAS arguments (transpose flags, leading dimensions of Kokkos views).

#include <sgpte/backends/blas_arguments.hpp>
#include <sgpte/core/error.hpp>

#include <string>

#include <cublas_v2.h>

namespace sgpte::backends::detail
{

inline void check_cublas(cublasStatus_t status, char const *what)
{
  if (status != CUBLAS_STATUS_SUCCESS)
    throw Error(std::string("cuBLAS call ") + what + " failed with status " +
                std::to_string(static_cast<int>(status)));
}

// One cuBLAS handle per host thread, created on first use.
inline cublasHandle_t cublas_handle()
{
  struct Handle
  {
    cublasHandle_t handle = nullptr;
    Handle() { check_cublas(cublasCreate(&handle), "cublasCreate"); }
    ~Handle() { cublasDestroy(handle); }
  };
  thread_local Handle h;
  return h.handle;
}

inline cublasOperation_t cublas_operation(char const *trans)
{
  return transposes(trans) ? CUBLAS_OP_T : CUBLAS_OP_N;
}

} // namespace sgpte::backends::detail

#endif
