#ifndef SGPTE_TESTS_PACKED_PACKED_TEST_HELPERS_HPP
#define SGPTE_TESTS_PACKED_PACKED_TEST_HELPERS_HPP

// Shared by the packed-format tests: layers compressed by the library from the reference
// cases' W and X (tests/data/reference) with their stored or edited options, the named
// configurations the tests run over, and bit-for-bit comparisons of weight matrices.

#include <sgpte/io/case_metadata.hpp>
#include <sgpte/io/float_codec.hpp>
#include <sgpte/io/view_io.hpp>
#include <sgpte/layer/layer_compressor.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace sgpte_test
{

inline std::filesystem::path const reference_dir =
    std::filesystem::path(SGPTE_TEST_DATA_DIR) / "reference";

inline std::vector<std::filesystem::path> reference_case_files()
{
  std::vector<std::filesystem::path> files;
  for (auto const &entry : std::filesystem::directory_iterator(reference_dir))
    if (entry.path().extension() == ".safetensors")
      files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

// A layer of a reference case after fasterprune: weight holds the dequantized W_out.
template <class ExecutionSpace>
struct CompressedLayer
{
  ExecutionSpace space;
  sgpte::CompressionOptions options;
  sgpte::io::Dtype dtype = sgpte::io::Dtype::F32;
  sgpte::Matrix<ExecutionSpace> weight;
  sgpte::LayerResult<ExecutionSpace> result;
};

// Compresses case `file` with its stored options, changed by `edit`; dtype is the
// checkpoint dtype the layer pretends to come from.
template <class ExecutionSpace>
CompressedLayer<ExecutionSpace>
compress_case(std::filesystem::path const &file,
              std::function<void(sgpte::CompressionOptions &)> const &edit = {},
              sgpte::io::Dtype dtype = sgpte::io::Dtype::F32)
{
  CompressedLayer<ExecutionSpace> layer;
  sgpte::io::SafetensorsReader const reader(file);
  sgpte::io::apply_case_metadata(layer.options, reader.metadata(), file.string());
  if (edit)
    edit(layer.options);
  layer.dtype = dtype;
  layer.weight = sgpte::io::read_matrix<ExecutionSpace>(reader, "W");
  sgpte::LayerCompressor<ExecutionSpace> compressor(layer.space, file.stem().string(), layer.weight,
                                                    nullptr, dtype);
  compressor.add_batch(layer.space, sgpte::io::read_row_major<ExecutionSpace>(reader, "X"));
  layer.result = compressor.fasterprune(layer.space, layer.options);
  return layer;
}

// A named change of a case's options: the configurations beyond the stored ones.
struct Configuration
{
  std::string name;
  std::function<void(sgpte::CompressionOptions &)> edit;
  sgpte::io::Dtype dtype = sgpte::io::Dtype::F32;
};

inline std::vector<Configuration> extra_configurations()
{
  using Options = sgpte::CompressionOptions;
  auto const mixed = [](Options &o, double bits, sgpte::AllocationMethod method)
  {
    o.wbits = 0;
    o.target_average_bits = bits;
    o.allocation = method;
  };
  return {
      {"mixed 4.0 quantile",
       [&](Options &o) { mixed(o, 4.0, sgpte::AllocationMethod::quantile), o.sparsity = 0.0; }},
      {"mixed 4.0 budget, 50 %",
       [&](Options &o) { mixed(o, 4.0, sgpte::AllocationMethod::budget), o.sparsity = 0.5; }},
      {"act-order, groups of 32, mixed 3.5 budget",
       [&](Options &o)
       {
         mixed(o, 3.5, sgpte::AllocationMethod::budget);
         o.quantizer.act_order = true;
         o.quantizer.group_size = 32;
       }},
      {"mixed 3.5 budget, MSE (each width's own parameters)",
       [&](Options &o) { mixed(o, 3.5, sgpte::AllocationMethod::budget), o.quantizer.mse = true; }},
      {"mixed 3.5 budget, per-width ranges",
       [&](Options &o)
       {
         mixed(o, 3.5, sgpte::AllocationMethod::budget);
         o.quantizer.range = sgpte::QuantizerRange::per_width;
       }},
      {"mixed 3.0 budget, per tensor, symmetric",
       [&](Options &o)
       {
         mixed(o, 3.0, sgpte::AllocationMethod::budget);
         o.quantizer.per_channel = false, o.quantizer.symmetric = true;
       }},
      {"act-order, groups of 64, 2:4, 4-bit symmetric",
       [](Options &o)
       {
         o.sparsity = 0.0, o.prune_n = 2, o.prune_m = 4, o.wbits = 4;
         o.quantizer = {};
         o.quantizer.symmetric = true, o.quantizer.act_order = true, o.quantizer.group_size = 64;
       }},
      {"per tensor, 50 %, 3-bit, MSE",
       [](Options &o)
       {
         o.sparsity = 0.5, o.prune_n = 0, o.prune_m = 0, o.wbits = 3;
         o.quantizer.per_channel = false, o.quantizer.mse = true;
       }},
      {"12-bit, groups of 48 (16-bit zeros, codes across words)",
       [](Options &o)
       {
         o.sparsity = 0.0, o.prune_n = 0, o.prune_m = 0, o.wbits = 12;
         o.quantizer.group_size = 48;
       }},
      {"4:8 pruned only, act-order, BF16",
       [](Options &o)
       {
         o.sparsity = 0.0, o.prune_n = 4, o.prune_m = 8, o.wbits = 0;
         o.target_average_bits.reset();
         o.quantizer.act_order = true;
       },
       sgpte::io::Dtype::BF16},
      {"50 % pruned only, F16",
       [](Options &o)
       {
         o.sparsity = 0.5, o.prune_n = 0, o.prune_m = 0, o.wbits = 0;
         o.target_average_bits.reset();
       },
       sgpte::io::Dtype::F16},
      {"nothing to do",
       [](Options &o)
       {
         o.sparsity = 0.0, o.prune_n = 0, o.prune_m = 0, o.wbits = 0;
         o.target_average_bits.reset();
       }},
  };
}

// Calls check(layer) for every extra configuration, on two cases: 96 × 256, and 300 × 200
// with a dead column and a last word of 8 columns.
template <class ExecutionSpace, class Check>
void for_each_configuration(Check const &check)
{
  for (char const *name : {"96x256_sp50_heavy", "300x200_sp50_heavy"})
    for (auto const &configuration : extra_configurations())
      BOOST_TEST_CONTEXT(name << ", " << configuration.name)
      {
        check(compress_case<ExecutionSpace>(reference_dir / (std::string(name) + ".safetensors"),
                                            configuration.edit, configuration.dtype));
      }
}

// The weights as a checkpoint of `dtype` stores them, row-major bit patterns.
template <class View>
std::vector<std::uint32_t> stored_bits(View const &matrix,
                                       sgpte::io::Dtype dtype = sgpte::io::Dtype::F32)
{
  auto const host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), matrix);
  std::vector<std::uint32_t> bits;
  for (std::size_t i = 0; i < host.extent(0); ++i)
    for (std::size_t j = 0; j < host.extent(1); ++j)
    {
      float const value = sgpte::io::detail::round_trip(dtype, host(i, j));
      std::uint32_t pattern;
      std::memcpy(&pattern, &value, sizeof pattern);
      bits.push_back(pattern);
    }
  return bits;
}

// Bit-for-bit equality, reporting the number of differing entries.
inline void require_identical(std::vector<std::uint32_t> const &actual,
                              std::vector<std::uint32_t> const &expected, std::string const &what)
{
  BOOST_TEST_REQUIRE(actual.size() == expected.size());
  std::size_t differing = 0;
  for (std::size_t i = 0; i < actual.size(); ++i)
    differing += actual[i] != expected[i] ? 1 : 0;
  BOOST_TEST(differing == 0u,
             what << ": " << differing << " of " << actual.size() << " weights differ");
}

} // namespace sgpte_test

#endif
