// Malformed packed layer files give one clear FileError that names the file and the problem:
// a truncated file or code stream, bit widths out of range, a mask that does not match the
// codes, an unsupported version, a file that is not a packed layer, invalid N:M positions,
// invalid quantizer parameters, a sweep order that is not a permutation, stray tensors.

#include <sgpte/core/views.hpp>
#include <sgpte/io/safetensors_reader.hpp>
#include <sgpte/io/safetensors_writer.hpp>
#include <sgpte/packed/layer_file.hpp>
#include <sgpte/packed/pack.hpp>

#include <boost/test/unit_test.hpp>

#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "core/test_helpers.hpp"
#include "io/io_test_helpers.hpp"
#include "packed_test_helpers.hpp"
#include "sgpte_enable_device_types.hpp"
#include "trap_invalid_operations.hpp"

namespace
{

using sgpte::io::test::require_file_error;
using sgpte::io::test::ScratchDirectory;

// A safetensors file as editable values.
struct EditableFile
{
  struct Tensor
  {
    sgpte::io::Dtype dtype;
    std::vector<std::size_t> shape;
    std::vector<unsigned char> bytes;
  };
  std::map<std::string, std::string> metadata;
  std::map<std::string, Tensor> tensors;

  explicit EditableFile(std::filesystem::path const &path)
  {
    sgpte::io::SafetensorsReader const reader(path);
    metadata = reader.metadata();
    for (std::string const &name : reader.names())
    {
      auto const bytes = reader.bytes(name);
      tensors[name] = {reader.info(name).dtype, reader.info(name).shape,
                       std::vector<unsigned char>(bytes.data, bytes.data + bytes.size)};
    }
  }

  void write(std::filesystem::path const &path) const
  {
    sgpte::io::SafetensorsWriter writer;
    for (auto const &[key, value] : metadata)
      writer.set_metadata(key, value);
    for (auto const &[name, tensor] : tensors)
      writer.add_tensor(name, tensor.dtype, tensor.shape, tensor.bytes);
    writer.write(path);
  }
};

// Writes a packed layer of `case_name` with `edit` applied to its options; returns its path.
template <class ExecutionSpace>
std::filesystem::path packed_case(ScratchDirectory const &scratch, std::string const &case_name,
                                  std::function<void(sgpte::CompressionOptions &)> const &edit = {})
{
  auto const layer = sgpte_test::compress_case<ExecutionSpace>(
      sgpte_test::reference_dir / (case_name + ".safetensors"), edit);
  auto const path = scratch / ("valid_" + case_name + ".safetensors");
  sgpte::packed::write_layer(path,
                             sgpte::packed::pack_layer(layer.space, layer.weight, layer.result,
                                                       layer.options, layer.dtype));
  return path;
}

// Reading a copy of `valid` changed by `edit` fails, naming the copy and every fragment.
template <class ExecutionSpace>
void require_rejected(ScratchDirectory const &scratch, std::filesystem::path const &valid,
                      std::function<void(EditableFile &)> const &edit,
                      std::vector<std::string> const &fragments)
{
  EditableFile file(valid);
  edit(file);
  auto const broken = scratch / "broken.safetensors";
  file.write(broken);
  require_file_error([&] { sgpte::packed::read_layer(ExecutionSpace(), broken); }, broken,
                     fragments);
}

void set_bit(std::vector<unsigned char> &bytes, std::size_t bit, bool value)
{
  unsigned char const mask = static_cast<unsigned char>(1u << (bit % 8));
  bytes[bit / 8] = value ? bytes[bit / 8] | mask : bytes[bit / 8] & ~mask;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(PackedFiles, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE_TEMPLATE(truncated_files_and_streams_are_refused, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ScratchDirectory const scratch;
  auto const valid = packed_case<ExecutionSpace>(scratch, "64x128_sp50_w4asym_heavy");
  std::string const bytes = sgpte::io::test::read_bytes(valid);
  auto const cut = scratch / "cut.safetensors";
  sgpte::io::test::write_bytes(cut, bytes.substr(0, bytes.size() - 100));
  require_file_error([&] { sgpte::packed::read_layer(ExecutionSpace(), cut); }, cut, {"truncated"});

  require_rejected<ExecutionSpace>(scratch, valid,
                                   [](EditableFile &file)
                                   {
                                     auto &codes = file.tensors.at("q4.codes");
                                     codes.bytes.pop_back();
                                     codes.shape[0] -= 1;
                                   },
                                   {"'q4.codes'", "mask/code count mismatch"});
}

BOOST_AUTO_TEST_CASE_TEMPLATE(mask_and_codes_must_agree, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ScratchDirectory const scratch;
  auto const valid = packed_case<ExecutionSpace>(scratch, "64x128_sp50_w4asym_heavy");
  // Two more kept 4-bit weights need one more byte of codes than the file has.
  require_rejected<ExecutionSpace>(scratch, valid,
                                   [](EditableFile &file)
                                   {
                                     auto &mask = file.tensors.at("mask").bytes;
                                     int flipped = 0;
                                     for (std::size_t bit = 0; flipped < 2; ++bit)
                                       if (((mask[bit / 8] >> (bit % 8)) & 1) == 0)
                                         set_bit(mask, bit, true), ++flipped;
                                   },
                                   {"'q4.codes'", "mask/code count mismatch"});
  require_rejected<ExecutionSpace>(scratch, valid,
                                   [](EditableFile &file) {
                                     file.tensors.at("mask").shape = {128, 8};
                                   },
                                   {"'mask'"});
}

BOOST_AUTO_TEST_CASE_TEMPLATE(bit_widths_out_of_range_are_refused, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ScratchDirectory const scratch;
  auto const valid = packed_case<ExecutionSpace>(scratch, "96x256_sp50_heavy",
                                                 [](sgpte::CompressionOptions &o)
                                                 {
                                                   // Quantile tiers: every width in use.
                                                   o.target_average_bits = 4.0;
                                                   o.allocation = sgpte::AllocationMethod::quantile;
                                                 });
  require_rejected<ExecutionSpace>(
      scratch, valid, [](EditableFile &file) { file.tensors.at("bits").bytes[3] = 17; },
      {"column 3", "bit width 17", "out of range"});
  require_rejected<ExecutionSpace>(
      scratch, valid, [](EditableFile &file) { file.metadata.at("widths") = "2,3,4,6,17"; },
      {"out of range"});
  require_rejected<ExecutionSpace>(
      scratch, valid, [](EditableFile &file) { file.metadata.at("widths") = "2,3,4,6,8,16"; },
      {"16", "no column uses it"});
}

BOOST_AUTO_TEST_CASE_TEMPLATE(other_versions_and_files_are_refused, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ScratchDirectory const scratch;
  auto const valid = packed_case<ExecutionSpace>(scratch, "64x128_w3sym_normal");
  require_rejected<ExecutionSpace>(
      scratch, valid, [](EditableFile &file) { file.metadata.at("format_version") = "3"; },
      {"version 3 is not supported", "reads versions 1 to 2"});
  require_rejected<ExecutionSpace>(
      scratch, valid, [](EditableFile &file) { file.metadata.at("format_version") = "0"; },
      {"version 0 is not supported"});
  require_rejected<ExecutionSpace>(scratch, valid,
                                   [](EditableFile &file) { file.metadata.erase("format"); },
                                   {"not a packed layer"});
  require_rejected<ExecutionSpace>(scratch, valid,
                                   [](EditableFile &file) { file.metadata.at("rows") = "64x"; },
                                   {"'rows'", "not a valid number"});
  auto const input = sgpte_test::reference_dir / "64x128_w3sym_normal.safetensors";
  require_file_error([&] { sgpte::packed::read_layer(ExecutionSpace(), input); }, input,
                     {"not a packed layer"});
  require_rejected<ExecutionSpace>(scratch, valid,
                                   [](EditableFile &file) {
                                     file.tensors["extra"] = {sgpte::io::Dtype::U8, {1}, {0}};
                                   },
                                   {"unexpected tensor 'extra'"});
}

// A layer mixing widths from the shared range stores its widest width's scales and zeros alone
// (the others follow from them); with the MSE search every width's; version-1 files, which
// store every width's, still read, cannot say parameters_from, and the key has one value.
BOOST_AUTO_TEST_CASE_TEMPLATE(mixed_layers_store_the_widest_widths_parameters, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ScratchDirectory const scratch;
  auto const mixed = [](bool mse)
  {
    return [mse](sgpte::CompressionOptions &o)
    {
      o.wbits = 0;
      o.target_average_bits = 3.5;
      o.allocation = sgpte::AllocationMethod::budget;
      o.quantizer.mse = mse;
    };
  };
  for (bool mse : {false, true})
    BOOST_TEST_CONTEXT("mse " << mse)
    {
      EditableFile const file(
          packed_case<ExecutionSpace>(scratch, "96x256_sp50_heavy", mixed(mse)));
      auto const widths =
          sgpte::parse_list<int, sgpte::InvalidArgument>(file.metadata.at("widths"), "widths");
      BOOST_TEST_REQUIRE(widths.size() > 1u);
      BOOST_TEST(file.metadata.count("parameters_from") == (mse ? 0u : 1u));
      for (int width : widths)
      {
        bool const stored = mse || width == widths.back();
        BOOST_TEST(file.tensors.count("q" + std::to_string(width) + ".scale") ==
                   (stored ? 1u : 0u));
        BOOST_TEST(file.tensors.count("q" + std::to_string(width) + ".zero") == (stored ? 1u : 0u));
      }
    }
  {
    // Every width's pair and no parameters_from: what version 1 wrote, read as before.
    EditableFile file(packed_case<ExecutionSpace>(scratch, "96x256_sp50_heavy", mixed(true)));
    file.metadata.at("format_version") = "1";
    auto const version_1 = scratch / "version_1.safetensors";
    file.write(version_1);
    BOOST_CHECK_NO_THROW(sgpte::packed::read_layer(ExecutionSpace(), version_1));
  }
  auto const valid = packed_case<ExecutionSpace>(scratch, "96x256_sp50_heavy", mixed(false));
  require_rejected<ExecutionSpace>(
      scratch, valid, [](EditableFile &file) { file.metadata.at("format_version") = "1"; },
      {"'parameters_from'", "from format version 2"});
  require_rejected<ExecutionSpace>(
      scratch, valid, [](EditableFile &file) { file.metadata.at("parameters_from") = "each"; },
      {"'parameters_from' is 'each'", "only 'widest'"});
  require_rejected<ExecutionSpace>(
      scratch, valid, [](EditableFile &file) { file.metadata.erase("parameters_from"); },
      {"has no tensor 'q"});
}

BOOST_AUTO_TEST_CASE_TEMPLATE(invalid_parameters_and_orders_are_refused, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ScratchDirectory const scratch;
  auto const valid = packed_case<ExecutionSpace>(scratch, "96x256_sp50_heavy",
                                                 [](sgpte::CompressionOptions &o)
                                                 {
                                                   o.wbits = 4;
                                                   o.quantizer.act_order = true;
                                                   o.quantizer.group_size = 64;
                                                 });
  require_rejected<ExecutionSpace>(scratch, valid,
                                   [](EditableFile &file)
                                   {
                                     float const nan = std::numeric_limits<float>::quiet_NaN();
                                     std::memcpy(file.tensors.at("q4.scale").bytes.data(), &nan,
                                                 sizeof nan);
                                   },
                                   {"'q4.scale'", "finite and positive"});
  // Finite, but codes far from the zero point would dequantize to ±Inf (found by fuzzing).
  require_rejected<ExecutionSpace>(scratch, valid,
                                   [](EditableFile &file)
                                   {
                                     float const huge = 1e38f;
                                     std::memcpy(file.tensors.at("q4.scale").bytes.data(), &huge,
                                                 sizeof huge);
                                   },
                                   {"'q4.scale'", "beyond the float range"});
  require_rejected<ExecutionSpace>(
      scratch, valid, [](EditableFile &file) { file.tensors.at("q4.zero").bytes[0] = 200; },
      {"'q4.zero'", "200", "more than 15"});
  require_rejected<ExecutionSpace>(scratch, valid,
                                   [](EditableFile &file)
                                   {
                                     auto &order = file.tensors.at("sweep_order").bytes;
                                     std::memcpy(order.data(), order.data() + 4,
                                                 4); // a column twice
                                   },
                                   {"'sweep_order'", "not a permutation"});
}

BOOST_AUTO_TEST_CASE_TEMPLATE(invalid_masks_are_refused, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ScratchDirectory const scratch;
  auto const nm = packed_case<ExecutionSpace>(scratch, "64x128_2of4_heavy");
  // 2:4 keeps two 2-bit positions per group of 4; the first group's become (1, 1).
  require_rejected<ExecutionSpace>(scratch, nm,
                                   [](EditableFile &file)
                                   {
                                     auto &index = file.tensors.at("nm_index").bytes;
                                     index[0] =
                                         static_cast<unsigned char>((index[0] & 0xf0) | 0x05);
                                   },
                                   {"'nm_index'", "malformed", "not ascending"});

  // 13 columns: three bits of padding after each row's second mask byte must be clear.
  ExecutionSpace space;
  std::mt19937 generator(7);
  sgpte::Matrix<ExecutionSpace> weight =
      sgpte_test::to_device<ExecutionSpace>(sgpte_test::random_matrix(12, 13, generator));
  sgpte::LayerCompressor<ExecutionSpace> compressor(space, "small", weight, nullptr,
                                                    sgpte::io::Dtype::F32);
  compressor.add_batch(space, sgpte_test::to_device_row_major<ExecutionSpace>(
                                  sgpte_test::random_matrix(40, 13, generator)));
  sgpte::CompressionOptions options;
  options.sparsity = 0.5;
  auto const result = compressor.fasterprune(space, options);
  auto const bitmap = scratch / "small.safetensors";
  sgpte::packed::write_layer(
      bitmap, sgpte::packed::pack_layer(space, weight, result, options, sgpte::io::Dtype::F32));
  BOOST_TEST(sgpte::packed::read_layer(space, bitmap).file_bytes() ==
             result.statistics.size_after_bytes);
  require_rejected<ExecutionSpace>(scratch, bitmap,
                                   [](EditableFile &file)
                                   { set_bit(file.tensors.at("mask").bytes, 8 + 5 + 16, true); },
                                   {"'mask'", "bits set past the last column"});
}

BOOST_AUTO_TEST_CASE_TEMPLATE(packing_refuses_weights_it_cannot_reproduce, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  auto layer = sgpte_test::compress_case<ExecutionSpace>(sgpte_test::reference_dir /
                                                         "64x128_sp50_w4asym_heavy.safetensors");
  auto const pack = [&] {
    sgpte::packed::pack_layer(layer.space, layer.weight, layer.result, layer.options, layer.dtype);
  };
  auto const host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), layer.weight);
  auto edited = Kokkos::create_mirror_view(host);
  // A kept weight nudged off its code's value.
  int row = 0, column = 0;
  while (host(row, column) == 0.0f)
    ++column;
  Kokkos::deep_copy(edited, host);
  edited(row, column) = std::nextafter(host(row, column), 1.0f);
  Kokkos::deep_copy(layer.weight, edited);
  auto const expect_error = [&](std::string const &fragment)
  {
    try
    {
      pack();
      BOOST_ERROR("expected an InvalidArgument");
    }
    catch (sgpte::InvalidArgument const &error)
    {
      std::string const message = error.what();
      BOOST_TEST(message.find("64x128_sp50_w4asym_heavy") != std::string::npos, message);
      BOOST_TEST(message.find(fragment) != std::string::npos, message);
    }
  };
  expect_error("weight (0, " + std::to_string(column) + ")");
  // Options that do not match the result: no pruning although the mask prunes.
  Kokkos::deep_copy(layer.weight, host);
  layer.options.sparsity = 0.0;
  expect_error("the options prune nothing");
}

BOOST_AUTO_TEST_SUITE_END()
