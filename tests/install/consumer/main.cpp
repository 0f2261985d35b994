// Compresses a small random layer through the installed headers and checks the result.

#include <sgpte/sgpte.hpp>

#include <Kokkos_Core.hpp>

#include <cstdio>

int main(int argc, char *argv[])
{
  Kokkos::ScopeGuard guard(argc, argv);
  using ExecutionSpace = Kokkos::DefaultExecutionSpace;
  ExecutionSpace space;
  int const rows = 16, columns = 64, tokens = 128;
  sgpte::Matrix<ExecutionSpace> weight("weight", rows, columns);
  Kokkos::View<float **, Kokkos::LayoutRight, ExecutionSpace::memory_space> inputs("inputs", tokens, columns);
  Kokkos::parallel_for(
      Kokkos::RangePolicy<ExecutionSpace>(space, 0, rows * columns), KOKKOS_LAMBDA(int i) {
        weight(i % rows, i / rows) = static_cast<float>((i * 7919) % 211) / 211.0f - 0.5f;
      });
  Kokkos::parallel_for(
      Kokkos::RangePolicy<ExecutionSpace>(space, 0, tokens * columns), KOKKOS_LAMBDA(int i) {
        inputs(i / columns, i % columns) = static_cast<float>((i * 104729) % 307) / 307.0f - 0.5f;
      });
  sgpte::LayerCompressor<ExecutionSpace> layer(space, "consumer", weight);
  layer.add_batch(space, inputs);
  sgpte::CompressionOptions options;
  options.prune_n = 2;
  options.prune_m = 4;
  options.wbits = 4;
  auto const result = layer.fasterprune(space, options);
  std::printf("sgpte %s: sparsity %.3f, %.1f bits\n", SGPTE_VERSION_STRING, result.statistics.sparsity,
              result.statistics.average_bits);
  return result.statistics.sparsity == 0.5 && result.statistics.average_bits == 4.0 ? 0 : 1;
}
