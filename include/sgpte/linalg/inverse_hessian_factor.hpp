#ifndef SGPTE_LINALG_INVERSE_HESSIAN_FACTOR_HPP
#define SGPTE_LINALG_INVERSE_HESSIAN_FACTOR_HPP

// The inverse-Hessian factor of SPEC §3: damp H by percdamp · mean(diag H), factorise,
// and when H + damping is not positive definite retry with ten times the damping, up to a
// limit. The result is the lower-triangular L with (H + damping)⁻¹ = L Lᵀ (the transpose
// of the reference's upper factor U).

#include <sgpte/backends/spd_inverse_factor.hpp>
#include <sgpte/core/error.hpp>
#include <sgpte/core/views.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <sstream>
#include <string>

namespace sgpte
{

struct FactorizationReport
{
  double percdamp = 0.0; // the damping fraction that succeeded
  int retries = 0;       // how many times it was multiplied by ten
};

template <class ExecutionSpace>
double mean_diagonal(ExecutionSpace const &space, Matrix<ExecutionSpace> const &matrix)
{
  int const n = static_cast<int>(matrix.extent(0));
  double sum = 0.0;
  Kokkos::parallel_reduce(
      "sgpte::mean_diagonal", Kokkos::RangePolicy<ExecutionSpace>(space, 0, n),
      KOKKOS_LAMBDA(int j, double &partial) { partial += matrix(j, j); }, sum);
  return sum / n;
}

// hessian: columns × columns, dead columns already set to H_jj = 1; left unchanged.
// lower: columns × columns, overwritten.
template <class ExecutionSpace>
FactorizationReport inverse_hessian_factor(ExecutionSpace const &space, Matrix<ExecutionSpace> const &hessian,
                                           double percdamp, int max_retries,
                                           Matrix<ExecutionSpace> const &lower,
                                           std::string const &layer_name)
{
  if (!std::isfinite(percdamp) || percdamp < 0.0)
    throw InvalidArgument("percdamp must be a finite non-negative number");
  if (max_retries < 0)
    throw InvalidArgument("the number of damping retries must be non-negative");
  Kokkos::Profiling::pushRegion("sgpte::inverse_hessian_factor");
  double const mean = mean_diagonal(space, hessian);
  FactorizationReport report{percdamp, 0};
  while (!backends::spd_inverse_lower_factor(space, hessian, report.percdamp * mean, lower))
  {
    if (report.retries == max_retries)
    {
      Kokkos::Profiling::popRegion();
      std::ostringstream message;
      message << "layer '" << layer_name << "': the Hessian is not positive definite even with damping "
              << report.percdamp << " × mean(diag H) (percdamp " << percdamp << ", " << max_retries
              << " retries with ten times the damping)";
      throw NumericalError(message.str());
    }
    ++report.retries;
    // Undamped factorisations that fail restart from a damping small enough not to
    // change a well-conditioned layer.
    report.percdamp = report.percdamp > 0.0 ? report.percdamp * 10.0 : 1e-6;
  }
  Kokkos::Profiling::popRegion();
  return report;
}

} // namespace sgpte

#endif
