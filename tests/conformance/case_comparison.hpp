#ifndef SGPTE_TESTS_CASE_COMPARISON_HPP
#define SGPTE_TESTS_CASE_COMPARISON_HPP

// The conformance criteria of a layer case (issue #2): our W_out against the official
// implementation's on the same W and X.
//   - masks: the zero patterns agree on >= 99.9 % of entries (pruned entries are exact
//     zeros in both; a quantized entry that rounds to zero counts the same in both);
//   - weights: >= 99.9 % of entries (>= 99 % with quantization, where a rounding tie can
//     flip one code and move the rest of its row) within 1e-4 · max|W| of the reference;
//   - layer output error ‖(W_out − W) Xᵀ‖_F within 1 % of the reference's.

#include <Eigen/Core>

#include <cmath>
#include <sstream>
#include <string>

namespace sgpte_test
{

struct CaseComparison
{
  bool quantized = false;
  double zero_pattern_agreement = 0.0;
  double weights_within = 0.0;
  double output_error = 0.0;
  double reference_output_error = 0.0;
  double worst_difference = 0.0;

  double required_within() const { return quantized ? 0.99 : 0.999; }
  bool output_error_matches() const
  {
    return std::abs(output_error - reference_output_error) <= 0.01 * reference_output_error;
  }
  bool passes() const
  {
    return zero_pattern_agreement >= 0.999 && weights_within >= required_within() && output_error_matches();
  }
  std::string report() const
  {
    std::ostringstream out;
    out << "zero patterns agree on " << 100.0 * zero_pattern_agreement << " % (need 99.9), weights within "
        << "1e-4·max|W| on " << 100.0 * weights_within << " % (need " << 100.0 * required_within()
        << "), largest difference " << worst_difference << ", output error " << output_error << " vs reference "
        << reference_output_error << " (" << 100.0 * (output_error / reference_output_error - 1.0)
        << " %, need within 1 %)";
    return out.str();
  }
};

inline CaseComparison compare_case(Eigen::MatrixXd const &w, Eigen::MatrixXd const &x,
                                   Eigen::MatrixXd const &reference, Eigen::MatrixXd const &ours, bool quantized)
{
  CaseComparison result;
  result.quantized = quantized;
  double const tolerance = 1e-4 * w.cwiseAbs().maxCoeff();
  double const entries = static_cast<double>(w.size());
  result.zero_pattern_agreement = ((ours.array() == 0.0) == (reference.array() == 0.0)).count() / entries;
  Eigen::ArrayXXd const difference = (ours - reference).cwiseAbs().array();
  result.weights_within = (difference <= tolerance).count() / entries;
  result.worst_difference = difference.maxCoeff();
  result.output_error = ((ours - w) * x.transpose()).norm();
  result.reference_output_error = ((reference - w) * x.transpose()).norm();
  return result;
}

} // namespace sgpte_test

#endif
