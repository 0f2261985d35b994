#ifndef SGPTE_OPT_LAYER_CHECKPOINTS_HPP
#define SGPTE_OPT_LAYER_CHECKPOINTS_HPP

// Per-layer checkpoints of a long sequential compression, so that an interrupted run can
// resume from the last completed decoder layer (sgpte-opt --resume):
//
//   OUTPUT/sgpte-resume/layer-<i>.safetensors
//
// holds decoder layer i's six compressed weights, exactly as stored in the checkpoint (its
// dtype), and in its metadata the run's fingerprint and the six modules' statistics (JSON).
// Each file is written atomically once its layer is complete. A run with the model-wide
// allocation also keeps its pre-pass's result, with the fingerprint, in
//
//   OUTPUT/sgpte-resume/model-allocation.json
//
// since the pre-pass needs the dense layers, which the restored ones no longer are. Resuming
// restores the weights of the leading complete layers into the checkpoint and their statistics; the
// calibration activations of the next layer are then recomputed through the restored layers with
// the very kernels an uninterrupted run applies to the very same weights, so the result is
// identical bit for bit on the same backend. A checkpoint of another run (another fingerprint:
// model, data, options or backend) is refused, never mixed in.

#include <sgpte/core/error.hpp>
#include <sgpte/io/atomic_file.hpp>
#include <sgpte/io/detail/file_error.hpp>
#include <sgpte/io/detail/mapped_file.hpp>
#include <sgpte/io/detail/strict_json.hpp>
#include <sgpte/io/safetensors_reader.hpp>
#include <sgpte/io/safetensors_writer.hpp>
#include <sgpte/opt/model_allocation.hpp>
#include <sgpte/opt/opt_checkpoint.hpp>
#include <sgpte/opt/tensor_names.hpp>
#include <sgpte/stats/quantization_stats.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace sgpte::opt
{

class LayerCheckpoints
{
public:
  static constexpr char const *directory_name = "sgpte-resume";

  // fingerprint: everything the result depends on (the driver's choice of what that is).
  LayerCheckpoints(std::filesystem::path const &output, std::string fingerprint)
      : _directory(output / directory_name), _fingerprint(std::move(fingerprint))
  {
  }

  std::filesystem::path const &directory() const { return _directory; }

  // Removes every checkpoint (a fresh run, or one that completed).
  void clear() const
  {
    std::error_code error;
    std::filesystem::remove_all(_directory, error);
    if (error)
      io::detail::throw_file_error(_directory, "cannot remove the layer checkpoints: " + error.message());
  }

  // Writes layer's checkpoint from the checkpoint's (already replaced) weights and the
  // statistics of its modules.
  void save(OptCheckpoint const &checkpoint, int layer, std::vector<LayerStatistics> const &modules) const
  {
    create_directory();
    io::SafetensorsWriter writer;
    nlohmann::json statistics = nlohmann::json::array();
    for (LayerStatistics const &module : modules)
      statistics.push_back(QuantizationStats::layer_json(module));
    writer.set_metadata(run_key, _fingerprint);
    writer.set_metadata(statistics_key, statistics.dump());
    for (LinearModule const module : linear_modules)
    {
      std::string const name = linear_weight_name(layer, module);
      io::TensorInfo const &info = checkpoint.info(name);
      writer.add_tensor(name, info.dtype, info.shape, checkpoint.bytes(name));
    }
    writer.write(file(layer)); // atomically
  }

  // Restores the complete layers first_layer, first_layer + 1, ... into the checkpoint and
  // their statistics into `stats`; returns the first layer without a checkpoint (at most
  // end_layer).
  int restore(OptCheckpoint &checkpoint, int first_layer, int end_layer, QuantizationStats &stats) const
  {
    int layer = first_layer;
    for (; layer < end_layer && std::filesystem::exists(file(layer)); ++layer)
    {
      io::SafetensorsReader const reader(file(layer));
      auto const &metadata = reader.metadata();
      auto const run = metadata.find(run_key);
      if (run == metadata.end() || run->second != _fingerprint)
        io::detail::throw_file_error(file(layer), "is a checkpoint of another run (other model, data, options or "
                                                  "backend); remove " + _directory.string() +
                                                      " to start afresh");
      auto const statistics = metadata.find(statistics_key);
      if (statistics == metadata.end())
        io::detail::throw_file_error(file(layer), "has no statistics in its metadata");
      nlohmann::json modules;
      try
      {
        modules = nlohmann::json::parse(statistics->second);
        for (auto const &module : modules)
          stats.add(QuantizationStats::layer_from_json(module));
      }
      catch (nlohmann::json::exception const &error)
      {
        io::detail::throw_file_error(file(layer), std::string("holds invalid statistics: ") + error.what());
      }
      for (LinearModule const module : linear_modules)
      {
        std::string const name = linear_weight_name(layer, module);
        if (!reader.contains(name) || reader.info(name).dtype != checkpoint.info(name).dtype ||
            reader.info(name).shape != checkpoint.info(name).shape)
          io::detail::throw_file_error(file(layer), "lacks tensor '" + name + "' in the checkpoint's dtype and shape");
        std::vector<float> const values = reader.read_as_float(name);
        checkpoint.replace(name, values);
      }
    }
    return layer;
  }

  // Keeps the model allocation's pre-pass result for a resume (atomically).
  void save_model_allocation(ModelAllocationBytes const &allocation) const
  {
    create_directory();
    nlohmann::json const json = {{run_json_key, _fingerprint}, {extra_bytes_key, allocation}};
    io::write_file_atomically(model_allocation_file(), json.dump() + "\n");
  }

  // The interrupted run's model allocation, which a resumed one with layers restored needs.
  ModelAllocationBytes restore_model_allocation() const
  {
    std::filesystem::path const path = model_allocation_file();
    if (!std::filesystem::exists(path))
      io::detail::throw_file_error(
          path, "is missing: the interrupted run's model allocation is needed to "
                "resume it; remove " +
                    _directory.string() + " to start afresh");
    io::detail::MappedFile const file(path);
    nlohmann::json const json = io::detail::parse_strict_json(
        path, std::string_view(reinterpret_cast<char const *>(file.data()), file.size()), "JSON");
    if (!json.is_object() || !json.contains(run_json_key) || json[run_json_key] != _fingerprint)
      io::detail::throw_file_error(
          path, "is the model allocation of another run (other model, data, options "
                "or backend); remove " +
                    _directory.string() + " to start afresh");
    try
    {
      return json.at(extra_bytes_key).get<ModelAllocationBytes>();
    }
    catch (nlohmann::json::exception const &)
    {
      io::detail::throw_file_error(path, std::string("'") + extra_bytes_key +
                                             "' is not a list of six byte counts per layer");
    }
  }

private:
  static constexpr char const *run_key = "sgpte.run";
  static constexpr char const *run_json_key = "run";
  static constexpr char const *extra_bytes_key = "extra_bytes";

  void create_directory() const
  {
    std::error_code error;
    std::filesystem::create_directories(_directory, error);
    if (error)
      io::detail::throw_file_error(_directory, "cannot create the layer checkpoint directory: " +
                                                   error.message());
  }

  std::filesystem::path model_allocation_file() const
  {
    return _directory / "model-allocation.json";
  }
  static constexpr char const *statistics_key = "sgpte.statistics";

  std::filesystem::path file(int layer) const
  {
    return _directory / ("layer-" + std::to_string(layer) + ".safetensors");
  }

  std::filesystem::path _directory;
  std::string _fingerprint;
};

} // namespace sgpte::opt

#endif
