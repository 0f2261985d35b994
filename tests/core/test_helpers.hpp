#ifndef SGPTE_TESTS_TEST_HELPERS_HPP
#define SGPTE_TESTS_TEST_HELPERS_HPP

// Shared by the core tests: random layers, host/device copies between Eigen and Kokkos,
// and comparisons that print the offending entries (and small matrices whole) on failure.

#include <sgpte/core/views.hpp>
#include <sgpte/quantization/quantizer.hpp>

#include <Kokkos_Core.hpp>

#include <Eigen/Core>
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace sgpte_test
{

using MatrixXd = Eigen::MatrixXd;
using MatrixXf = Eigen::MatrixXf;

// The values the library sees: expectations computed from them in double are exact.
inline MatrixXd round_to_float(MatrixXd const &m) { return m.cast<float>().cast<double>(); }

inline MatrixXd random_matrix(int rows, int columns, std::mt19937 &generator, double scale = 1.0)
{
  std::normal_distribution<double> normal(0.0, scale);
  MatrixXd m(rows, columns);
  for (int j = 0; j < columns; ++j)
    for (int i = 0; i < rows; ++i)
      m(i, j) = normal(generator);
  return round_to_float(m);
}

// Calibration inputs with heavy tails: a few outlier columns scaled by 20, as in LLMs.
inline MatrixXd random_activations(int tokens, int columns, std::mt19937 &generator, bool heavy_tailed)
{
  MatrixXd x = random_matrix(tokens, columns, generator);
  if (heavy_tailed)
    for (int j = 3; j < columns; j += 37)
      x.col(j) *= 20.0;
  return round_to_float(x);
}

template <class ExecutionSpace>
sgpte::Matrix<ExecutionSpace> to_device(MatrixXd const &m)
{
  sgpte::Matrix<ExecutionSpace> view("sgpte_test::matrix", m.rows(), m.cols());
  auto host = Kokkos::create_mirror_view(view);
  for (int j = 0; j < m.cols(); ++j)
    for (int i = 0; i < m.rows(); ++i)
      host(i, j) = static_cast<float>(m(i, j));
  Kokkos::deep_copy(view, host);
  return view;
}

// A quantization plan of these widths and options, with its maxq and zeroed (scale, zero)
// views of parameter_rows × groups × widths, ready for find_quantization_parameters.
template <class ExecutionSpace>
sgpte::QuantizationPlan<ExecutionSpace> make_plan(std::vector<int> const &widths,
                                                  sgpte::QuantizerOptions const &options,
                                                  int parameter_rows, int groups)
{
  using Plan = sgpte::QuantizationPlan<ExecutionSpace>;
  Plan plan;
  plan.options = options;
  plan.widths = widths;
  int const count = static_cast<int>(widths.size());
  plan.maxq = sgpte::Vector<ExecutionSpace, float>("sgpte_test::maxq", count);
  auto maxq = Kokkos::create_mirror_view(plan.maxq);
  for (int k = 0; k < count; ++k)
    maxq(k) = static_cast<float>((1 << widths[k]) - 1);
  Kokkos::deep_copy(plan.maxq, maxq);
  plan.scale = typename Plan::parameter_view("sgpte_test::scale", parameter_rows, groups, count);
  plan.zero = typename Plan::parameter_view("sgpte_test::zero", parameter_rows, groups, count);
  return plan;
}

// Row-major tokens × columns, the layout activations come in.
template <class ExecutionSpace>
Kokkos::View<float **, Kokkos::LayoutRight, typename ExecutionSpace::memory_space> to_device_row_major(MatrixXd const &m)
{
  Kokkos::View<float **, Kokkos::LayoutRight, typename ExecutionSpace::memory_space> view("sgpte_test::rows", m.rows(),
                                                                                          m.cols());
  auto host = Kokkos::create_mirror_view(view);
  for (int i = 0; i < m.rows(); ++i)
    for (int j = 0; j < m.cols(); ++j)
      host(i, j) = static_cast<float>(m(i, j));
  Kokkos::deep_copy(view, host);
  return view;
}

template <class View>
MatrixXd to_eigen(View const &view)
{
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  MatrixXd m(view.extent(0), view.extent(1));
  for (int j = 0; j < m.cols(); ++j)
    for (int i = 0; i < m.rows(); ++i)
      m(i, j) = host(i, j);
  return m;
}

template <class View>
std::vector<typename View::non_const_value_type> to_vector(View const &view)
{
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  return std::vector<typename View::non_const_value_type>(host.data(), host.data() + host.extent(0));
}

inline std::string describe(MatrixXd const &m)
{
  std::ostringstream out;
  if (m.rows() <= 8 && m.cols() <= 8)
    out << "\n" << m << "\n";
  else
    out << " (" << m.rows() << "x" << m.cols() << ")";
  return out.str();
}

// Entrywise bound of an fp32 product with inner dimension k: |Ĉ − C| ≤ γ_k |A||B| with
// γ_k ≈ k·2⁻²⁴ (any summation order, blocked or not), plus the rounding of the inputs
// C already holds (beta C); doubled for margin.
inline double product_error_bound(int k, double magnitude)
{
  return 2.0 * (k + 2) * 6e-8 * magnitude;
}

// Fraction of entries with |a − b| <= tolerance; reports the worst entries when asked.
inline double fraction_within(MatrixXd const &a, MatrixXd const &b, double tolerance, std::string *worst = nullptr)
{
  BOOST_REQUIRE_EQUAL(a.rows(), b.rows());
  BOOST_REQUIRE_EQUAL(a.cols(), b.cols());
  std::int64_t within = 0;
  double largest = -1.0;
  Eigen::Index worst_i = 0, worst_j = 0;
  for (Eigen::Index j = 0; j < a.cols(); ++j)
    for (Eigen::Index i = 0; i < a.rows(); ++i)
    {
      double const d = std::abs(a(i, j) - b(i, j));
      within += d <= tolerance ? 1 : 0;
      if (d > largest)
      {
        largest = d;
        worst_i = i;
        worst_j = j;
      }
    }
  if (worst)
  {
    std::ostringstream out;
    out << "largest difference " << largest << " at (" << worst_i << ", " << worst_j << "): " << a(worst_i, worst_j)
        << " vs " << b(worst_i, worst_j) << describe(a - b);
    *worst = out.str();
  }
  return static_cast<double>(within) / static_cast<double>(a.size());
}

// Pruned entries of a mask bitmap (rows × words) as a boolean matrix.
template <class MaskView>
Eigen::Matrix<bool, Eigen::Dynamic, Eigen::Dynamic> mask_matrix(MaskView const &mask, int columns)
{
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), mask);
  Eigen::Matrix<bool, Eigen::Dynamic, Eigen::Dynamic> m(mask.extent(0), columns);
  for (int j = 0; j < columns; ++j)
    for (int i = 0; i < m.rows(); ++i)
      m(i, j) = ((host(i, j / 32) >> (j % 32)) & 1u) != 0;
  return m;
}

} // namespace sgpte_test

#endif
