// OPT config.json: the two layouts of published OPT models, and one FileError naming the
// file and the field for each kind of invalid field.

#include <sgpte/io/opt_config.hpp>

#include "trap_invalid_operations.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "io_test_helpers.hpp"

namespace
{

using namespace sgpte::io;
using namespace sgpte::io::test;

auto const opt_125m = sgpte::io::test::io_data_dir / "opt-125m" / "config.json";

// opt-125m's config with `field` set to `value` (removed when `value` is discarded).
nlohmann::json edited_config(std::string const &field, nlohmann::json const &value)
{
  auto json = nlohmann::json::parse(read_bytes(opt_125m));
  if (value.is_discarded())
    json.erase(field);
  else
    json[field] = value;
  return json;
}

struct InvalidField
{
  std::string field;
  nlohmann::json value;
  std::string problem;
};

std::vector<InvalidField> invalid_fields()
{
  nlohmann::json const missing(nlohmann::json::value_t::discarded);
  std::vector<InvalidField> cases;
  for (char const *field : {"hidden_size", "num_hidden_layers", "num_attention_heads", "ffn_dim",
                            "vocab_size", "max_position_embeddings"})
  {
    cases.push_back({field, missing, "is missing"});
    cases.push_back({field, "768", "is not an integer"});
    cases.push_back({field, 768.0, "is not an integer"});
    cases.push_back({field, true, "is not an integer"});
    cases.push_back({field, 0, "is not positive"});
    cases.push_back({field, -12, "is not positive"});
    cases.push_back({field, 1 << 20, "is too large"});
    cases.push_back({field, 18446744073709551615u, "is too large"});
  }
  cases.push_back({"num_hidden_layers", 10001, "is too large"});
  cases.push_back({"word_embed_proj_dim", 0, "is not positive"});
  cases.push_back({"word_embed_proj_dim", "512", "is not an integer"});
  cases.push_back({"num_attention_heads", 7, "multiple of num_attention_heads"});
  cases.push_back({"activation_function", "gelu", "only 'relu'"});
  cases.push_back({"activation_function", 1, "is not a string"});
  cases.push_back({"do_layer_norm_before", "yes", "is not true or false"});
  cases.push_back({"enable_bias", 1, "is not true or false"});
  cases.push_back({"layer_norm_elementwise_affine", nullptr, "is not true or false"});
  cases.push_back({"tie_word_embeddings", "false", "is not true or false"});
  cases.push_back({"_remove_final_layer_norm", 0, "is not true or false"});
  cases.push_back({"torch_dtype", 16, "is not a string"});
  cases.push_back({"model_type", "gpt2", "expected 'opt'"});
  return cases;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(opt_config, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE(reads_a_pre_layer_norm_config)
{
  OptConfig const config = read_opt_config(opt_125m);
  BOOST_TEST(config.hidden_size == 768);
  BOOST_TEST(config.num_hidden_layers == 12);
  BOOST_TEST(config.num_attention_heads == 12);
  BOOST_TEST(config.head_dim() == 64);
  BOOST_TEST(config.ffn_dim == 3072);
  BOOST_TEST(config.vocab_size == 50272);
  BOOST_TEST(config.max_position_embeddings == 2048);
  BOOST_TEST(config.word_embed_proj_dim == 768);
  BOOST_TEST(config.do_layer_norm_before);
  BOOST_TEST(config.has_final_layer_norm());
  BOOST_TEST(config.activation_function == "relu");
  BOOST_TEST(config.enable_bias);
  BOOST_TEST(config.layer_norm_elementwise_affine);
  BOOST_TEST(config.tie_word_embeddings);
  BOOST_TEST(config.torch_dtype.value_or("") == "float16");
  BOOST_TEST(config.json.at("_name_or_path") == "facebook/opt-125m");
}

BOOST_AUTO_TEST_CASE(reads_a_post_layer_norm_config_with_projections_and_defaults)
{
  OptConfig const config =
      read_opt_config(sgpte::io::test::io_data_dir / "opt-350m" / "config.json");
  BOOST_TEST(config.hidden_size == 1024);
  BOOST_TEST(config.num_hidden_layers == 24);
  BOOST_TEST(config.num_attention_heads == 16);
  BOOST_TEST(config.ffn_dim == 4096);
  BOOST_TEST(config.word_embed_proj_dim == 512);
  BOOST_TEST(!config.do_layer_norm_before);
  BOOST_TEST(!config.remove_final_layer_norm);
  BOOST_TEST(!config.has_final_layer_norm());
  BOOST_TEST(!config.torch_dtype.has_value());
}

BOOST_AUTO_TEST_CASE(optional_fields_take_the_transformers_defaults)
{
  ScratchDirectory scratch;
  nlohmann::json const minimal = {{"hidden_size", 64},        {"num_hidden_layers", 2},
                                  {"num_attention_heads", 4}, {"ffn_dim", 256},
                                  {"vocab_size", 1000},       {"max_position_embeddings", 128}};
  write_bytes(scratch / "config.json", minimal.dump());
  OptConfig const config = read_opt_config(scratch / "config.json");
  BOOST_TEST(config.word_embed_proj_dim == 64);
  BOOST_TEST(config.do_layer_norm_before);
  BOOST_TEST(!config.remove_final_layer_norm);
  BOOST_TEST(config.activation_function == "relu");
  BOOST_TEST(config.enable_bias);
  BOOST_TEST(config.layer_norm_elementwise_affine);
  BOOST_TEST(config.tie_word_embeddings);
  BOOST_TEST(!config.torch_dtype.has_value());
}

BOOST_AUTO_TEST_CASE(invalid_fields_give_errors_naming_file_and_field)
{
  ScratchDirectory scratch;
  auto const path = scratch / "config.json";
  for (auto const &invalid : invalid_fields())
  {
    BOOST_TEST_CONTEXT(invalid.field << " = " << invalid.value.dump())
    {
      write_bytes(path, edited_config(invalid.field, invalid.value).dump(2));
      std::string const field =
          invalid.problem == "multiple of num_attention_heads" ? "hidden_size" : invalid.field;
      require_file_error([&] { read_opt_config(path); }, path,
                         {"field '" + field + "'", invalid.problem});
    }
  }
}

BOOST_AUTO_TEST_CASE(malformed_documents_give_file_errors)
{
  ScratchDirectory scratch;
  auto const path = scratch / "config.json";
  struct Document
  {
    std::string text;
    std::string problem;
  };
  for (auto const &document : std::vector<Document>{
           {"", "not valid JSON"},
           {R"({"hidden_size": 768,)", "not valid JSON"},
           {"[768]", "not an object"},
           {R"({"hidden_size": 768, "hidden_size": 1024})", "duplicate key 'hidden_size'"},
           {"{\"hidden_size\": \"\xe9\"}", "not valid UTF-8"}})
  {
    BOOST_TEST_CONTEXT(document.text)
    {
      write_bytes(path, document.text);
      require_file_error([&] { read_opt_config(path); }, path, {document.problem});
    }
  }
  require_file_error([&] { read_opt_config(scratch / "absent.json"); }, scratch / "absent.json",
                     {"cannot open"});
}

BOOST_AUTO_TEST_SUITE_END()
