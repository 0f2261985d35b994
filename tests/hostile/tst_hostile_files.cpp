// Hostile files and writes: what the fuzzers found in the readers (each also replayed from
// tests/data/fuzz by the sgpte_fuzz_replay_* tests), and values a half-precision checkpoint
// cannot hold.

#include <sgpte/io/float_codec.hpp>
#include <sgpte/io/opt_config.hpp>
#include <sgpte/io/safetensors_reader.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "io_test_helpers.hpp"
#include "trap_invalid_operations.hpp"

namespace
{

using namespace sgpte::io;
using namespace sgpte::io::test;

std::string safetensors_bytes(std::string header)
{
  header.append((8 - header.size() % 8) % 8, ' ');
  std::uint64_t const length = header.size();
  std::string bytes(sizeof length, '\0');
  std::memcpy(bytes.data(), &length, sizeof length);
  return bytes + header;
}

std::string nested_arrays(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// A small valid OPT config.json with `field` set to the JSON text `value`.
std::string opt_config_with(std::string const &field, std::string const &value)
{
  std::map<std::string, std::string> fields = {
      {"hidden_size", "8"}, {"num_hidden_layers", "1"}, {"num_attention_heads", "2"},
      {"ffn_dim", "16"},    {"vocab_size", "32"},       {"max_position_embeddings", "16"}};
  fields[field] = value;
  std::string text;
  for (auto const &[key, json] : fields)
    text += (text.empty() ? "{" : ", ") + ("\"" + key + "\": " + json);
  return text + "}";
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(HostileFiles, sgpte_test::TrapInvalidOperations)

// nlohmann reports 1E400 as out_of_range, not parse_error: it escaped as a foreign exception.
BOOST_AUTO_TEST_CASE(json_numbers_beyond_double_are_a_file_error)
{
  ScratchDirectory directory;
  auto const config = directory / "config.json";
  write_bytes(config, opt_config_with("hidden_size", "1E400"));
  require_file_error([&] { read_opt_config(config); }, config, {"not valid JSON", "1E400"});
  auto const weights = directory / "model.safetensors";
  write_bytes(weights,
              safetensors_bytes(R"({"t":{"dtype":"F32","shape":[1e400],"data_offsets":[0,0]}})"));
  require_file_error([&] { SafetensorsReader reader(weights); }, weights, {"not valid JSON"});
}

// Printing a value nested 100 000 deep in an error message overflowed the stack.
BOOST_AUTO_TEST_CASE(nesting_beyond_64_levels_is_a_file_error)
{
  ScratchDirectory directory;
  auto const config = directory / "config.json";
  write_bytes(config, opt_config_with("task_specific_params", nested_arrays(63)));
  BOOST_TEST(read_opt_config(config).hidden_size == 8); // 64 levels with the top object
  write_bytes(config, opt_config_with("task_specific_params", nested_arrays(64)));
  require_file_error([&] { read_opt_config(config); }, config, {"more than 64 levels deep"});
  write_bytes(config, opt_config_with("hidden_size", nested_arrays(100000)));
  require_file_error([&] { read_opt_config(config); }, config, {"more than 64 levels deep"});
  auto const weights = directory / "model.safetensors";
  write_bytes(weights, safetensors_bytes(R"({"t":{"dtype":)" + nested_arrays(63) + "}}"));
  require_file_error([&] { SafetensorsReader reader(weights); }, weights,
                     {"more than 64 levels deep"});
}

// Reading them passed a null pointer to memcpy (undefined behaviour, caught by UBSan).
BOOST_AUTO_TEST_CASE(empty_tensors_read_as_empty)
{
  ScratchDirectory directory;
  auto const path = directory / "empty.safetensors";
  write_bytes(path, safetensors_bytes(R"({"f":{"dtype":"F16","shape":[0,4],"data_offsets":[0,0]},)"
                                      R"("i":{"dtype":"I32","shape":[0],"data_offsets":[0,0]}})"));
  SafetensorsReader const reader(path);
  BOOST_TEST(reader.read_as_float("f").empty());
  BOOST_TEST(reader.read_values<std::int32_t>("i").empty());
}

// What a driver checks before storing compressed weights in a checkpoint's own dtype (the
// OPT checkpoint refuses with a NumericalError naming the tensor when it fails, see
// tests/opt): exactly the values that would be written as ±Inf or NaN are flagged.
BOOST_AUTO_TEST_CASE(the_encoding_check_flags_exactly_what_would_not_be_finite_on_disk)
{
  float const infinity = std::numeric_limits<float>::infinity();
  std::vector<float> values = {0.0f,
                               1.0f,
                               infinity,
                               -infinity,
                               std::numeric_limits<float>::quiet_NaN(),
                               std::numeric_limits<float>::max(),
                               std::numeric_limits<float>::denorm_min()};
  // The largest finite F16 (65504), where F16 starts rounding to infinity (65520), the
  // largest finite BF16, and their float neighbours on both sides, of both signs.
  for (float const boundary : {65504.0f, 65520.0f, 3.3895314e38f})
  {
    values.push_back(boundary);
    float below = boundary, above = boundary;
    for (int step = 0; step < 4; ++step)
    {
      values.push_back(below = std::nextafter(below, 0.0f));
      values.push_back(above = std::nextafter(above, infinity));
    }
  }
  for (std::size_t i = 0, positive = values.size(); i < positive; ++i)
    values.push_back(-values[i]);
  for (Dtype const dtype : {Dtype::F16, Dtype::BF16, Dtype::F32})
    for (float const value : values)
    {
      std::vector<unsigned char> const bytes = encode_from_float(dtype, &value, 1);
      float stored;
      decode_to_float(dtype, bytes.data(), 1, &stored);
      BOOST_TEST_CONTEXT(dtype_name(dtype) << " " << value)
      {
        BOOST_TEST(check_float_encoding(dtype, &value, 1).ok() == std::isfinite(stored));
      }
    }
}

BOOST_AUTO_TEST_SUITE_END()
