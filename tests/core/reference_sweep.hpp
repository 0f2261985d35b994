#ifndef SGPTE_TESTS_REFERENCE_SWEEP_HPP
#define SGPTE_TESTS_REFERENCE_SWEEP_HPP

// A plain, unblocked reference of fasterprune in Eigen double precision, written from
// SPEC §3–§7 and the reference implementation's semantics without any of the library's
// code: every column's OBS error is applied to all later columns at once (no lazy block
// update), H⁻¹ is formed explicitly and its upper Cholesky factor taken, masks are chosen
// with a full sort. The blocked library sweep must agree with it.
//
// Block structure still matters for the definitions themselves: unstructured masks are
// chosen per block from the weights at the block's start, and (as in GPTQ) the quantizer
// parameters of a group are taken from the weights at the start of the block holding the
// group's first column.

#include <sgpte/layer/compression_options.hpp>

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <Eigen/LU>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <utility>
#include <vector>

namespace sgpte_test
{

using MaskMatrix = Eigen::Matrix<bool, Eigen::Dynamic, Eigen::Dynamic>;

struct ReferenceResult
{
  Eigen::MatrixXd weight;
  MaskMatrix pruned;
  double loss = 0.0;
};

// quant.py in float: find_params for one range, then quantize.
struct ReferenceQuantizer
{
  float scale = 1.0f;
  float zero = 0.0f;
  float maxq = 1.0f;

  // xmin, xmax: quant.py's range after its adjustments (see adjusted_range).
  static ReferenceQuantizer from_range(float xmin, float xmax, int bits, bool symmetric)
  {
    ReferenceQuantizer q;
    q.maxq = static_cast<float>((1 << bits) - 1);
    q.scale = (xmax - xmin) / q.maxq;
    q.zero = symmetric ? (q.maxq + 1.0f) / 2.0f : std::nearbyint(-xmin / q.scale);
    return q;
  }

  // The row range with 0 included, made symmetric, and [−1, 1] for an all-zero row.
  static std::pair<float, float> adjusted_range(std::vector<float> const &values, bool symmetric)
  {
    float xmin = 0.0f, xmax = 0.0f;
    for (float v : values)
    {
      xmin = std::min(xmin, v);
      xmax = std::max(xmax, v);
    }
    if (symmetric)
    {
      xmax = std::max(std::abs(xmin), xmax);
      if (xmin < 0.0f)
        xmin = -xmax;
    }
    if (xmin == 0.0f && xmax == 0.0f)
      return {-1.0f, 1.0f};
    return {xmin, xmax};
  }

  double operator()(double x) const
  {
    float const code = std::clamp(std::nearbyint(static_cast<float>(x) / scale) + zero, 0.0f, maxq);
    return static_cast<double>(scale * (code - zero));
  }
};

// MSE grid search of quant.py over the given values.
inline ReferenceQuantizer reference_mse_quantizer(std::vector<float> const &values, int bits,
                                                  sgpte::QuantizerOptions const &options)
{
  auto const [xmin, xmax] = ReferenceQuantizer::adjusted_range(values, options.symmetric);
  ReferenceQuantizer best = ReferenceQuantizer::from_range(xmin, xmax, bits, options.symmetric);
  if (!options.mse)
    return best;
  float best_error = 0.0f;
  for (int i = 0; i < static_cast<int>(static_cast<double>(options.max_shrink) * options.grid); ++i)
  {
    float const p = static_cast<float>(1.0 - static_cast<double>(i) / options.grid);
    ReferenceQuantizer candidate = best;
    candidate.scale = (p * xmax - p * xmin) / candidate.maxq;
    if (!options.symmetric)
      candidate.zero = std::nearbyint(-(p * xmin) / candidate.scale);
    float error = 0.0f;
    for (float v : values)
      error += std::pow(std::abs(static_cast<float>(candidate(v)) - v), options.norm);
    if (i == 0 || error < best_error)
    {
      best_error = error;
      best = candidate;
    }
  }
  return best;
}

// Quantizers per (parameter row, bits) for the columns [begin, end) of w.
inline std::vector<std::vector<ReferenceQuantizer>> reference_quantizers(Eigen::MatrixXd const &w, int begin, int end,
                                                                         sgpte::QuantizerOptions const &options)
{
  int const parameter_rows = options.per_channel ? static_cast<int>(w.rows()) : 1;
  std::vector<std::vector<ReferenceQuantizer>> quantizers(parameter_rows, std::vector<ReferenceQuantizer>(17));
  for (int p = 0; p < parameter_rows; ++p)
  {
    std::vector<float> values;
    for (int c = begin; c < end; ++c)
      for (int r = options.per_channel ? p : 0; r < (options.per_channel ? p + 1 : w.rows()); ++r)
        values.push_back(static_cast<float>(w(r, c)));
    for (int bits = 1; bits <= 16; ++bits)
      quantizers[p][bits] = reference_mse_quantizer(values, bits, options);
  }
  return quantizers;
}

// Per-width ranges (QuantizerRange::per_width): width b's parameters from the columns of width
// b alone (column_bits, the same order as w's columns), the other columns read as zero.
inline std::vector<std::vector<ReferenceQuantizer>>
reference_width_quantizers(Eigen::MatrixXd const &w, int begin, int end,
                           sgpte::QuantizerOptions const &options,
                           std::vector<int> const &column_bits)
{
  auto quantizers = reference_quantizers(w, begin, end, options);
  for (int bits = 1; bits <= 16; ++bits)
  {
    Eigen::MatrixXd only = w;
    for (int c = begin; c < end; ++c)
      if (column_bits[c] != bits)
        only.col(c).setZero();
    auto const own = reference_quantizers(only, begin, end, options);
    for (std::size_t p = 0; p < quantizers.size(); ++p)
      quantizers[p][bits] = own[p][bits];
  }
  return quantizers;
}

// Mixed precision from the shared range without the MSE search: the narrower widths in use
// take their parameters from the widest's, scale · maxq_widest / maxq and
// round(zero · maxq / maxq_widest) (the packed format stores the widest's alone).
inline void reference_follow_widest(std::vector<std::vector<ReferenceQuantizer>> &quantizers,
                                    std::vector<int> const &bits,
                                    sgpte::QuantizerOptions const &options)
{
  std::set<int> used(bits.begin(), bits.end());
  used.erase(0);
  if (used.size() < 2 || options.range != sgpte::QuantizerRange::shared || options.mse)
    return;
  int const widest = *used.rbegin();
  for (auto &row : quantizers)
    for (int b = 1; b < widest; ++b)
    {
      row[b].scale = row[widest].scale * row[widest].maxq / row[b].maxq;
      row[b].zero = std::nearbyint(row[widest].zero * row[b].maxq / row[widest].maxq);
    }
}

// weight: rows × columns (float values); hessian: as accumulated (float values);
// bits: per original column, 0 = not quantized.
inline ReferenceResult reference_fasterprune(Eigen::MatrixXd weight, Eigen::MatrixXd hessian,
                                             sgpte::CompressionOptions const &options, std::vector<int> const &bits)
{
  int const rows = static_cast<int>(weight.rows());
  int const columns = static_cast<int>(weight.cols());
  auto const &qopt = options.quantizer;
  bool const grouped = qopt.group_size > 0;
  // Without groups, the parameters come from the untouched weights.
  std::vector<std::vector<ReferenceQuantizer>> quantizers;
  if (!grouped)
    quantizers = reference_quantizers(weight, 0, columns, qopt);

  for (int j = 0; j < columns; ++j)
    if (hessian(j, j) == 0.0)
    {
      hessian(j, j) = 1.0;
      weight.col(j).setZero();
    }
  // Per-width ranges follow the allocation and see dead columns as the zeros they become.
  bool const per_width = qopt.range == sgpte::QuantizerRange::per_width;
  if (per_width && !grouped)
    quantizers = reference_width_quantizers(weight, 0, columns, qopt, bits);
  reference_follow_widest(quantizers, bits, qopt);
  std::vector<int> order(columns);
  std::iota(order.begin(), order.end(), 0);
  if (qopt.act_order)
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return hessian(a, a) > hessian(b, b); });
  Eigen::MatrixXd w(rows, columns), h(columns, columns);
  std::vector<int> column_bits(columns);
  for (int k = 0; k < columns; ++k)
  {
    w.col(k) = weight.col(order[k]);
    column_bits[k] = bits[order[k]];
    for (int l = 0; l < columns; ++l)
      h(k, l) = hessian(order[k], order[l]);
  }

  h.diagonal().array() += options.percdamp * h.diagonal().mean();
  Eigen::MatrixXd const inverse = h.llt().solve(Eigen::MatrixXd::Identity(columns, columns));
  Eigen::MatrixXd const u = inverse.llt().matrixU();

  MaskMatrix pruned = MaskMatrix::Constant(rows, columns, false);
  double loss = 0.0;
  bool const unstructured = options.prune_n == 0 && options.sparsity > 0.0;
  for (int begin = 0; begin < columns; begin += options.block_size)
  {
    int const end = std::min(begin + options.block_size, columns);
    Eigen::MatrixXd const at_block_start = w;
    if (unstructured)
    {
      std::vector<double> scores;
      for (int j = begin; j < end; ++j)
        for (int r = 0; r < rows; ++r)
          scores.push_back(w(r, j) * w(r, j) / (u(j, j) * u(j, j)));
      std::vector<double> sorted = scores;
      std::sort(sorted.begin(), sorted.end());
      double const threshold = sorted[static_cast<std::size_t>(static_cast<double>(sorted.size()) * options.sparsity)];
      for (int j = begin; j < end; ++j)
        for (int r = 0; r < rows; ++r)
          pruned(r, j) = w(r, j) * w(r, j) / (u(j, j) * u(j, j)) <= threshold;
    }
    for (int i = begin; i < end; ++i)
    {
      if (grouped && i % qopt.group_size == 0)
        quantizers = per_width ? reference_width_quantizers(at_block_start, i,
                                                            std::min(i + qopt.group_size, columns),
                                                            qopt, column_bits)
                               : reference_quantizers(at_block_start, i,
                                                      std::min(i + qopt.group_size, columns), qopt);
      if (grouped && i % qopt.group_size == 0)
        reference_follow_widest(quantizers, bits, qopt);
      if (options.prune_n > 0 && (i - begin) % options.prune_m == 0)
      {
        int const window_end = std::min(i + options.prune_m, end);
        for (int r = 0; r < rows; ++r)
        {
          std::vector<int> window(window_end - i);
          std::iota(window.begin(), window.end(), i);
          std::stable_sort(window.begin(), window.end(), [&](int a, int b) {
            return w(r, a) * w(r, a) / (u(a, a) * u(a, a)) < w(r, b) * w(r, b) / (u(b, b) * u(b, b));
          });
          for (int n = 0; n < options.prune_n && n < static_cast<int>(window.size()); ++n)
            pruned(r, window[n]) = true;
        }
      }
      for (int r = 0; r < rows; ++r)
      {
        double const value = w(r, i);
        double q = 0.0;
        if (!pruned(r, i))
          q = column_bits[i] > 0 ? quantizers[qopt.per_channel ? r : 0][column_bits[i]](value) : value;
        double const d = u(i, i);
        loss += (value - q) * (value - q) / (d * d) / 2.0;
        double const error = (value - q) / d;
        for (int j = i + 1; j < columns; ++j)
          w(r, j) -= error * u(i, j);
        w(r, i) = q;
      }
    }
  }

  ReferenceResult result;
  result.weight.resize(rows, columns);
  result.pruned.resize(rows, columns);
  for (int k = 0; k < columns; ++k)
  {
    result.weight.col(order[k]) = w.col(k);
    result.pruned.col(order[k]) = pruned.col(k);
  }
  result.loss = loss;
  return result;
}

} // namespace sgpte_test

#endif
