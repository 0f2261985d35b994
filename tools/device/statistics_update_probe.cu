// Where a calibration batch's time goes on the GPU, without Kokkos: the update H = beta H +
// alpha A Aᵀ (A: n × k column-major, i.e. a row-major k-token batch of n columns) through
// cuBLAS in several ways, and the cost of the host waiting for an overflow check before it
// queues the product (what CalibrationStatistics::add_batch does) against queueing
// everything and waiting on an event recorded before the product.
// Prints microseconds per batch (CUDA events around `batches` batches, best of 3).
// Build: nvcc -O2 -std=c++17 -arch=sm_90 statistics_update_probe.cu -lcublas -o probe
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

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
