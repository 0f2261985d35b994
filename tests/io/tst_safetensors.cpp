// SafetensorsReader and SafetensorsWriter: byte-exact agreement with the golden file written
// by an independent Python implementation (tools/io/make_io_fixtures.py), round trips, and
// one clear FileError for each kind of malformed file.

#include <sgpte/io/safetensors.hpp>

#include "trap_invalid_operations.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io_test_helpers.hpp"

namespace
{

using namespace sgpte::io;
using namespace sgpte::io::test;

nlohmann::json golden_description()
{
  return nlohmann::json::parse(read_bytes(test::io_data_dir / "golden_tensors.json"));
}

std::vector<float> floats_from_bits(std::vector<std::uint32_t> const &bits)
{
  std::vector<float> values(bits.size());
  if (!bits.empty()) // an empty vector's data() may be null, which memcpy must not be given
    std::memcpy(values.data(), bits.data(), bits.size() * sizeof(float));
  return values;
}

template <class T>
void add_integers(SafetensorsWriter &writer, std::string const &name,
                  std::vector<std::size_t> const &shape, nlohmann::json const &values)
{
  auto const typed = std::make_unique<T[]>(values.size()); // not std::vector<bool>: it is packed
  for (std::size_t i = 0; i < values.size(); ++i)
    typed[i] = static_cast<T>(values[i].get<std::int64_t>());
  writer.add_values(name, shape, typed.get(), values.size());
}

// The tensors of the golden description, added the way a driver would add them.
SafetensorsWriter golden_writer(nlohmann::json const &description)
{
  SafetensorsWriter writer;
  for (auto const &[key, value] : description["metadata"].items())
    writer.set_metadata(key, value.get<std::string>());
  for (auto const &tensor : description["tensors"])
  {
    auto const name = tensor["name"].get<std::string>();
    auto const shape = tensor["shape"].get<std::vector<std::size_t>>();
    Dtype const dtype = parse_dtype(tensor["dtype"].get<std::string>()).value();
    if (is_floating_point(dtype))
    {
      auto const values =
          floats_from_bits(tensor["input_f32_bits"].get<std::vector<std::uint32_t>>());
      writer.add_float_tensor(name, dtype, shape, values.data(), values.size());
      continue;
    }
    switch (dtype)
    {
    case Dtype::BOOL:
      add_integers<bool>(writer, name, shape, tensor["values"]);
      break;
    case Dtype::U8:
      add_integers<std::uint8_t>(writer, name, shape, tensor["values"]);
      break;
    case Dtype::I8:
      add_integers<std::int8_t>(writer, name, shape, tensor["values"]);
      break;
    case Dtype::I16:
      add_integers<std::int16_t>(writer, name, shape, tensor["values"]);
      break;
    case Dtype::U16:
      add_integers<std::uint16_t>(writer, name, shape, tensor["values"]);
      break;
    case Dtype::I32:
      add_integers<std::int32_t>(writer, name, shape, tensor["values"]);
      break;
    case Dtype::U32:
      add_integers<std::uint32_t>(writer, name, shape, tensor["values"]);
      break;
    default:
      add_integers<std::int64_t>(writer, name, shape, tensor["values"]);
    }
  }
  return writer;
}

// A safetensors file from its parts; `header_length` overrides the true length.
std::string raw_file(std::string const &header, std::string const &data = "",
                     std::optional<std::uint64_t> header_length = std::nullopt)
{
  std::uint64_t const length = header_length.value_or(header.size());
  std::string bytes(8, '\0');
  std::memcpy(bytes.data(), &length, sizeof length);
  return bytes + header + data;
}

struct MalformedCase
{
  char const *name;
  std::string bytes;
  std::vector<std::string> fragments;
};

std::vector<MalformedCase> malformed_cases()
{
  std::string const data16(16, '\0');
  std::string const f32 = R"("dtype":"F32","shape":[2,2],"data_offsets":[0,16])";
  return {
      {"truncated", "abc", {"too short"}},
      {"empty", "", {"0 bytes", "too short"}},
      {"length_past_eof", raw_file("{}", "", 100), {"header length 100", "past the end"}},
      {"length_too_small", raw_file("{}", "", 1), {"header length 1", "too small"}},
      {"length_above_limit", raw_file("{}", "", 200'000'000), {"exceeds the limit"}},
      {"not_utf8", raw_file("{\"W\xff\":{" + f32 + "}}", data16), {"not valid UTF-8", "byte 3"}},
      {"overlong_utf8", raw_file("{\"\xc0\xaf\":1}"), {"not valid UTF-8"}},
      {"invalid_json", raw_file(R"({"W":{"dtype":"F32",)"), {"not valid JSON"}},
      {"not_an_object", raw_file("[1,2]"), {"not a JSON object", "array"}},
      {"unknown_dtype",
       raw_file(R"({"W":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})", "ab"),
       {"tensor 'W'", "unsupported dtype 'F8_E4M3'"}},
      {"dtype_not_string",
       raw_file(R"({"W":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})", "abcd"),
       {"tensor 'W'", "dtype 4 is not a string"}},
      {"missing_dtype",
       raw_file(R"({"W":{"shape":[1],"data_offsets":[0,4]}})", "abcd"),
       {"tensor 'W'", "missing 'dtype'"}},
      {"entry_not_object", raw_file(R"({"W":[1]})"), {"tensor 'W'", "not a JSON object"}},
      {"negative_shape",
       raw_file(R"({"W":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "abcd"),
       {"tensor 'W'", "shape [-1]", "non-negative integers"}},
      {"fractional_shape",
       raw_file(R"({"W":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", "abcd"),
       {"tensor 'W'", "shape [1.5]", "non-negative integers"}},
      {"float_shape",
       raw_file(R"({"W":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}})", "abcd"),
       {"tensor 'W'", "non-negative integers"}},
      {"shape_not_list",
       raw_file(R"({"W":{"dtype":"F32","shape":4,"data_offsets":[0,16]}})", data16),
       {"tensor 'W'", "shape 4", "non-negative integers"}},
      {"missing_shape",
       raw_file(R"({"W":{"dtype":"F32","data_offsets":[0,16]}})", data16),
       {"tensor 'W'", "missing 'shape'"}},
      {"shape_overflow",
       raw_file(R"({"W":{"dtype":"F32","shape":[4294967296,4294967296,2],"data_offsets":[0,4]}})",
                "abcd"),
       {"tensor 'W'", "overflows"}},
      {"byte_size_overflow",
       raw_file(R"({"W":{"dtype":"F64","shape":[4294967296,536870912],"data_offsets":[0,4]}})",
                "abcd"),
       {"tensor 'W'", "overflows"}},
      {"three_offsets",
       raw_file(R"({"W":{"dtype":"F32","shape":[2,2],"data_offsets":[0,8,16]}})", data16),
       {"tensor 'W'", "exactly two"}},
      {"negative_offset",
       raw_file(R"({"W":{"dtype":"F32","shape":[2,2],"data_offsets":[-4,12]}})", data16),
       {"tensor 'W'", "data_offsets [-4,12]"}},
      {"missing_offsets",
       raw_file(R"({"W":{"dtype":"F32","shape":[2,2]}})", data16),
       {"tensor 'W'", "missing 'data_offsets'"}},
      {"offsets_past_end",
       raw_file(R"({"W":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}})", data16),
       {"tensor 'W'", "past the end of the 16-byte data section"}},
      {"offsets_reversed",
       raw_file(R"({"W":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", data16),
       {"tensor 'W'", "end before they begin"}},
      {"offsets_do_not_match_shape",
       raw_file(R"({"W":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})", data16),
       {"tensor 'W': data_offsets [0,12] do not match shape [2, 2] of F32 (16 bytes)"}},
      {"overlap",
       raw_file(R"({"A":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                R"("B":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                data16),
       {"'A'", "'B'", "overlap"}},
      {"duplicate_name",
       raw_file("{\"W\":{" + f32 + "},\"W\":{" + f32 + "}}", data16),
       {"duplicate key 'W'"}},
      {"duplicate_field",
       raw_file(R"({"W":{"dtype":"F32","dtype":"F16","shape":[2,2],"data_offsets":[0,16]}})",
                data16),
       {"duplicate key 'dtype' inside 'W'"}},
      {"metadata_value_not_string",
       raw_file(R"({"__metadata__":{"format":1}})"),
       {"__metadata__ value of 'format' is not a string"}},
      {"metadata_not_object",
       raw_file(R"({"__metadata__":["pt"]})"),
       {"__metadata__ is not a JSON object"}},
  };
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(safetensors, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE(writer_reproduces_the_golden_file_byte_for_byte)
{
  ScratchDirectory scratch;
  golden_writer(golden_description()).write(scratch / "model.safetensors");
  BOOST_TEST(read_bytes(scratch / "model.safetensors") ==
             read_bytes(test::io_data_dir / "golden.safetensors"));
  BOOST_TEST(scratch.file_names() == std::vector<std::string>{"model.safetensors"});
}

BOOST_AUTO_TEST_CASE(reader_reads_every_dtype_of_the_golden_file)
{
  auto const description = golden_description();
  SafetensorsReader const reader(test::io_data_dir / "golden.safetensors");
  BOOST_TEST(
      (reader.metadata() == description["metadata"].get<std::map<std::string, std::string>>()));
  std::vector<std::string> expected_names;
  for (auto const &tensor : description["tensors"])
  {
    auto const name = tensor["name"].get<std::string>();
    expected_names.push_back(name);
    TensorInfo const &info = reader.info(name);
    BOOST_TEST(dtype_name(info.dtype) == tensor["dtype"].get<std::string>());
    BOOST_TEST(info.shape == tensor["shape"].get<std::vector<std::size_t>>());
    BOOST_TEST(reader.bytes(name).size == info.element_count * dtype_size(info.dtype));
    if (is_floating_point(info.dtype))
    {
      std::vector<float> const values = reader.read_as_float(name);
      auto const expected =
          floats_from_bits(tensor["read_f32_bits"].get<std::vector<std::uint32_t>>());
      BOOST_TEST_REQUIRE(values.size() == expected.size());
      // Bit patterns (NaN payloads); an empty tensor's data() may be null, not for memcmp.
      BOOST_TEST((values.empty() ||
                  std::memcmp(values.data(), expected.data(), values.size() * sizeof(float)) == 0),
                 "tensor " << name);
    }
  }
  std::sort(expected_names.begin(), expected_names.end());
  BOOST_TEST(reader.names() == expected_names);
  BOOST_TEST(reader.read_values<std::int64_t>("int.i64") ==
             (std::vector<std::int64_t>{0, 1, -1, INT64_MAX, INT64_MIN}));
  BOOST_TEST(reader.read_values<std::uint16_t>("int.u16") ==
             (std::vector<std::uint16_t>{0, 65535, 258}));
  BOOST_TEST(reader.read_values<bool>("int.bool") == (std::vector<bool>{false, true, true, false}));
  BOOST_TEST(reader.read_as_float("scalar") == std::vector<float>{2.5f});
  BOOST_TEST(reader.read_as_float("empty").empty());
}

BOOST_AUTO_TEST_CASE(writer_output_is_independent_of_insertion_order_and_aligned)
{
  ScratchDirectory scratch;
  std::vector<float> const values = {1.0f, -2.0f, 3.5f};
  std::vector<std::int64_t> const indices = {7, 8, 9};
  std::vector<std::uint8_t> const codes = {1, 2, 3};

  SafetensorsWriter forward;
  forward.set_metadata("a", "1");
  forward.set_metadata("b", "2");
  forward.add_values("codes", {3}, codes.data(), codes.size());
  forward.add_float_tensor("weight", Dtype::F16, {3}, values.data(), values.size());
  forward.add_values("indices", {3}, indices.data(), indices.size());
  forward.add_float_tensor("bias", Dtype::F32, {1, 3}, values.data(), values.size());
  forward.write(scratch / "forward.safetensors");

  SafetensorsWriter backward;
  backward.add_float_tensor("bias", Dtype::F32, {1, 3}, values.data(), values.size());
  backward.add_values("indices", {3}, indices.data(), indices.size());
  backward.add_float_tensor("weight", Dtype::F16, {3}, values.data(), values.size());
  backward.add_values("codes", {3}, codes.data(), codes.size());
  backward.set_metadata("b", "2");
  backward.set_metadata("a", "1");
  backward.write(scratch / "backward.safetensors");

  std::string const bytes = read_bytes(scratch / "forward.safetensors");
  BOOST_TEST(bytes == read_bytes(scratch / "backward.safetensors"));

  SafetensorsReader const reader(scratch / "forward.safetensors");
  std::uint64_t header_length;
  std::memcpy(&header_length, bytes.data(), sizeof header_length);
  BOOST_TEST(header_length % 8 == 0u);
  for (auto const &name : reader.names())
  {
    auto const absolute = reinterpret_cast<std::uintptr_t>(reader.bytes(name).data);
    BOOST_TEST(absolute % dtype_size(reader.info(name).dtype) == 0u, "tensor " << name);
  }
  BOOST_TEST(reader.read_as_float("weight") == values);
  BOOST_TEST(reader.read_values<std::int64_t>("indices") == indices);
  BOOST_TEST(reader.read_values<std::uint8_t>("codes") == codes);
  BOOST_TEST(reader.metadata().at("a") == "1");
}

BOOST_AUTO_TEST_CASE(reader_accepts_padding_gaps_and_zero_size_tensors)
{
  ScratchDirectory scratch;
  std::string const header = R"({"A":{"dtype":"U8","shape":[0],"data_offsets":[4,4]},)"
                             R"("B":{"dtype":"U8","shape":[0,3],"data_offsets":[4,4]},)"
                             R"("C":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}}     )";
  write_bytes(scratch / "gaps.safetensors", raw_file(header, "abcdefghij"));
  SafetensorsReader const reader(scratch / "gaps.safetensors");
  BOOST_TEST(reader.names() == (std::vector<std::string>{"A", "B", "C"}));
  BOOST_TEST(reader.read_values<std::uint8_t>("C") == (std::vector<std::uint8_t>{'g', 'h'}));
  BOOST_TEST(reader.metadata().empty());

  write_bytes(scratch / "none.safetensors", raw_file("{}"));
  BOOST_TEST(SafetensorsReader(scratch / "none.safetensors").names().empty());
}

BOOST_AUTO_TEST_CASE(malformed_files_give_one_file_error_naming_the_file)
{
  ScratchDirectory scratch;
  for (auto const &malformed : malformed_cases())
  {
    BOOST_TEST_CONTEXT("case " << malformed.name)
    {
      auto const path = scratch / (std::string(malformed.name) + ".safetensors");
      write_bytes(path, malformed.bytes);
      require_file_error([&] { SafetensorsReader const reader(path); }, path, malformed.fragments);
    }
  }
}

BOOST_AUTO_TEST_CASE(unreadable_paths_give_file_errors)
{
  ScratchDirectory scratch;
  auto const missing = scratch / "missing.safetensors";
  require_file_error([&] { SafetensorsReader const reader(missing); }, missing,
                     {"cannot open", "No such file"});
  std::filesystem::create_directory(scratch / "directory.safetensors");
  require_file_error([&] { SafetensorsReader const reader(scratch / "directory.safetensors"); },
                     scratch / "directory.safetensors", {"not a regular file"});
}

BOOST_AUTO_TEST_CASE(reader_rejects_wrong_requests)
{
  SafetensorsReader const reader(test::io_data_dir / "golden.safetensors");
  auto const file = reader.path();
  require_file_error([&] { reader.info("absent"); }, file, {"no tensor named 'absent'"});
  require_file_error([&] { reader.read_as_float("int.i32"); }, file,
                     {"tensor 'int.i32' has dtype I32", "floating-point"});
  require_file_error([&] { reader.read_values<float>("int.i32"); }, file,
                     {"has dtype I32, expected F32"});
  std::vector<float> out(3);
  BOOST_CHECK_THROW(reader.read_as_float("weight.f32", out.data(), out.size()),
                    sgpte::InvalidArgument);
}

BOOST_AUTO_TEST_CASE(writer_rejects_inconsistent_tensors)
{
  SafetensorsWriter writer;
  std::vector<unsigned char> const twelve_bytes(12);
  BOOST_CHECK_THROW(writer.add_tensor("W", Dtype::F32, {2, 2}, twelve_bytes),
                    sgpte::InvalidArgument);
  BOOST_CHECK_THROW(writer.add_tensor("W", Dtype::F32, {std::size_t(1) << 40, std::size_t(1) << 40},
                                      twelve_bytes),
                    sgpte::InvalidArgument);
  writer.add_tensor("W", Dtype::F32, {3}, twelve_bytes);
  BOOST_CHECK_THROW(writer.add_tensor("W", Dtype::F32, {3}, twelve_bytes), sgpte::InvalidArgument);
  BOOST_CHECK_THROW(writer.add_tensor("__metadata__", Dtype::F32, {3}, twelve_bytes),
                    sgpte::InvalidArgument);
  BOOST_CHECK_THROW(writer.add_tensor("bad\xff", Dtype::F32, {3}, twelve_bytes),
                    sgpte::InvalidArgument);
  BOOST_CHECK_THROW(writer.set_metadata("key", "\xc3"), sgpte::InvalidArgument);
}

BOOST_AUTO_TEST_CASE(failed_write_leaves_no_temporary_file_and_keeps_the_target)
{
  ScratchDirectory scratch;
  std::vector<float> const values = {1.0f};
  SafetensorsWriter writer;
  writer.add_float_tensor("W", Dtype::F32, {1}, values.data(), values.size());

  // The rename fails at the very end: the target is a directory.
  auto const target = scratch / "model.safetensors";
  std::filesystem::create_directory(target);
  write_bytes(target / "keep", "precious");
  require_file_error([&] { writer.write(target); }, target, {"cannot rename"});
  BOOST_TEST(scratch.file_names() == std::vector<std::string>{"model.safetensors"});
  BOOST_TEST(read_bytes(target / "keep") == "precious");

  // The temporary file cannot even be created: the directory does not exist.
  auto const nowhere = scratch / "absent" / "model.safetensors";
  require_file_error([&] { writer.write(nowhere); }, nowhere, {"cannot create temporary file"});
  BOOST_TEST(!std::filesystem::exists(scratch / "absent"));

  // A successful write replaces an existing file.
  auto const replaced = scratch / "replaced.safetensors";
  write_bytes(replaced, "old contents");
  writer.write(replaced);
  BOOST_TEST(SafetensorsReader(replaced).read_as_float("W") == values);
  BOOST_TEST(scratch.file_names() ==
             (std::vector<std::string>{"model.safetensors", "replaced.safetensors"}));
}

BOOST_AUTO_TEST_SUITE_END()
