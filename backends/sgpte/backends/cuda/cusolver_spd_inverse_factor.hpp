#ifndef SGPTE_BACKENDS_CUDA_CUSOLVER_SPD_INVERSE_FACTOR_HPP
#define SGPTE_BACKENDS_CUDA_CUSOLVER_SPD_INVERSE_FACTOR_HPP

// cuSOLVER implementation of spd_inverse_lower_factor on Kokkos::Cuda: Xpotrf and Xtrtri
// in double precision on the device, on the instance's stream; the reversal and the
// conversions are Kokkos kernels, so the Hessian never leaves the GPU.

#include <sgpte/core/error.hpp>
#include <sgpte/core/kokkos_compat.hpp>
#include <sgpte/core/views.hpp>

#include <Kokkos_Core.hpp>

#include <cusolverDn.h>

#include <memory>
#include <string>

namespace sgpte::backends
{
namespace detail
{

inline void check_cusolver(cusolverStatus_t status, char const *what)
{
  if (status != CUSOLVER_STATUS_SUCCESS)
    throw Error(std::string("cuSOLVER call ") + what + " failed with status " +
                std::to_string(static_cast<int>(status)));
}

// One cuSOLVER handle per host thread, created on first use.
inline cusolverDnHandle_t cusolver_handle()
{
  struct Handle
  {
    cusolverDnHandle_t handle = nullptr;
    Handle() { check_cusolver(cusolverDnCreate(&handle), "cusolverDnCreate"); }
    ~Handle() { cusolverDnDestroy(handle); }
  };
  thread_local Handle h;
  return h.handle;
}

} // namespace detail

inline bool cusolver_spd_inverse_lower_factor(Kokkos::Cuda const &space, Matrix<Kokkos::Cuda> const &hessian,
                                              double damp, Matrix<Kokkos::Cuda> const &lower)
{
  using detail::check_cusolver;
  std::int64_t const n = static_cast<std::int64_t>(hessian.extent(0));
  int const ni = static_cast<int>(n);
  Kokkos::View<double **, Kokkos::LayoutLeft, Kokkos::CudaSpace> a(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::reversed_hessian"), n, n);
  Kokkos::parallel_for(
      "sgpte::reverse_damped_hessian",
      Kokkos::MDRangePolicy<Kokkos::Cuda, Kokkos::Rank<2, Kokkos::Iterate::Left>>(space, {0, 0}, {ni, ni}),
      KOKKOS_LAMBDA(int i, int j) {
        a(i, j) = static_cast<double>(hessian(ni - 1 - i, ni - 1 - j)) + (i == j ? damp : 0.0);
      });

  cusolverDnHandle_t handle = detail::cusolver_handle();
  check_cusolver(cusolverDnSetStream(handle, space.cuda_stream()), "cusolverDnSetStream");
  cusolverDnParams_t params;
  check_cusolver(cusolverDnCreateParams(&params), "cusolverDnCreateParams");
  std::unique_ptr<cusolverDnParams, decltype(&cusolverDnDestroyParams)> params_guard(params, &cusolverDnDestroyParams);

  std::size_t device_bytes = 0, host_bytes = 0, trtri_device_bytes = 0, trtri_host_bytes = 0;
  check_cusolver(cusolverDnXpotrf_bufferSize(handle, params, CUBLAS_FILL_MODE_LOWER, n, CUDA_R_64F,
                                             a.data(), n, CUDA_R_64F, &device_bytes, &host_bytes),
                 "cusolverDnXpotrf_bufferSize");
  check_cusolver(cusolverDnXtrtri_bufferSize(handle, CUBLAS_FILL_MODE_LOWER, CUBLAS_DIAG_NON_UNIT, n,
                                             CUDA_R_64F, a.data(), n, &trtri_device_bytes,
                                             &trtri_host_bytes),
                 "cusolverDnXtrtri_bufferSize");
  device_bytes = device_bytes > trtri_device_bytes ? device_bytes : trtri_device_bytes;
  host_bytes = host_bytes > trtri_host_bytes ? host_bytes : trtri_host_bytes;
  Kokkos::View<char *, Kokkos::CudaSpace> device_work(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::cusolver_work"), device_bytes + 1);
  Kokkos::View<char *, Kokkos::HostSpace> host_work("sgpte::cusolver_host_work", host_bytes + 1);
  Kokkos::View<int[2], Kokkos::CudaSpace> info("sgpte::cusolver_info");

  check_cusolver(cusolverDnXpotrf(handle, params, CUBLAS_FILL_MODE_LOWER, n, CUDA_R_64F, a.data(), n,
                                  CUDA_R_64F, device_work.data(), device_bytes, host_work.data(),
                                  host_bytes, &info.data()[0]),
                 "cusolverDnXpotrf");
  auto info_host = Kokkos::create_mirror_view(info);
  Kokkos::deep_copy(space, info_host, info);
  space.fence();
  if (info_host(0) != 0)
    return false;
  check_cusolver(cusolverDnXtrtri(handle, CUBLAS_FILL_MODE_LOWER, CUBLAS_DIAG_NON_UNIT, n, CUDA_R_64F,
                                  a.data(), n, device_work.data(), device_bytes, host_work.data(),
                                  host_bytes, &info.data()[1]),
                 "cusolverDnXtrtri");

  // L = J L̃⁻ᵀ J; a non-finite entry (a pivot that underflowed) counts as failure.
  int non_finite = 0;
  Kokkos::parallel_reduce(
      "sgpte::store_reversed_transpose",
      Kokkos::MDRangePolicy<Kokkos::Cuda, Kokkos::Rank<2, Kokkos::Iterate::Left>>(space, {0, 0}, {ni, ni}),
      KOKKOS_LAMBDA(int i, int j, int &bad) {
        float value = 0.0f;
        if (i >= j)
        {
          double const entry = a(ni - 1 - j, ni - 1 - i);
          bad += compat::isfinite(entry) ? 0 : 1;
          value = static_cast<float>(entry);
        }
        lower(i, j) = value;
      },
      non_finite);
  Kokkos::deep_copy(space, info_host, info);
  space.fence();
  return info_host(1) == 0 && non_finite == 0;
}

} // namespace sgpte::backends

#endif
