// The building blocks of the packed kernels: bit fields of every width round-trip through
// the streams, the device decoding of 16-bit values equals io/float16.hpp's for every bit
// pattern, and the two ways of walking a row (one thread, or 32 lanes) visit the same
// weights.

#include <sgpte/io/float16.hpp>
#include <sgpte/packed/detail/bit_stream.hpp>
#include <sgpte/packed/detail/value_encoding.hpp>
#include <sgpte/packed/pack.hpp>

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "packed_test_helpers.hpp"
#include "sgpte_enable_device_types.hpp"
#include "trap_invalid_operations.hpp"

// Device kernels live in named function templates: CUDA allows no device lambdas in a test
// case's body.
namespace sgpte_test
{

template <class ExecutionSpace, class Words>
void write_then_read(Words const &values, Words const &stream, std::int64_t first, int width,
                     Words const &back)
{
  int const count = static_cast<int>(values.extent(0));
  Kokkos::parallel_for(
      Kokkos::RangePolicy<ExecutionSpace>(0, count), KOKKOS_LAMBDA(int i) {
        sgpte::packed::detail::or_field(stream, first, std::int64_t(i) * width, width, values(i));
      });
  Kokkos::parallel_for(
      Kokkos::RangePolicy<ExecutionSpace>(0, count), KOKKOS_LAMBDA(int i) {
        back(i) = sgpte::packed::detail::read_field(stream, first, std::int64_t(i) * width, width);
      });
}

// Bits of the float each 16-bit pattern decodes to: (pattern, 0) as F16, (pattern, 1) as BF16.
template <class ExecutionSpace, class Decoded>
void decode_every_pattern(Decoded const &decoded)
{
  using sgpte::packed::detail::ValueEncoding;
  Kokkos::parallel_for(
      Kokkos::RangePolicy<ExecutionSpace>(0, 65536), KOKKOS_LAMBDA(int pattern) {
        auto const bits = static_cast<std::uint32_t>(pattern);
        decoded(pattern, 0) = sgpte::detail::float_bits(
            sgpte::packed::detail::decode_value(ValueEncoding::f16, bits));
        decoded(pattern, 1) = sgpte::detail::float_bits(
            sgpte::packed::detail::decode_value(ValueEncoding::bf16, bits));
      });
}

// Per row, a signature of the kept weights each walk visits: their count and the sums of
// field index, column and index · column. (row, 0) from for_each_kept with one lane,
// (row, 1) from for_each_kept over 32 lanes, as on GPUs.
template <class ExecutionSpace, class Signatures>
void walk_every_row(sgpte::packed::PackedLayerView<ExecutionSpace> const &view,
                    Signatures const &signatures)
{
  using sgpte::packed::RowStream;
  Kokkos::parallel_for(
      Kokkos::RangePolicy<ExecutionSpace>(0, view.rows), KOKKOS_LAMBDA(int row) {
        auto const add = [&](int walk, int index, int column)
        {
          signatures(row, walk, 0) += 1;
          signatures(row, walk, 1) += index;
          signatures(row, walk, 2) += column;
          signatures(row, walk, 3) += std::int64_t(index) * column;
        };
        view.for_each_kept(
            row, 0, 1, [&](RowStream const &, int index, int column) { add(0, index, column); });
        for (int lane = 0; lane < 32; ++lane)
          view.for_each_kept(row, lane, 32,
                             [&](RowStream const &, int index, int column)
                             { add(1, index, column); });
      });
}

} // namespace sgpte_test

BOOST_FIXTURE_TEST_SUITE(PackedStreams, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE_TEMPLATE(fields_of_every_width_round_trip, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  using Words = Kokkos::View<std::uint32_t *, typename ExecutionSpace::memory_space>;
  int const count = 1000;
  for (int width = 1; width <= 32; ++width)
    BOOST_TEST_CONTEXT(width << " bits")
    {
      std::mt19937 generator(width);
      Words const values("values", count);
      auto host = Kokkos::create_mirror_view(values);
      for (int i = 0; i < count; ++i)
        host(i) = static_cast<std::uint32_t>(generator()) & sgpte::packed::detail::low_bits(width);
      Kokkos::deep_copy(values, host);
      Words const stream("stream", (static_cast<std::int64_t>(count) * width + 31) / 32 + 1 + 3);
      Words const back("back", count);
      std::int64_t const first = 3; // a stream that starts inside a larger buffer
      sgpte_test::write_then_read<ExecutionSpace>(values, stream, first, width, back);
      auto const result = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), back);
      int wrong = 0;
      for (int i = 0; i < count; ++i)
        wrong += result(i) != host(i) ? 1 : 0;
      BOOST_TEST(wrong == 0);
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(sixteen_bit_values_widen_as_the_codec_does, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  Kokkos::View<std::uint32_t *[2], typename ExecutionSpace::memory_space> decoded("decoded", 65536);
  sgpte_test::decode_every_pattern<ExecutionSpace>(decoded);
  auto const host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), decoded);
  int f16_wrong = 0, bf16_wrong = 0;
  for (int pattern = 0; pattern < 65536; ++pattern)
  {
    float const f16 = sgpte::io::float_from_f16_bits(static_cast<std::uint16_t>(pattern));
    float const bf16 = sgpte::io::float_from_bf16_bits(static_cast<std::uint16_t>(pattern));
    std::uint32_t f16_bits, bf16_bits;
    std::memcpy(&f16_bits, &f16, sizeof f16_bits);
    std::memcpy(&bf16_bits, &bf16, sizeof bf16_bits);
    f16_wrong += host(pattern, 0) != f16_bits ? 1 : 0;
    bf16_wrong += host(pattern, 1) != bf16_bits ? 1 : 0;
  }
  BOOST_TEST(f16_wrong == 0);
  BOOST_TEST(bf16_wrong == 0);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(both_row_walks_visit_the_same_weights, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  sgpte_test::for_each_configuration<ExecutionSpace>(
      [](auto const &layer)
      {
        auto const packed = sgpte::packed::pack_layer(layer.space, layer.weight, layer.result,
                                                      layer.options, layer.dtype);
        Kokkos::View<std::int64_t **[4], typename ExecutionSpace::memory_space> signatures(
            "signatures", packed.rows(), 2);
        sgpte_test::walk_every_row(packed.device, signatures);
        auto const host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), signatures);
        int differing = 0;
        for (int row = 0; row < packed.rows(); ++row)
          for (int k = 0; k < 4; ++k)
            differing += host(row, 0, k) != host(row, 1, k) ? 1 : 0;
        BOOST_TEST(differing == 0);
      });
}

BOOST_AUTO_TEST_SUITE_END()
