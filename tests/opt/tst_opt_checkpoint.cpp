// OPT checkpoint directories: validation of every tensor against config.json with errors
// that name the file and the tensor, the OPTModel naming variant, and the output round trip
// (dtypes preserved, untouched tensors byte-identical, tied lm_head handled).

#include <sgpte/opt/decoder_layer_loader.hpp>
#include <sgpte/opt/opt_checkpoint.hpp>

#include <boost/test/unit_test.hpp>

#include <array>
#include <filesystem>
#include <functional>
#include <limits>

#include "opt_test_helpers.hpp"
#include "sgpte_enable_device_types.hpp"
#include "trap_invalid_operations.hpp"

namespace
{

using sgpte::io::Dtype;
using sgpte_test::ScratchDirectory;
using sgpte_test::StoredTensors;

std::string const fc1_weight = sgpte::opt::linear_weight_name(1, sgpte::opt::LinearModule::fc1);

// A synthetic checkpoint whose model.safetensors (or config.json) `edit` then breaks; opening
// it must fail with a FileError naming `file` and every fragment.
void require_open_error(std::function<void(ScratchDirectory const &, StoredTensors &)> const &edit,
                        std::string const &file, std::vector<std::string> const &fragments,
                        nlohmann::json const &changes = nlohmann::json::object())
{
  ScratchDirectory directory;
  sgpte_test::write_synthetic_opt(directory.path(), sgpte_test::opt_config_json(changes), 3);
  auto const weights = directory / "model.safetensors";
  StoredTensors tensors = sgpte_test::read_stored_tensors(weights);
  edit(directory, tensors);
  sgpte_test::write_stored_tensors(weights, tensors);
  sgpte::io::test::require_file_error([&] { sgpte::opt::OptCheckpoint{directory.path()}; },
                                      directory / file, fragments);
}

// Splits `directory`'s model.safetensors into two shards, the edges and layer 0 in the first,
// the other layers in the second, with the index Hugging Face writes; `edit` may then change
// the index's weight map. Removes model.safetensors.
void shard_checkpoint(std::filesystem::path const &directory,
                      std::function<void(nlohmann::json &)> const &edit = {})
{
  StoredTensors const tensors = sgpte_test::read_stored_tensors(directory / "model.safetensors");
  std::array<StoredTensors, 2> shards;
  nlohmann::json index = {{"metadata", {{"total_size", 0}}},
                          {"weight_map", nlohmann::json::object()}};
  std::array<std::string, 2> const names = {"model-00001-of-00002.safetensors",
                                            "model-00002-of-00002.safetensors"};
  for (auto const &[name, tensor] : tensors)
  {
    bool const second =
        name.find("layers.") != std::string::npos && name.find("layers.0.") == std::string::npos;
    shards[second ? 1 : 0][name] = tensor;
    index["weight_map"][name] = names[second ? 1 : 0];
  }
  for (std::size_t shard = 0; shard < shards.size(); ++shard)
    sgpte_test::write_stored_tensors(directory / names[shard], shards[shard]);
  if (edit)
    edit(index);
  sgpte::io::write_file_atomically(directory / "model.safetensors.index.json", index.dump(1));
  std::filesystem::remove(directory / "model.safetensors");
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(OptCheckpoint, sgpte_test::TrapInvalidOperations)

// A sharded checkpoint (model-0000x-of-0000y.safetensors with its index) reads as the single
// file it was split from: the same tensors, the same forward pass, and it is written back as
// one model.safetensors.
BOOST_AUTO_TEST_CASE_TEMPLATE(sharded_checkpoints_read_as_their_single_file, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ScratchDirectory whole, sharded, written;
  sgpte_test::write_synthetic_opt(whole.path(), sgpte_test::opt_config_json(), 8, Dtype::F16);
  sgpte_test::write_synthetic_opt(sharded.path(), sgpte_test::opt_config_json(), 8, Dtype::F16);
  shard_checkpoint(sharded.path());
  sgpte::opt::OptCheckpoint const a(whole.path()), b(sharded.path());
  BOOST_TEST(b.weights_path().filename() == "model.safetensors.index.json");
  BOOST_TEST(b.original_weights().size() == 2u);
  for (std::string const &name : a.original_weights()[0].names())
    BOOST_TEST(a.read(name) == b.read(name), name);
  auto const windows = sgpte::opt::evaluation_windows(sgpte_test::random_tokens(24, 40, 2), 12);
  auto const logits_a = sgpte_test::library_forward<ExecutionSpace>(a, windows).logits;
  auto const logits_b = sgpte_test::library_forward<ExecutionSpace>(b, windows).logits;
  BOOST_TEST(sgpte_test::max_abs_difference(logits_a, logits_b) == 0.0);
  b.write(written.path());
  BOOST_TEST((sgpte_test::read_stored_tensors(written / "model.safetensors") ==
              sgpte_test::read_stored_tensors(whole / "model.safetensors")));
}

BOOST_AUTO_TEST_CASE(inconsistent_shard_indexes_are_named)
{
  auto const refused = [](std::function<void(nlohmann::json &)> const &edit,
                          std::string const &file, std::vector<std::string> const &fragments,
                          std::function<void(std::filesystem::path const &)> const &after = {})
  {
    ScratchDirectory directory;
    sgpte_test::write_synthetic_opt(directory.path(), sgpte_test::opt_config_json(), 8);
    shard_checkpoint(directory.path(), edit);
    if (after)
      after(directory.path());
    sgpte::io::test::require_file_error([&] { sgpte::opt::OptCheckpoint{directory.path()}; },
                                        directory / file, fragments);
  };
  std::string const index = "model.safetensors.index.json";
  refused([](nlohmann::json &i)
          { i["weight_map"][fc1_weight] = "../model-00002-of-00002.safetensors"; },
          index, {"not a file name beside the index", fc1_weight});
  refused([](nlohmann::json &i)
          { i["weight_map"][fc1_weight] = "model-00003-of-00002.safetensors"; },
          index, {"model-00003-of-00002.safetensors", "does not exist"});
  refused([](nlohmann::json &i) { i["weight_map"][fc1_weight] = 7; }, index,
          {"is not a string", fc1_weight});
  // fc1 of layer 1 is in the second shard; an index placing it in the first is wrong.
  refused([](nlohmann::json &i)
          { i["weight_map"][fc1_weight] = "model-00001-of-00002.safetensors"; },
          "model-00001-of-00002.safetensors", {"lacks tensor", fc1_weight});
  refused([](nlohmann::json &i) { i["weight_map"].erase(fc1_weight); },
          "model-00002-of-00002.safetensors", {"holds tensor", fc1_weight, "not at all"});
  // A tensor in no shard: the checkpoint's own check names it and the index.
  refused([](nlohmann::json &i) { i["weight_map"].erase(fc1_weight); }, index,
          {fc1_weight, "is missing"},
          [](std::filesystem::path const &d)
          {
            auto const shard = d / "model-00002-of-00002.safetensors";
            StoredTensors tensors = sgpte_test::read_stored_tensors(shard);
            tensors.erase(fc1_weight);
            sgpte_test::write_stored_tensors(shard, tensors);
          });
}

BOOST_AUTO_TEST_CASE(opens_the_shipped_tiny_model)
{
  sgpte::opt::OptCheckpoint const checkpoint(sgpte_test::tiny_opt_dir);
  BOOST_TEST(checkpoint.layers() == 2);
  BOOST_TEST(checkpoint.config().hidden_size == 128);
  BOOST_TEST(checkpoint.config().tie_word_embeddings);
  BOOST_TEST(checkpoint.info(fc1_weight).shape == (std::vector<std::size_t>{512, 128}));
}

BOOST_AUTO_TEST_CASE(missing_tensors_are_named)
{
  require_open_error([](auto const &, StoredTensors &t) { t.erase(fc1_weight); },
                     "model.safetensors", {fc1_weight, "missing", "config.json"});
  require_open_error([](auto const &, StoredTensors &t) { t.erase(sgpte::opt::names::lm_head); },
                     "model.safetensors", {"lm_head.weight", "missing"},
                     sgpte_test::opt_350m_style_changes());
  require_open_error(
      [](auto const &, StoredTensors &t) { t.erase(sgpte::opt::names::project_out); },
      "model.safetensors", {"project_out", "missing"}, sgpte_test::opt_350m_style_changes());
}

BOOST_AUTO_TEST_CASE(wrong_shapes_and_dtypes_are_named)
{
  require_open_error(
      [](auto const &, StoredTensors &t) {
        t[fc1_weight].shape = {24 * 2, 8};
      },
      "model.safetensors", {fc1_weight, "[48, 8]", "[24, 16]"});
  require_open_error(
      [](auto const &, StoredTensors &t)
      {
        auto &tensor = t[sgpte::opt::names::embed_positions];
        tensor.dtype = Dtype::I32;
      },
      "model.safetensors", {"embed_positions", "I32", "F32, F16 or BF16"});
}

BOOST_AUTO_TEST_CASE(a_config_that_does_not_match_the_weights_is_named)
{
  // The weights are those of hidden 16; a config claiming 32 makes every shape wrong.
  require_open_error(
      [](ScratchDirectory const &d, StoredTensors &)
      {
        sgpte::io::write_file_atomically(d / "config.json",
                                         sgpte_test::opt_config_json({{"hidden_size", 32}}).dump());
      },
      "model.safetensors", {"has shape", "config.json", "implies"});
  require_open_error(
      [](ScratchDirectory const &d, StoredTensors &)
      {
        sgpte::io::write_file_atomically(
            d / "config.json", sgpte_test::opt_config_json({{"num_hidden_layers", 3}}).dump());
      },
      "model.safetensors", {"model.decoder.layers.2.", "missing"});
}

BOOST_AUTO_TEST_CASE(missing_or_broken_files_are_named)
{
  ScratchDirectory directory;
  sgpte::io::test::require_file_error([&] { sgpte::opt::OptCheckpoint{directory / "absent"}; },
                                      directory / "absent", {"not a checkpoint directory"});
  sgpte::io::test::require_file_error([&] { sgpte::opt::OptCheckpoint{directory.path()}; },
                                      directory / "config.json", {"cannot open"});
  sgpte::io::write_file_atomically(directory / "config.json", sgpte_test::opt_config_json().dump());
  sgpte::io::test::require_file_error([&] { sgpte::opt::OptCheckpoint{directory.path()}; },
                                      directory / "model.safetensors", {"cannot open"});
  sgpte::io::write_file_atomically(directory / "model.safetensors.index.json", "{}");
  sgpte::io::test::require_file_error([&] { sgpte::opt::OptCheckpoint{directory.path()}; },
                                      directory / "model.safetensors.index.json",
                                      {"no \"weight_map\""});
  sgpte::io::write_file_atomically(directory / "model.safetensors", "truncated");
  sgpte::io::test::require_file_error([&] { sgpte::opt::OptCheckpoint{directory.path()}; },
                                      directory / "model.safetensors", {"header"});
}

BOOST_AUTO_TEST_CASE(names_without_the_model_prefix_load_and_are_written_back_unchanged)
{
  ScratchDirectory prefixed, bare, output;
  sgpte_test::write_synthetic_opt(prefixed.path(), sgpte_test::opt_config_json(), 9);
  sgpte_test::write_synthetic_opt(bare.path(), sgpte_test::opt_config_json(), 9, Dtype::F32, false);
  sgpte::opt::OptCheckpoint const a(prefixed.path());
  sgpte::opt::OptCheckpoint b(bare.path());
  BOOST_TEST(a.read(fc1_weight) == b.read(fc1_weight));
  b.replace(fc1_weight, std::vector<float>(24 * 16, 0.5f));
  b.write(output.path());
  auto const written = sgpte_test::read_stored_tensors(output / "model.safetensors");
  auto const original = sgpte_test::read_stored_tensors(bare / "model.safetensors");
  BOOST_TEST_REQUIRE(written.size() == original.size());
  for (auto const &[name, tensor] : original)
  {
    BOOST_TEST_REQUIRE(written.count(name) == 1u, name);
    BOOST_TEST((written.at(name).bytes == tensor.bytes) == (name != "decoder.layers.1.fc1.weight"),
               name);
  }
}

BOOST_AUTO_TEST_CASE(written_checkpoints_keep_dtypes_shapes_and_untouched_bytes)
{
  for (Dtype const dtype : {Dtype::F32, Dtype::F16, Dtype::BF16})
    for (bool const tied : {true, false})
    {
      ScratchDirectory input, output;
      nlohmann::json const changes = {{"tie_word_embeddings", tied}};
      sgpte_test::write_synthetic_opt(input.path(), sgpte_test::opt_config_json(changes), 4, dtype);
      StoredTensors tensors = sgpte_test::read_stored_tensors(input / "model.safetensors");
      // A tied checkpoint normally has no lm_head, but may carry a stale one: copied, not used.
      bool const stale_head = tied && dtype == Dtype::F32;
      if (stale_head)
        tensors[sgpte::opt::names::lm_head] = tensors[sgpte::opt::names::embed_tokens];
      sgpte_test::write_stored_tensors(input / "model.safetensors", tensors);

      sgpte::opt::OptCheckpoint checkpoint(input.path());
      std::vector<float> values(24 * 16);
      for (std::size_t i = 0; i < values.size(); ++i)
        values[i] = 0.001f * static_cast<float>(i) - 0.1f;
      checkpoint.replace(fc1_weight, values);
      checkpoint.write(output.path());

      BOOST_TEST(sgpte::io::test::read_bytes(output / "config.json") ==
                 sgpte::io::test::read_bytes(input / "config.json"));
      sgpte::io::SafetensorsReader const reader(output / "model.safetensors");
      BOOST_TEST(reader.metadata().at("format") == "pt");
      auto const written = sgpte_test::read_stored_tensors(output / "model.safetensors");
      BOOST_TEST_REQUIRE(written.size() == tensors.size());
      for (auto const &[name, tensor] : tensors)
      {
        auto const &out = written.at(name);
        BOOST_TEST((out.dtype == dtype), name);
        BOOST_TEST(out.shape == tensor.shape, name);
        if (name != fc1_weight)
          BOOST_TEST((out.bytes == tensor.bytes), name << " changed");
      }
      BOOST_TEST(written.count(sgpte::opt::names::lm_head) == (tied && !stale_head ? 0u : 1u));
      auto const reread = sgpte::opt::OptCheckpoint(output.path()).read(fc1_weight);
      for (std::size_t i = 0; i < values.size(); ++i)
        BOOST_TEST_REQUIRE(reread[i] ==
                           static_cast<float>(sgpte_test::stored_value(dtype, values[i])));
    }
}

BOOST_AUTO_TEST_CASE(replacements_that_cannot_be_stored_are_refused)
{
  ScratchDirectory directory;
  sgpte_test::write_synthetic_opt(directory.path(), sgpte_test::opt_config_json(), 4, Dtype::F16);
  sgpte::opt::OptCheckpoint checkpoint(directory.path());
  auto const refuse = [&](float value, std::string const &fragment)
  {
    std::vector<float> values(24 * 16, 0.0f);
    values[7] = value;
    try
    {
      checkpoint.replace(fc1_weight, values);
      BOOST_ERROR("expected a NumericalError for " << value);
    }
    catch (sgpte::NumericalError const &error)
    {
      std::string const message = error.what();
      BOOST_TEST(message.find(fc1_weight) != std::string::npos, message);
      BOOST_TEST(message.find(fragment) != std::string::npos, message);
    }
  };
  refuse(std::numeric_limits<float>::quiet_NaN(), "NaN");
  refuse(std::numeric_limits<float>::infinity(), "NaN or infinite");
  refuse(1e6f, "overflow F16");
  BOOST_TEST(!checkpoint.replaced(fc1_weight));
  BOOST_CHECK_THROW(checkpoint.replace(fc1_weight, std::vector<float>(3)), sgpte::InvalidArgument);
}

// A compressed weight stored through the layer loader reaches the checkpoint, the loader's
// stored bytes and the forward pass's weights rounded to the tensor's dtype, as it will be
// written; decode_weight then gives back exactly those values.
BOOST_AUTO_TEST_CASE_TEMPLATE(stored_weights_come_back_rounded_to_the_dtype, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  using sgpte::opt::LinearModule;
  ExecutionSpace space;
  ScratchDirectory directory;
  sgpte_test::write_synthetic_opt(directory.path(), sgpte_test::opt_config_json(), 4, Dtype::BF16);
  sgpte::opt::OptCheckpoint checkpoint(directory.path());
  sgpte::opt::DecoderLayerLoader<ExecutionSpace, float> loader(space, checkpoint);
  auto const &layer = loader.load(space, 1);
  auto const shape = checkpoint.info(fc1_weight).shape;
  sgpte::Matrix<ExecutionSpace> weight("weight", shape[0], shape[1]);
  Kokkos::deep_copy(weight, 0.1f); // not a BF16 value
  loader.store_weight(space, checkpoint, LinearModule::fc1, weight);
  float const rounded = static_cast<float>(sgpte_test::stored_value(Dtype::BF16, 0.1f));
  BOOST_TEST(rounded != 0.1f);
  auto const forward =
      Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), layer[LinearModule::fc1].weight);
  BOOST_TEST(forward(3, 5) == rounded);
  BOOST_TEST(checkpoint.read(fc1_weight)[5] == rounded);
  Kokkos::deep_copy(weight, 0.0f);
  loader.decode_weight(space, LinearModule::fc1, weight);
  BOOST_TEST(Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), weight)(3, 5) == rounded);
}

BOOST_AUTO_TEST_SUITE_END()
