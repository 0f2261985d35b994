#ifndef SGPTE_DRIVERS_COMPRESSION_CLI_HPP
#define SGPTE_DRIVERS_COMPRESSION_CLI_HPP

// The command-line options of CompressionOptions, shared by sgpte-layer and sgpte-opt so
// that both programs spell every option the same way.

#include <sgpte/core/number_parsing.hpp>
#include <sgpte/io/case_metadata.hpp>
#include <sgpte/layer/compression_options.hpp>

#include <CLI/CLI.hpp>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace sgpte::drivers
{

class CompressionCli
{
public:
  // defaults: the program's defaults. A default unstructured sparsity gives way to N:M
  // options, a default target average gives way to --wbits, and a default model allocation
  // gives way to packed with --sensitivity score (which the model allocation cannot use).
  CompressionCli(CLI::App &app, CompressionOptions const &defaults)
      : _values(defaults), _allocation(to_string(defaults.allocation)),
        _sensitivity(to_string(defaults.sensitivity)), _range(to_string(defaults.quantizer.range))
  {
    if (defaults.target_average_bits)
      _target = *defaults.target_average_bits;
    // The options go straight into `app`, under a help heading. An option group would be an
    // unnamed subcommand, which CLI11 2.1 matches against an empty argument and then loops
    // forever on an unknown option after it (`sgpte-layer IN OUT "" --x`; found by
    // fuzz/fuzz_compression_cli.cpp, reproducer in tests/data/fuzz/compression_cli).
    std::string const previous_group = app.option_defaults()->get_group();
    app.option_defaults()->group("Compression");
    _sparsity = app.add_option("--sparsity", _values.sparsity, "Unstructured sparsity per block, in [0, 1)");
    _prune_n = app.add_option("--prunen", _values.prune_n, "N of N:M pruning (e.g. 2 for 2:4)");
    _prune_m = app.add_option("--prunem", _values.prune_m, "M of N:M pruning (e.g. 4 for 2:4)");
    _block_size = app.add_option("--blocksize", _values.block_size, "Columns per block of the sweep")
                      ->capture_default_str();
    _percdamp = app.add_option("--percdamp", _values.percdamp, "Damping as a fraction of mean(diag H)")
                    ->capture_default_str();
    app.add_option("--damping-retries", _values.max_damping_retries,
                   "Times the damping is multiplied by 10 when H is not positive definite")
        ->capture_default_str();
    _wbits = app.add_option("--wbits", _values.wbits, "Uniform quantization bits (0: none)");
    _target_option = app.add_option("--target-avg-bits", _target,
                                    "Mixed precision: target average bits per column");
    _allocation_option =
        app.add_option(
               "--bit-allocation", _allocation,
               "Mixed-precision allocation: packed keeps every layer within the packed bytes of "
               "uniform --target-avg-bits quantization (scales, zeros and widths counted; it may "
               "use fewer widths); model (sgpte-opt) keeps the whole model within them, sharing "
               "the bytes out among the modules by the loss's measured sensitivity to each, after "
               "a "
               "pre-pass through the dense model (a single layer: as packed); budget meets "
               "--target-avg-bits in bits per column; quantile gives the seed's fixed tiers by "
               "importance score and does not enforce the target")
            ->check(CLI::IsMember({"quantile", "budget", "packed", "model"}))
            ->capture_default_str();
    app.add_option(
           "--sensitivity", _sensitivity,
           "What packed and budget minimise: obs, each column's expected OBS error at each width "
           "(from the weights, the quantizer and the inverse-Hessian factor); score, the "
           "importance score's importance x 4^-bits (model needs obs)")
        ->check(CLI::IsMember({"obs", "score"}))
        ->capture_default_str();
    app.add_option("--bit-options", _bit_options, "Bit widths to choose from, comma separated")
        ->capture_default_str();
    app.add_option("--quantiles", _quantiles, "Quantile thresholds, one less than bit options")
        ->capture_default_str();
    app.add_option("--importance-weights", _importance,
                   "Weights of the activation,hessian,weight,output,stability terms")
        ->capture_default_str();
    // Two flags rather than CLI11's negated form "--sym,!--asym": CLI11 2.1 converts the
    // value of a negated flag with std::stoll and lets std::out_of_range escape
    // (`--asym=99999999999999999999` aborted the program; found by fuzz/fuzz_compression_cli.cpp).
    _symmetric = app.add_flag("--sym", _values.quantizer.symmetric, "Symmetric quantization");
    _asymmetric = app.add_flag("--asym", _asymmetric_value, "Asymmetric quantization")
                      ->excludes(_symmetric);
    _per_tensor = app.add_flag("--pertensor", _per_tensor_value, "One quantizer per tensor instead of per row");
    app.add_flag("--mse", _values.quantizer.mse, "MSE grid search of the quantizer range");
    app.add_option(
           "--quantizer-range", _range,
           "Where mixed precision takes each width's scale and zero from: shared, the whole "
           "row's range (SPEC 6); per-width, the range of the row's columns given that width")
        ->check(CLI::IsMember({"shared", "per-width"}))
        ->capture_default_str();
    app.add_option("--groupsize", _values.quantizer.group_size, "Columns per quantizer group (0: none)");
    app.add_flag("--act-order", _values.quantizer.act_order, "Process columns by decreasing Hessian diagonal");
    app.option_defaults()->group(previous_group);
  }

  // A layer case's stored configuration (io/case_metadata.hpp), for the options that were
  // not given on the command line; returns its notes (e.g. N:M taking precedence).
  std::vector<std::string> apply_metadata(std::map<std::string, std::string> const &metadata,
                                          std::string const &source)
  {
    std::set<std::string> given;
    std::map<std::string, CLI::Option *> const options = {
        {"sparsity", _sparsity}, {"prunen", _prune_n}, {"prunem", _prune_m}, {"blocksize", _block_size},
        {"percdamp", _percdamp}, {"wbits", _wbits},    {"sym", _symmetric},  {"perchannel", _per_tensor}};
    for (auto const &[key, option] : options)
      if (option->count() > 0)
        given.insert(key);
    if (_asymmetric->count() > 0)
      given.insert("sym");
    return io::apply_case_metadata(_values, metadata, source, given);
  }

  // The options as given; throws InvalidArgument for malformed lists or invalid values.
  CompressionOptions options() const
  {
    CompressionOptions options = _values;
    if (_asymmetric->count() > 0)
      options.quantizer.symmetric = !_asymmetric_value;
    if (_per_tensor->count() > 0)
      options.quantizer.per_channel = !_per_tensor_value;
    options.target_average_bits = _target;
    if (_prune_n->count() + _prune_m->count() > 0 && _sparsity->count() == 0)
      options.sparsity = 0.0;
    if (_wbits->count() > 0 && _target_option->count() == 0)
      options.target_average_bits.reset();
    options.allocation = _allocation == "packed"   ? AllocationMethod::packed
                         : _allocation == "model"  ? AllocationMethod::model
                         : _allocation == "budget" ? AllocationMethod::budget
                                                   : AllocationMethod::quantile;
    options.sensitivity = _sensitivity == "obs" ? Sensitivity::obs : Sensitivity::score;
    if (!allocation_given() && options.allocation == AllocationMethod::model &&
        options.sensitivity == Sensitivity::score)
      options.allocation = AllocationMethod::packed;
    options.quantizer.range =
        _range == "per-width" ? QuantizerRange::per_width : QuantizerRange::shared;
    options.bit_options = parse_list<int>(_bit_options, "--bit-options");
    options.quantiles = parse_list<double>(_quantiles, "--quantiles");
    auto const weights = parse_list<double>(_importance, "--importance-weights");
    if (weights.size() != 5)
      throw InvalidArgument("--importance-weights needs 5 comma-separated values "
                            "(activation,hessian,weight,output,stability)");
    options.importance_weights = {weights[0], weights[1], weights[2], weights[3], weights[4]};
    options.validate();
    return options;
  }

  // Whether --bit-allocation was given (or the program's default applies).
  bool allocation_given() const { return _allocation_option->count() > 0; }

private:
  CompressionOptions _values;
  std::optional<double> _target;
  std::string _allocation;
  std::string _sensitivity;
  std::string _range;
  std::string _bit_options = "2,3,4,6,8";
  std::string _quantiles = "0.2,0.4,0.6,0.8";
  std::string _importance = "0.25,0.25,0.15,0.25,0.10";
  bool _asymmetric_value = false;
  bool _per_tensor_value = false;
  CLI::Option *_sparsity, *_prune_n, *_prune_m, *_block_size, *_percdamp, *_wbits, *_target_option,
      *_allocation_option, *_symmetric, *_asymmetric, *_per_tensor;
};

} // namespace sgpte::drivers

#endif
