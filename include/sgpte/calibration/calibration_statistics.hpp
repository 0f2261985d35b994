#ifndef SGPTE_CALIBRATION_CALIBRATION_STATISTICS_HPP
#define SGPTE_CALIBRATION_CALIBRATION_STATISTICS_HPP

// Calibration statistics of one linear layer y = W x (SPEC §2): the Hessian of the
// layer-wise reconstruction error and, per input column, the mean |x|, the mean and the
// population variance of x over all tokens. Batches of any size update them as running
// averages; memory does not grow with the number of tokens.
//
// H follows the reference's update rule H *= n/(n+t); n += t; H += (2/n) XᵀX, where t
// counts *samples*, as the reference does: it treats a 2-D batch (tokens × columns) as one
// sample, so H = (2/S) Σ XᵀX over the S samples seen. That is a constant multiple of the
// per-token average SPEC §2 writes, and the constant matters: the dead-column rule
// (H_jj = 0 → 1) and with it the damping are not scale-invariant, so only the reference's
// count reproduces its results. Pass samples = tokens for a per-token average.

#include <sgpte/backends/completion_event.hpp>
#include <sgpte/backends/rank_k_update_into.hpp>
#include <sgpte/backends/symmetric_rank_k_update.hpp>
#include <sgpte/calibration/detail/column_statistics.hpp>
#include <sgpte/calibration/detail/gram_update.hpp>
#include <sgpte/calibration/host_statistics.hpp>
#include <sgpte/core/error.hpp>
#include <sgpte/core/half_precision.hpp>
#include <sgpte/core/product_precision.hpp>
#include <sgpte/core/views.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <utility>

namespace sgpte
{

template <class ExecutionSpace>
class CalibrationStatistics
{
public:
  using execution_space = ExecutionSpace;
  using memory_space = typename ExecutionSpace::memory_space;

  CalibrationStatistics(ExecutionSpace const &space, int columns)
      : _hessian(Kokkos::view_alloc(space, "sgpte::hessian"), columns, columns),
        _columns(space, columns), _merged_columns(space, columns),
        _column_checks("sgpte::calibration_checks", columns > 0 ? columns : 0)
  {
    if (columns <= 0)
      throw InvalidArgument("calibration statistics need at least one input column, got " +
                            std::to_string(columns));
  }

  // inputs: tokens × columns, any layout, float, float16 or bfloat16 (a half-precision forward
  // pass's activations), holding `samples` calibration samples (sequences). Throws
  // NumericalError if it holds NaN or Inf, or values so large that XᵀX would overflow float
  // (the statistics are then left unchanged). An empty batch changes nothing. Half-precision
  // inputs are taken as the exact values they hold: every statistic is accumulated in float
  // or double as for float inputs (see detail::half_gram_update for XᵀX).
  template <class InputView>
  void add_batch(ExecutionSpace const &space, InputView const &inputs, std::int64_t samples = 1);

  // The arithmetic of the batches' XᵀX (fp32 unless set; tf32 where
  // backends::supports_tf32_products, else InvalidArgument). Applies to the batches added after.
  void set_product_precision(ProductPrecision precision)
  {
    if (precision == ProductPrecision::tf32 && !backends::supports_tf32_products<ExecutionSpace>)
      throw InvalidArgument(std::string("TF32 calibration statistics need the Cuda backend with "
                                        "cuBLAS, not ") +
                            ExecutionSpace::name());
    _precision = precision;
  }
  ProductPrecision product_precision() const { return _precision; }

  int columns() const { return static_cast<int>(_columns.mean.extent(0)); }
  std::int64_t tokens() const { return _tokens; }
  std::int64_t samples() const { return _samples; }

  // H = (2/S) Σ XᵀX over the S samples, columns × columns. The batches update its lower
  // triangle only (half the work of the whole product where a vendor syrk serves the
  // backend); this completes the upper one on the instance when batches came since the last
  // call. Released by release_hessian(). A batch may leave H in another buffer (the staged
  // update): a view of H kept from before a batch does not see that batch.
  Matrix<ExecutionSpace> const &hessian(ExecutionSpace const &space)
  {
    require_hessian();
    if (_upper_behind)
    {
      backends::mirror_lower_to_upper(space, _hessian);
      _upper_behind = false;
    }
    return _hessian;
  }
  void release_hessian()
  {
    _hessian = Matrix<ExecutionSpace>();
    _next_hessian = Matrix<ExecutionSpace>();
    _product_workspace.release();
  }

  // Takes over the statistics of another layer fed the same inputs (OPT's q, k and v
  // projections), instead of accumulating them again.
  void copy_from(ExecutionSpace const &space, CalibrationStatistics const &other)
  {
    other.require_hessian();
    copy_statistics(space, other._hessian, other._columns.mean_abs, other._columns.mean,
                    other._columns.m2);
    _tokens = other._tokens;
    _samples = other._samples;
    _upper_behind = other._upper_behind;
  }

  // A copy in host memory (completes H's upper triangle first), e.g. to merge it with the
  // statistics of other calibration samples (merge_statistics). A copy on host backends too,
  // where a mirror view would be the statistics' own views.
  HostCalibrationStatistics to_host(ExecutionSpace const &space)
  {
    auto const copy = [&space](auto const &view)
    {
      auto host = Kokkos::create_mirror(Kokkos::HostSpace(), view);
      Kokkos::deep_copy(space, host, view);
      return host;
    };
    HostCalibrationStatistics host;
    host.hessian = copy(hessian(space));
    host.mean_abs = copy(_columns.mean_abs);
    host.mean = copy(_columns.mean);
    host.m2 = copy(_columns.m2);
    space.fence();
    host.tokens = _tokens;
    host.samples = _samples;
    return host;
  }

  // Replaces the statistics with `host` (of as many columns), e.g. with the merged statistics
  // of all processes' samples.
  void assign(ExecutionSpace const &space, HostCalibrationStatistics const &host)
  {
    copy_statistics(space, host.hessian, host.mean_abs, host.mean, host.m2);
    space.fence(); // `host` may go before the copies ran
    _tokens = host.tokens;
    _samples = host.samples;
    _upper_behind = false;
  }

  Vector<ExecutionSpace, double> const &column_mean_abs() const { return _columns.mean_abs; }
  Vector<ExecutionSpace, double> const &column_mean() const { return _columns.mean; }
  // Σ (x − mean)² per column; the population variance is m2 / tokens().
  Vector<ExecutionSpace, double> const &column_m2() const { return _columns.m2; }

private:
  void require_hessian() const
  {
    if (_hessian.data() == nullptr)
      throw InvalidArgument("the Hessian of this layer was already released");
  }

  // copy_from's and assign's copy: refuses a source of another column count, then copies its
  // H and column statistics into these on `space`.
  template <class HessianView, class ColumnView>
  void copy_statistics(ExecutionSpace const &space, HessianView const &hessian,
                       ColumnView const &mean_abs, ColumnView const &mean, ColumnView const &m2)
  {
    int const source_columns = static_cast<int>(mean.extent(0));
    if (source_columns != columns())
      throw InvalidArgument("cannot take calibration statistics of " +
                            std::to_string(source_columns) + " input columns into statistics of " +
                            std::to_string(columns()));
    require_hessian();
    Kokkos::deep_copy(space, _hessian, hessian);
    Kokkos::deep_copy(space, _columns.mean_abs, mean_abs);
    Kokkos::deep_copy(space, _columns.mean, mean);
    Kokkos::deep_copy(space, _columns.m2, m2);
  }

  Matrix<ExecutionSpace> _hessian;
  detail::ColumnStatistics<ExecutionSpace> _columns;
  // add_batch's workspaces: the column statistics with the batch merged in, which replace
  // _columns once the batch is accepted; the host's chunk sums; the check per column; where
  // add_batch stages the update (detail::stages_gram_update), H with the batch added, which
  // replaces _hessian once the batch is accepted, and the product's workspace.
  detail::ColumnStatistics<ExecutionSpace> _merged_columns;
  detail::ChunkSums<ExecutionSpace> _chunk_sums;
  detail::ColumnChecks<ExecutionSpace> _column_checks;
  Matrix<ExecutionSpace> _next_hessian;
  backends::RankKUpdateWorkspace<ExecutionSpace> _product_workspace;
  backends::CompletionEvent<ExecutionSpace> _checked;
  ProductPrecision _precision = ProductPrecision::fp32;
  std::int64_t _tokens = 0;
  std::int64_t _samples = 0;
  bool _upper_behind = false; // the upper triangle of H lags its lower one
};

template <class ExecutionSpace>
template <class InputView>
void CalibrationStatistics<ExecutionSpace>::add_batch(ExecutionSpace const &space,
                                                      InputView const &inputs, std::int64_t samples)
{
  static_assert(Kokkos::is_view<InputView>::value, "inputs must be a Kokkos::View");
  static_assert(InputView::rank == 2, "inputs must be tokens × columns");
  using Value = typename InputView::non_const_value_type;
  static_assert(std::is_same<Value, float>::value || is_half_v<Value>,
                "inputs must hold float, float16 or bfloat16");
  static_assert(detail::is_accessible_from_v<ExecutionSpace, typename InputView::memory_space>,
                "inputs must be accessible from the execution space");

  if (static_cast<int>(inputs.extent(1)) != columns())
    throw InvalidArgument("calibration batch has " + std::to_string(inputs.extent(1)) +
                          " columns but the layer has " + std::to_string(columns()) +
                          " input columns");
  std::int64_t const batch_tokens = static_cast<std::int64_t>(inputs.extent(0));
  if (batch_tokens == 0)
    return;
  if (samples < 1)
    throw InvalidArgument("a calibration batch holds at least one sample, got " +
                          std::to_string(samples));
  require_hessian();

  Kokkos::Profiling::pushRegion("sgpte::add_batch");
  detail::column_statistics(space, inputs, _tokens, _columns, _merged_columns, _column_checks,
                            _chunk_sums);
  _checked.record(space);

  // The reference's update H *= n/(n+t); n += t; H += (2/n) XᵀX as one BLAS call (its lower
  // triangle), in place or, staged, beside H.
  std::int64_t const total = _samples + samples;
  float const alpha = static_cast<float>(2.0 / static_cast<double>(total));
  float const beta = static_cast<float>(static_cast<double>(_samples) / static_cast<double>(total));
  // Half-precision batches are not staged: their product is another call (half_gram_update).
  bool const staged = !is_half_v<Value> && detail::stages_gram_update<ExecutionSpace>(columns());
  if constexpr (!is_half_v<Value>)
    if (staged)
    {
      if (_next_hessian.data() == nullptr)
        _next_hessian = Matrix<ExecutionSpace>(
            Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::next_hessian"),
            columns(), columns());
      detail::gram_update_into(space, alpha, inputs, beta, _hessian, _next_hessian, _precision,
                               _product_workspace);
    }

  _checked.wait();
  int worst = 0; // the first of the worst columns
  for (int column = 1; column < columns(); ++column)
    if (_column_checks(column) > _column_checks(worst))
      worst = column;
  if (double const value = _column_checks(worst); value > detail::max_column_square_sum)
  {
    Kokkos::Profiling::popRegion();
    std::ostringstream message;
    if (value == detail::poisoned_column)
      message << "calibration batch holds NaN or Inf values (input column " << worst << ")";
    else
      message << "calibration batch overflows the float Hessian: column " << worst
              << " has a sum of squares of " << value << " over the batch (at most "
              << detail::max_column_square_sum << " fits); the activations are too large";
    throw NumericalError(message.str());
  }
  std::swap(_columns, _merged_columns);
  if (staged)
    std::swap(_hessian, _next_hessian);
  else if constexpr (is_half_v<Value>)
    detail::half_gram_update(space, alpha, inputs, beta, _hessian);
  else
    detail::gram_update_lower(space, alpha, inputs, beta, _hessian, _precision);
  _upper_behind = true;
  _samples = total;
  _tokens += batch_tokens;
  Kokkos::Profiling::popRegion();
}

} // namespace sgpte

#endif
