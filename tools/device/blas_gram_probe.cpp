// The host BLAS alone on the calibration statistics' update, as sgpte calls it: H = beta H +
// alpha A Aᵀ for a column-major n × k A (k tokens per batch), `batches` times, through sgemm
// and through ssyrk (lower triangle), no Kokkos. Prints GFLOP/s counting 2·n²·k per batch for
// both (what the update is worth, so the two rates compare as times).
// Build: g++ -O2 -std=c++17 blas_gram_probe.cpp -o probe -L DIR -lopenblas (or -lblis)
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

extern "C"
{
  void sgemm_(char const *, char const *, int const *, int const *, int const *, float const *,
              float const *, int const *, float const *, int const *, float const *, float *,
              int const *, std::size_t, std::size_t);
  void ssyrk_(char const *, char const *, int const *, int const *, float const *, float const *,
              int const *, float const *, float *, int const *, std::size_t, std::size_t);
}

int main(int argc, char **argv)
{
  if (argc != 4)
  {
    std::fprintf(stderr, "usage: %s N K BATCHES\n", argv[0]);
    return 2;
  }
  int const n = std::atoi(argv[1]), k = std::atoi(argv[2]), batches = std::atoi(argv[3]);
  std::vector<float> a(static_cast<std::size_t>(n) * k), h(static_cast<std::size_t>(n) * n, 0.0f);
  std::mt19937 generator(1);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (float &x : a)
    x = uniform(generator);
  for (char const *kind : {"sgemm", "ssyrk"})
  {
    bool const syrk = kind[1] == 's';
    auto const update = [&](int batch)
    {
      float const alpha = 2.0f / static_cast<float>(batch + 1);
      float const beta = static_cast<float>(batch) / static_cast<float>(batch + 1);
      if (syrk)
        ssyrk_("L", "N", &n, &k, &alpha, a.data(), &n, &beta, h.data(), &n, 1, 1);
      else
        sgemm_("N", "T", &n, &n, &k, &alpha, a.data(), &n, a.data(), &n, &beta, h.data(), &n, 1, 1);
    };
    update(0); // warm-up: thread pool, buffers
    auto const start = std::chrono::steady_clock::now();
    for (int batch = 1; batch <= batches; ++batch)
      update(batch);
    double const seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%s n=%d k=%d batches=%d: %.3f s, %.0f GFLOP/s (2 n^2 k per batch)\n", kind, n, k,
                batches, seconds, 2.0 * n * n * static_cast<double>(k) * batches / seconds / 1e9);
  }
  return 0;
}
