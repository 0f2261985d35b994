#ifndef SGPTE_IO_OPT_CONFIG_HPP
#define SGPTE_IO_OPT_CONFIG_HPP

// The architecture of a Hugging Face OPT checkpoint, read from its config.json and
// validated: required fields present with the right JSON type, dimensions positive and
// consistent, nothing absurdly large. Optional fields take the defaults of the transformers
// OPTConfig. Only the ReLU activation (every published OPT model) is supported. Errors are
// sgpte::FileError naming the file and the field.

#include <sgpte/io/detail/file_error.hpp>
#include <sgpte/io/detail/mapped_file.hpp>
#include <sgpte/io/detail/strict_json.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace sgpte::io
{

struct OptConfig
{
  std::int64_t hidden_size;
  std::int64_t num_hidden_layers;
  std::int64_t num_attention_heads;
  std::int64_t ffn_dim;
  std::int64_t vocab_size;
  std::int64_t max_position_embeddings;
  std::int64_t word_embed_proj_dim;   // != hidden_size means project_in / project_out exist
  bool do_layer_norm_before;          // pre-layer-norm (true) or post-layer-norm (opt-350m)
  bool remove_final_layer_norm;       // "_remove_final_layer_norm" of old configs
  std::string activation_function;    // always "relu"
  bool enable_bias;                   // biases of the attention projections and fc1/fc2
  bool layer_norm_elementwise_affine; // layer norms have weight and bias
  bool tie_word_embeddings;           // lm_head shares embed_tokens' weight
  std::optional<std::string> torch_dtype;
  nlohmann::json json; // the whole file, so that a writer can copy it with the model

  std::int64_t head_dim() const { return hidden_size / num_attention_heads; }

  // As transformers' OPTDecoder: the final layer norm exists only for pre-layer-norm models.
  bool has_final_layer_norm() const { return do_layer_norm_before && !remove_final_layer_norm; }
};

namespace detail
{

class OptConfigParser
{
public:
  OptConfigParser(std::filesystem::path const &path, nlohmann::json const &json)
      : _path(path), _json(json)
  {
  }

  // A required positive integer, below `limit`.
  std::int64_t dimension(char const *field, std::int64_t limit) const
  {
    auto const found = _json.find(field);
    if (found == _json.end())
      fail(field, "is missing");
    return checked_dimension(field, *found, limit);
  }

  std::int64_t optional_dimension(char const *field, std::int64_t limit,
                                  std::int64_t default_value) const
  {
    auto const found = _json.find(field);
    if (found == _json.end() || found->is_null())
      return default_value;
    return checked_dimension(field, *found, limit);
  }

  bool flag(char const *field, bool default_value) const
  {
    auto const found = _json.find(field);
    if (found == _json.end())
      return default_value;
    if (!found->is_boolean())
      fail(field, found->dump() + " is not true or false");
    return found->get<bool>();
  }

  std::optional<std::string> optional_string(char const *field) const
  {
    auto const found = _json.find(field);
    if (found == _json.end() || found->is_null())
      return std::nullopt;
    if (!found->is_string())
      fail(field, found->dump() + " is not a string");
    return found->get<std::string>();
  }

  [[noreturn]] void fail(std::string_view field, std::string const &problem) const
  {
    throw_file_error(_path, "field '" + std::string(field) + "' " + problem);
  }

private:
  std::int64_t checked_dimension(char const *field, nlohmann::json const &value,
                                 std::int64_t limit) const
  {
    // Integer literals only: 768.0 or "768" in a config is a broken file, not a dimension.
    if (!value.is_number_integer())
      fail(field, value.dump() + " is not an integer");
    if (value.is_number_unsigned() ? value.get<std::uint64_t>() >= std::uint64_t(limit)
                                   : value.get<std::int64_t>() >= limit)
      fail(field, value.dump() + " is too large (limit " + std::to_string(limit - 1) + ")");
    auto const number = value.get<std::int64_t>();
    if (number <= 0)
      fail(field, value.dump() + " is not positive");
    return number;
  }

  std::filesystem::path const &_path;
  nlohmann::json const &_json;
};

} // namespace detail

// Dimensions below 2^20 and at most 10000 layers: far beyond any OPT model, small enough
// that products of dimensions cannot overflow downstream.
inline constexpr std::int64_t opt_dimension_limit = std::int64_t(1) << 20;
inline constexpr std::int64_t opt_layer_limit = 10001;

inline OptConfig read_opt_config(std::filesystem::path const &path)
{
  detail::MappedFile const file(path);
  std::string_view const text(reinterpret_cast<char const *>(file.data()), file.size());
  nlohmann::json json = detail::parse_strict_json(path, text, "JSON");
  if (!json.is_object())
    detail::throw_file_error(path, std::string("JSON is not an object but ") + json.type_name());
  detail::OptConfigParser const parse(path, json);

  if (auto const model_type = parse.optional_string("model_type");
      model_type && *model_type != "opt")
    parse.fail("model_type", "is '" + *model_type + "', expected 'opt'");
  OptConfig config;
  config.hidden_size = parse.dimension("hidden_size", opt_dimension_limit);
  config.num_hidden_layers = parse.dimension("num_hidden_layers", opt_layer_limit);
  config.num_attention_heads = parse.dimension("num_attention_heads", opt_dimension_limit);
  config.ffn_dim = parse.dimension("ffn_dim", opt_dimension_limit);
  config.vocab_size = parse.dimension("vocab_size", opt_dimension_limit);
  config.max_position_embeddings = parse.dimension("max_position_embeddings", opt_dimension_limit);
  config.word_embed_proj_dim =
      parse.optional_dimension("word_embed_proj_dim", opt_dimension_limit, config.hidden_size);
  config.do_layer_norm_before = parse.flag("do_layer_norm_before", true);
  config.remove_final_layer_norm = parse.flag("_remove_final_layer_norm", false);
  config.enable_bias = parse.flag("enable_bias", true);
  config.layer_norm_elementwise_affine = parse.flag("layer_norm_elementwise_affine", true);
  config.tie_word_embeddings = parse.flag("tie_word_embeddings", true);
  config.activation_function = parse.optional_string("activation_function").value_or("relu");
  config.torch_dtype = parse.optional_string("torch_dtype");

  if (config.hidden_size % config.num_attention_heads != 0)
    parse.fail("hidden_size", std::to_string(config.hidden_size) +
                                  " is not a multiple of num_attention_heads (" +
                                  std::to_string(config.num_attention_heads) + ")");
  if (config.activation_function != "relu")
    parse.fail("activation_function", "is '" + config.activation_function +
                                          "'; only 'relu' (the activation of every OPT model) "
                                          "is supported");
  config.json = std::move(json);
  return config;
}

} // namespace sgpte::io

#endif
