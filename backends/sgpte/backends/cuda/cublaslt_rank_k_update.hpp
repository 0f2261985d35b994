#ifndef SGPTE_BACKENDS_CUDA_CUBLASLT_RANK_K_UPDATE_HPP
#define SGPTE_BACKENDS_CUDA_CUBLASLT_RANK_K_UPDATE_HPP

// rank_k_update_into on Kokkos::Cuda (rank_k_update_into.hpp): D = beta C + alpha op(A) op(A)ᵀ,
// the whole of D, by cublasLtMatmul on the instance's stream. cuBLASLt, unlike cuBLAS' GEMM,
// writes its result beside C instead of over it. Its fast algorithms at the calibration
// statistics' orders split the product's inner dimension and need a workspace for the split
// sums: at 768 columns and 2048 tokens on an H200 the heuristic's choice within 32 MiB took
// 61.5 µs (16 MiB of workspace), as cublasSgemm does in place, and 102 µs within 4 MiB
// (`git show 8af60cd:tools/device/statistics_update_probe.cu`).

#include <sgpte/backends/blas_arguments.hpp>
#include <sgpte/backends/cuda/cublas_handle.hpp>
#include <sgpte/core/error.hpp>
#include <sgpte/core/product_precision.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>

#include <cublasLt.h>

namespace sgpte::backends
{

// Alignment cuBLASLt wants of its workspace, and the most it asks of a matrix.
inline constexpr std::size_t cublaslt_alignment = 256;

// Device memory for cublasLtMatmul's split sums, grown to what the chosen algorithm needs.
// Owned by the caller, so that work queued on different instances never shares it.
class CublasLtWorkspace
{
public:
  // `bytes` of workspace aligned as cuBLASLt requires (Kokkos aligns its allocations to 128
  // bytes only).
  void *reserve(Kokkos::Cuda const &space, std::size_t bytes)
  {
    if (bytes == 0)
      return nullptr;
    if (_bytes.extent(0) < bytes + cublaslt_alignment)
    {
      _bytes = {}; // the old one is freed before the new one takes its place
      _bytes = Kokkos::View<unsigned char *, Kokkos::CudaSpace>(
          Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::cublaslt_workspace"),
          bytes + cublaslt_alignment);
    }
    auto const address = reinterpret_cast<std::uintptr_t>(_bytes.data());
    return _bytes.data() + (cublaslt_alignment - address % cublaslt_alignment) % cublaslt_alignment;
  }
  void release() { _bytes = {}; }

private:
  Kokkos::View<unsigned char *, Kokkos::CudaSpace> _bytes;
};

namespace detail
{

// Workspace cublasLtMatmul may take (the heuristic's limit).
inline constexpr std::size_t cublaslt_max_workspace_bytes = std::size_t(32) << 20;

// A cublasLtMatmul set-up for one shape: descriptors, layouts and the heuristic's algorithm,
// made once per shape and host thread instead of once per batch.
struct CublasLtPlan
{
  std::shared_ptr<cublasLtMatmulDescOpaque_t> operation;
  std::shared_ptr<cublasLtMatrixLayoutOpaque_t> a_layout, c_layout, d_layout;
  cublasLtMatmulAlgo_t algorithm;
  std::size_t workspace_bytes;
};

// The largest power of two up to cublaslt_alignment that divides the address. cuBLASLt's
// heuristic assumes fully aligned matrices unless told otherwise, and its algorithm then
// refuses less aligned ones; a Kokkos allocation is aligned to 128 bytes, a batch inside a
// larger view possibly to 4.
inline int address_alignment(void const *pointer)
{
  auto const address = reinterpret_cast<std::uintptr_t>(pointer);
  std::uintptr_t const lowest_bit = address & (~address + 1);
  return lowest_bit == 0 || lowest_bit > cublaslt_alignment ? static_cast<int>(cublaslt_alignment)
                                                            : static_cast<int>(lowest_bit);
}

// The shape of a product and the alignments of A, C and D, which select its plan.
struct CublasLtShape
{
  cublasOperation_t op;
  int n, k, lda, ldc, ldd;
  cublasComputeType_t compute;
  int a_alignment, c_alignment, d_alignment;
  auto key() const
  {
    return std::make_tuple(static_cast<int>(op), n, k, lda, ldc, ldd, static_cast<int>(compute),
                           a_alignment, c_alignment, d_alignment);
  }
};

struct CublasLtHandle
{
  cublasLtHandle_t handle = nullptr;
  std::map<decltype(std::declval<CublasLtShape>().key()), CublasLtPlan> plans;
  CublasLtHandle() { check_cublas(cublasLtCreate(&handle), "cublasLtCreate"); }
  ~CublasLtHandle()
  {
    plans.clear();
    cublasLtDestroy(handle);
  }
};

// One cuBLASLt handle and its plans per host thread, created on first use.
inline CublasLtHandle &cublaslt_handle()
{
  thread_local CublasLtHandle h;
  return h;
}

inline std::shared_ptr<cublasLtMatrixLayoutOpaque_t> cublaslt_layout(int rows, int columns, int ld)
{
  cublasLtMatrixLayout_t layout = nullptr;
  check_cublas(cublasLtMatrixLayoutCreate(&layout, CUDA_R_32F, rows, columns, ld),
               "cublasLtMatrixLayoutCreate");
  return {layout, cublasLtMatrixLayoutDestroy};
}

// op(A) is n × k; A is stored as op(A) (op N) or its transpose (op T), leading dimension lda.
inline CublasLtPlan const &cublaslt_plan(CublasLtShape const &shape)
{
  CublasLtHandle &lt = cublaslt_handle();
  if (auto const found = lt.plans.find(shape.key()); found != lt.plans.end())
    return found->second;
  cublasOperation_t const op = shape.op;
  int const n = shape.n, k = shape.k;

  CublasLtPlan plan;
  cublasLtMatmulDesc_t operation = nullptr;
  check_cublas(cublasLtMatmulDescCreate(&operation, shape.compute, CUDA_R_32F),
               "cublasLtMatmulDescCreate");
  plan.operation = {operation, cublasLtMatmulDescDestroy};
  cublasOperation_t const op_b = op == CUBLAS_OP_T ? CUBLAS_OP_N : CUBLAS_OP_T;
  check_cublas(
      cublasLtMatmulDescSetAttribute(operation, CUBLASLT_MATMUL_DESC_TRANSA, &op, sizeof op),
      "cublasLtMatmulDescSetAttribute");
  check_cublas(
      cublasLtMatmulDescSetAttribute(operation, CUBLASLT_MATMUL_DESC_TRANSB, &op_b, sizeof op_b),
      "cublasLtMatmulDescSetAttribute");
  plan.a_layout =
      op == CUBLAS_OP_T ? cublaslt_layout(k, n, shape.lda) : cublaslt_layout(n, k, shape.lda);
  plan.c_layout = cublaslt_layout(n, n, shape.ldc);
  plan.d_layout = cublaslt_layout(n, n, shape.ldd);

  cublasLtMatmulPreference_t preference = nullptr;
  check_cublas(cublasLtMatmulPreferenceCreate(&preference), "cublasLtMatmulPreferenceCreate");
  std::unique_ptr<cublasLtMatmulPreferenceOpaque_t, decltype(&cublasLtMatmulPreferenceDestroy)>
      owned(preference, cublasLtMatmulPreferenceDestroy);
  std::size_t const limit = cublaslt_max_workspace_bytes;
  check_cublas(cublasLtMatmulPreferenceSetAttribute(
                   preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &limit, sizeof limit),
               "cublasLtMatmulPreferenceSetAttribute");
  for (auto const [attribute, bytes] :
       {std::make_pair(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, shape.a_alignment),
        std::make_pair(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, shape.a_alignment),
        std::make_pair(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, shape.c_alignment),
        std::make_pair(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, shape.d_alignment)})
  {
    auto const value = static_cast<std::uint32_t>(bytes);
    check_cublas(cublasLtMatmulPreferenceSetAttribute(preference, attribute, &value, sizeof value),
                 "cublasLtMatmulPreferenceSetAttribute");
  }
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  check_cublas(cublasLtMatmulAlgoGetHeuristic(lt.handle, operation, plan.a_layout.get(),
                                              plan.a_layout.get(), plan.c_layout.get(),
                                              plan.d_layout.get(), preference, 1, &result, &found),
               "cublasLtMatmulAlgoGetHeuristic");
  if (found == 0)
    throw Error("cuBLASLt has no algorithm for a " + std::to_string(n) + " × " + std::to_string(n) +
                " rank-" + std::to_string(k) + " product");
  plan.algorithm = result.algo;
  plan.workspace_bytes = result.workspaceSize;
  return lt.plans.emplace(shape.key(), plan).first->second;
}

} // namespace detail

// D = beta C + alpha op(A) op(A)ᵀ (all of D), the products in fp32 or with the inputs rounded
// to TF32; C is left as it is unless it is D.
template <class AView, class CView, class DView>
void cublaslt_rank_k_update_into(Kokkos::Cuda const &space, char const *trans, float alpha,
                                 AView const &a, float beta, CView const &c, DView const &d,
                                 ProductPrecision precision, CublasLtWorkspace &workspace)
{
  cublasOperation_t const op = detail::cublas_operation(trans);
  int const n = static_cast<int>(d.extent(0));
  int const k = static_cast<int>(op == CUBLAS_OP_T ? a.extent(0) : a.extent(1));
  cublasComputeType_t const compute =
      precision == ProductPrecision::tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  detail::CublasLtPlan const &plan = detail::cublaslt_plan(
      {op, n, k, detail::leading_dimension(a), detail::leading_dimension(c),
       detail::leading_dimension(d), compute, detail::address_alignment(a.data()),
       detail::address_alignment(c.data()), detail::address_alignment(d.data())});
  void *const scratch = workspace.reserve(space, plan.workspace_bytes);
  detail::check_cublas(cublasLtMatmul(detail::cublaslt_handle().handle, plan.operation.get(),
                                      &alpha, a.data(), plan.a_layout.get(), a.data(),
                                      plan.a_layout.get(), &beta, c.data(), plan.c_layout.get(),
                                      d.data(), plan.d_layout.get(), &plan.algorithm, scratch,
                                      plan.workspace_bytes, space.cuda_stream()),
                       "cublasLtMatmul");
}

} // namespace sgpte::backends

#endif
