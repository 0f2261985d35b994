#ifndef SGPTE_OPT_TENSOR_NAMES_HPP
#define SGPTE_OPT_TENSOR_NAMES_HPP

// The tensors of a Hugging Face OPT checkpoint (OPTForCausalLM), their names and the shapes
// its config.json implies. Names are the canonical "model.decoder...." form; a checkpoint
// saved from OPTModel stores them without the "model." prefix (OptCheckpoint maps that).

#include <sgpte/io/opt_config.hpp>

#include <array>
#include <cstddef>
#include <string>
#include <vector>

namespace sgpte::opt
{

// The six linear modules of a decoder layer, in the order the reference's find_layers
// visits them: the definition order of transformers' OPTAttention (k, v, q, out_proj) and
// OPTDecoderLayer (self_attn, fc1, fc2).
enum class LinearModule
{
  k_proj,
  v_proj,
  q_proj,
  out_proj,
  fc1,
  fc2
};

inline constexpr std::array<LinearModule, 6> linear_modules = {
    LinearModule::k_proj,   LinearModule::v_proj, LinearModule::q_proj,
    LinearModule::out_proj, LinearModule::fc1,    LinearModule::fc2};

inline constexpr std::size_t module_index(LinearModule module)
{
  return static_cast<std::size_t>(module);
}

// The module's path inside a decoder layer, e.g. "self_attn.k_proj".
inline char const *module_path(LinearModule module)
{
  constexpr std::array<char const *, 6> paths = {"self_attn.k_proj",
                                                 "self_attn.v_proj",
                                                 "self_attn.q_proj",
                                                 "self_attn.out_proj",
                                                 "fc1",
                                                 "fc2"};
  return paths[module_index(module)];
}

// "model.decoder.layers.3." — the prefix of layer 3's tensors.
inline std::string layer_prefix(int layer)
{
  return "model.decoder.layers." + std::to_string(layer) + ".";
}

inline std::string linear_weight_name(int layer, LinearModule module)
{
  return layer_prefix(layer) + module_path(module) + ".weight";
}

inline std::string linear_bias_name(int layer, LinearModule module)
{
  return layer_prefix(layer) + module_path(module) + ".bias";
}

namespace names
{
inline constexpr char const *embed_tokens = "model.decoder.embed_tokens.weight";
inline constexpr char const *embed_positions = "model.decoder.embed_positions.weight";
inline constexpr char const *project_in = "model.decoder.project_in.weight";
inline constexpr char const *project_out = "model.decoder.project_out.weight";
inline constexpr char const *final_layer_norm = "model.decoder.final_layer_norm";
inline constexpr char const *lm_head = "lm_head.weight";
} // namespace names

// Learned positions start at row 2 of embed_positions (OPTLearnedPositionalEmbedding).
inline constexpr int position_offset = 2;

struct ExpectedTensor
{
  std::string name;
  std::vector<std::size_t> shape;
};

namespace detail
{

inline void add_layer_norm(std::vector<ExpectedTensor> &tensors, std::string const &prefix,
                           io::OptConfig const &config)
{
  if (!config.layer_norm_elementwise_affine)
    return;
  auto const hidden = static_cast<std::size_t>(config.hidden_size);
  tensors.push_back({prefix + ".weight", {hidden}});
  tensors.push_back({prefix + ".bias", {hidden}});
}

} // namespace detail

// Every tensor the forward pass reads, outside the decoder layers.
inline std::vector<ExpectedTensor> expected_edge_tensors(io::OptConfig const &config)
{
  auto const hidden = static_cast<std::size_t>(config.hidden_size);
  auto const word = static_cast<std::size_t>(config.word_embed_proj_dim);
  auto const vocab = static_cast<std::size_t>(config.vocab_size);
  auto const positions = static_cast<std::size_t>(config.max_position_embeddings + position_offset);
  std::vector<ExpectedTensor> tensors = {{names::embed_tokens, {vocab, word}},
                                         {names::embed_positions, {positions, hidden}}};
  if (word != hidden)
  {
    tensors.push_back({names::project_in, {hidden, word}});
    tensors.push_back({names::project_out, {word, hidden}});
  }
  if (config.has_final_layer_norm())
    detail::add_layer_norm(tensors, names::final_layer_norm, config);
  if (!config.tie_word_embeddings)
    tensors.push_back({names::lm_head, {vocab, word}});
  return tensors;
}

// Every tensor of decoder layer `layer`.
inline std::vector<ExpectedTensor> expected_layer_tensors(io::OptConfig const &config, int layer)
{
  auto const hidden = static_cast<std::size_t>(config.hidden_size);
  auto const ffn = static_cast<std::size_t>(config.ffn_dim);
  std::vector<ExpectedTensor> tensors;
  for (LinearModule const module : linear_modules)
  {
    std::size_t const rows = module == LinearModule::fc1 ? ffn : hidden;
    std::size_t const columns = module == LinearModule::fc2 ? ffn : hidden;
    tensors.push_back({linear_weight_name(layer, module), {rows, columns}});
    if (config.enable_bias)
      tensors.push_back({linear_bias_name(layer, module), {rows}});
  }
  std::string const prefix = layer_prefix(layer);
  detail::add_layer_norm(tensors, prefix + "self_attn_layer_norm", config);
  detail::add_layer_norm(tensors, prefix + "final_layer_norm", config);
  return tensors;
}

} // namespace sgpte::opt

#endif
