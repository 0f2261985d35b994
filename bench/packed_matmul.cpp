// sgpte-bench-packed-matmul: y = Ŵ x straight from a packed layer against the dense float
// product of the same weights (KokkosBlas::gemm: BLAS on the host, cuBLAS on CUDA) and, on
// CUDA, against the fp16 product a PyTorch model runs (torch.nn.functional.linear on fp16:
// cublasGemmEx with fp16 operands, fp32 accumulation, W transposed).
//
//   sgpte-bench-packed-matmul [--sizes 4096,12288] [--tokens 1,16]
//                             [--configs w4,w4_sparse50,mixed40,mixed40_sparse50] [--repeat 20]
//
// Layers are square (size × size) and synthetic but packed by the library: uniform random
// weights, quantized per row with GPTQ's min-max quantizer at the configuration's widths
// (w4: 4 bits everywhere; mixed40: the budget allocation of {2, 3, 4, 6, 8} to an average of
// 4.0 bits over random importances), half of them pruned at random for *_sparse50. No
// calibration or sweep is run: only the packed format and the matmul are measured. The
// packed product reads the activations row-major (tokens × columns, coalesced across the
// lanes of a warp), GEMM a column-major copy, BLAS's fastest form. Each
// product runs once to warm up, then --repeat times; the mean is shown, with the packed
// layer's bytes per call and the largest difference to the dense product relative to
// max |y|. "fp16 ms" is cuBLAS' fp16 product of the same weights rounded to fp16 (CUDA only),
// timed the same way, and "vs fp16" its time over the packed product's (above 1: the packed
// product is faster).

#include <sgpte/allocation/bit_allocation.hpp>
#include <sgpte/core/kokkos_compat.hpp>
#include <sgpte/core/number_parsing.hpp>
#include <sgpte/layer/layer_compressor.hpp>
#include <sgpte/packed/pack.hpp>
#include <sgpte/packed/packed_matmul.hpp>
#include <sgpte/quantization/quantizer.hpp>

#include <Kokkos_Core.hpp>
#include <Kokkos_Random.hpp>

#include <CLI/CLI.hpp>

#if defined(KOKKOS_ENABLE_CUDA)
#include <cublas_v2.h>
#endif

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "common/benchmark_main.hpp"

namespace
{

struct Options
{
  std::vector<int> sizes = {4096, 12288};
  std::vector<int> tokens = {1, 16};
  std::vector<std::string> configs = {"w4", "w4_sparse50", "mixed40", "mixed40_sparse50"};
  int repeat = 20;
};

struct Configuration
{
  bool mixed;
  bool sparse;
};

Configuration parse_configuration(std::string const &name)
{
  if (name == "w4" || name == "w4_sparse50" || name == "mixed40" || name == "mixed40_sparse50")
    return {name.rfind("mixed40", 0) == 0, name.find("sparse50") != std::string::npos};
  throw sgpte::InvalidArgument("--configs: unknown configuration '" + name +
                               "' (w4, w4_sparse50, mixed40, mixed40_sparse50)");
}

// Bits per column: 4 everywhere, or the budget allocation to 4.0 average bits.
std::vector<std::uint8_t> column_bits(int columns, bool mixed)
{
  if (!mixed)
    return std::vector<std::uint8_t>(columns, 4);
  std::mt19937 generator(7);
  std::vector<double> importance(columns);
  for (double &value : importance)
    value = std::exponential_distribution<double>(1.0)(generator);
  return sgpte::allocate_bits_budget(importance, {2, 3, 4, 6, 8}, 4.0);
}

// A compressed layer as fasterprune would leave it: weight quantized in place (pruned
// entries 0) and the result describing it.
template <class ExecutionSpace>
sgpte::LayerResult<ExecutionSpace> synthesize_layer(ExecutionSpace const &space,
                                                    sgpte::Matrix<ExecutionSpace> const &weight,
                                                    Configuration const &configuration)
{
  int const rows = static_cast<int>(weight.extent(0)), columns = static_cast<int>(weight.extent(1));
  space.fence(); // Kokkos 3.4's fill_random has no instance overload
  Kokkos::Random_XorShift64_Pool<ExecutionSpace> pool(1);
  Kokkos::fill_random(weight, pool, -0.05f, 0.05f);
  Kokkos::fence();

  sgpte::LayerResult<ExecutionSpace> result;
  result.statistics.name = "bench";
  result.bits = column_bits(columns, configuration.mixed);
  result.sweep_order.resize(columns);
  std::iota(result.sweep_order.begin(), result.sweep_order.end(), 0);
  auto &plan = result.quantization;
  plan.widths = {2, 3, 4, 6, 8};
  int const widths = static_cast<int>(plan.widths.size());
  std::vector<float> maxq;
  std::vector<std::uint8_t> width_of(columns);
  for (int width : plan.widths)
    maxq.push_back(static_cast<float>((1 << width) - 1));
  for (int c = 0; c < columns; ++c)
    width_of[c] = static_cast<std::uint8_t>(
        std::find(plan.widths.begin(), plan.widths.end(), result.bits[c]) - plan.widths.begin());
  plan.maxq = sgpte::packed::detail::to_device(space, "maxq", maxq);
  plan.width_index = sgpte::packed::detail::to_device(space, "width_index", width_of);
  plan.scale = decltype(plan.scale)("scale", rows, 1, widths);
  plan.zero = decltype(plan.zero)("zero", rows, 1, widths);
  sgpte::find_quantization_parameters(space, weight, 0, columns, 0, plan);

  result.mask = decltype(result.mask)("mask", rows, (columns + 31) / 32);
  auto const mask = result.mask;
  auto const scale = plan.scale;
  auto const zero = plan.zero;
  auto const levels = plan.maxq;
  auto const index = plan.width_index;
  bool const sparse = configuration.sparse;
  Kokkos::parallel_for(
      "bench::quantize",
      Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>(
          space, 0, static_cast<std::int64_t>(rows) * columns),
      KOKKOS_LAMBDA(std::int64_t i) {
        int const row = static_cast<int>(i % rows), column = static_cast<int>(i / rows);
        std::uint32_t hash = static_cast<std::uint32_t>(i) * 2654435761u;
        hash ^= hash >> 16;
        if (sparse && (hash & 1u))
        {
          weight(row, column) = 0.0f;
          Kokkos::atomic_fetch_or(&mask(row, column / 32), std::uint32_t(1) << (column % 32));
          return;
        }
        int const w = index(column);
        weight(row, column) = sgpte::quantize_value(weight(row, column), scale(row, 0, w),
                                                    zero(row, 0, w), levels(w));
      });
  return result;
}

template <class ExecutionSpace, class Multiply>
double mean_seconds(ExecutionSpace const &space, int repeat, Multiply const &multiply)
{
  multiply();
  space.fence();
  Kokkos::Timer timer;
  for (int r = 0; r < repeat; ++r)
    multiply();
  space.fence();
  return timer.seconds() / repeat;
}

#if defined(KOKKOS_ENABLE_CUDA)
// y = x Wᵀ in fp16 as torch.nn.functional.linear runs it on CUDA: W (rows × columns,
// row-major) and x (tokens × columns, row-major) in fp16, fp32 accumulation, y in fp16.
class CublasHalfProduct
{
public:
  using Half = Kokkos::Experimental::half_t;
  using HalfMatrix = Kokkos::View<Half **, Kokkos::LayoutRight, Kokkos::CudaSpace>;

  CublasHalfProduct(Kokkos::Cuda const &space, sgpte::Matrix<Kokkos::Cuda> const &weight)
      : _w(Kokkos::view_alloc(Kokkos::WithoutInitializing, "w_half"), weight.extent(0),
           weight.extent(1))
  {
    convert(space, weight, _w);
    check(cublasCreate(&_handle), "cublasCreate");
    check(cublasSetStream(_handle, space.cuda_stream()), "cublasSetStream");
  }
  CublasHalfProduct(CublasHalfProduct const &) = delete;
  CublasHalfProduct &operator=(CublasHalfProduct const &) = delete;
  ~CublasHalfProduct() { cublasDestroy(_handle); }

  template <class View>
  static void convert(Kokkos::Cuda const &space, View const &from, HalfMatrix const &to)
  {
    std::int64_t const columns = static_cast<std::int64_t>(to.extent(1));
    Kokkos::parallel_for(
        "bench::to_half",
        Kokkos::RangePolicy<Kokkos::Cuda, Kokkos::IndexType<std::int64_t>>(
            space, 0, static_cast<std::int64_t>(to.extent(0)) * columns),
        KOKKOS_LAMBDA(std::int64_t k) {
          int const i = static_cast<int>(k / columns), j = static_cast<int>(k % columns);
          to(i, j) = static_cast<Half>(from(i, j));
        });
  }

  // y (tokens × rows) = x (tokens × columns) Wᵀ
  void multiply(HalfMatrix const &x, HalfMatrix const &y) const
  {
    int const rows = static_cast<int>(_w.extent(0)), columns = static_cast<int>(_w.extent(1));
    int const tokens = static_cast<int>(x.extent(0));
    float const one = 1.0f, zero = 0.0f;
    // Column-major: yᵀ (rows × tokens) = W (columns × rows, transposed) · xᵀ (columns × tokens).
    check(cublasGemmEx(_handle, CUBLAS_OP_T, CUBLAS_OP_N, rows, tokens, columns, &one, _w.data(),
                       CUDA_R_16F, columns, x.data(), CUDA_R_16F, columns, &zero, y.data(),
                       CUDA_R_16F, rows, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
          "cublasGemmEx");
  }

private:
  static void check(cublasStatus_t status, char const *call)
  {
    if (status != CUBLAS_STATUS_SUCCESS)
      throw std::runtime_error(std::string(call) + " failed with cuBLAS status " +
                               std::to_string(static_cast<int>(status)));
  }

  HalfMatrix _w;
  cublasHandle_t _handle = nullptr;
};
#endif

template <class ExecutionSpace>
void run_benchmark(ExecutionSpace const &space, Options const &options)
{
  using Matrix = sgpte::Matrix<ExecutionSpace>;
  std::vector<Configuration> configurations;
  for (auto const &name : options.configs)
    configurations.push_back(parse_configuration(name));
  std::printf("sgpte-bench-packed-matmul on %s (Kokkos %s), mean of %d runs\n",
              ExecutionSpace::name(), sgpte::compat::version_string().c_str(), options.repeat);
  std::printf("%-6s %-17s %6s %8s %11s %11s %11s %8s %10s %10s %9s %8s\n", "size", "configuration",
              "tokens", "bits", "packed MB", "dense ms", "packed ms", "speedup", "packed GB/s",
              "max diff", "fp16 ms", "vs fp16");
  for (int size : options.sizes)
    for (std::size_t k = 0; k < configurations.size(); ++k)
    {
      Matrix const weight("weight", size, size);
      auto const result = synthesize_layer(space, weight, configurations[k]);
      sgpte::CompressionOptions compression;
      compression.sparsity = configurations[k].sparse ? 0.5 : 0.0;
      if (configurations[k].mixed)
        compression.target_average_bits = 4.0;
      else
        compression.wbits = 4;
      auto const packed =
          sgpte::packed::pack_layer(space, weight, result, compression, sgpte::io::Dtype::F16);
      double const bits =
          8.0 * static_cast<double>(packed.file_bytes()) / (static_cast<double>(size) * size);
#if defined(KOKKOS_ENABLE_CUDA)
      std::optional<CublasHalfProduct> half;
      if constexpr (std::is_same_v<ExecutionSpace, Kokkos::Cuda>)
        half.emplace(space, weight);
#endif
      for (int tokens : options.tokens)
      {
        // Activations row-major, as they flow through a model; BLAS gets them column-major.
        Kokkos::View<float **, Kokkos::LayoutRight, typename ExecutionSpace::memory_space> const
            x_rows("x_rows", tokens, size);
        Matrix const x("x", tokens, size), y_dense("y_dense", tokens, size),
            y_packed("y_packed", tokens, size);
        space.fence();
        Kokkos::Random_XorShift64_Pool<ExecutionSpace> pool(2);
        Kokkos::fill_random(x_rows, pool, -1.0f, 1.0f);
        Kokkos::fence();
        Kokkos::deep_copy(x, x_rows);
        double const dense = mean_seconds(
            space, options.repeat,
            [&] { sgpte::compat::gemm(space, "N", "T", 1.0f, x, weight, 0.0f, y_dense); });
        double const compressed =
            mean_seconds(space, options.repeat,
                         [&] { sgpte::packed::packed_matmul(space, packed, x_rows, y_packed); });
        double fp16 = 0.0; // seconds of cuBLAS' fp16 product; 0: not on this backend
#if defined(KOKKOS_ENABLE_CUDA)
        if constexpr (std::is_same_v<ExecutionSpace, Kokkos::Cuda>)
        {
          CublasHalfProduct::HalfMatrix const x_half("x_half", tokens, size),
              y_half("y_half", tokens, size);
          CublasHalfProduct::convert(space, x_rows, x_half);
          fp16 = mean_seconds(space, options.repeat, [&] { half->multiply(x_half, y_half); });
        }
#endif
        auto const a = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), y_dense);
        auto const b = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), y_packed);
        float largest = 0.0f, difference = 0.0f;
        for (std::size_t i = 0; i < a.size(); ++i)
        {
          largest = std::max(largest, std::abs(a.data()[i]));
          difference = std::max(difference, std::abs(a.data()[i] - b.data()[i]));
        }
        std::printf("%-6d %-17s %6d %8.3f %11.2f %11.3f %11.3f %7.2fx %10.1f %10.2e", size,
                    options.configs[k].c_str(), tokens, bits, packed.file_bytes() / 1e6,
                    1e3 * dense, 1e3 * compressed, dense / compressed,
                    packed.file_bytes() / compressed / 1e9,
                    largest > 0.0f ? difference / largest : 0.0f);
        if (fp16 > 0.0)
          std::printf(" %9.4f %7.2fx\n", 1e3 * fp16, fp16 / compressed);
        else
          std::printf(" %9s %8s\n", "-", "-");
        std::fflush(stdout);
      }
    }
}

} // namespace

int main(int argc, char *argv[])
{
  sgpte::drivers::KokkosArguments command_line(argc, argv);
  CLI::App app{"Time y = W x from a packed layer against the dense float product.",
               "sgpte-bench-packed-matmul"};
  app.footer(sgpte::drivers::KokkosArguments::help_footer);
  Options options;
  app.add_option("--sizes", options.sizes, "Layer sizes (square)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--tokens", options.tokens, "Batch sizes in tokens")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--configs", options.configs, "Configurations")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--repeat", options.repeat, "Timed runs per product")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  return sgpte::bench::run_on_chosen_backend(
      app, command_line, [&](auto const &space) { run_benchmark(space, options); });
}
