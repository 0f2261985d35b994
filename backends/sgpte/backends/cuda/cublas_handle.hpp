#ifndef SGPTE_BACKENDS_CUDA_CUBLAS_HANDLE_HPP
#define SGPTE_BACKENDS_CUDA_CUBLAS_HANDLE_HPP

// What the cuBLAS backends share: status checks, one handle per host thread, and the
// translation of BLAS arguments (transpose flags, leading dimensions of Kokkos views).

#include <sgpte/backends/blas_arguments.hpp>
#include <sgpte/core/error.hpp>

#include <Kokkos_Core.hpp>

#include <cfenv>
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

// Holds a caller's floating-point traps off for the duration of a vendor call and restores its
// floating-point environment (flags and traps) afterwards. cuBLAS' host code for
// half-precision operands raises the invalid-operation flag: on an H200 with CUDA 13.0, the
// test suite's FE_INVALID trap stopped both tests that first call cublasGemmEx with F16 and
// BF16 operands, at the same instruction of a library, and the interrupted library then
// failed every later call. A program's own traps are for its own arithmetic.
class HeldFloatingPointTraps
{
public:
  HeldFloatingPointTraps() { std::feholdexcept(&_saved); }
  ~HeldFloatingPointTraps() { std::fesetenv(&_saved); }
  HeldFloatingPointTraps(HeldFloatingPointTraps const &) = delete;
  HeldFloatingPointTraps &operator=(HeldFloatingPointTraps const &) = delete;

private:
  std::fenv_t _saved;
};

// The thread's handle, bound to the instance's stream.
inline cublasHandle_t cublas_handle_on(Kokkos::Cuda const &space)
{
  cublasHandle_t const handle = cublas_handle();
  check_cublas(cublasSetStream(handle, space.cuda_stream()), "cublasSetStream");
  return handle;
}

inline cublasOperation_t cublas_operation(char const *trans)
{
  return transposes(trans) ? CUBLAS_OP_T : CUBLAS_OP_N;
}

} // namespace sgpte::backends::detail

#endif
