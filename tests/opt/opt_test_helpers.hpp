#ifndef SGPTE_TESTS_OPT_OPT_TEST_HELPERS_HPP
#define SGPTE_TESTS_OPT_OPT_TEST_HELPERS_HPP

// Shared by the OPT tests: synthetic OPT checkpoints with random weights (any layout of the
// architecture: pre/post layer norm, projections, tied or separate lm_head, any dtype), a
// plain double-precision forward pass of OPT written from the transformers definition with
// Eigen as the independent reference, and the paths of the shipped model and data.

#include <sgpte/core/half_precision.hpp>
#include <sgpte/io/dtype.hpp>
#include <sgpte/io/opt_config.hpp>
#include <sgpte/io/safetensors_reader.hpp>
#include <sgpte/io/safetensors_writer.hpp>
#include <sgpte/opt/decoder_layer_loader.hpp>
#include <sgpte/opt/model_forward.hpp>
#include <sgpte/opt/opt_checkpoint.hpp>
#include <sgpte/opt/tensor_names.hpp>
#include <sgpte/opt/token_windows.hpp>

#include <Kokkos_Core.hpp>

#include <Eigen/Core>
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "io/io_test_helpers.hpp"

namespace sgpte_test
{

inline std::filesystem::path const models_dir = SGPTE_MODELS_DIR;
inline std::filesystem::path const tiny_opt_dir = models_dir / "tiny-opt";
inline std::filesystem::path const opt_data_dir =
    std::filesystem::path(SGPTE_TEST_DATA_DIR) / "opt";
inline std::filesystem::path const tiny_opt_reference =
    opt_data_dir / "tiny-opt-reference.safetensors";

using sgpte::io::test::ScratchDirectory;

// config.json of a small OPT; `changes` overrides or adds fields.
inline nlohmann::json opt_config_json(nlohmann::json const &changes = nlohmann::json::object())
{
  nlohmann::json config = {{"model_type", "opt"},
                           {"hidden_size", 16},
                           {"num_hidden_layers", 2},
                           {"num_attention_heads", 4},
                           {"ffn_dim", 24},
                           {"vocab_size", 40},
                           {"max_position_embeddings", 12},
                           {"do_layer_norm_before", true},
                           {"activation_function", "relu"},
                           {"torch_dtype", "float32"}};
  if (!changes.is_null())
    config.update(changes);
  return config;
}

// The facebook/opt-350m layout in miniature: post-layer-norm, no final layer norm, project_in
// and project_out (word_embed_proj_dim 12 ≠ hidden 16), separate lm_head.
inline nlohmann::json opt_350m_style_changes()
{
  return {
      {"do_layer_norm_before", false}, {"word_embed_proj_dim", 12}, {"tie_word_embeddings", false}};
}

using RowMajorXd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// A checkpoint's tensors as doubles (the values the file holds after rounding to its dtype).
struct SyntheticOpt
{
  sgpte::io::OptConfig config;
  std::map<std::string, RowMajorXd> tensors; // vectors are 1 × n

  RowMajorXd const &operator[](std::string const &name) const { return tensors.at(name); }
  Eigen::VectorXd vector(std::string const &name) const
  {
    return tensors.at(name).row(0).transpose();
  }
};

inline double stored_value(sgpte::io::Dtype dtype, float value)
{
  std::vector<unsigned char> const bytes = sgpte::io::encode_from_float(dtype, &value, 1);
  float decoded;
  sgpte::io::decode_to_float(dtype, bytes.data(), 1, &decoded);
  return decoded;
}

// Writes config.json and model.safetensors of a random OPT into `directory`. Weights are
// scaled so that activations stay O(1) through the layers; layer-norm weights are near 1.
// Without model_prefix, names are stored as OPTModel saves them ("decoder....").
inline SyntheticOpt write_synthetic_opt(std::filesystem::path const &directory,
                                        nlohmann::json const &config_json, unsigned seed,
                                        sgpte::io::Dtype dtype = sgpte::io::Dtype::F32,
                                        bool model_prefix = true)
{
  std::filesystem::create_directories(directory);
  sgpte::io::write_file_atomically(directory / "config.json", config_json.dump(2));
  SyntheticOpt model{sgpte::io::read_opt_config(directory / "config.json"), {}};
  std::vector<sgpte::opt::ExpectedTensor> expected =
      sgpte::opt::expected_edge_tensors(model.config);
  for (int layer = 0; layer < model.config.num_hidden_layers; ++layer)
    for (auto &tensor : sgpte::opt::expected_layer_tensors(model.config, layer))
      expected.push_back(tensor);

  std::mt19937 generator(seed);
  sgpte::io::SafetensorsWriter writer;
  writer.set_metadata("format", "pt");
  for (auto const &tensor : expected)
  {
    bool const is_vector = tensor.shape.size() == 1;
    auto const rows = static_cast<Eigen::Index>(is_vector ? 1 : tensor.shape[0]);
    auto const columns = static_cast<Eigen::Index>(is_vector ? tensor.shape[0] : tensor.shape[1]);
    bool const norm_weight = tensor.name.find("layer_norm.weight") != std::string::npos;
    bool const embedding = tensor.name.find("embed_") != std::string::npos;
    double const scale = is_vector ? (norm_weight ? 0.1 : 0.05)
                                   : (embedding ? 0.5 : 1.0 / std::sqrt(double(columns)));
    std::normal_distribution<double> normal(0.0, scale);
    std::vector<float> values(static_cast<std::size_t>(rows * columns));
    RowMajorXd stored(rows, columns);
    for (Eigen::Index i = 0; i < rows; ++i)
      for (Eigen::Index j = 0; j < columns; ++j)
      {
        auto const value = static_cast<float>((norm_weight ? 1.0 : 0.0) + normal(generator));
        values[static_cast<std::size_t>(i * columns + j)] = value;
        stored(i, j) = stored_value(dtype, value);
      }
    model.tensors[tensor.name] = stored;
    std::string name = tensor.name;
    if (!model_prefix && name.rfind("model.", 0) == 0)
      name.erase(0, std::string("model.").size());
    writer.add_float_tensor(name, dtype, tensor.shape, values.data(), values.size());
  }
  writer.write(directory / "model.safetensors");
  return model;
}

// A safetensors file's tensors as raw bytes, to be edited into malformed variants.
struct StoredTensor
{
  sgpte::io::Dtype dtype;
  std::vector<std::size_t> shape;
  std::vector<unsigned char> bytes;
};
inline bool operator==(StoredTensor const &a, StoredTensor const &b)
{
  return a.dtype == b.dtype && a.shape == b.shape && a.bytes == b.bytes;
}
using StoredTensors = std::map<std::string, StoredTensor>;

inline StoredTensors read_stored_tensors(std::filesystem::path const &file)
{
  sgpte::io::SafetensorsReader const reader(file);
  StoredTensors tensors;
  for (auto const &name : reader.names())
  {
    auto const bytes = reader.bytes(name);
    tensors[name] = {reader.info(name).dtype, reader.info(name).shape,
                     std::vector<unsigned char>(bytes.data, bytes.data + bytes.size)};
  }
  return tensors;
}

inline void write_stored_tensors(std::filesystem::path const &file, StoredTensors const &tensors)
{
  sgpte::io::SafetensorsWriter writer;
  writer.set_metadata("format", "pt");
  for (auto const &[name, tensor] : tensors)
    writer.add_tensor(name, tensor.dtype, tensor.shape, tensor.bytes);
  writer.write(file);
}

// `count` random token ids below `vocab`.
inline std::vector<std::uint16_t> random_tokens(std::size_t count, int vocab, unsigned seed)
{
  std::mt19937 generator(seed);
  std::uniform_int_distribution<int> token(0, vocab - 1);
  std::vector<std::uint16_t> tokens(count);
  for (auto &t : tokens)
    t = static_cast<std::uint16_t>(token(generator));
  return tokens;
}

// ---------------------------------------------------------------------------------------
// The reference forward pass: transformers' OPTForCausalLM (eval mode), in double.

struct ReferenceOutputs
{
  std::vector<RowMajorXd> hidden_states; // embeddings, then each layer's output (tokens × hidden)
  RowMajorXd final_hidden;               // after the final layer norm (or the last layer)
  RowMajorXd logits;                     // tokens × vocab
};

using ModuleInputs = std::map<sgpte::opt::LinearModule, RowMajorXd>;

class ReferenceOpt
{
public:
  explicit ReferenceOpt(SyntheticOpt const &model) : _model(model), _config(model.config) {}

  // One window of token ids.
  ReferenceOutputs forward(std::vector<int> const &ids) const
  {
    int const tokens = static_cast<int>(ids.size());
    RowMajorXd words(tokens, _config.word_embed_proj_dim);
    for (int t = 0; t < tokens; ++t)
      words.row(t) = _model[sgpte::opt::names::embed_tokens].row(ids[t]);
    if (_config.word_embed_proj_dim != _config.hidden_size)
      words = linear(words, sgpte::opt::names::project_in, "");
    RowMajorXd hidden = words;
    for (int t = 0; t < tokens; ++t)
      hidden.row(t) +=
          _model[sgpte::opt::names::embed_positions].row(t + sgpte::opt::position_offset);

    ReferenceOutputs outputs;
    outputs.hidden_states.push_back(hidden);
    for (int layer = 0; layer < _config.num_hidden_layers; ++layer)
    {
      hidden = decoder_layer(hidden, layer);
      outputs.hidden_states.push_back(hidden);
    }
    if (_config.has_final_layer_norm())
      hidden = layer_norm(hidden, sgpte::opt::names::final_layer_norm);
    outputs.final_hidden = hidden;
    if (_config.word_embed_proj_dim != _config.hidden_size)
      hidden = linear(hidden, sgpte::opt::names::project_out, "");
    std::string const head =
        _config.tie_word_embeddings ? sgpte::opt::names::embed_tokens : sgpte::opt::names::lm_head;
    outputs.logits = hidden * _model[head].transpose();
    return outputs;
  }

  // Mean next-token cross entropy of one window.
  static double window_loss(RowMajorXd const &logits, std::vector<int> const &ids)
  {
    double sum = 0.0;
    for (Eigen::Index t = 0; t + 1 < logits.rows(); ++t)
    {
      double const maximum = logits.row(t).maxCoeff();
      double const lse = maximum + std::log((logits.row(t).array() - maximum).exp().sum());
      sum += lse - logits(t, ids[static_cast<std::size_t>(t) + 1]);
    }
    return sum / static_cast<double>(logits.rows() - 1);
  }

private:
  RowMajorXd linear(RowMajorXd const &x, std::string const &weight, std::string const &bias) const
  {
    RowMajorXd y = x * _model[weight].transpose();
    if (!bias.empty() && _config.enable_bias)
      y.rowwise() += _model[bias].row(0);
    return y;
  }

  RowMajorXd layer_norm(RowMajorXd const &x, std::string const &prefix) const
  {
    RowMajorXd y(x.rows(), x.cols());
    for (Eigen::Index t = 0; t < x.rows(); ++t)
    {
      double const mean = x.row(t).mean();
      double const variance = (x.row(t).array() - mean).square().mean();
      y.row(t) = (x.row(t).array() - mean) / std::sqrt(variance + 1e-5);
      if (_config.layer_norm_elementwise_affine)
        y.row(t) = y.row(t).cwiseProduct(_model[prefix + ".weight"].row(0)) +
                   _model[prefix + ".bias"].row(0);
    }
    return y;
  }

  RowMajorXd module(RowMajorXd const &x, int layer, char const *name) const
  {
    std::string const prefix = sgpte::opt::layer_prefix(layer) + name;
    return linear(x, prefix + ".weight", prefix + ".bias");
  }

  RowMajorXd attention(RowMajorXd const &x, int layer, ModuleInputs *inputs) const
  {
    int const heads = static_cast<int>(_config.num_attention_heads);
    int const head_dim = static_cast<int>(_config.head_dim());
    RowMajorXd const q = module(x, layer, "self_attn.q_proj") / std::sqrt(double(head_dim));
    RowMajorXd const k = module(x, layer, "self_attn.k_proj");
    RowMajorXd const v = module(x, layer, "self_attn.v_proj");
    RowMajorXd context = RowMajorXd::Zero(x.rows(), x.cols());
    for (int h = 0; h < heads; ++h)
      for (Eigen::Index query = 0; query < x.rows(); ++query)
      {
        Eigen::VectorXd scores(query + 1);
        for (Eigen::Index key = 0; key <= query; ++key)
          scores(key) = q.row(query)
                            .segment(h * head_dim, head_dim)
                            .dot(k.row(key).segment(h * head_dim, head_dim));
        Eigen::VectorXd const p = (scores.array() - scores.maxCoeff()).exp();
        for (Eigen::Index key = 0; key <= query; ++key)
          context.row(query).segment(h * head_dim, head_dim) +=
              p(key) / p.sum() * v.row(key).segment(h * head_dim, head_dim);
      }
    record(inputs, sgpte::opt::LinearModule::out_proj, context);
    return module(context, layer, "self_attn.out_proj");
  }

  static void record(ModuleInputs *inputs, sgpte::opt::LinearModule module, RowMajorXd const &x)
  {
    if (inputs)
      (*inputs)[module] = x;
  }

public:
  // One decoder layer; `inputs`, if given, receives what each linear module sees.
  RowMajorXd decoder_layer(RowMajorXd const &x, int layer, ModuleInputs *inputs = nullptr) const
  {
    using sgpte::opt::LinearModule;
    std::string const prefix = sgpte::opt::layer_prefix(layer);
    bool const pre = _config.do_layer_norm_before;
    RowMajorXd const attention_input = pre ? layer_norm(x, prefix + "self_attn_layer_norm") : x;
    for (LinearModule const m : {LinearModule::q_proj, LinearModule::k_proj, LinearModule::v_proj})
      record(inputs, m, attention_input);
    RowMajorXd h = x + attention(attention_input, layer, inputs);
    if (!pre)
      h = layer_norm(h, prefix + "self_attn_layer_norm");
    RowMajorXd const mlp_input = pre ? layer_norm(h, prefix + "final_layer_norm") : h;
    record(inputs, LinearModule::fc1, mlp_input);
    RowMajorXd const activated = module(mlp_input, layer, "fc1").cwiseMax(0.0);
    record(inputs, LinearModule::fc2, activated);
    RowMajorXd y = h + module(activated, layer, "fc2");
    if (!pre)
      y = layer_norm(y, prefix + "final_layer_norm");
    return y;
  }

private:
  SyntheticOpt const &_model;
  sgpte::io::OptConfig const &_config;
};

// ---------------------------------------------------------------------------------------
// The library's forward pass, every stage copied to the host.

template <class View>
RowMajorXd to_host(View const &view)
{
  auto const host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  RowMajorXd m(host.extent(0), host.extent(1));
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j)
      m(i, j) = sgpte::to_float(host(i, j));
  return m;
}

// Stages as in ReferenceOutputs, for all windows (tokens of window after window), computed
// with activations and weights in Value (float, float16 or bfloat16).
template <class ExecutionSpace, class Value = float>
ReferenceOutputs library_forward(sgpte::opt::OptCheckpoint const &checkpoint,
                                 sgpte::opt::TokenWindows const &windows,
                                 sgpte::opt::ForwardOptions const &options = {})
{
  ExecutionSpace space;
  auto const &config = checkpoint.config();
  auto const edges = sgpte::opt::load_edge_weights<Value>(space, checkpoint);
  auto const ids = sgpte::opt::windows_on_device(space, windows, 0, windows.count());
  using Workspace = sgpte::opt::LayerWorkspace<ExecutionSpace, Value>;
  Workspace const workspace(
      space, config, windows.seqlen,
      Workspace::windows_within(config, windows.seqlen, options.workspace_bytes));
  sgpte::opt::DecoderLayerLoader<ExecutionSpace, Value> loader(space, checkpoint,
                                                               options.overlap_loading);
  ReferenceOutputs outputs;
  auto hidden = sgpte::opt::embed_windows(space, config, edges, ids, windows.seqlen);
  outputs.hidden_states.push_back(to_host(hidden));
  hidden = sgpte::opt::run_decoder_layers(
      space, config, loader, workspace, hidden, checkpoint.layers(),
      [&](int, auto const &output) { outputs.hidden_states.push_back(to_host(output)); });
  sgpte::opt::ModelHead<ExecutionSpace, Value> const head(space, config, edges, windows.tokens());
  auto const [normed, logits] = head(space, hidden);
  outputs.final_hidden = to_host(normed);
  outputs.logits = to_host(logits);
  return outputs;
}

// The window's rows of a tokens × features matrix.
inline RowMajorXd window_rows(RowMajorXd const &m, int window, int seqlen)
{
  return m.middleRows(static_cast<Eigen::Index>(window) * seqlen, seqlen);
}

inline double max_abs_difference(RowMajorXd const &a, RowMajorXd const &b)
{
  BOOST_REQUIRE_EQUAL(a.rows(), b.rows());
  BOOST_REQUIRE_EQUAL(a.cols(), b.cols());
  return (a - b).cwiseAbs().maxCoeff();
}

} // namespace sgpte_test

#endif
