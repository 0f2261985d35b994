// The sweep with a layer's rows shared among MPI processes (sweep/row_shards.hpp,
// distributed/mpi_row_exchange.hpp) against the same layer compressed by one process alone:
// the weights, masks, row losses, quantizer parameters and statistics equal bit for bit.
// Run as mpirun -np 2 (CTest); with one process it checks only that nothing changes.

#include <sgpte/distributed/mpi_row_exchange.hpp>
#include <sgpte/layer/layer_compressor.hpp>

#include <Kokkos_Core.hpp>

#define BOOST_TEST_NO_MAIN
#if defined(SGPTE_BOOST_TEST_HEADER_ONLY)
#include <boost/test/included/unit_test.hpp>
#else
#include <boost/test/unit_test.hpp>
#endif

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "core/test_helpers.hpp"
#include "openmpi_leak_suppressions.hpp"
#include "sgpte_enable_device_types.hpp"
#include "trap_invalid_operations.hpp"
#include <mpi.h>

namespace
{

// The bytes of a view's entries, in its layout, on the host.
template <class View>
std::vector<unsigned char> bytes_of(View const &view)
{
  auto const host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  auto const *first = reinterpret_cast<unsigned char const *>(host.data());
  return std::vector<unsigned char>(first, first + host.span() * sizeof(typename View::value_type));
}

template <class ExecutionSpace>
struct Compressed
{
  std::vector<unsigned char> weight, mask, row_loss, scale, zero;
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
  out.weight = bytes_of(weight);
  out.mask = bytes_of(result.mask);
  out.row_loss = bytes_of(result.row_loss);
  if (result.quantization.enabled())
  {
    out.scale = bytes_of(result.quantization.scale);
    out.zero = bytes_of(result.quantization.zero);
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
  BOOST_TEST((shared.weight == alone.weight), "weights differ");
  BOOST_TEST((shared.mask == alone.mask), "masks differ");
  BOOST_TEST((shared.row_loss == alone.row_loss), "row losses differ");
  BOOST_TEST((shared.scale == alone.scale), "quantizer scales differ");
  BOOST_TEST((shared.zero == alone.zero), "quantizer zeros differ");
  BOOST_TEST((shared.bits == alone.bits));
  BOOST_TEST(shared.statistics.loss == alone.statistics.loss);
  BOOST_TEST(shared.statistics.sparsity == alone.statistics.sparsity);
  BOOST_TEST(shared.statistics.size_after_bytes == alone.statistics.size_after_bytes);
  // Every process holds the whole layer: the same as process 0's.
  std::vector<unsigned char> first = shared.weight;
  MPI_Bcast(first.data(), static_cast<int>(first.size()), MPI_UNSIGNED_CHAR, 0, MPI_COMM_WORLD);
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

namespace
{

struct Environment
{
  Environment(int &argc, char **&argv)
  {
    MPI_Init(&argc, &argv);
    Kokkos::initialize(argc, argv);
  }
  ~Environment()
  {
    Kokkos::finalize();
    MPI_Finalize();
  }
  Environment(Environment const &) = delete;
  Environment &operator=(Environment const &) = delete;
};

#if defined(BOOST_TEST_DYN_LINK)
bool init_unit_test() { return true; }
#else
boost::unit_test::test_suite *init_unit_test(int, char *[]) { return nullptr; }
#endif

} // namespace

int main(int argc, char *argv[])
{
  Environment environment(argc, argv);
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
