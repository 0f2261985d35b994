#ifndef SGPTE_LAYER_LAYER_COMPRESSOR_HPP
#define SGPTE_LAYER_LAYER_COMPRESSOR_HPP

// LayerCompressor: the per-layer object of the seed's API (its SparseGPT class).
//
//   sgpte::LayerCompressor<Space> layer(space, "layer_0.fc1", weight, &stats);
//   for (auto const &batch : calibration) layer.add_batch(space, batch);
//   auto result = layer.fasterprune(space, options);   // weight now holds the result
//   layer.free();                                      // release the Hessian
//
// The weight view is compressed in place, as the reference writes back into the layer.
// The Hessian is left intact by fasterprune, so several configurations can be tried on
// one calibration; free() releases it.

#include <sgpte/allocation/bit_allocation.hpp>
#include <sgpte/allocation/model_budget.hpp>
#include <sgpte/allocation/packed_budget.hpp>
#include <sgpte/calibration/calibration_statistics.hpp>
#include <sgpte/core/detail/host_threads.hpp>
#include <sgpte/core/error.hpp>
#include <sgpte/core/finite.hpp>
#include <sgpte/core/kokkos_compat.hpp>
#include <sgpte/core/views.hpp>
#include <sgpte/importance/importance_score.hpp>
#include <sgpte/importance/obs_sensitivity.hpp>
#include <sgpte/io/dtype.hpp>
#include <sgpte/layer/compression_options.hpp>
#include <sgpte/layer/detail/column_order.hpp>
#include <sgpte/layer/detail/sweep_range.hpp>
#include <sgpte/linalg/inverse_hessian_factor.hpp>
#include <sgpte/packed/layer_layout.hpp>
#include <sgpte/quantization/quantizer.hpp>
#include <sgpte/stats/quantization_stats.hpp>
#include <sgpte/sweep/detail/expected_mask.hpp>
#include <sgpte/sweep/fused_sweep.hpp>
#include <sgpte/sweep/row_exchange.hpp>
#include <sgpte/sweep/row_shards.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

namespace sgpte
{

template <class ExecutionSpace>
struct LayerResult
{
  using memory_space = typename ExecutionSpace::memory_space;
  LayerStatistics statistics;
  std::vector<std::uint8_t> bits; // per column; 0 when not quantized
  ImportanceScores importance;    // per column
  // Quantizer parameters for every candidate width (plan.widths); with a group size the
  // groups follow the sweep order.
  QuantizationPlan<ExecutionSpace> quantization;
  std::vector<int> sweep_order; // original column at each sweep position
  Kokkos::View<std::uint32_t **, Kokkos::LayoutLeft, memory_space> mask; // original order
  Vector<ExecutionSpace, double> row_loss;
};

namespace detail
{

// Σ_i w_i H w_iᵀ over the rows of `weight` (rows × columns, H columns × columns): the energy of
// the outputs W X over the calibration tokens in the units of H (those of the OBS errors).
// As Σ (W H) ∘ W, W H a block of columns at a time (one GEMM each, its result at most
// `block_bytes`), the sum in double.
template <class ExecutionSpace>
double row_quadratic_form(ExecutionSpace const &space, Matrix<ExecutionSpace> const &weight,
                          Matrix<ExecutionSpace> const &hessian,
                          std::size_t block_bytes = std::size_t(64) << 20)
{
  int const rows = static_cast<int>(weight.extent(0));
  int const columns = static_cast<int>(weight.extent(1));
  int const block = static_cast<int>(std::clamp<std::size_t>(
      block_bytes / (sizeof(float) * static_cast<std::size_t>(rows)), 1, columns));
  Matrix<ExecutionSpace> const product(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::row_quadratic_form"), rows,
      block);
  double total = 0.0;
  for (int begin = 0; begin < columns; begin += block)
  {
    auto const range = std::make_pair(begin, std::min(columns, begin + block));
    auto const part =
        Kokkos::subview(product, Kokkos::ALL, std::make_pair(0, range.second - begin));
    auto const w = Kokkos::subview(weight, Kokkos::ALL, range);
    compat::gemm(space, "N", "N", 1.0f, weight, Kokkos::subview(hessian, Kokkos::ALL, range), 0.0f,
                 part);
    double sum = 0.0;
    Kokkos::parallel_reduce(
        "sgpte::row_quadratic_form",
        Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>(space, {0, 0},
                                                               {rows, range.second - begin}),
        KOKKOS_LAMBDA(int i, int j, double &partial) {
          partial += static_cast<double>(part(i, j)) * w(i, j);
        },
        sum);
    total += sum;
  }
  return total;
}

} // namespace detail

// A layer's offer to the model-wide allocation (LayerCompressor::packed_candidates).
struct PackedCandidates
{
  std::vector<AllocationCandidate> candidates; // packed bytes and expected error, distinct
  std::int64_t uniform_bytes = 0; // uniform ⌊target⌋-bit quantization's packed bytes
  std::int64_t budget_bytes = 0;  // the per-layer packed budget of the target
  std::size_t reference = 0;      // the candidate the per-layer packed allocation chooses
};

template <class ExecutionSpace>
class LayerCompressor
{
public:
  using execution_space = ExecutionSpace;
  using memory_space = typename ExecutionSpace::memory_space;

  // storage_dtype: the weight's dtype in the checkpoint, for the size statistics (the dense
  // size, and the packed size: kept weights of layers that are only pruned stay in it).
  LayerCompressor(ExecutionSpace const &space, std::string name, Matrix<ExecutionSpace> weight,
                  QuantizationStats *stats, io::Dtype storage_dtype)
      : _name(std::move(name))
      , _weight(std::move(weight))
      , _statistics(space, static_cast<int>(_weight.extent(1)))
      , _stats(stats)
      , _storage_dtype(storage_dtype)
  {
    if (_weight.extent(0) == 0)
      throw InvalidArgument("layer '" + _name + "' has no rows");
    if (!io::is_floating_point(_storage_dtype))
      throw InvalidArgument("layer '" + _name + "': storage dtype " + std::string(io::dtype_name(_storage_dtype)) +
                            " is not a floating-point type");
  }

  // storage_bytes_per_weight: 2 stands for F16, 4 for F32, 8 for F64 (give the dtype for BF16).
  LayerCompressor(ExecutionSpace const &space, std::string name, Matrix<ExecutionSpace> weight,
                  QuantizationStats *stats = nullptr, int storage_bytes_per_weight = 2)
      : LayerCompressor(space, std::move(name), std::move(weight), stats, float_dtype(storage_bytes_per_weight))
  {
  }

  std::string const &name() const { return _name; }
  Matrix<ExecutionSpace> const &weight() const { return _weight; }
  CalibrationStatistics<ExecutionSpace> const &statistics() const { return _statistics; }
  // The statistics themselves, to feed batches without add_batch's stage timer, whose fences
  // keep the host from queueing the next batch while the device works on this one (what a
  // loop feeding batches back to back wants; the layer's statistics seconds then stay 0).
  CalibrationStatistics<ExecutionSpace> &statistics() { return _statistics; }

  // inputs: tokens × columns holding `samples` sequences (see CalibrationStatistics).
  template <class InputView>
  void add_batch(ExecutionSpace const &space, InputView const &inputs, std::int64_t samples = 1)
  {
    space.fence(); // the time of whatever produced the inputs is not the statistics'
    Kokkos::Timer timer;
    try
    {
      _statistics.add_batch(space, inputs, samples);
    }
    catch (NumericalError const &error)
    {
      rethrow_for_layer(error);
    }
    catch (InvalidArgument const &error)
    {
      rethrow_for_layer(error);
    }
    space.fence();
    _statistics_seconds += timer.seconds();
  }

  // The statistics of a layer that was fed the same inputs (see CalibrationStatistics).
  void copy_statistics_from(ExecutionSpace const &space, LayerCompressor const &other)
  {
    Kokkos::Timer timer;
    _statistics.copy_from(space, other._statistics);
    space.fence();
    _statistics_seconds += timer.seconds();
  }

  // With an exchange of several processes (collective: each calls fasterprune on the same
  // layer with the same statistics and options) the sweep's rows are shared among them
  // (sharded_fused_sweep); each ends with the whole result, a single process's.
  LayerResult<ExecutionSpace> fasterprune(ExecutionSpace const &space,
                                          CompressionOptions const &options,
                                          RowExchange const *row_exchange = nullptr);

  // For the model-wide allocation (allocation/model_budget.hpp): the packed allocation's
  // results at a ladder of budgets, the packed budgets of targets from the lowest bit option to
  // the highest in steps of 1/steps_per_bit (without fasterprune's sweep; the weight view's
  // dead columns are zeroed, nothing else changes). options: mixed precision.
  PackedCandidates packed_candidates(ExecutionSpace const &space, CompressionOptions const &options,
                                     int steps_per_bit = 8);

  void free() { _statistics.release_hessian(); }

private:
  // The same error, its message prefixed with the layer's name.
  template <class ErrorType>
  [[noreturn]] void rethrow_for_layer(ErrorType const &error) const
  {
    throw ErrorType("layer '" + _name + "': " + error.what());
  }

  QuantizationPlan<ExecutionSpace> make_plan(ExecutionSpace const &space, CompressionOptions const &options) const;

  // What the allocation and the sweep work on (fasterprune, packed_candidates): the dead
  // columns (H_jj = 0), the maps between sweep positions and columns, the weights in sweep
  // order with the dead columns zeroed (the layer's own weight view without act-order) and
  // the inverse-Hessian factor of H in that order.
  struct SweepPreparation
  {
    std::vector<bool> dead; // per original column
    int dead_columns = 0;
    Vector<ExecutionSpace, int> column_of;   // original column at each sweep position
    Vector<ExecutionSpace, int> position_of; // sweep position of each original column
    Matrix<ExecutionSpace> work;
    Matrix<ExecutionSpace> lower;
    FactorizationReport factorization;
  };
  // Also sets result.sweep_order.
  SweepPreparation prepare_sweep(ExecutionSpace const &space, Matrix<ExecutionSpace> const &hessian,
                                 CompressionOptions const &options,
                                 LayerResult<ExecutionSpace> &result);
  // The five-term importance scores in original column order (SPEC §4).
  ImportanceScores importance_scores(ExecutionSpace const &space, SweepPreparation const &prepared,
                                     LayerResult<ExecutionSpace> const &result,
                                     CompressionOptions const &options) const;

  // What the packed allocation works on: each column's expected error per width, its expected
  // kept weights, their mean, and the packed bytes of an allocation.
  struct PackedProblem
  {
    ColumnErrors errors;
    std::vector<std::int64_t> kept;
    double mean_kept = 1.0;
  };
  PackedProblem packed_problem(ExecutionSpace const &space, CompressionOptions const &options,
                               LayerResult<ExecutionSpace> const &result,
                               Matrix<ExecutionSpace> const &work,
                               Matrix<ExecutionSpace> const &lower,
                               detail::ExpectedMask<ExecutionSpace> &mask) const;
  // With per-width quantizer ranges and the OBS sensitivity, the errors re-estimated for an
  // allocation; otherwise empty (the errors do not depend on the allocation).
  ErrorRefinement error_refinement(ExecutionSpace const &space, CompressionOptions const &options,
                                   LayerResult<ExecutionSpace> const &result,
                                   detail::ExpectedMask<ExecutionSpace> const &mask) const
  {
    if (options.quantizer.range != QuantizerRange::per_width ||
        options.sensitivity != Sensitivity::obs)
      return {};
    return [&space, &result, &mask](std::vector<std::uint8_t> const &bits) {
      return obs_sensitivity_per_width(space, mask, result.quantization, result.sweep_order, bits);
    };
  }
  std::int64_t packed_bytes(std::vector<std::uint8_t> const &bits, std::vector<std::int64_t> const &kept,
                            CompressionOptions const &options) const
  {
    return packed::make_layer_layout(static_cast<int>(_weight.extent(0)), bits, kept, options, _storage_dtype)
        .file_bytes();
  }

  // Mixed precision's widths per column (original order); work and lower in sweep order.
  std::vector<std::uint8_t> allocate(ExecutionSpace const &space, CompressionOptions const &options,
                                     LayerResult<ExecutionSpace> const &result,
                                     Matrix<ExecutionSpace> const &work,
                                     Matrix<ExecutionSpace> const &lower) const;

  // The weights the sweep will keep per column, on average, without pruning or with N:M.
  static double mean_kept_per_column(int rows, int columns, CompressionOptions const &options);

  static io::Dtype float_dtype(int bytes)
  {
    if (bytes != 2 && bytes != 4 && bytes != 8)
      throw InvalidArgument("storage bytes per weight must be 2, 4 or 8, got " + std::to_string(bytes));
    return bytes == 2 ? io::Dtype::F16 : (bytes == 4 ? io::Dtype::F32 : io::Dtype::F64);
  }

  std::string _name;
  Matrix<ExecutionSpace> _weight;
  CalibrationStatistics<ExecutionSpace> _statistics;
  QuantizationStats *_stats;
  io::Dtype _storage_dtype;
  double _statistics_seconds = 0.0;
};

template <class ExecutionSpace>
QuantizationPlan<ExecutionSpace> LayerCompressor<ExecutionSpace>::make_plan(ExecutionSpace const &space,
                                                                            CompressionOptions const &options) const
{
  QuantizationPlan<ExecutionSpace> plan;
  plan.options = options.quantizer;
  if (!options.quantizes())
    return plan;
  // Mixed precision prepares every candidate width: the parameters of the widths that
  // end up unused cost rows × widths floats, and this way they come from the original
  // weights before any column is touched, as in the reference.
  plan.widths = options.mixed_precision() ? options.bit_options : std::vector<int>{options.wbits};
  int const widths = static_cast<int>(plan.widths.size());
  int const rows = static_cast<int>(_weight.extent(0));
  int const columns = static_cast<int>(_weight.extent(1));
  int const group_size = options.quantizer.group_size;
  int const groups = group_size > 0 ? (columns + group_size - 1) / group_size : 1;
  plan.maxq = Vector<ExecutionSpace, float>(Kokkos::view_alloc(space, "sgpte::maxq"), widths);
  auto maxq_host = Kokkos::create_mirror_view(plan.maxq);
  for (int w = 0; w < widths; ++w)
    maxq_host(w) = static_cast<float>((1 << plan.widths[w]) - 1);
  Kokkos::deep_copy(space, plan.maxq, maxq_host);
  int const parameter_rows = options.quantizer.per_channel ? rows : 1;
  plan.scale = typename QuantizationPlan<ExecutionSpace>::parameter_view(
      Kokkos::view_alloc(space, "sgpte::quantizer_scale"), parameter_rows, groups, widths);
  plan.zero = typename QuantizationPlan<ExecutionSpace>::parameter_view(
      Kokkos::view_alloc(space, "sgpte::quantizer_zero"), parameter_rows, groups, widths);
  if (group_size == 0)
    find_quantization_parameters(space, _weight, 0, columns, 0, plan);
  return plan;
}

template <class ExecutionSpace>
typename LayerCompressor<ExecutionSpace>::SweepPreparation
LayerCompressor<ExecutionSpace>::prepare_sweep(ExecutionSpace const &space,
                                               Matrix<ExecutionSpace> const &hessian,
                                               CompressionOptions const &options,
                                               LayerResult<ExecutionSpace> &result)
{
  int const rows = static_cast<int>(_weight.extent(0));
  int const columns = static_cast<int>(_weight.extent(1));
  SweepPreparation prepared;
  std::vector<double> const diagonal = detail::hessian_diagonal(space, hessian);
  prepared.dead.resize(columns);
  Kokkos::View<std::uint8_t *, Kokkos::HostSpace> dead_host("sgpte::dead", columns);
  for (int j = 0; j < columns; ++j)
  {
    prepared.dead[j] = diagonal[j] == 0.0;
    dead_host(j) = prepared.dead[j] ? 1 : 0;
    prepared.dead_columns += prepared.dead[j] ? 1 : 0;
  }
  auto const dead_device = Kokkos::create_mirror_view_and_copy(memory_space(), dead_host);
  result.sweep_order = detail::sweep_order(diagonal, options.quantizer.act_order);
  prepared.column_of =
      Vector<ExecutionSpace, int>(Kokkos::view_alloc(space, "sgpte::column_of"), columns);
  prepared.position_of =
      Vector<ExecutionSpace, int>(Kokkos::view_alloc(space, "sgpte::position_of"), columns);
  {
    auto column_host = Kokkos::create_mirror_view(prepared.column_of);
    auto position_host = Kokkos::create_mirror_view(prepared.position_of);
    for (int k = 0; k < columns; ++k)
    {
      column_host(k) = result.sweep_order[k];
      position_host(result.sweep_order[k]) = k;
    }
    Kokkos::deep_copy(space, prepared.column_of, column_host);
    Kokkos::deep_copy(space, prepared.position_of, position_host);
  }
  prepared.work =
      options.quantizer.act_order
          ? Matrix<ExecutionSpace>(
                Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::weight_work"), rows,
                columns)
          : _weight;
  detail::gather_live_columns(space, _weight, prepared.column_of, dead_device, prepared.work);
  Matrix<ExecutionSpace> const ordered_hessian =
      detail::hessian_in_sweep_order(space, hessian, prepared.column_of);
  prepared.lower = Matrix<ExecutionSpace>(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::inverse_factor"), columns,
      columns);
  prepared.factorization = inverse_hessian_factor(
      space, ordered_hessian, options.percdamp, options.max_damping_retries, prepared.lower, _name);
  return prepared;
}

template <class ExecutionSpace>
ImportanceScores LayerCompressor<ExecutionSpace>::importance_scores(
    ExecutionSpace const &space, SweepPreparation const &prepared,
    LayerResult<ExecutionSpace> const &result, CompressionOptions const &options) const
{
  int const columns = static_cast<int>(_weight.extent(1));
  auto const raw_sweep_order =
      raw_importance_terms(space, prepared.work, prepared.lower, _statistics, prepared.column_of);
  std::array<std::vector<double>, 5> raw;
  for (int t = 0; t < 5; ++t)
  {
    raw[t].resize(columns);
    for (int k = 0; k < columns; ++k)
      raw[t][result.sweep_order[k]] = raw_sweep_order[t][k];
  }
  return combine_importance_terms(std::move(raw), prepared.dead, options.importance_weights);
}

template <class ExecutionSpace>
typename LayerCompressor<ExecutionSpace>::PackedProblem LayerCompressor<ExecutionSpace>::packed_problem(
    ExecutionSpace const &space, CompressionOptions const &options,
    LayerResult<ExecutionSpace> const &result, Matrix<ExecutionSpace> const &work,
    Matrix<ExecutionSpace> const &lower, detail::ExpectedMask<ExecutionSpace> &mask) const
{
  // The sweep's unstructured mask, as expected from the untouched weights; N:M keeps the same
  // share of every column (up to the last group), so its columns are costed at the mean.
  mask = detail::ExpectedMask<ExecutionSpace>{work, lower, {}, options.block_size};
  bool const unstructured = options.prune_n == 0 && options.sparsity > 0.0;
  if (unstructured)
    mask.thresholds =
        detail::expected_mask_thresholds(space, work, lower, options.sparsity, options.block_size);
  int const rows = static_cast<int>(_weight.extent(0));
  int const columns = static_cast<int>(_weight.extent(1));
  PackedProblem problem{
      options.sensitivity == Sensitivity::obs
          ? obs_sensitivity(space, mask, result.quantization, result.sweep_order)
          : ColumnErrors::from_importance(result.importance.importance, options.bit_options),
      {},
      1.0};
  if (options.allocation == AllocationMethod::budget)
    return problem;
  problem.kept =
      unstructured
          ? detail::expected_kept_per_column(space, mask, result.sweep_order)
          : std::vector<std::int64_t>(columns, static_cast<std::int64_t>(std::ceil(
                                                   mean_kept_per_column(rows, columns, options))));
  problem.mean_kept = std::max(
      1.0, static_cast<double>(std::accumulate(problem.kept.begin(), problem.kept.end(), std::int64_t(0))) /
               columns);
  return problem;
}

template <class ExecutionSpace>
std::vector<std::uint8_t> LayerCompressor<ExecutionSpace>::allocate(
    ExecutionSpace const &space, CompressionOptions const &options,
    LayerResult<ExecutionSpace> const &result, Matrix<ExecutionSpace> const &work,
    Matrix<ExecutionSpace> const &lower) const
{
  std::vector<double> const &importance = result.importance.importance;
  double const target = *options.target_average_bits;
  if (options.allocation == AllocationMethod::quantile)
    return allocate_bits_quantile(importance, options.bit_options, options.quantiles);
  if (options.allocation == AllocationMethod::budget && options.sensitivity == Sensitivity::score)
    return allocate_bits_budget(importance, options.bit_options, target);
  detail::ExpectedMask<ExecutionSpace> mask{work, lower, {}, options.block_size};
  PackedProblem const problem = packed_problem(space, options, result, work, lower, mask);
  int const columns = static_cast<int>(_weight.extent(1));
  ErrorRefinement const refine = error_refinement(space, options, result, mask);
  if (options.allocation == AllocationMethod::budget)
  {
    std::int64_t const budget = bit_budget(target, columns);
    std::vector<std::uint8_t> bits =
        allocate_bits_by_errors(problem.errors, options.bit_options, budget);
    for (int round = 0; refine && round < error_refinement_rounds; ++round)
      bits = allocate_bits_by_errors(refine(bits), options.bit_options, budget);
    return bits;
  }
  auto const bytes = [&](std::vector<std::uint8_t> const &bits)
  { return packed_bytes(bits, problem.kept, options); };
  std::optional<std::int64_t> budget;
  if (options.packed_extra_bytes)
    budget = packed_budget_bytes(std::floor(target * (1.0 + 1e-12)), columns, problem.mean_kept, bytes) +
             *options.packed_extra_bytes;
  return allocate_bits_packed(problem.errors, options.bit_options, target, problem.mean_kept, bytes,
                              budget, refine);
}

template <class ExecutionSpace>
PackedCandidates LayerCompressor<ExecutionSpace>::packed_candidates(ExecutionSpace const &space,
                                                                    CompressionOptions const &options,
                                                                    int steps_per_bit)
{
  options.validate();
  if (!options.mixed_precision())
    throw InvalidArgument("layer '" + _name + "': packed candidates need a target average of bits");
  if (_statistics.tokens() == 0)
    throw InvalidArgument("layer '" + _name + "': no calibration data (call add_batch first)");
  auto const &hessian = _statistics.hessian(space);
  int const columns = static_cast<int>(_weight.extent(1));
  PackedCandidates offer;
  LayerResult<ExecutionSpace> result;
  result.quantization = make_plan(space, options);
  SweepPreparation const prepared = prepare_sweep(space, hessian, options, result);
  Matrix<ExecutionSpace> const &work = prepared.work;
  Matrix<ExecutionSpace> const &lower = prepared.lower;
  if (options.sensitivity == Sensitivity::score)
    result.importance = importance_scores(space, prepared, result, options);
  CompressionOptions packed = options;
  packed.allocation = AllocationMethod::packed;
  detail::ExpectedMask<ExecutionSpace> mask{work, lower, {}, options.block_size};
  PackedProblem const problem = packed_problem(space, packed, result, work, lower, mask);
  auto const bytes = [&](std::vector<std::uint8_t> const &bits)
  { return packed_bytes(bits, problem.kept, packed); };
  double const target = *options.target_average_bits;
  offer.uniform_bytes =
      packed_budget_bytes(std::floor(target * (1.0 + 1e-12)), columns, problem.mean_kept, bytes);
  offer.budget_bytes = packed_budget_bytes(target, columns, problem.mean_kept, bytes);
  std::vector<std::vector<std::uint8_t>> seen;
  auto const add = [&](PackedAllocation &&allocation)
  {
    if (allocation.bits.empty())
      return offer.candidates.size();
    for (std::size_t c = 0; c < seen.size(); ++c)
      if (seen[c] == allocation.bits)
        return c;
    seen.push_back(std::move(allocation.bits));
    offer.candidates.push_back({allocation.bytes, allocation.error});
    return offer.candidates.size() - 1;
  };
  ErrorRefinement const refine = error_refinement(space, packed, result, mask);
  // The per-layer packed allocation's result, then the ladder's from the lowest option up.
  int const low = options.bit_options.front(), high = options.bit_options.back();
  std::vector<PackedAllocation> rungs(static_cast<std::size_t>((high - low) * steps_per_bit) + 2);
  // Every rung starts from the same greedies, one per subset of the widths.
  PackedSubsetGreedies const greedies(problem.errors, options.bit_options,
                                      PackedSubsetGreedies::Budgets::many);
  auto const rung = [&](std::size_t index)
  {
    double const t = index == 0 ? target : low + static_cast<double>(index - 1) / steps_per_bit;
    std::int64_t const budget =
        index == 0 ? offer.budget_bytes : packed_budget_bytes(t, columns, problem.mean_kept, bytes);
    rungs[index] =
        allocate_bits_packed_within(greedies, t, budget, problem.mean_kept, bytes, refine);
  };
  // The rungs are host work, independent of each other; re-estimated errors run kernels.
  if (refine)
    for (std::size_t index = 0; index < rungs.size(); ++index)
      rung(index);
  else
    detail::for_each_on_host_threads(rungs.size(), rung);
  offer.reference = add(std::move(rungs.front()));
  for (std::size_t index = 1; index < rungs.size(); ++index)
    add(std::move(rungs[index]));
  return offer;
}

template <class ExecutionSpace>
double LayerCompressor<ExecutionSpace>::mean_kept_per_column(int rows, int columns,
                                                             CompressionOptions const &options)
{
  if (options.prune_n == 0)
    return rows;
  std::int64_t kept = 0;
  for (int begin = 0; begin < columns; begin += options.prune_m)
  {
    int const size = std::min(options.prune_m, columns - begin);
    kept += static_cast<std::int64_t>(rows) * (size - std::min(options.prune_n, size));
  }
  return static_cast<double>(kept) / columns;
}

template <class ExecutionSpace>
LayerResult<ExecutionSpace> LayerCompressor<ExecutionSpace>::fasterprune(
    ExecutionSpace const &space, CompressionOptions const &options, RowExchange const *row_exchange)
{
  try
  {
    options.validate();
  }
  catch (InvalidArgument const &error)
  {
    rethrow_for_layer(error);
  }
  if (_statistics.tokens() == 0)
    throw InvalidArgument("layer '" + _name + "': no calibration data (call add_batch first)");
  Kokkos::Timer completion; // of the Hessian's upper triangle, a part of the statistics
  auto const &hessian = _statistics.hessian(space);
  space.fence();
  _statistics_seconds += completion.seconds();
  int const rows = static_cast<int>(_weight.extent(0));
  int const columns = static_cast<int>(_weight.extent(1));
  if (std::int64_t const bad = count_non_finite(space, _weight); bad > 0)
    throw NumericalError("layer '" + _name + "': the weights hold " + std::to_string(bad) + " NaN or Inf values");

  Kokkos::Profiling::pushRegion("sgpte::fasterprune");
  LayerResult<ExecutionSpace> result;
  LayerStatistics &stats = result.statistics;
  stats.name = _name;
  stats.rows = rows;
  stats.columns = columns;
  stats.seconds.statistics = _statistics_seconds;
  Kokkos::Timer timer;

  // Quantizer parameters first: the reference takes them from the untouched weights.
  result.quantization = make_plan(space, options);

  // Dead columns, sweep order, the working Hessian and weights.
  SweepPreparation const prepared = prepare_sweep(space, hessian, options, result);
  Matrix<ExecutionSpace> const &work = prepared.work;
  Matrix<ExecutionSpace> const &lower = prepared.lower;
  Vector<ExecutionSpace, int> const &column_of = prepared.column_of;
  bool const permuted = options.quantizer.act_order;
  stats.dead_columns = prepared.dead_columns;
  stats.percdamp = prepared.factorization.percdamp;
  stats.damping_retries = prepared.factorization.retries;
  if (auto const problem = detail::sweep_range_problem(space, work, lower, result.sweep_order))
  {
    Kokkos::Profiling::popRegion();
    throw NumericalError("layer '" + _name + "': " + *problem);
  }
  space.fence();
  stats.seconds.factorization = timer.seconds();
  timer.reset();

  // Importance (original column order) and bit allocation.
  result.importance = importance_scores(space, prepared, result, options);
  if (!options.quantizes())
  {
    result.bits.assign(columns, 0);
    stats.allocation = "none";
  }
  else if (!options.mixed_precision())
  {
    result.bits.assign(columns, static_cast<std::uint8_t>(options.wbits));
    stats.allocation = "uniform";
  }
  else
  {
    stats.target_average_bits = options.target_average_bits;
    stats.allocation = to_string(options.allocation);
    stats.quantizer_range = to_string(options.quantizer.range);
    result.bits = allocate(space, options, result, work, lower);
  }
  auto &plan = result.quantization;
  if (plan.enabled())
  {
    plan.width_index = Vector<ExecutionSpace, std::uint8_t>(Kokkos::view_alloc(space, "sgpte::width_index"), columns);
    auto index_host = Kokkos::create_mirror_view(plan.width_index);
    for (int k = 0; k < columns; ++k)
    {
      int const bits = result.bits[result.sweep_order[k]];
      index_host(k) = static_cast<std::uint8_t>(
          std::find(plan.widths.begin(), plan.widths.end(), bits) - plan.widths.begin());
    }
    Kokkos::deep_copy(space, plan.width_index, index_host);
    // Per-width ranges follow the allocation, and so does the widest width in use from which
    // the narrower ones' parameters may follow; with a group size the sweep finds them.
    if (plan.per_width_ranges() && options.quantizer.group_size == 0)
      find_quantization_parameters(space, work, 0, columns, 0, plan);
    std::vector<bool> in_use(plan.widths.size(), false);
    for (int k = 0; k < columns; ++k)
      in_use[index_host(k)] = true;
    derive_from_widest_in_use(space, plan, in_use);
  }
  space.fence();
  stats.seconds.allocation = timer.seconds();
  timer.reset();

  // The sweep, then back to the original column order.
  SweepOptions const sweep_options{options.sparsity, options.prune_n, options.prune_m, options.block_size};
  SweepResult<ExecutionSpace> const sweep =
      sharded_fused_sweep(space, work, lower, sweep_options, plan, row_exchange);
  result.row_loss = sweep.row_loss;
  if (permuted)
  {
    detail::scatter_columns(space, work, column_of, _weight);
    result.mask = detail::mask_in_original_order(space, sweep.mask, prepared.position_of, columns);
  }
  else
  {
    result.mask = sweep.mask;
  }
  if (std::int64_t const bad = count_non_finite(space, _weight); bad > 0)
  {
    Kokkos::Profiling::popRegion();
    throw NumericalError("layer '" + _name + "': the sweep produced " + std::to_string(bad) +
                         " non-finite weights (the Hessian is too ill-conditioned; raise percdamp)");
  }

  // Pruned entries per column and the OBS loss.
  auto const mask = result.mask;
  Vector<ExecutionSpace, std::int64_t> pruned(Kokkos::view_alloc(space, "sgpte::pruned_per_column"), columns);
  Kokkos::parallel_for(
      "sgpte::pruned_per_column", Kokkos::RangePolicy<ExecutionSpace>(space, 0, columns), KOKKOS_LAMBDA(int c) {
        std::int64_t count = 0;
        for (int r = 0; r < rows; ++r)
          count += (mask(r, c / 32) >> (c % 32)) & 1u;
        pruned(c) = count;
      });
  auto const row_loss = sweep.row_loss;
  double loss = 0.0;
  Kokkos::parallel_reduce(
      "sgpte::total_loss", Kokkos::RangePolicy<ExecutionSpace>(space, 0, rows),
      KOKKOS_LAMBDA(int r, double &partial) { partial += row_loss(r); }, loss);
  space.fence();
  stats.seconds.sweep = timer.seconds();

  auto const pruned_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), pruned);
  std::vector<std::int64_t> kept(columns);
  std::int64_t total_pruned = 0, bit_sum = 0;
  for (int j = 0; j < columns; ++j)
  {
    total_pruned += pruned_host(j);
    kept[j] = rows - pruned_host(j);
    stats.bit_histogram[result.bits[j]] += 1;
    bit_sum += result.bits[j];
  }
  stats.sparsity = static_cast<double>(total_pruned) / (static_cast<double>(rows) * columns);
  stats.average_bits = static_cast<double>(bit_sum) / columns;
  stats.loss = loss;
  stats.size_before_bytes =
      static_cast<std::int64_t>(rows) * columns * static_cast<std::int64_t>(io::dtype_size(_storage_dtype));
  // The size of the layer's packed file (packed/layer_file.hpp), exactly.
  stats.size_after_bytes = packed::make_layer_layout(rows, result.bits, kept, options, _storage_dtype).file_bytes();
  bool first = true;
  for (int j = 0; j < columns; ++j)
  {
    if (prepared.dead[j])
      continue;
    double const score = result.importance.importance[j];
    stats.importance_min = first ? score : std::min(stats.importance_min, score);
    stats.importance_max = first ? score : std::max(stats.importance_max, score);
    stats.importance_mean += score;
    first = false;
  }
  if (columns > stats.dead_columns)
    stats.importance_mean /= columns - stats.dead_columns;
  if (_stats != nullptr)
    _stats->add(stats);
  Kokkos::Profiling::popRegion();
  return result;
}

} // namespace sgpte

#endif
