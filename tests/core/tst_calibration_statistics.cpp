// Calibration statistics (SPEC §2) against direct double-precision formulas over all the
// tokens at once, for batches of any size and layout.

#include <sgpte/calibration/calibration_statistics.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "sgpte_enable_device_types.hpp"
#include "test_helpers.hpp"
#include "trap_invalid_operations.hpp"

namespace
{

// `statistics` against direct double-precision formulas over the tokens x they were fed as
// `samples` samples: H = (2/samples) XᵀX within float GEMM partial sums over all the tokens
// and a few rescalings, the column statistics within double rounding.
template <class ExecutionSpace>
void require_the_formulas(ExecutionSpace const &space,
                          sgpte::CalibrationStatistics<ExecutionSpace> &statistics,
                          sgpte_test::MatrixXd const &x, int samples)
{
  BOOST_TEST(statistics.tokens() == x.rows());
  BOOST_TEST(statistics.samples() == samples);
  sgpte_test::MatrixXd const expected_h = 2.0 / samples * x.transpose() * x;
  sgpte_test::MatrixXd const h = sgpte_test::to_eigen(statistics.hessian(space));
  double const h_tolerance = 1e-5 * expected_h.cwiseAbs().maxCoeff();
  std::string worst;
  BOOST_TEST(sgpte_test::fraction_within(h, expected_h, h_tolerance, &worst) == 1.0, worst);

  auto const mean_abs = sgpte_test::to_vector(statistics.column_mean_abs());
  auto const mean = sgpte_test::to_vector(statistics.column_mean());
  auto const m2 = sgpte_test::to_vector(statistics.column_m2());
  for (int j = 0; j < x.cols(); ++j)
  {
    double const expected_mean = x.col(j).mean();
    double const expected_variance = (x.col(j).array() - expected_mean).square().mean();
    BOOST_TEST(mean_abs[j] == x.col(j).cwiseAbs().mean(), boost::test_tools::tolerance(1e-12));
    BOOST_TEST(mean[j] == expected_mean, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(m2[j] / x.rows() == expected_variance, boost::test_tools::tolerance(1e-9));
  }
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(CalibrationStatistics, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE_TEMPLATE(running_statistics_equal_the_formulas, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  std::mt19937 generator(7);
  int const columns = 37;
  // Batch sizes that straddle the chunks of the column sums (64 tokens on the host, 16 on a
  // GPU, whose team gives a column 64 rows of threads; 513 tokens: 9 host chunks; 1537 and
  // 4500: rows of a GPU team that sum several chunks), including an empty batch. 37 columns:
  // four GPU teams of eight columns and a team with three idle columns.
  std::vector<int> const batches = {1, 300, 0, 513, 1537, 64, 4500};
  int const tokens = 6915;
  sgpte_test::MatrixXd x = sgpte_test::random_activations(tokens, columns, generator, true);
  x.col(4).array() += 1000.0; // a large mean: the naive Σx² − (Σx)² variance would cancel
  x = sgpte_test::round_to_float(x);

  sgpte::CalibrationStatistics<ExecutionSpace> statistics(space, columns);
  int start = 0;
  for (std::size_t b = 0; b < batches.size(); ++b)
  {
    sgpte_test::MatrixXd const batch = x.middleRows(start, batches[b]);
    if (b % 2 == 0)
      statistics.add_batch(space, sgpte_test::to_device_row_major<ExecutionSpace>(batch));
    else
      statistics.add_batch(space, sgpte_test::to_device<ExecutionSpace>(batch));
    start += batches[b];
  }
  // Each call is one sample, as the reference counts a 2-D batch; the empty batch is none.
  require_the_formulas(space, statistics, x, 6);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(samples_weigh_the_hessian, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  std::mt19937 generator(9);
  sgpte_test::MatrixXd const a = sgpte_test::random_matrix(50, 8, generator);
  sgpte_test::MatrixXd const b = sgpte_test::random_matrix(30, 8, generator);
  // Counting tokens as samples gives the per-token average 2/N Σ x xᵀ.
  sgpte::CalibrationStatistics<ExecutionSpace> statistics(space, 8);
  statistics.add_batch(space, sgpte_test::to_device<ExecutionSpace>(a), 50);
  statistics.add_batch(space, sgpte_test::to_device<ExecutionSpace>(b), 30);
  sgpte_test::MatrixXd const expected = 2.0 / 80 * (a.transpose() * a + b.transpose() * b);
  std::string worst;
  BOOST_TEST(sgpte_test::fraction_within(sgpte_test::to_eigen(statistics.hessian(space)), expected,
                                         1e-5 * expected.cwiseAbs().maxCoeff(), &worst) == 1.0,
             worst);
  BOOST_TEST(statistics.samples() == 80);
  BOOST_CHECK_THROW(statistics.add_batch(space, sgpte_test::to_device<ExecutionSpace>(a), 0), sgpte::InvalidArgument);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(copies_equal_statistics_accumulated_from_the_same_inputs, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  std::mt19937 generator(10);
  sgpte::CalibrationStatistics<ExecutionSpace> source(space, 9), accumulated(space, 9),
      copy(space, 9);
  for (int tokens : {70, 130})
  {
    auto const batch =
        sgpte_test::to_device<ExecutionSpace>(sgpte_test::random_matrix(tokens, 9, generator));
    source.add_batch(space, batch, 2);
    accumulated.add_batch(space, batch, 2);
  }
  copy.add_batch(space,
                 sgpte_test::to_device<ExecutionSpace>(sgpte_test::random_matrix(5, 9, generator)));
  copy.hessian(space);           // completed here, while the source's upper triangle still lags
  copy.copy_from(space, source); // replaces what it held
  BOOST_TEST(copy.tokens() == 200);
  BOOST_TEST(copy.samples() == 4);
  // The same kernels on the same inputs: equal to the last bit.
  BOOST_TEST((sgpte_test::to_eigen(copy.hessian(space)) ==
              sgpte_test::to_eigen(accumulated.hessian(space))));
  BOOST_TEST((sgpte_test::to_vector(copy.column_mean()) ==
              sgpte_test::to_vector(accumulated.column_mean())));
  BOOST_TEST(
      (sgpte_test::to_vector(copy.column_m2()) == sgpte_test::to_vector(accumulated.column_m2())));
  BOOST_TEST((sgpte_test::to_vector(copy.column_mean_abs()) ==
              sgpte_test::to_vector(accumulated.column_mean_abs())));
  // A later batch continues from the copied state as from the accumulated one.
  auto const more =
      sgpte_test::to_device<ExecutionSpace>(sgpte_test::random_matrix(40, 9, generator));
  copy.add_batch(space, more);
  accumulated.add_batch(space, more);
  BOOST_TEST((sgpte_test::to_eigen(copy.hessian(space)) ==
              sgpte_test::to_eigen(accumulated.hessian(space))));

  sgpte::CalibrationStatistics<ExecutionSpace> narrower(space, 8);
  BOOST_CHECK_THROW(narrower.copy_from(space, source), sgpte::InvalidArgument);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(staged_update_equals_the_update, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  std::mt19937 generator(11);
  int const columns = 21, tokens = 1030;
  sgpte_test::MatrixXd const x =
      sgpte_test::round_to_float(sgpte_test::random_matrix(tokens, columns, generator));
  sgpte_test::MatrixXd const h0 =
      sgpte_test::round_to_float(sgpte_test::random_matrix(columns, columns, generator));
  sgpte_test::MatrixXd const expected = 0.5 * h0 + 0.25 * x.transpose() * x;
  auto const h = sgpte_test::to_device<ExecutionSpace>(h0);
  // The staged update's output starts as NaN: every entry of its lower triangle is written.
  auto const next = sgpte_test::to_device<ExecutionSpace>(
      sgpte_test::MatrixXd::Constant(columns, columns, std::numeric_limits<double>::quiet_NaN()));
  sgpte::backends::RankKUpdateWorkspace<ExecutionSpace> workspace;
  for (bool const row_major : {true, false})
  {
    if (row_major)
      sgpte::detail::gram_update_into(space, 0.25f,
                                      sgpte_test::to_device_row_major<ExecutionSpace>(x), 0.5f, h,
                                      next, sgpte::ProductPrecision::fp32, workspace);
    else
      sgpte::detail::gram_update_into(space, 0.25f, sgpte_test::to_device<ExecutionSpace>(x), 0.5f,
                                      h, next, sgpte::ProductPrecision::fp32, workspace);
    sgpte_test::MatrixXd const lower =
        sgpte_test::to_eigen(next).template triangularView<Eigen::Lower>();
    sgpte_test::MatrixXd const expected_lower = expected.template triangularView<Eigen::Lower>();
    // float products of `tokens` terms, as in the first test.
    std::string worst;
    BOOST_TEST(sgpte_test::fraction_within(lower, expected_lower,
                                           1e-5 * expected.cwiseAbs().maxCoeff(), &worst) == 1.0,
               worst);
    BOOST_TEST((sgpte_test::to_eigen(h) == h0)); // H is read, not written
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(tf32_products_are_within_tf32_rounding, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  int const columns = 24, tokens = 700;
  sgpte::CalibrationStatistics<ExecutionSpace> statistics(space, columns);
  if constexpr (!sgpte::backends::supports_tf32_products<ExecutionSpace>)
  {
    BOOST_CHECK_THROW(statistics.set_product_precision(sgpte::ProductPrecision::tf32),
                      sgpte::InvalidArgument);
    BOOST_TEST((statistics.product_precision() == sgpte::ProductPrecision::fp32));
  }
  else
  {
    std::mt19937 generator(12);
    std::vector<sgpte_test::MatrixXd> batches;
    for (int b = 0; b < 2; ++b)
    {
      sgpte_test::MatrixXd x =
          sgpte_test::round_to_float(sgpte_test::random_matrix(tokens, columns, generator));
      // Exact in float; TF32 keeps ten mantissa bits, so this column becomes 1.
      x.col(0).setConstant(1.0 + std::ldexp(1.0, -12));
      batches.push_back(x);
    }
    statistics.set_product_precision(sgpte::ProductPrecision::tf32);
    statistics.add_batch(space, sgpte_test::to_device_row_major<ExecutionSpace>(batches[0]));
    statistics.add_batch(space, sgpte_test::to_device<ExecutionSpace>(batches[1]));
    // Two samples: H = (2/2) Σ XᵀX.
    sgpte_test::MatrixXd expected = sgpte_test::MatrixXd::Zero(columns, columns);
    sgpte_test::MatrixXd magnitude = expected;
    for (auto const &x : batches)
    {
      expected += x.transpose() * x;
      magnitude += x.cwiseAbs().transpose() * x.cwiseAbs();
    }
    sgpte_test::MatrixXd const h = sgpte_test::to_eigen(statistics.hessian(space));
    // Each input rounded to TF32 is within 2⁻¹⁰ of itself (truncated or rounded), so each
    // product within 2·2⁻¹⁰ + 2⁻²⁰; the float accumulation of 2 · tokens products and the
    // rescaling add product_error_bound's share.
    std::string worst;
    sgpte_test::MatrixXd const tolerance =
        (std::ldexp(2.0, -10) + std::ldexp(1.0, -20)) * magnitude +
        sgpte_test::product_error_bound(2 * tokens, 1.0) * magnitude;
    sgpte_test::MatrixXd const excess = ((h - expected).cwiseAbs() - tolerance).cwiseMax(0.0);
    BOOST_TEST(sgpte_test::fraction_within(excess, sgpte_test::MatrixXd::Zero(columns, columns),
                                           0.0, &worst) == 1.0,
               worst);
    // TF32 is in use: H(0, 0) sums (1 + 2⁻¹²)² ≈ 1 + 2⁻¹¹ per token, which TF32 makes 1, a
    // relative deficit of ≈ 2⁻¹¹; float arithmetic stays within (2 · tokens + 2) · 2⁻²⁴ ≈ 2⁻¹⁴
    // of the exact sum.
    double const deficit = (expected(0, 0) - h(0, 0)) / expected(0, 0);
    BOOST_TEST(deficit > std::ldexp(1.0, -13), "H(0, 0) is short by " << deficit);
  }
}

namespace
{

// Row-major tokens × columns in Value (float16 or bfloat16), the values of `m` rounded to it.
template <class Value, class ExecutionSpace>
sgpte::RowMajorMatrix<ExecutionSpace, Value> to_device_rows_as(sgpte_test::MatrixXd const &m)
{
  sgpte::RowMajorMatrix<ExecutionSpace, Value> view("sgpte_test::half_rows", m.rows(), m.cols());
  auto host = Kokkos::create_mirror_view(view);
  for (int i = 0; i < m.rows(); ++i)
    for (int j = 0; j < m.cols(); ++j)
      host(i, j) = sgpte::from_float<Value>(static_cast<float>(m(i, j)));
  Kokkos::deep_copy(view, host);
  return view;
}

// Half-precision batches (a half-precision forward pass's activations) give the statistics of
// the values they hold: the column statistics bit for bit those of the same values in float
// (the same kernel), H within the fp32 product bound of the exact XᵀX. Host backends widen the
// batch to float (H then equals the float inputs' bit for bit); Cuda multiplies it on the
// tensor cores in slices of 2048 tokens, with fp32 accumulation.
template <class ExecutionSpace, class Value>
void check_half_inputs()
{
  ExecutionSpace space;
  std::mt19937 generator(21);
  int const columns = 40;
  std::vector<int> const batches = {3000, 2100}; // slices of 2048, 952 and 2048, 52 tokens
  sgpte::CalibrationStatistics<ExecutionSpace> half(space, columns), single(space, columns);
  sgpte_test::MatrixXd expected = sgpte_test::MatrixXd::Zero(columns, columns);
  sgpte_test::MatrixXd magnitude = expected;
  for (int tokens : batches)
  {
    sgpte_test::MatrixXd x = sgpte_test::random_activations(tokens, columns, generator, true);
    x = x.unaryExpr([](double v)
                    { return double(sgpte::rounded_to<Value>(static_cast<float>(v))); });
    half.add_batch(space, to_device_rows_as<Value, ExecutionSpace>(x));
    single.add_batch(space, sgpte_test::to_device_row_major<ExecutionSpace>(x));
    expected += x.transpose() * x;
    magnitude += x.cwiseAbs().transpose() * x.cwiseAbs();
  }
  BOOST_TEST(sgpte_test::to_vector(half.column_mean_abs()) ==
             sgpte_test::to_vector(single.column_mean_abs()));
  BOOST_TEST(sgpte_test::to_vector(half.column_mean()) ==
             sgpte_test::to_vector(single.column_mean()));
  BOOST_TEST(sgpte_test::to_vector(half.column_m2()) == sgpte_test::to_vector(single.column_m2()));
  // Two samples: H = (2/2) Σ XᵀX.
  sgpte_test::MatrixXd const h = sgpte_test::to_eigen(half.hessian(space));
  sgpte_test::MatrixXd const excess =
      ((h - expected).cwiseAbs() - sgpte_test::product_error_bound(batches[0], 1.0) * magnitude)
          .cwiseMax(0.0);
  std::string worst;
  BOOST_TEST(sgpte_test::fraction_within(excess, sgpte_test::MatrixXd::Zero(columns, columns), 0.0,
                                         &worst) == 1.0,
             worst);
  if constexpr (!sgpte::backends::gemm_ex_tpl_spec_avail<ExecutionSpace>::value)
    BOOST_TEST((h == sgpte_test::to_eigen(single.hessian(space))));
}

} // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(half_inputs_give_the_statistics_of_their_values, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  check_half_inputs<ExecutionSpace, sgpte::float16>();
  check_half_inputs<ExecutionSpace, sgpte::bfloat16>();
}

BOOST_AUTO_TEST_CASE_TEMPLATE(bad_batches_are_rejected_and_change_nothing, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  std::mt19937 generator(8);
  sgpte::CalibrationStatistics<ExecutionSpace> statistics(space, 6);
  sgpte_test::MatrixXd const first =
      sgpte_test::round_to_float(sgpte_test::random_matrix(10, 6, generator));
  statistics.add_batch(space, sgpte_test::to_device<ExecutionSpace>(first));
  sgpte_test::MatrixXd const before = sgpte_test::to_eigen(statistics.hessian(space));
  auto const mean_before = sgpte_test::to_vector(statistics.column_mean());
  auto const m2_before = sgpte_test::to_vector(statistics.column_m2());
  auto const mean_abs_before = sgpte_test::to_vector(statistics.column_mean_abs());

  BOOST_CHECK_THROW(statistics.add_batch(space, sgpte_test::to_device<ExecutionSpace>(sgpte_test::MatrixXd::Ones(4, 5))),
                    sgpte::InvalidArgument);
  for (double bad :
       {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(), 1e30})
  {
    sgpte_test::MatrixXd x = sgpte_test::random_matrix(4, 6, generator);
    x(2, 3) = bad; // 1e30 is a float whose square overflows the float Hessian
    if (bad != 1e30)
      x(1, 3) = -std::numeric_limits<double>::infinity();
    BOOST_CHECK_THROW(statistics.add_batch(space, sgpte_test::to_device<ExecutionSpace>(x)), sgpte::NumericalError);
  }
  BOOST_TEST(statistics.tokens() == 10);
  BOOST_TEST(statistics.samples() == 1);
  BOOST_TEST((sgpte_test::to_eigen(statistics.hessian(space)) == before));
  BOOST_TEST((sgpte_test::to_vector(statistics.column_mean()) == mean_before));
  BOOST_TEST((sgpte_test::to_vector(statistics.column_m2()) == m2_before));
  BOOST_TEST((sgpte_test::to_vector(statistics.column_mean_abs()) == mean_abs_before));

  // A good batch after the refused ones counts as if they had never come.
  sgpte_test::MatrixXd const second =
      sgpte_test::round_to_float(sgpte_test::random_matrix(7, 6, generator));
  statistics.add_batch(space, sgpte_test::to_device<ExecutionSpace>(second));
  // Two samples: H = 2/2 (AᵀA + BᵀB).
  sgpte_test::MatrixXd const expected = first.transpose() * first + second.transpose() * second;
  std::string worst;
  BOOST_TEST(sgpte_test::fraction_within(sgpte_test::to_eigen(statistics.hessian(space)), expected,
                                         1e-5 * expected.cwiseAbs().maxCoeff(), &worst) == 1.0,
             worst);
  BOOST_TEST(sgpte_test::to_vector(statistics.column_mean())[3] ==
                 (first.col(3).sum() + second.col(3).sum()) / 17,
             boost::test_tools::tolerance(1e-12));

  BOOST_CHECK_THROW(sgpte::CalibrationStatistics<ExecutionSpace>(space, 0), sgpte::InvalidArgument);
  statistics.release_hessian();
  BOOST_CHECK_THROW(statistics.hessian(space), sgpte::InvalidArgument);
}

// Statistics accumulated in two parts (as two processes, each with a share of the samples,
// accumulate them) and merged on the host equal the formulas over all the tokens, as one
// statistics fed every batch does; assigned back, they are the statistics' own.
BOOST_AUTO_TEST_CASE_TEMPLATE(merged_statistics_equal_the_formulas_over_all_samples, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  std::mt19937 generator(12);
  int const columns = 13;
  sgpte_test::MatrixXd x = sgpte_test::random_activations(1800, columns, generator, true);
  x.col(2).array() += 500.0; // the shares' means differ from the merged mean by little
  x = sgpte_test::round_to_float(x);
  // (first token, tokens, samples) of each batch; the first two go to one part, the rest to
  // the other, whose sample count differs.
  struct Batch
  {
    int first, tokens, samples;
  };
  std::vector<Batch> const batches = {{0, 300, 2}, {300, 500, 3}, {800, 1000, 4}};
  sgpte::CalibrationStatistics<ExecutionSpace> first(space, columns), second(space, columns);
  for (std::size_t b = 0; b < batches.size(); ++b)
    (b < 2 ? first : second)
        .add_batch(space,
                   sgpte_test::to_device<ExecutionSpace>(
                       x.middleRows(batches[b].first, batches[b].tokens)),
                   batches[b].samples);
  sgpte::HostCalibrationStatistics merged = first.to_host(space);
  sgpte::merge_statistics(merged, second.to_host(space));
  BOOST_TEST(merged.tokens == 1800);
  BOOST_TEST(merged.samples == 9);

  sgpte::CalibrationStatistics<ExecutionSpace> assigned(space, columns);
  assigned.assign(space, merged);
  BOOST_TEST((sgpte_test::to_eigen(assigned.hessian(space)) ==
              sgpte_test::to_eigen(merged.hessian)));
  // Each part's float H, merged in double: within the tolerance of one statistics' H.
  require_the_formulas(space, assigned, x, 9);
}

// A part without samples (a process whose share is empty) changes nothing, to the last bit,
// on either side of the merge; parts of other widths are refused.
BOOST_AUTO_TEST_CASE_TEMPLATE(merging_no_samples_changes_nothing, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  std::mt19937 generator(13);
  sgpte::CalibrationStatistics<ExecutionSpace> statistics(space, 6);
  statistics.add_batch(
      space, sgpte_test::to_device<ExecutionSpace>(sgpte_test::random_matrix(40, 6, generator)), 2);
  sgpte::HostCalibrationStatistics const alone = statistics.to_host(space);
  for (bool empty_first : {false, true})
  {
    sgpte::HostCalibrationStatistics merged =
        empty_first ? sgpte::empty_host_statistics(6) : statistics.to_host(space);
    sgpte::merge_statistics(merged, empty_first ? statistics.to_host(space)
                                                : sgpte::empty_host_statistics(6));
    BOOST_TEST((sgpte_test::to_eigen(merged.hessian) == sgpte_test::to_eigen(alone.hessian)));
    BOOST_TEST((sgpte_test::to_vector(merged.mean) == sgpte_test::to_vector(alone.mean)));
    BOOST_TEST((sgpte_test::to_vector(merged.m2) == sgpte_test::to_vector(alone.m2)));
    BOOST_TEST((sgpte_test::to_vector(merged.mean_abs) == sgpte_test::to_vector(alone.mean_abs)));
    BOOST_TEST(merged.tokens == 40);
    BOOST_TEST(merged.samples == 2);
  }
  // to_host gives a copy, also where the statistics are in host memory already.
  double const h00 = alone.hessian(0, 0), mean0 = alone.mean(0);
  sgpte::HostCalibrationStatistics changed = statistics.to_host(space);
  changed.hessian(0, 0) += 1.0;
  changed.mean(0) += 1.0;
  BOOST_TEST(sgpte_test::to_eigen(statistics.hessian(space))(0, 0) == h00);
  BOOST_TEST(statistics.to_host(space).mean(0) == mean0);
  BOOST_TEST(alone.hessian(0, 0) == h00);
  sgpte::HostCalibrationStatistics wider = sgpte::empty_host_statistics(7);
  BOOST_CHECK_THROW(sgpte::merge_statistics(wider, alone), sgpte::InvalidArgument);
  sgpte::CalibrationStatistics<ExecutionSpace> narrower(space, 5);
  BOOST_CHECK_THROW(narrower.assign(space, alone), sgpte::InvalidArgument);
}

BOOST_AUTO_TEST_SUITE_END()
