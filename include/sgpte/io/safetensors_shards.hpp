#ifndef SGPTE_IO_SAFETENSORS_SHARDS_HPP
#define SGPTE_IO_SAFETENSORS_SHARDS_HPP

// A model's weights in one safetensors file or in shards: Hugging Face writes large
// checkpoints as model-00001-of-0000N.safetensors … with model.safetensors.index.json, whose
// "weight_map" names the shard of every tensor. Every shard is mapped and validated when
// opened (SafetensorsReader), and the index must agree with them: each tensor it names is in
// its shard, no shard holds a tensor the index does not give it, and shard names are plain
// file names beside the index. A problem throws FileError naming the index or the shard.

#include <sgpte/io/byte_span.hpp>
#include <sgpte/io/detail/file_error.hpp>
#include <sgpte/io/detail/mapped_file.hpp>
#include <sgpte/io/detail/strict_json.hpp>
#include <sgpte/io/safetensors_reader.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace sgpte::io
{

class SafetensorsShards
{
public:
  static constexpr char const *index_suffix = ".index.json";

  // The weights of `file` (e.g. DIR/model.safetensors), or, where it does not exist and
  // file + ".index.json" does, of the shards that index names.
  explicit SafetensorsShards(std::filesystem::path const &file)
  {
    std::filesystem::path const index = file.string() + index_suffix;
    if (std::filesystem::exists(file) || !std::filesystem::exists(index))
    {
      _source = file;
      _shards.emplace_back(file);
      for (std::string const &name : _shards.back().names())
        _shard_of.emplace(name, 0);
      return;
    }
    _source = index;
    open_index(index);
  }

  // The single file, or the index of the shards.
  std::filesystem::path const &source() const { return _source; }
  std::vector<SafetensorsReader> const &shards() const { return _shards; }

  bool contains(std::string const &name) const { return _shard_of.count(name) != 0; }
  // The reader of the shard holding the tensor (the single file's reader if there is one).
  SafetensorsReader const &reader(std::string const &name) const
  {
    auto const found = _shard_of.find(name);
    if (found == _shard_of.end())
      detail::throw_file_error(_source, "no tensor named '" + name + "'");
    return _shards[found->second];
  }
  TensorInfo const &info(std::string const &name) const { return reader(name).info(name); }
  ByteSpan bytes(std::string const &name) const { return reader(name).bytes(name); }
  // Every tensor's name, in lexicographic order.
  std::vector<std::string> names() const
  {
    std::vector<std::string> result;
    result.reserve(_shard_of.size());
    for (auto const &entry : _shard_of)
      result.push_back(entry.first);
    return result;
  }

private:
  void open_index(std::filesystem::path const &index)
  {
    detail::MappedFile const file(index);
    nlohmann::json const document = detail::parse_strict_json(
        index, std::string_view(reinterpret_cast<char const *>(file.data()), file.size()), "JSON");
    if (!document.is_object() || !document.contains("weight_map") ||
        !document["weight_map"].is_object())
      detail::throw_file_error(index, "has no \"weight_map\" object");
    std::map<std::string, std::size_t> shard_numbers; // file name -> index into _shards
    for (auto const &[tensor, shard] : document["weight_map"].items())
    {
      if (!shard.is_string())
        detail::throw_file_error(index,
                                 "weight_map: the shard of '" + tensor + "' is not a string");
      std::string const name = shard.get<std::string>();
      if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
        detail::throw_file_error(index, "weight_map: shard '" + name + "' of '" + tensor +
                                            "' is not a file name beside the index");
      auto [entry, added] = shard_numbers.emplace(name, _shards.size());
      if (added)
      {
        std::filesystem::path const path = index.parent_path() / name;
        if (!std::filesystem::exists(path))
          detail::throw_file_error(index, "names shard '" + name + "', which does not exist");
        _shards.emplace_back(path);
      }
      if (!_shards[entry->second].contains(tensor))
        detail::throw_file_error(_shards[entry->second].path(), "lacks tensor '" + tensor +
                                                                    "', which " + index.string() +
                                                                    " places in it");
      _shard_of.emplace(tensor, entry->second);
    }
    for (std::size_t shard = 0; shard < _shards.size(); ++shard)
      for (std::string const &tensor : _shards[shard].names())
      {
        auto const placed = _shard_of.find(tensor);
        if (placed == _shard_of.end() || placed->second != shard)
          detail::throw_file_error(_shards[shard].path(), "holds tensor '" + tensor + "', which " +
                                                              index.string() +
                                                              " places elsewhere or not at all");
      }
  }

  std::filesystem::path _source;
  std::vector<SafetensorsReader> _shards;
  std::map<std::string, std::size_t> _shard_of; // tensor name -> index into _shards
};

} // namespace sgpte::io

#endif
