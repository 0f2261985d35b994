// Packing and unpacking are exact: for every reference case, compressed by the library with
// its stored options, and for the configurations the stored ones lack (mixed precision,
// act-order with groups, per-tensor, N:M, wide codes, layers that are only pruned, in F16
// and BF16), the packed layer unpacks to the dequantized weights bit for bit, before and
// after a trip through its file; the file's size is the one the statistics report.

#include <sgpte/packed/layer_file.hpp>
#include <sgpte/packed/pack.hpp>
#include <sgpte/packed/unpack.hpp>

#include <boost/test/unit_test.hpp>

#include <filesystem>

#include "io/io_test_helpers.hpp"
#include "packed_test_helpers.hpp"
#include "sgpte_enable_device_types.hpp"
#include "trap_invalid_operations.hpp"

namespace
{

template <class ExecutionSpace>
void check_round_trip(sgpte_test::CompressedLayer<ExecutionSpace> const &layer,
                      std::filesystem::path const &file)
{
  auto const packed = sgpte::packed::pack_layer(layer.space, layer.weight, layer.result,
                                                layer.options, layer.dtype);
  auto const expected = sgpte_test::stored_bits(layer.weight, layer.dtype);
  sgpte_test::require_identical(sgpte_test::stored_bits(sgpte::packed::unpack(layer.space, packed)),
                                expected, "unpacked in memory");

  std::int64_t const written = sgpte::packed::write_layer(file, packed);
  BOOST_TEST(written == static_cast<std::int64_t>(std::filesystem::file_size(file)));
  BOOST_TEST(written == layer.result.statistics.size_after_bytes);
  bool const compressed =
      layer.options.quantizes() || layer.options.sparsity > 0.0 || layer.options.prune_n > 0;
  if (compressed) // else the values and a header: a little more than dense
    BOOST_TEST(written < layer.result.statistics.size_before_bytes);

  auto const read = sgpte::packed::read_layer(layer.space, file);
  BOOST_TEST(read.file_bytes() == written);
  sgpte_test::require_identical(sgpte_test::stored_bits(sgpte::packed::unpack(layer.space, read)),
                                expected, "unpacked from the file");
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(PackedRoundTrip, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE_TEMPLATE(every_reference_case_round_trips_bit_exactly, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  sgpte::io::test::ScratchDirectory const scratch;
  auto const cases = sgpte_test::reference_case_files();
  BOOST_TEST_REQUIRE(cases.size() >= 24u);
  for (auto const &file : cases)
    BOOST_TEST_CONTEXT(file.filename().string())
    {
      check_round_trip(sgpte_test::compress_case<ExecutionSpace>(file),
                       scratch / file.filename().string());
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(every_configuration_round_trips_bit_exactly, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  sgpte::io::test::ScratchDirectory const scratch;
  sgpte_test::for_each_configuration<ExecutionSpace>(
      [&](auto const &layer) { check_round_trip(layer, scratch / "layer.safetensors"); });
}

BOOST_AUTO_TEST_SUITE_END()
