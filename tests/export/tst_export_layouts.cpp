// The exported layouts byte by byte, on small layers made by hand, against what the formats'
// specifications say the loaders read: GPTQ (AutoGPTQ's QuantLinear: qweight packed along the
// input dimension as one bit stream, qzeros stored minus one along the output dimension,
// fp16 scales, g_idx) and compressed-tensors (pack_to_int32's whole fields per word, signed
// codes stored plus 2^(bits−1), zero points packed along the output dimension; numpy.packbits'
// little bit order for bitmasks). Expected words are written out, not computed by the code
// under test.

#include <sgpte/export/compressed_tensors.hpp>
#include <sgpte/export/detail/int32_packing.hpp>
#include <sgpte/export/gptq.hpp>
#include <sgpte/io/safetensors_reader.hpp>
#include <sgpte/io/safetensors_writer.hpp>

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "io/io_test_helpers.hpp"

namespace
{

namespace exports = sgpte::exports;
using sgpte::io::Dtype;

// A tensor of a written file: dtype, shape and its elements as T.
template <class T>
struct Tensor
{
  Dtype dtype;
  std::vector<std::size_t> shape;
  std::vector<T> values;
};

class WrittenTensors
{
public:
  explicit WrittenTensors(sgpte::io::SafetensorsWriter const &writer)
  {
    writer.write(_scratch.path() / "layer.safetensors");
    _reader.emplace(_scratch.path() / "layer.safetensors");
  }

  template <class T>
  Tensor<T> get(std::string const &name) const
  {
    sgpte::io::TensorInfo const &info = _reader->info(name);
    sgpte::io::ByteSpan const bytes = _reader->bytes(name);
    std::vector<T> values(bytes.size / sizeof(T));
    std::memcpy(values.data(), bytes.data, bytes.size);
    return {info.dtype, info.shape, values};
  }
  std::vector<std::string> names() const { return _reader->names(); }

private:
  sgpte::io::test::ScratchDirectory _scratch;
  std::optional<sgpte::io::SafetensorsReader> _reader;
};

// A quantized layer by hand: codes(o, c) and zero(o, g) from functions, every weight kept.
template <class Code, class Zero, class Scale>
exports::ExportLayer make_layer(int rows, int columns, int bits, int group_size,
                                std::vector<int> group_of, Code code, Zero zero, Scale scale)
{
  exports::ExportLayer layer;
  layer.rows = rows, layer.columns = columns, layer.bits = bits, layer.group_size = group_size;
  layer.group_of = std::move(group_of);
  for (int o = 0; o < rows; ++o)
  {
    for (int c = 0; c < columns; ++c)
    {
      layer.codes.push_back(static_cast<std::uint8_t>(code(o, c)));
      layer.kept.push_back(1);
    }
    for (int g = 0; g < layer.groups(); ++g)
    {
      layer.zero.push_back(static_cast<std::uint8_t>(zero(o, g)));
      layer.scale.push_back(scale(o, g));
    }
  }
  return layer;
}

std::vector<std::uint32_t> as_words(std::vector<std::int32_t> const &values)
{
  return {values.begin(), values.end()};
}

} // namespace

BOOST_AUTO_TEST_SUITE(ExportLayouts)

BOOST_AUTO_TEST_CASE(fields_pack_least_significant_bits_first)
{
  using exports::detail::FieldPacking;
  using exports::detail::pack_fields;
  auto const nibbles = [](std::int64_t i) { return static_cast<std::uint32_t>(i + 1); };
  BOOST_TEST(pack_fields(8, 4, FieldPacking::stream, nibbles) ==
                 std::vector<std::uint32_t>{0x87654321u},
             boost::test_tools::per_element());
  // 3 bits as a stream: field 10 takes bits 30, 31 of word 0 and bit 0 of word 1, field 21
  // bit 31 of word 1 and bits 0, 1 of word 2; 32 fields fill 3 words.
  auto const two_fields = [](std::int64_t i) { return i == 10 ? 5u : i == 21 ? 6u : 0u; };
  BOOST_TEST(pack_fields(32, 3, FieldPacking::stream, two_fields) ==
                 (std::vector<std::uint32_t>{0x40000000u, 0x00000001u, 0x00000003u}),
             boost::test_tools::per_element());
  // 3 bits, whole fields: 10 per word, bits 30 and 31 unused.
  auto const sevens = [](std::int64_t) { return 7u; };
  BOOST_TEST(pack_fields(11, 3, FieldPacking::whole_fields, sevens) ==
                 (std::vector<std::uint32_t>{0x3fffffffu, 0x00000007u}),
             boost::test_tools::per_element());
  // 6 bits, whole fields: 5 per word.
  auto const ones = [](std::int64_t) { return 1u; };
  BOOST_TEST(pack_fields(6, 6, FieldPacking::whole_fields, ones) ==
                 (std::vector<std::uint32_t>{0x01041041u, 0x00000001u}),
             boost::test_tools::per_element());
  BOOST_TEST(exports::detail::packed_words(32, 3, FieldPacking::stream) == 3);
  BOOST_TEST(exports::detail::packed_words(32, 3, FieldPacking::whole_fields) == 4);
}

BOOST_AUTO_TEST_CASE(gptq_layer_at_4_bits_with_act_order_groups)
{
  // 8 × 8, groups of 4 assigned out of column order (act-order): code (o + c) % 16,
  // zero o + g + 1 (stored o + g), scale 0.5 in group 0 and 0.25 in group 1.
  std::vector<int> const group_of = {1, 0, 1, 0, 0, 1, 1, 0};
  auto const layer = make_layer(
      8, 8, 4, 4, group_of, [](int o, int c) { return (o + c) % 16; },
      [](int o, int g) { return o + g + 1; }, [](int, int g) { return g == 0 ? 0.5f : 0.25f; });
  sgpte::io::SafetensorsWriter writer;
  exports::add_gptq_layer(writer, "model.decoder.layers.0.fc1", layer);
  WrittenTensors const file(writer);

  auto const qweight = file.get<std::int32_t>("model.decoder.layers.0.fc1.qweight");
  BOOST_TEST((qweight.dtype == Dtype::I32));
  BOOST_TEST(qweight.shape == (std::vector<std::size_t>{1, 8}), boost::test_tools::per_element());
  BOOST_TEST(as_words(qweight.values) ==
                 (std::vector<std::uint32_t>{0x76543210u, 0x87654321u, 0x98765432u, 0xa9876543u,
                                             0xba987654u, 0xcba98765u, 0xdcba9876u, 0xedcba987u}),
             boost::test_tools::per_element());

  auto const qzeros = file.get<std::int32_t>("model.decoder.layers.0.fc1.qzeros");
  BOOST_TEST(qzeros.shape == (std::vector<std::size_t>{2, 1}), boost::test_tools::per_element());
  BOOST_TEST(as_words(qzeros.values) == (std::vector<std::uint32_t>{0x76543210u, 0x87654321u}),
             boost::test_tools::per_element());

  auto const scales = file.get<std::uint16_t>("model.decoder.layers.0.fc1.scales");
  BOOST_TEST((scales.dtype == Dtype::F16));
  BOOST_TEST(scales.shape == (std::vector<std::size_t>{2, 8}), boost::test_tools::per_element());
  std::vector<std::uint16_t> expected_scales(8, 0x3800); // 0.5
  expected_scales.resize(16, 0x3400);                    // 0.25
  BOOST_TEST(scales.values == expected_scales, boost::test_tools::per_element());

  auto const g_idx = file.get<std::int32_t>("model.decoder.layers.0.fc1.g_idx");
  BOOST_TEST(g_idx.shape == (std::vector<std::size_t>{8}), boost::test_tools::per_element());
  BOOST_TEST(g_idx.values == (std::vector<std::int32_t>{1, 0, 1, 0, 0, 1, 1, 0}),
             boost::test_tools::per_element());
  BOOST_TEST(file.names().size() == 4u);
}

BOOST_AUTO_TEST_CASE(gptq_layer_at_3_bits_straddles_words)
{
  // 32 × 32, symmetric 3-bit (zero 4, stored 3), one group; all codes 0 but row 0 column 10
  // (5) and row 1 column 21 (6).
  auto const layer = make_layer(
      32, 32, 3, 0, std::vector<int>(32, 0),
      [](int o, int c) { return o == 0 && c == 10   ? 5
                                : o == 1 && c == 21 ? 6
                                                    : 0; },
      [](int, int) { return 4; }, [](int, int) { return 1.0f; });
  sgpte::io::SafetensorsWriter writer;
  exports::add_gptq_layer(writer, "fc", layer);
  WrittenTensors const file(writer);
  auto const qweight = file.get<std::int32_t>("fc.qweight");
  BOOST_TEST(qweight.shape == (std::vector<std::size_t>{3, 32}), boost::test_tools::per_element());
  std::vector<std::uint32_t> expected(3 * 32, 0);                  // [word][output row]
  expected[0 * 32 + 0] = 0x40000000u, expected[1 * 32 + 0] = 0x1u; // row 0: field 10
  expected[2 * 32 + 1] = 0x3u;                                     // row 1: field 21 = 0b110
  BOOST_TEST(as_words(qweight.values) == expected, boost::test_tools::per_element());
  // 32 stored zeros of 3 (0b011): bit b of the 96-bit stream is set unless b % 3 == 2.
  auto const qzeros = file.get<std::int32_t>("fc.qzeros");
  BOOST_TEST(qzeros.shape == (std::vector<std::size_t>{1, 3}), boost::test_tools::per_element());
  for (int b = 0; b < 96; ++b)
    BOOST_TEST(((static_cast<std::uint32_t>(qzeros.values[b / 32]) >> (b % 32)) & 1u) ==
               (b % 3 != 2 ? 1u : 0u));
}

BOOST_AUTO_TEST_CASE(gptq_refuses_what_it_cannot_hold)
{
  auto const at = [](int bits, int zero)
  {
    return make_layer(
        8, 8, bits, 0, std::vector<int>(8, 0), [](int, int) { return 1; },
        [zero](int, int) { return zero; }, [](int, int) { return 1.0f; });
  };
  sgpte::io::SafetensorsWriter writer;
  auto const refuses = [&](exports::ExportLayer const &layer, std::string const &part)
  {
    BOOST_CHECK_EXCEPTION(exports::add_gptq_layer(writer, "fc", layer), sgpte::InvalidArgument,
                          [&](sgpte::InvalidArgument const &error)
                          {
                            BOOST_TEST_INFO(error.what());
                            return std::string(error.what()).find(part) != std::string::npos;
                          });
  };
  refuses(at(4, 0), "GPTQ export of 'fc': row 0 has zero point 0, which GPTQ's stored zero − 1 "
                    "cannot hold");
  refuses(at(6, 1), "GPTQ export of 'fc': 6-bit codes; GPTQ stores 2, 3, 4 or 8 bits");
  refuses(at(3, 1), "does not fill whole int32 words"); // 8 × 3 bits
  auto tiny_scale = at(4, 1);
  tiny_scale.scale[3] = 1e-9f;
  refuses(tiny_scale, "row 3 has scale");
}

BOOST_AUTO_TEST_CASE(gptq_and_compressed_tensors_configs)
{
  auto const gptq = exports::gptq_quantization_config({4, 0, true, false, 0.01});
  BOOST_TEST(gptq.at("quant_method") == "gptq");
  BOOST_TEST(gptq.at("bits") == 4);
  BOOST_TEST(gptq.at("group_size") == -1);
  BOOST_TEST(gptq.at("desc_act") == true);
  BOOST_TEST(gptq.at("sym") == false);
  BOOST_TEST(gptq.at("checkpoint_format") == "gptq");

  exports::CompressedTensorsSettings settings;
  settings.bits = 4, settings.group_size = 128, settings.act_order = true;
  settings.global_sparsity = 0.5;
  auto const quantized = exports::compressed_tensors_quantization_config(settings);
  BOOST_TEST(quantized.at("quant_method") == "compressed-tensors");
  BOOST_TEST(quantized.at("format") == "pack-quantized");
  auto const &weights = quantized.at("config_groups").at("group_0").at("weights");
  BOOST_TEST(weights.at("num_bits") == 4);
  BOOST_TEST(weights.at("strategy") == "group");
  BOOST_TEST(weights.at("group_size") == 128);
  BOOST_TEST(weights.at("actorder") == "group");
  BOOST_TEST(weights.at("type") == "int");
  BOOST_TEST(quantized.at("config_groups").at("group_0").at("targets").at(0) == "Linear");
  BOOST_TEST(quantized.at("ignore").at(0) == "lm_head");
  BOOST_TEST(quantized.at("sparsity_config").at("format") == "dense");

  settings.bits = 0, settings.sparsity = exports::SparsityFormat::sparse_24_bitmask;
  settings.sparsity_structure = "2:4";
  auto const sparse = exports::compressed_tensors_quantization_config(settings);
  BOOST_TEST(!sparse.contains("config_groups"));
  BOOST_TEST(sparse.at("format") == "sparse-24-bitmask");
  BOOST_TEST(sparse.at("sparsity_config").at("sparsity_structure") == "2:4");
}

BOOST_AUTO_TEST_CASE(compressed_tensors_pack_quantized_at_3_bits)
{
  // 2 × 11, asymmetric, per channel: codes 7 but column 10 (row 0: 1, row 1: 2), zero points
  // 2 and 5. 11 codes of 3 bits take 2 words per row; 2 zero points of 3 bits 1 word.
  auto const layer = make_layer(
      2, 11, 3, 0, std::vector<int>(11, 0), [](int o, int c) { return c == 10 ? o + 1 : 7; },
      [](int o, int) { return o == 0 ? 2 : 5; }, [](int o, int) { return o == 0 ? 0.5f : 3.0f; });
  exports::CompressedTensorsSettings settings;
  settings.bits = 3, settings.dtype = Dtype::F32;
  sgpte::io::SafetensorsWriter writer;
  exports::add_compressed_tensors_layer(writer, "fc", layer, settings);
  WrittenTensors const file(writer);
  auto const packed = file.get<std::int32_t>("fc.weight_packed");
  BOOST_TEST(packed.shape == (std::vector<std::size_t>{2, 2}), boost::test_tools::per_element());
  BOOST_TEST(as_words(packed.values) ==
                 (std::vector<std::uint32_t>{0x3fffffffu, 1u, 0x3fffffffu, 2u}),
             boost::test_tools::per_element());
  auto const zero_point = file.get<std::int32_t>("fc.weight_zero_point");
  BOOST_TEST(zero_point.shape == (std::vector<std::size_t>{1, 1}),
             boost::test_tools::per_element());
  BOOST_TEST(zero_point.values.at(0) == (2 | 5 << 3));
  auto const scale = file.get<float>("fc.weight_scale");
  BOOST_TEST((scale.dtype == Dtype::F32));
  BOOST_TEST(scale.shape == (std::vector<std::size_t>{2, 1}), boost::test_tools::per_element());
  BOOST_TEST(scale.values == (std::vector<float>{0.5f, 3.0f}), boost::test_tools::per_element());
  auto const shape = file.get<std::int64_t>("fc.weight_shape");
  BOOST_TEST(shape.values == (std::vector<std::int64_t>{2, 11}), boost::test_tools::per_element());
  BOOST_TEST(file.names().size() == 4u); // no g_idx without act-order

  // Symmetric: zero point 2^(bits−1) everywhere, not stored; anything else is refused.
  settings.symmetric = true;
  auto symmetric = layer;
  symmetric.zero.assign(symmetric.zero.size(), 4);
  sgpte::io::SafetensorsWriter symmetric_writer;
  exports::add_compressed_tensors_layer(symmetric_writer, "fc", symmetric, settings);
  BOOST_TEST(WrittenTensors(symmetric_writer).names().size() == 3u);
  BOOST_CHECK_THROW(
      exports::add_compressed_tensors_layer(symmetric_writer, "other", layer, settings),
      sgpte::InvalidArgument);
}

BOOST_AUTO_TEST_CASE(compressed_tensors_bitmasks_of_pruned_layers)
{
  // 2 × 8, only pruned: row 0 keeps columns 0, 3, 5, 6, row 1 columns 1, 2, 4, 7 (2:4).
  exports::ExportLayer layer;
  layer.rows = 2, layer.columns = 8;
  layer.kept = {1, 0, 0, 1, 0, 1, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1};
  for (int i = 0; i < 16; ++i)
    layer.values.push_back(layer.kept[i] ? static_cast<float>(i + 1) : 0.0f);
  exports::CompressedTensorsSettings settings;
  settings.dtype = Dtype::F32, settings.sparsity = exports::SparsityFormat::sparse_24_bitmask;
  sgpte::io::SafetensorsWriter writer;
  exports::add_compressed_tensors_layer(writer, "fc", layer, settings);
  {
    WrittenTensors const file(writer);
    auto const bitmask = file.get<std::uint8_t>("fc.bitmask");
    BOOST_TEST((bitmask.dtype == Dtype::U8));
    BOOST_TEST(bitmask.values == (std::vector<std::uint8_t>{0x69, 0x96}),
               boost::test_tools::per_element());
    auto const compressed = file.get<float>("fc.compressed");
    BOOST_TEST(compressed.shape == (std::vector<std::size_t>{2, 4}),
               boost::test_tools::per_element());
    BOOST_TEST(compressed.values == (std::vector<float>{1, 4, 6, 7, 10, 11, 13, 16}),
               boost::test_tools::per_element());
    auto const shape = file.get<std::int64_t>("fc.shape");
    BOOST_TEST(shape.shape == (std::vector<std::size_t>{2, 1}), boost::test_tools::per_element());
    BOOST_TEST(shape.values == (std::vector<std::int64_t>{2, 8}), boost::test_tools::per_element());
  }

  // Not 2 of every 4: refused as sparse-24-bitmask, stored as sparse-bitmask.
  layer.kept[1] = 1, layer.values[1] = 2.0f;
  sgpte::io::SafetensorsWriter refused;
  BOOST_CHECK_THROW(exports::add_compressed_tensors_layer(refused, "fc", layer, settings),
                    sgpte::InvalidArgument);
  settings.sparsity = exports::SparsityFormat::sparse_bitmask;
  sgpte::io::SafetensorsWriter bitmask_writer;
  exports::add_compressed_tensors_layer(bitmask_writer, "fc", layer, settings);
  WrittenTensors const file(bitmask_writer);
  BOOST_TEST(file.get<std::uint8_t>("fc.bitmask").values == (std::vector<std::uint8_t>{0x6b, 0x96}),
             boost::test_tools::per_element());
  BOOST_TEST(file.get<float>("fc.compressed").values ==
                 (std::vector<float>{1, 2, 4, 6, 7, 10, 11, 13, 16}),
             boost::test_tools::per_element());
  BOOST_TEST(file.get<std::int64_t>("fc.row_offsets").values == (std::vector<std::int64_t>{0, 5}),
             boost::test_tools::per_element());
  BOOST_TEST(file.get<std::int64_t>("fc.shape").shape == (std::vector<std::size_t>{2}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
