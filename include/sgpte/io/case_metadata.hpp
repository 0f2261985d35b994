#ifndef SGPTE_IO_CASE_METADATA_HPP
#define SGPTE_IO_CASE_METADATA_HPP

// The configuration stored in a layer case's safetensors metadata (the reference cases
// of tests/data/reference): keys sparsity, prunen, prunem, blocksize, percdamp, wbits
// (0, or 16 and more as in the reference's opt.py, = no quantization), sym and perchannel, each a decimal string. Keys that are absent,
// or listed in `keep`, leave the option as it is.

#include <sgpte/core/error.hpp>
#include <sgpte/core/number_parsing.hpp>
#include <sgpte/layer/compression_options.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace sgpte::io
{


inline std::set<std::string> const &case_metadata_keys()
{
  static std::set<std::string> const keys = {"sparsity", "prunen", "prunem", "blocksize",
                                             "percdamp", "wbits",  "sym",    "perchannel"};
  return keys;
}

// source names the file in error messages. Returns notes for the caller to show: a case
// that gives both an unstructured sparsity and N:M is pruned N:M, as the reference's
// fasterprune does (it reads the sparsity only without N:M); CompressionOptions itself
// refuses the combination.
inline std::vector<std::string>
apply_case_metadata(CompressionOptions &options, std::map<std::string, std::string> const &metadata,
                    std::string const &source, std::set<std::string> const &keep = {})
{
  for (auto const &[key, value] : metadata)
  {
    if (!case_metadata_keys().count(key) || keep.count(key))
      continue;
    std::string const what = source + ": metadata '" + key + "'";
    if (key == "sparsity")
      options.sparsity = parse_number<double, FileError>(value, what);
    else if (key == "prunen")
      options.prune_n = parse_number<int, FileError>(value, what);
    else if (key == "prunem")
      options.prune_m = parse_number<int, FileError>(value, what);
    else if (key == "blocksize")
      options.block_size = parse_number<int, FileError>(value, what);
    else if (key == "percdamp")
      options.percdamp = parse_number<double, FileError>(value, what);
    else if (key == "wbits")
    {
      // The reference's convention: 16 bits or more means "do not quantize".
      int const wbits = parse_number<int, FileError>(value, what);
      options.wbits = wbits >= 16 ? 0 : wbits;
    }
    else if (key == "sym")
      options.quantizer.symmetric = parse_flag<FileError>(value, what);
    else if (key == "perchannel")
      options.quantizer.per_channel = parse_flag<FileError>(value, what);
  }
  std::vector<std::string> notes;
  bool const sparsity_from_metadata = metadata.count("sparsity") && !keep.count("sparsity");
  if (sparsity_from_metadata && options.sparsity > 0.0 &&
      (options.prune_n > 0 || options.prune_m > 0))
  {
    notes.push_back(source + ": metadata gives both sparsity " + metadata.at("sparsity") + " and " +
                    std::to_string(options.prune_n) + ":" + std::to_string(options.prune_m) +
                    " pruning; N:M is used, as the reference's fasterprune does");
    options.sparsity = 0.0;
  }
  return notes;
}

} // namespace sgpte::io

#endif
