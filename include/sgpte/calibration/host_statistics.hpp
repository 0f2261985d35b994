#ifndef SGPTE_CALIBRATION_HOST_STATISTICS_HPP
#define SGPTE_CALIBRATION_HOST_STATISTICS_HPP

// Calibration statistics in host memory (CalibrationStatistics::to_host), and the merge of
// two of them into the statistics of all their samples: processes that each accumulated a
// share of the calibration windows combine their statistics this way (distributed/).

#include <sgpte/core/error.hpp>
#include <sgpte/core/views.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>
#include <string>

namespace sgpte
{

struct HostCalibrationStatistics
{
  HostMatrix hessian; // H = (2/samples) Σ XᵀX, both triangles
  Kokkos::View<double *, Kokkos::HostSpace> mean_abs, mean, m2;
  std::int64_t tokens = 0;
  std::int64_t samples = 0;

  int columns() const { return static_cast<int>(mean.extent(0)); }
};

// Statistics of `columns` input columns and no samples.
inline HostCalibrationStatistics empty_host_statistics(int columns)
{
  HostCalibrationStatistics statistics;
  statistics.hessian = HostMatrix("sgpte::host_hessian", columns, columns);
  statistics.mean_abs = Kokkos::View<double *, Kokkos::HostSpace>("sgpte::host_mean_abs", columns);
  statistics.mean = Kokkos::View<double *, Kokkos::HostSpace>("sgpte::host_mean", columns);
  statistics.m2 = Kokkos::View<double *, Kokkos::HostSpace>("sgpte::host_m2", columns);
  return statistics;
}

// `into` becomes the statistics of both sample sets, as if one CalibrationStatistics had seen
// all their batches (up to rounding): H is the sample-weighted mean of the two, computed in
// double and rounded to float once; the column statistics merge with Chan et al.'s update, as
// add_batch merges a batch. A side without samples leaves the other unchanged, bit for bit.
inline void merge_statistics(HostCalibrationStatistics &into,
                             HostCalibrationStatistics const &other)
{
  if (other.columns() != into.columns())
    throw InvalidArgument("cannot merge calibration statistics of " +
                          std::to_string(other.columns()) + " input columns into statistics of " +
                          std::to_string(into.columns()));
  if (other.samples == 0)
    return;
  if (into.samples == 0)
  {
    Kokkos::deep_copy(into.hessian, other.hessian);
    Kokkos::deep_copy(into.mean_abs, other.mean_abs);
    Kokkos::deep_copy(into.mean, other.mean);
    Kokkos::deep_copy(into.m2, other.m2);
    into.tokens = other.tokens;
    into.samples = other.samples;
    return;
  }
  double const samples = static_cast<double>(into.samples + other.samples);
  double const into_weight = static_cast<double>(into.samples) / samples;
  double const other_weight = static_cast<double>(other.samples) / samples;
  int const columns = into.columns();
  for (int j = 0; j < columns; ++j)
    for (int i = 0; i < columns; ++i)
      into.hessian(i, j) =
          static_cast<float>(into_weight * into.hessian(i, j) + other_weight * other.hessian(i, j));
  double const n_a = static_cast<double>(into.tokens);
  double const n_b = static_cast<double>(other.tokens);
  double const n = n_a + n_b;
  for (int j = 0; j < columns; ++j)
  {
    double const delta = other.mean(j) - into.mean(j);
    into.m2(j) += other.m2(j) + delta * delta * (n_a * n_b / n);
    into.mean(j) += delta * (n_b / n);
    into.mean_abs(j) = (into.mean_abs(j) * n_a + other.mean_abs(j) * n_b) / n;
  }
  into.tokens += other.tokens;
  into.samples += other.samples;
}

} // namespace sgpte

#endif
