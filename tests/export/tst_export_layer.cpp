// A compressed layer read out for export (export/export_layer.hpp) on every backend: for every
// configuration of the packed-format tests that an export can hold, the grid's
// scale · (code − zero) (or the kept values of layers only pruned) gives the compressed
// weights back bit for bit, pruned weights included (their code is the zero point); the
// others (several widths in a layer, codes over 8 bits) are refused with a message saying
// what can be exported.

#include <sgpte/core/float_bits.hpp>
#include <sgpte/export/export_layer.hpp>
#include <sgpte/packed/pack.hpp>

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "packed/packed_test_helpers.hpp"
#include "sgpte_enable_device_types.hpp"
#include "trap_invalid_operations.hpp"

namespace
{

// The exported weights, row-major bit patterns.
std::vector<std::uint32_t> exported_bits(sgpte::exports::ExportLayer const &layer)
{
  std::vector<std::uint32_t> bits;
  for (int row = 0; row < layer.rows; ++row)
    for (int column = 0; column < layer.columns; ++column)
      bits.push_back(sgpte::detail::float_bits(layer.quantized()
                                                   ? layer.dequantized(row, column)
                                                   : layer.values[layer.at(row, column)]));
  return bits;
}

bool message_has(sgpte::InvalidArgument const &error, std::string const &part)
{
  BOOST_TEST_INFO(error.what());
  return std::string(error.what()).find(part) != std::string::npos;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(ExportLayer, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE_TEMPLATE(exported_grids_give_the_compressed_weights_back, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  int exported = 0, refused = 0;
  sgpte_test::for_each_configuration<ExecutionSpace>(
      [&](auto const &layer)
      {
        auto const packed = sgpte::packed::pack_layer(layer.space, layer.weight, layer.result,
                                                      layer.options, layer.dtype);
        auto const &widths = packed.layout.widths;
        if (widths.size() > 1 || (widths.size() == 1 && widths.front() > 8))
        {
          BOOST_CHECK_EXCEPTION(
              sgpte::exports::export_layer(layer.space, packed, "fc1"), sgpte::InvalidArgument,
              [&](sgpte::InvalidArgument const &error)
              {
                return message_has(error, widths.size() > 1
                                              ? "export: layer 'fc1' has columns of "
                                              : "export: layer 'fc1' is quantized to 12 bits");
              });
          ++refused;
          return;
        }
        auto const out = sgpte::exports::export_layer(layer.space, packed, "fc1");
        BOOST_TEST(out.bits == (widths.empty() ? 0 : widths.front()));
        sgpte_test::require_identical(
            exported_bits(out), sgpte_test::stored_bits(layer.weight, layer.dtype), "exported");
        std::int64_t kept = 0;
        for (std::uint8_t k : out.kept)
          kept += k;
        BOOST_TEST(kept == packed.layout.kept_total());
        ++exported;
      });
  BOOST_TEST(exported == 10); // 5 configurations × 2 cases
  BOOST_TEST(refused == 14);  // 6 mixed-precision ones and the 12-bit one
}

BOOST_AUTO_TEST_SUITE_END()
