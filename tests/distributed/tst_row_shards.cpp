// The sweep with a layer's rows shared among MPI processes (sweep/row_shards.hpp,
// distributed/mpi_row_exchange.hpp) against the same layer compressed by one process alone.
// The products go to the BLAS, which may compute a row otherwise depending on how many rows
// surround it (its kernels for the edge tiles of a product; OpenMP with OpenBLAS on the H200
// machine: 9 to 14 of 7–8 thousand weights and 4 of 101 row losses one rounding apart, nothing
// else; Cuda there bit for bit; Serial with Debian's OpenBLAS on an AMD EPYC with AVX-512,
// 2026-12-04, likewise), so the entries must agree
// within rounding (1e-4 of the array's largest magnitude) except for at most 1 % of them (a
// decision at a threshold or a quantization boundary flipped by it), and the loss within 1e-6.
// Run as mpirun -np 2 (CTest); with one process it checks only that nothing changes.

#include <sgpte/distributed/mpi_row_exchange.hpp>
#include <sgpte/layer/layer_compressor.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <mpi.h>

#include "core/test_helpers.hpp"
#include "openmpi_leak_suppressions.hpp"
#include "sgpte_enable_device_types.hpp"
#include "trap_invalid_operations.hpp"

namespace
{

// A view's entries, in its layout, on the host, as doubles (exact for every type here).
template <class View>
std::vector<double> values_of(View const &view)
{
  auto const host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  return std::vector<double>(host.data(), host.data() + host.span());
}

// Whether two arrays agree within 1e-4 of their largest magnitude except for at most 1 % of
// the entries. Reports what differs.
bool agree(std::vector<double> const &shared, std::vector<double> const &alone, char const *what)
{
  if (shared.size() != alone.size())
  {
    BOOST_TEST_MESSAGE(what << ": " << shared.size() << " against " << alone.size() << " entries");
    return false;
  }
  double scale = 0.0;
  for (double const value : alone)
    scale = std::max(scale, std::abs(value));
  std::size_t differing = 0, beyond_rounding = 0;
  double largest = 0.0;
  for (std::size_t i = 0; i < alone.size(); ++i)
    if (std::memcmp(&shared[i], &alone[i], sizeof(double)) != 0)
    {
      ++differing;
      double const difference = std::abs(shared[i] - alone[i]);
      largest = std::max(largest, difference);
      beyond_rounding += difference > 1e-4 * scale;
    }
  if (differing > 0)
    BOOST_TEST_MESSAGE(what << ": " << differing << " of " << alone.size()
                            << " entries differ, largest by " << largest << " (largest magnitude "
                            << scale << "), " << beyond_rounding << " beyond rounding");
  return static_cast<double>(beyond_rounding) <= 0.01 * static_cast<double>(alone.size());
}

template <class ExecutionSpace>
struct Compressed
{
  std::vector<double> weight, mask, row_loss, scale, zero;
  sgpte::LayerStatistics statistics;
  std::vector<std::uint8_t> bits;
};

// A random layer (the same on every process) compressed with `options`, by this process
// alone (exchange null) or together with the others.
template <class ExecutionSpace>
Compressed<ExecutionSpace> compress(int rows, int columns, unsigned seed,
                                    sgpte::CompressionOptions const &options,
                                    sgpte::RowExchange const *exchange)
{
  ExecutionSpace space;
  std::mt19937 generator(seed);
  sgpte_test::MatrixXd const w = sgpte_test::random_matrix(rows, columns, generator);
  sgpte_test::MatrixXd const x =
      sgpte_test::random_activations(4 * columns, columns, generator, true);
  auto const weight = sgpte_test::to_device<ExecutionSpace>(w);
  sgpte::LayerCompressor<ExecutionSpace> compressor(space, "layers.0.fc1", weight);
  compressor.add_batch(space, sgpte_test::to_device_row_major<ExecutionSpace>(x));
  auto const result = compressor.fasterprune(space, options, exchange);
  Compressed<ExecutionSpace> out;
  out.weight = values_of(weight);
  out.mask = values_of(result.mask);
  out.row_loss = values_of(result.row_loss);
  if (result.quantization.enabled())
  {
    out.scale = values_of(result.quantization.scale);
    out.zero = values_of(result.quantization.zero);
  }
  out.statistics = result.statistics;
  out.bits = result.bits;
  return out;
}

template <class ExecutionSpace>
void check_equals_one_process(int rows, int columns, unsigned seed,
                              sgpte::CompressionOptions const &options)
{
  sgpte::distributed::MpiRowExchange const exchange(MPI_COMM_WORLD);
  auto const alone = compress<ExecutionSpace>(rows, columns, seed, options, nullptr);
  auto const shared = compress<ExecutionSpace>(rows, columns, seed, options, &exchange);
  BOOST_TEST(agree(shared.weight, alone.weight, "weights"));
  BOOST_TEST(agree(shared.mask, alone.mask, "masks"));
  BOOST_TEST(agree(shared.row_loss, alone.row_loss, "row losses"));
  BOOST_TEST(agree(shared.scale, alone.scale, "quantizer scales"));
  BOOST_TEST(agree(shared.zero, alone.zero, "quantizer zeros"));
  BOOST_TEST((shared.bits == alone.bits));
  BOOST_TEST(shared.statistics.loss == alone.statistics.loss, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(shared.statistics.sparsity == alone.statistics.sparsity);
  BOOST_TEST(shared.statistics.size_after_bytes == alone.statistics.size_after_bytes);
  // Every process holds the whole layer: the same as process 0's.
  std::vector<double> first = shared.weight;
  MPI_Bcast(first.data(), static_cast<int>(first.size()), MPI_DOUBLE, 0, MPI_COMM_WORLD);
  BOOST_TEST((first == shared.weight), "the processes' weights differ");
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(RowShards, sgpte_test::TrapInvalidOperations)

// Unstructured 50 %: the threshold of each column block is found over both processes' rows.
// 101 rows: blocks of 51 and 50; the last column block is partial.
BOOST_AUTO_TEST_CASE_TEMPLATE(unstructured_half_equals_one_process, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  sgpte::CompressionOptions options;
  options.sparsity = 0.5;
  options.block_size = 32;
  check_equals_one_process<ExecutionSpace>(101, 80, 7, options);
  options.wbits = 4;
  check_equals_one_process<ExecutionSpace>(101, 80, 8, options);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(two_of_four_equals_one_process, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  sgpte::CompressionOptions options;
  options.prune_n = 2;
  options.prune_m = 4;
  options.block_size = 32;
  check_equals_one_process<ExecutionSpace>(64, 96, 9, options);
  options.wbits = 3;
  check_equals_one_process<ExecutionSpace>(63, 96, 10, options);
}

// Mixed precision with groups recomputed during the sweep (gathered with the rows) and the
// columns in act order; then groups per tensor, which every process sweeps whole.
BOOST_AUTO_TEST_CASE_TEMPLATE(groups_and_mixed_precision_equal_one_process, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  sgpte::CompressionOptions options;
  options.sparsity = 0.5;
  options.block_size = 32;
  options.target_average_bits = 3.5;
  options.quantizer.group_size = 16;
  options.quantizer.act_order = true;
  check_equals_one_process<ExecutionSpace>(77, 96, 11, options);
  options.quantizer.per_channel = false;
  check_equals_one_process<ExecutionSpace>(77, 96, 12, options);
}

// More processes than rows: some sweep none.
BOOST_AUTO_TEST_CASE_TEMPLATE(a_row_per_process_or_none, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  sgpte::CompressionOptions options;
  options.sparsity = 0.5;
  options.wbits = 4;
  options.block_size = 16;
  check_equals_one_process<ExecutionSpace>(1, 40, 13, options);
}

BOOST_AUTO_TEST_SUITE_END()
