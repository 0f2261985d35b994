// Where a calibration batch's time goes on the GPU, without Kokkos: the update H = beta H +
// alpha A Aᵀ (A: n × k column-major, i.e. a row-major k-token batch of n columns) through
// cuBLAS in several ways, and the cost of the host waiting for an overflow check before it
// queues the product (what CalibrationStatistics::add_batch does) against queueing
// everything and waiting on an event recorded before the product.
// cuBLASLt's matmul writes D = beta C + alpha A Aᵀ out of place (D ≠ C), which lets the host
// accept a checked batch by swapping the two buffers instead of adding a staged product.
// Prints microseconds per batch (CUDA events around `batches` batches, best of 3).
// Build: nvcc -O2 -std=c++17 -arch=sm_90 statistics_update_probe.cu -lcublas -lcublasLt -o probe
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#define CHECK(call)                                                                                \
  do                                                                                               \
  {                                                                                                \
    if ((call) != 0)                                                                               \
    {                                                                                              \
      std::fprintf(stderr, "%s failed at line %d\n", #call, __LINE__);                             \
      std::exit(1);                                                                                \
    }                                                                                              \
  } while (0)

// Stands in for the column statistics pass: reads the batch once, column sums of squares.
__global__ void column_squares(float const *a, int n, int k, double *squares)
{
  int const column = blockIdx.x * blockDim.x + threadIdx.x;
  if (column >= n)
    return;
  double sum = 0;
  for (int t = 0; t < k; ++t)
  {
    float const x = a[column + static_cast<size_t>(t) * n];
    sum += static_cast<double>(x) * x;
  }
  squares[column] = sum;
}

__global__ void check(double const *squares, int n, double *worst)
{
  double w = 0;
  for (int j = 0; j < n; ++j)
    w = squares[j] > w ? squares[j] : w;
  *worst = w;
}

// The guarded scalars and copy of the queued variant: alpha, beta = ok ? (a, b) : (0, 1);
// y = ok ? a : 0.
__global__ void guard_scalars(double const *worst, float alpha, float beta, float *scalars)
{
  bool const ok = *worst < 1e30;
  scalars[0] = ok ? alpha : 0.0f;
  scalars[1] = ok ? beta : 1.0f;
}

__global__ void guarded_combine(double const *worst, float beta, float const *s, float *h, int n)
{
  if (!(*worst < 1e30))
    return;
  size_t const i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (i >= static_cast<size_t>(n) * n)
    return;
  int const row = static_cast<int>(i % n), column = static_cast<int>(i / n);
  if (row >= column)
    h[i] = beta * h[i] + s[i];
}

__global__ void scale_copy(float const *a, float factor, float *y, size_t count)
{
  size_t const i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (i < count)
    y[i] = factor * a[i];
}

// D = beta C + alpha A Aᵀ through cublasLtMatmul with the heuristic's first algorithm within
// `workspace_bytes`.
struct LtProduct
{
  cublasLtMatmulDesc_t desc;
  cublasLtMatrixLayout_t a_layout, c_layout;
  cublasLtMatmulAlgo_t algo;
  void *workspace = nullptr;
  size_t workspace_bytes;
  LtProduct(cublasLtHandle_t lt, int n, int k, size_t workspace_bytes, cublasComputeType_t compute)
      : workspace_bytes(workspace_bytes)
  {
    cublasOperation_t const n_op = CUBLAS_OP_N, t_op = CUBLAS_OP_T;
    CHECK(cublasLtMatmulDescCreate(&desc, compute, CUDA_R_32F));
    CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &n_op, sizeof n_op));
    CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &t_op, sizeof t_op));
    CHECK(cublasLtMatrixLayoutCreate(&a_layout, CUDA_R_32F, n, k, n));
    CHECK(cublasLtMatrixLayoutCreate(&c_layout, CUDA_R_32F, n, n, n));
    cublasLtMatmulPreference_t preference;
    CHECK(cublasLtMatmulPreferenceCreate(&preference));
    CHECK(cublasLtMatmulPreferenceSetAttribute(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                               &workspace_bytes, sizeof workspace_bytes));
    cublasLtMatmulHeuristicResult_t result[4];
    int found = 0;
    CHECK(cublasLtMatmulAlgoGetHeuristic(lt, desc, a_layout, a_layout, c_layout, c_layout, preference,
                                         4, result, &found));
    if (found == 0)
      std::exit(3);
    algo = result[0].algo;
    std::printf("cublasLt n=%d k=%d workspace limit %zu: %d algorithms, first needs %zu bytes\n", n, k,
                workspace_bytes, found, result[0].workspaceSize);
    if (workspace_bytes > 0)
      CHECK(cudaMalloc(&workspace, workspace_bytes));
  }
  void operator()(cublasLtHandle_t lt, cudaStream_t stream, float alpha, float const *a, float beta,
                  float const *c, float *d) const
  {
    CHECK(cublasLtMatmul(lt, desc, &alpha, a, a_layout, a, a_layout, &beta, c, c_layout, d, c_layout,
                         &algo, workspace, workspace_bytes, stream));
  }
};

int main(int argc, char **argv)
{
  if (argc != 4)
  {
    std::fprintf(stderr, "usage: %s N K BATCHES\n", argv[0]);
    return 2;
  }
  int const n = std::atoi(argv[1]), k = std::atoi(argv[2]), batches = std::atoi(argv[3]);
  size_t const nk = static_cast<size_t>(n) * k, nn = static_cast<size_t>(n) * n;
  std::vector<float> host(nk);
  srand(1);
  for (float &x : host)
    x = 2.0f * rand() / RAND_MAX - 1.0f;
  float *a, *y, *h, *s, *scalars;
  double *squares, *worst, *worst_host;
  CHECK(cudaMalloc(&a, nk * 4));
  CHECK(cudaMalloc(&y, nk * 4));
  CHECK(cudaMalloc(&h, nn * 4));
  CHECK(cudaMalloc(&s, nn * 4));
  CHECK(cudaMalloc(&scalars, 8));
  CHECK(cudaMalloc(&squares, n * 8));
  CHECK(cudaMalloc(&worst, 8));
  CHECK(cudaMallocHost(&worst_host, 8));
  CHECK(cudaMemcpy(a, host.data(), nk * 4, cudaMemcpyHostToDevice));
  CHECK(cudaMemset(h, 0, nn * 4));
  CHECK(cudaMemset(worst, 0, 8));
  cudaStream_t stream;
  CHECK(cudaStreamCreate(&stream));
  cublasHandle_t blas;
  CHECK(cublasCreate(&blas));
  CHECK(cublasSetStream(blas, stream));
  cublasLtHandle_t lt;
  CHECK(cublasLtCreate(&lt));
  size_t const mib = 1 << 20;
  LtProduct const lt0(lt, n, k, 0, CUBLAS_COMPUTE_32F), lt4(lt, n, k, 4 * mib, CUBLAS_COMPUTE_32F),
      lt32(lt, n, k, 32 * mib, CUBLAS_COMPUTE_32F),
      lt_tf32(lt, n, k, 4 * mib, CUBLAS_COMPUTE_32F_FAST_TF32);
  // The out-of-place update alternates between H and S as the accepted buffer.
  float *current = h, *other = s;
  auto const lt_out_of_place = [&](LtProduct const &product, float al, float be)
  {
    product(lt, stream, al, a, be, current, other);
    std::swap(current, other);
  };
  cudaEvent_t start, stop, checked;
  CHECK(cudaEventCreate(&start));
  CHECK(cudaEventCreate(&stop));
  CHECK(cudaEventCreateWithFlags(&checked, cudaEventDisableTiming));
  int const threads = 256;
  int const column_blocks = (n + threads - 1) / threads;
  auto const host_check = [&]
  {
    column_squares<<<column_blocks, threads, 0, stream>>>(a, n, k, squares);
    check<<<1, 1, 0, stream>>>(squares, n, worst);
    CHECK(cudaMemcpyAsync(worst_host, worst, 8, cudaMemcpyDeviceToHost, stream));
  };
  auto const gemm = [&](float alpha, float beta, float const *x, float *c)
  { CHECK(cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_T, n, n, k, &alpha, x, n, x, n, &beta, c, n)); };
  // The lower triangle in `blocks` column blocks, each a GEMM of the rows at and below it.
  auto const trapezoid = [&](int blocks, float alpha, float beta)
  {
    int const width = (n + blocks - 1) / blocks;
    for (int first = 0; first < n; first += width)
    {
      int const w = first + width < n ? width : n - first, rows = n - first;
      CHECK(cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_T, rows, w, k, &alpha, a + first, n, a + first,
                        n, &beta, h + first + static_cast<size_t>(first) * n, n));
    }
  };
  // The queued variants whose product reads alpha and beta from the device, where a guard
  // kernel sets them from the check: queues the check, an event, the guard and `product`
  // (the cuBLAS call, in device pointer mode), then waits on the event.
  auto const with_device_scalars = [&](float alpha, float beta, auto const &product)
  {
    host_check();
    CHECK(cudaEventRecord(checked, stream));
    guard_scalars<<<1, 1, 0, stream>>>(worst, alpha, beta, scalars);
    CHECK(cublasSetPointerMode(blas, CUBLAS_POINTER_MODE_DEVICE));
    product();
    CHECK(cublasSetPointerMode(blas, CUBLAS_POINTER_MODE_HOST));
    CHECK(cudaEventSynchronize(checked));
  };
  std::vector<std::pair<char const *, std::function<void(float, float)>>> variants = {
      {"sgemm N,T into H (beta)", [&](float al, float be) { gemm(al, be, a, h); }},
      {"cublasLt out of place, no workspace",
       [&](float al, float be) { lt_out_of_place(lt0, al, be); }},
      {"cublasLt out of place, 4 MiB workspace",
       [&](float al, float be) { lt_out_of_place(lt4, al, be); }},
      {"cublasLt out of place, 32 MiB workspace",
       [&](float al, float be) { lt_out_of_place(lt32, al, be); }},
      {"cublasLt in place, 4 MiB workspace",
       [&](float al, float be) { lt4(lt, stream, al, a, be, h, h); }},
      {"cublasLt TF32 out of place, 4 MiB workspace",
       [&](float al, float be) { lt_out_of_place(lt_tf32, al, be); }},
      {"cublasGemmEx TF32 in place",
       [&](float al, float be)
       {
         CHECK(cublasGemmEx(blas, CUBLAS_OP_N, CUBLAS_OP_T, n, n, k, &al, a, CUDA_R_32F, n, a,
                            CUDA_R_32F, n, &be, h, CUDA_R_32F, n, CUBLAS_COMPUTE_32F_FAST_TF32,
                            CUBLAS_GEMM_DEFAULT));
       }},
      {"check, Lt out of place, wait on event, swap",
       [&](float al, float be)
       {
         host_check();
         CHECK(cudaEventRecord(checked, stream));
         lt4(lt, stream, al, a, be, current, other);
         CHECK(cudaEventSynchronize(checked));
         if (*worst_host < 1e30)
           std::swap(current, other);
       }},
      {"ssyrk lower",
       [&](float al, float be) {
         CHECK(cublasSsyrk(blas, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, n, k, &al, a, n, &be, h, n));
       }},
      {"lower by 2 GEMM blocks", [&](float al, float be) { trapezoid(2, al, be); }},
      {"lower by 3 GEMM blocks", [&](float al, float be) { trapezoid(3, al, be); }},
      {"lower by 4 GEMM blocks", [&](float al, float be) { trapezoid(4, al, be); }},
      {"torch-like: scale copy, sgemm beta 0, add",
       [&](float al, float be)
       {
         scale_copy<<<(n * n + threads - 1) / threads, threads, 0, stream>>>(h, be, h, nn);
         scale_copy<<<(nk + threads - 1) / threads, threads, 0, stream>>>(a, al, y, nk);
         gemm(1.0f, 0.0f, y, s);
         guarded_combine<<<(nn + threads - 1) / threads, threads, 0, stream>>>(worst, 1.0f, s, h,
                                                                               n);
       }},
      {"check, host waits, sgemm (add_batch now)",
       [&](float al, float be)
       {
         host_check();
         CHECK(cudaStreamSynchronize(stream));
         if (*worst_host < 1e30)
           gemm(al, be, a, h);
       }},
      {"check, sgemm to scratch, guarded combine, wait on event",
       [&](float al, float be)
       {
         host_check();
         CHECK(cudaEventRecord(checked, stream));
         gemm(al, 0.0f, a, s);
         guarded_combine<<<(nn + threads - 1) / threads, threads, 0, stream>>>(worst, be, s, h, n);
         CHECK(cudaEventSynchronize(checked));
       }},
      {"check, device-pointer scalars, sgemm into H, wait on event",
       [&](float al, float be)
       {
         with_device_scalars(al, be,
                             [&]
                             {
                               CHECK(cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_T, n, n, k, scalars,
                                                 a, n, a, n, scalars + 1, h, n));
                             });
       }},
      {"check, device-pointer scalars, ssyrk into H, wait on event",
       [&](float al, float be)
       {
         with_device_scalars(al, be,
                             [&]
                             {
                               CHECK(cublasSsyrk(blas, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, n, k,
                                                 scalars, a, n, scalars + 1, h, n));
                             });
       }},
      {"check only, host waits",
       [&](float, float)
       {
         host_check();
         CHECK(cudaStreamSynchronize(stream));
       }},
  };
  for (auto const &[name, update] : variants)
  {
    float best = 1e30f;
    for (int repeat = 0; repeat < 3; ++repeat)
    {
      update(1.0f, 0.0f); // warm-up
      CHECK(cudaStreamSynchronize(stream));
      CHECK(cudaEventRecord(start, stream));
      for (int batch = 1; batch <= batches; ++batch)
        update(2.0f / (batch + 1), static_cast<float>(batch) / (batch + 1));
      CHECK(cudaEventRecord(stop, stream));
      CHECK(cudaEventSynchronize(stop));
      float ms;
      CHECK(cudaEventElapsedTime(&ms, start, stop));
      best = ms < best ? ms : best;
    }
    std::printf("n=%d k=%d: %-60s %8.1f us/batch\n", n, k, name, 1000.0f * best / batches);
  }
  return 0;
}
