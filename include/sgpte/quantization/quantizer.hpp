#ifndef SGPTE_QUANTIZATION_QUANTIZER_HPP
#define SGPTE_QUANTIZATION_QUANTIZER_HPP

// GPTQ's min-max quantizer (the reference's quant.py, SPEC §6), per output row or per
// tensor, symmetric or asymmetric, with the optional MSE grid search. The arithmetic
// follows quant.py operation by operation in float so that the codes match the reference:
//   scale = (xmax − xmin) / maxq, zero = round(−xmin / scale) (asymmetric) or (maxq+1)/2,
//   q(x) = scale · (clamp(round(x / scale) + zero, 0, maxq) − zero),
// with round-half-to-even as torch.round. With mixed precision each width in use has its own
// (scale, zero), from the whole row's range (SPEC §6) or, opt-in, from the range of the
// columns given that width (QuantizerRange::per_width). From the whole row's range and without
// the MSE search, the narrower widths' parameters follow from the widest width's in use
// (narrower_parameters), so that a packed file stores one (scale, zero) per row however many
// widths the layer mixes.

#include <sgpte/core/error.hpp>
#include <sgpte/core/kokkos_compat.hpp>
#include <sgpte/core/views.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace sgpte
{

// Where mixed precision takes each width's (scale, zero) from: `shared`, every width from the
// whole row's range (SPEC §6: the reference's quantizer at each width); `per_width`, each width
// from the range of the columns given that width (outlier columns at a wide width then no
// longer stretch the grid of the narrow ones). One width: the same either way.
enum class QuantizerRange
{
  shared,
  per_width
};

inline std::string to_string(QuantizerRange range)
{
  return range == QuantizerRange::shared ? "shared" : "per-width";
}

struct QuantizerOptions
{
  bool symmetric = false;  // the reference pipeline (opt.py) quantizes asymmetrically
  bool per_channel = true; // one (scale, zero) per output row, else one per tensor
  bool mse = false;        // shrink the range to minimise the |q − x|^norm error
  float norm = 2.4f;
  int grid = 100;
  float max_shrink = 0.8f;
  int group_size = 0;     // > 0: parameters recomputed every group_size columns (GPTQ)
  bool act_order = false; // process columns in decreasing diag(H) order (GPTQ)
  QuantizerRange range = QuantizerRange::shared;

  void validate() const
  {
    if (group_size < 0)
      throw InvalidArgument("group size must be non-negative, got " + std::to_string(group_size));
    if (mse && (!std::isfinite(norm) || norm <= 0.0f || grid < 1 || !std::isfinite(max_shrink) ||
                max_shrink <= 0.0f || max_shrink >= 1.0f))
      throw InvalidArgument("MSE grid search needs norm > 0, grid >= 1 and max shrink in (0, 1)");
    if (range == QuantizerRange::per_width && !per_channel)
      throw InvalidArgument("per-width quantizer ranges need per-channel quantization");
  }
};

KOKKOS_INLINE_FUNCTION float quantize_value(float x, float scale, float zero, float maxq)
{
  float q = compat::nearbyint(x / scale) + zero;
  q = q < 0.0f ? 0.0f : (q > maxq ? maxq : q);
  return scale * (q - zero);
}

// The integer code of a value, as stored by packed checkpoints.
KOKKOS_INLINE_FUNCTION float quantize_code(float x, float scale, float zero, float maxq)
{
  float const q = compat::nearbyint(x / scale) + zero;
  return q < 0.0f ? 0.0f : (q > maxq ? maxq : q);
}

// quant.py's adjustment of a range [xmin, xmax] (xmin <= 0 <= xmax already): symmetric
// ranges become ±max|x|, and an all-zero range becomes [−1, 1]. The MSE search shrinks
// the adjusted range.
KOKKOS_INLINE_FUNCTION void adjust_range(float &xmin, float &xmax, bool symmetric)
{
  if (symmetric)
  {
    xmax = compat::fmax(compat::fabs(xmin), xmax);
    if (xmin < 0.0f)
      xmin = -xmax;
  }
  if (xmin == 0.0f && xmax == 0.0f)
  {
    xmin = -1.0f;
    xmax = 1.0f;
  }
}

// quant.py's find_params for one adjusted range.
KOKKOS_INLINE_FUNCTION void minmax_parameters(float xmin, float xmax, float maxq, bool symmetric,
                                              float &scale, float &zero)
{
  scale = (xmax - xmin) / maxq;
  zero = symmetric ? (maxq + 1.0f) / 2.0f : compat::nearbyint(-xmin / scale);
}

// Whether a layer mixing `widths_in_use` widths takes the narrower widths' parameters from the
// widest one's: with the shared range and no MSE search (whose shrink is chosen per width).
inline bool parameters_follow_widest(QuantizerOptions const &options, std::size_t widths_in_use)
{
  return widths_in_use > 1 && options.range == QuantizerRange::shared && !options.mse;
}

// A narrower width's parameters from the widest width's (scale_w, zero_w, maxq_w) of the same
// range: scale_w · maxq_w / maxq and round(zero_w · maxq / maxq_w). quant.py's own formulas at
// that width, (xmax − xmin) / maxq and round(−xmin / scale), differ by a rounding of the scale
// and, where −xmin / scale lies within (maxq / maxq_w) / 2 of a half-integer, by one in the
// zero point; derived, the packed format needs only the widest width's pair per row (5 bytes;
// each further width's pair would cost 5 more, as many bits as 40 columns' one more bit).
// Symmetric zero points (maxq + 1) / 2 come out exactly. Two float operations each, in this
// order, so the sweep and a reader of the packed file get the same values bit for bit.
KOKKOS_INLINE_FUNCTION void narrower_parameters(float widest_scale, float widest_zero,
                                                float widest_maxq, float maxq, float &scale,
                                                float &zero)
{
  scale = widest_scale * widest_maxq / maxq;
  zero = compat::nearbyint(widest_zero * maxq / widest_maxq);
}

// Bit widths actually used by a layer and their parameters: scale(row, group, width) and
// zero(row, group, width), where row is the output row (one row when per tensor), group
// the column group (one group without a group size) and width the index into widths.
template <class ExecutionSpace>
struct QuantizationPlan
{
  using memory_space = typename ExecutionSpace::memory_space;
  using parameter_view = Kokkos::View<float ***, Kokkos::LayoutLeft, memory_space>;

  QuantizerOptions options;
  std::vector<int> widths;                           // ascending, distinct
  Vector<ExecutionSpace, float> maxq;                // 2^width − 1 per width
  Vector<ExecutionSpace, std::uint8_t> width_index;  // per column, in sweep order

  // Per-width ranges need each column's width: until the allocation sets width_index, every
  // width is found from the shared range.
  bool per_width_ranges() const
  {
    return options.range == QuantizerRange::per_width && options.per_channel && widths.size() > 1 &&
           width_index.extent(0) > 0;
  }
  parameter_view scale;
  parameter_view zero;
  // Once the allocation is known: the index in widths of the widest width in use when the
  // narrower widths' parameters follow it (parameters_follow_widest), else −1.
  int parameters_from = -1;

  bool enabled() const { return !widths.empty(); }
  int groups() const { return static_cast<int>(scale.extent(1)); }
};

namespace detail
{

// Σ |q(x) − x|^norm of a candidate grid point, for the MSE search.
template <class Values>
KOKKOS_INLINE_FUNCTION float grid_point_error(Values const &values, int count, float scale, float zero,
                                              float maxq, float norm)
{
  float error = 0.0f;
  for (int i = 0; i < count; ++i)
  {
    float const x = values(i);
    error += compat::pow(compat::fabs(quantize_value(x, scale, zero, maxq) - x), norm);
  }
  return error;
}

// The reference's MSE search: shrink [xmin, xmax] by p = 1 − i/grid and keep the
// parameters with the smallest error (strictly smaller wins, so the first is kept on ties).
template <class Values>
KOKKOS_INLINE_FUNCTION void mse_parameters(Values const &values, int count, float xmin, float xmax,
                                           float maxq, QuantizerOptions const &options, float &scale,
                                           float &zero)
{
  float best = 0.0f;
  bool have_best = false;
  int const steps = static_cast<int>(static_cast<double>(options.max_shrink) * options.grid);
  for (int i = 0; i < steps; ++i)
  {
    float const p = static_cast<float>(1.0 - static_cast<double>(i) / options.grid);
    float const xmin1 = p * xmin;
    float const xmax1 = p * xmax;
    float const scale1 = (xmax1 - xmin1) / maxq;
    float const zero1 = options.symmetric ? zero : compat::nearbyint(-xmin1 / scale1);
    float const error = grid_point_error(values, count, scale1, zero1, maxq, options.norm);
    if (!have_best || error < best)
    {
      best = error;
      have_best = true;
      scale = scale1;
      zero = zero1;
    }
  }
}

// Values of one row of W over [begin, begin + count), as a callable view. With a width index,
// the columns of other widths read as zero: zero is on every grid (xmin ≤ 0 ≤ xmax), so they
// add nothing to a range or to the MSE search's error.
template <class WeightView, class WidthIndex>
struct RowSegment
{
  WeightView weight;
  int row;
  int begin;
  WidthIndex width_index;
  int width; // −1: every column
  KOKKOS_INLINE_FUNCTION float operator()(int i) const
  {
    return width < 0 || width_index(begin + i) == width ? weight(row, begin + i) : 0.0f;
  }
};

// Values of a column range of W over all rows, flattened; the width filter as above.
template <class WeightView, class WidthIndex>
struct BlockSegment
{
  WeightView weight;
  int begin;
  int rows;
  WidthIndex width_index;
  int width;
  KOKKOS_INLINE_FUNCTION float operator()(int i) const
  {
    int const column = begin + i / rows;
    return width < 0 || width_index(column) == width ? weight(i % rows, column) : 0.0f;
  }
};

// The range of values(0..count) with 0 included, adjusted as quant.py does.
template <class Values>
KOKKOS_INLINE_FUNCTION void value_range(Values const &values, int count, bool symmetric,
                                        float &xmin, float &xmax)
{
  xmin = 0.0f;
  xmax = 0.0f;
  for (int i = 0; i < count; ++i)
  {
    float const x = values(i);
    xmin = x < xmin ? x : xmin;
    xmax = x > xmax ? x : xmax;
  }
  adjust_range(xmin, xmax, symmetric);
}

// The parameters of the widths narrower than widths[from] in one row and group from that
// width's (nothing when from < 0).
template <class ParameterView, class MaxqView>
KOKKOS_INLINE_FUNCTION void derive_narrower(ParameterView const &scale, ParameterView const &zero,
                                            MaxqView const &maxq, int row, int group, int from)
{
  for (int w = 0; w < from; ++w)
    narrower_parameters(scale(row, group, from), zero(row, group, from), maxq(from), maxq(w),
                        scale(row, group, w), zero(row, group, w));
}

} // namespace detail

// Sets plan.parameters_from for the widths the allocation uses (in_use, per plan width) and,
// when they follow the widest, derives the narrower widths' parameters in every row and group.
template <class ExecutionSpace>
void derive_from_widest_in_use(ExecutionSpace const &space, QuantizationPlan<ExecutionSpace> &plan,
                               std::vector<bool> const &in_use)
{
  int widest = -1;
  std::size_t used = 0;
  for (std::size_t w = 0; w < in_use.size(); ++w)
    if (in_use[w])
    {
      widest = static_cast<int>(w);
      ++used;
    }
  plan.parameters_from = parameters_follow_widest(plan.options, used) ? widest : -1;
  if (plan.parameters_from < 0)
    return;
  auto const scale = plan.scale;
  auto const zero = plan.zero;
  auto const maxq = plan.maxq;
  int const from = plan.parameters_from;
  int const groups = plan.groups();
  Kokkos::parallel_for(
      "sgpte::derive_narrower_parameters",
      Kokkos::RangePolicy<ExecutionSpace>(space, 0, static_cast<int>(scale.extent(0)) * groups),
      KOKKOS_LAMBDA(int i) {
        detail::derive_narrower(scale, zero, maxq, i / groups, i % groups, from);
      });
}

// Fills plan.scale(:, group, :) and plan.zero(:, group, :) from the current values of
// weight(:, begin:end), for every width of the plan: from the whole range, or, with per-width
// ranges (plan.per_width_ranges(): weight's columns in plan.width_index's order), from the
// columns of each width; the widths narrower than plan.parameters_from (≥ 0) then from its. Per
// channel, `first_row` and `row_count` (≥ 0) restrict it to those rows (a process's share of a
// sweep); per tensor it takes all.
template <class ExecutionSpace>
void find_quantization_parameters(ExecutionSpace const &space, Matrix<ExecutionSpace> const &weight,
                                  int begin, int end, int group,
                                  QuantizationPlan<ExecutionSpace> const &plan, int first_row = 0,
                                  int row_count = -1)
{
  Kokkos::Profiling::pushRegion("sgpte::find_quantization_parameters");
  using WidthIndex = decltype(plan.width_index);
  int const rows = static_cast<int>(weight.extent(0));
  int const count = end - begin;
  int const widths = static_cast<int>(plan.widths.size());
  bool const per_width = plan.per_width_ranges();
  auto const scale = plan.scale;
  auto const zero = plan.zero;
  auto const maxq = plan.maxq;
  auto const width_index = plan.width_index;
  int const parameters_from = plan.parameters_from;
  QuantizerOptions const options = plan.options;
  if (options.per_channel)
  {
    Kokkos::parallel_for(
        "sgpte::per_channel_parameters",
        Kokkos::RangePolicy<ExecutionSpace>(space, first_row,
                                            row_count < 0 ? rows : first_row + row_count),
        KOKKOS_LAMBDA(int row) {
          float xmin = 0.0f, xmax = 0.0f;
          for (int w = 0; w < widths; ++w)
          {
            detail::RowSegment<Matrix<ExecutionSpace>, WidthIndex> const values{
                weight, row, begin, width_index, per_width ? w : -1};
            // The shared range is every width's: found once.
            if (per_width || w == 0)
              detail::value_range(values, count, options.symmetric, xmin, xmax);
            float s, z;
            minmax_parameters(xmin, xmax, maxq(w), options.symmetric, s, z);
            if (options.mse)
              detail::mse_parameters(values, count, xmin, xmax, maxq(w), options, s, z);
            scale(row, group, w) = s;
            zero(row, group, w) = z;
          }
          detail::derive_narrower(scale, zero, maxq, row, group, parameters_from);
        });
  }
  else
  {
    // One range for the whole column block (per-width ranges are per channel only); the
    // widths are few, so their parameters (and the MSE search over all entries) are computed
    // by a single team.
    detail::BlockSegment<Matrix<ExecutionSpace>, WidthIndex> const values{weight, begin, rows,
                                                                          width_index, -1};
    Kokkos::MinMaxScalar<float> range;
    Kokkos::parallel_reduce(
        "sgpte::per_tensor_range",
        Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>(
            space, 0, static_cast<std::int64_t>(rows) * count),
        KOKKOS_LAMBDA(std::int64_t i, Kokkos::MinMaxScalar<float> & partial) {
          float const x = values(static_cast<int>(i));
          partial.min_val = x < partial.min_val ? x : partial.min_val;
          partial.max_val = x > partial.max_val ? x : partial.max_val;
        },
        Kokkos::MinMax<float>(range));
    float xmin = range.min_val < 0.0f ? range.min_val : 0.0f;
    float xmax = range.max_val > 0.0f ? range.max_val : 0.0f;
    adjust_range(xmin, xmax, options.symmetric);
    Kokkos::parallel_for(
        "sgpte::per_tensor_parameters", Kokkos::RangePolicy<ExecutionSpace>(space, 0, 1),
        KOKKOS_LAMBDA(int) {
          for (int w = 0; w < widths; ++w)
          {
            float s, z;
            minmax_parameters(xmin, xmax, maxq(w), options.symmetric, s, z);
            if (options.mse)
              detail::mse_parameters(values, rows * count, xmin, xmax, maxq(w), options, s, z);
            scale(0, group, w) = s;
            zero(0, group, w) = z;
          }
          detail::derive_narrower(scale, zero, maxq, 0, group, parameters_from);
        });
  }
  Kokkos::Profiling::popRegion();
}

} // namespace sgpte

#endif
