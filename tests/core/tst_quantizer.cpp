// The quantizer (SPEC §6) against quant.py's arithmetic, written out independently in
// reference_sweep.hpp, including its rounding (half to even) and degenerate rows.

#include <sgpte/quantization/quantizer.hpp>

#include "reference_sweep.hpp"
#include "sgpte_enable_device_types.hpp"
#include "test_helpers.hpp"

#include "trap_invalid_operations.hpp"

#include <boost/test/unit_test.hpp>

BOOST_FIXTURE_TEST_SUITE(Quantizer, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE(scalar_quantization_follows_quant_py)
{
  // round half to even, as torch.round: 2.5 → 2, 3.5 → 4, −2.5 → −2.
  BOOST_TEST(sgpte::quantize_value(2.5f, 1.0f, 8.0f, 15.0f) == 2.0f);
  BOOST_TEST(sgpte::quantize_value(3.5f, 1.0f, 8.0f, 15.0f) == 4.0f);
  BOOST_TEST(sgpte::quantize_value(-2.5f, 1.0f, 8.0f, 15.0f) == -2.0f);
  // clamped to [0, maxq] around the zero point.
  BOOST_TEST(sgpte::quantize_value(100.0f, 1.0f, 8.0f, 15.0f) == 7.0f);
  BOOST_TEST(sgpte::quantize_value(-100.0f, 1.0f, 8.0f, 15.0f) == -8.0f);
  BOOST_TEST(sgpte::quantize_code(-100.0f, 1.0f, 8.0f, 15.0f) == 0.0f);

  float scale, zero;
  // symmetric: range ±max|x|, zero (maxq + 1)/2.
  float xmin = -0.5f, xmax = 2.0f;
  sgpte::adjust_range(xmin, xmax, true);
  BOOST_TEST(xmin == -2.0f);
  BOOST_TEST(xmax == 2.0f);
  sgpte::minmax_parameters(xmin, xmax, 15.0f, true, scale, zero);
  BOOST_TEST(scale == 4.0f / 15.0f);
  BOOST_TEST(zero == 8.0f);
  // asymmetric: zero round(−xmin / scale).
  xmin = -0.5f, xmax = 2.0f;
  sgpte::adjust_range(xmin, xmax, false);
  sgpte::minmax_parameters(xmin, xmax, 7.0f, false, scale, zero);
  BOOST_TEST(scale == 2.5f / 7.0f);
  BOOST_TEST(zero == std::nearbyint(0.5f / (2.5f / 7.0f)));
  // an all-zero row uses [−1, 1].
  xmin = 0.0f, xmax = 0.0f;
  sgpte::adjust_range(xmin, xmax, false);
  sgpte::minmax_parameters(xmin, xmax, 15.0f, false, scale, zero);
  BOOST_TEST(scale == 2.0f / 15.0f);
  BOOST_TEST(zero == std::nearbyint(1.0f / (2.0f / 15.0f)));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(parameters_match_quant_py, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  std::mt19937 generator(3);
  int const rows = 9, columns = 40;
  sgpte_test::MatrixXd w = sgpte_test::random_matrix(rows, columns, generator);
  w.row(2).setZero();             // degenerate row
  w.row(5) = w.row(5).cwiseAbs(); // non-negative row: xmin = 0
  auto const weight = sgpte_test::to_device<ExecutionSpace>(w);
  for (bool symmetric : {false, true})
    for (bool per_channel : {true, false})
      for (bool mse : {false, true})
      {
        BOOST_TEST_CONTEXT("symmetric " << symmetric << " per channel " << per_channel << " mse " << mse)
        {
          sgpte::QuantizerOptions options;
          options.symmetric = symmetric;
          options.per_channel = per_channel;
          options.mse = mse;
          int const parameter_rows = per_channel ? rows : 1;
          auto const plan =
              sgpte_test::make_plan<ExecutionSpace>({2, 3, 8}, options, parameter_rows, 2);
          // Group 1 covers columns [10, 30).
          sgpte::find_quantization_parameters(space, weight, 10, 30, 1, plan);
          auto const scale = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), plan.scale);
          auto const zero = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), plan.zero);
          auto const expected = sgpte_test::reference_quantizers(w, 10, 30, plan.options);
          // Bit-exact, except that GPU compilers contract p·xmax − p·xmin of the MSE grid
          // into a fused multiply-add: its scales may then differ in the last bits.
          bool const exact = sgpte::detail::is_host_space_v<ExecutionSpace> || !mse;
          for (int p = 0; p < parameter_rows; ++p)
            for (int k = 0; k < 3; ++k)
            {
              auto const &reference = expected[p][plan.widths[k]];
              if (exact)
              {
                BOOST_TEST(scale(p, 1, k) == reference.scale);
                BOOST_TEST(zero(p, 1, k) == reference.zero);
              }
              else
              {
                BOOST_TEST(scale(p, 1, k) == reference.scale, boost::test_tools::tolerance(1e-6f));
                BOOST_TEST(std::abs(zero(p, 1, k) - reference.zero) <= 1.0f);
              }
              BOOST_TEST(scale(p, 0, k) == 0.0f); // other groups untouched
            }
        }
      }
}

// Per-width ranges: each width's parameters are quant.py's for the columns of that width
// alone (the others read as zero, which every range holds); one width gives the shared ones.
BOOST_AUTO_TEST_CASE_TEMPLATE(per_width_ranges_take_each_widths_columns, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  std::mt19937 generator(11);
  int const rows = 7, columns = 30;
  sgpte_test::MatrixXd w = sgpte_test::random_matrix(rows, columns, generator);
  w.col(4) *= 10.0; // an outlier column at the widest width
  std::vector<int> const widths = {2, 3, 8};
  std::vector<int> column_bits(columns);
  for (int c = 0; c < columns; ++c)
    column_bits[c] = c == 4 ? 8 : widths[c % 2];
  auto const weight = sgpte_test::to_device<ExecutionSpace>(w);
  for (bool symmetric : {false, true})
    for (bool mse : {false, true})
    {
      BOOST_TEST_CONTEXT("symmetric " << symmetric << " mse " << mse)
      {
        sgpte::QuantizerOptions options;
        options.symmetric = symmetric;
        options.mse = mse;
        options.range = sgpte::QuantizerRange::per_width;
        auto plan = sgpte_test::make_plan<ExecutionSpace>(widths, options, rows, 1);
        plan.width_index = sgpte::Vector<ExecutionSpace, std::uint8_t>("width_index", columns);
        auto index = Kokkos::create_mirror_view(plan.width_index);
        for (int c = 0; c < columns; ++c)
          index(c) = static_cast<std::uint8_t>(
              std::find(widths.begin(), widths.end(), column_bits[c]) - widths.begin());
        Kokkos::deep_copy(plan.width_index, index);
        BOOST_TEST(plan.per_width_ranges());
        sgpte::find_quantization_parameters(space, weight, 0, columns, 0, plan);
        auto const scale = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), plan.scale);
        auto const zero = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), plan.zero);
        auto const expected =
            sgpte_test::reference_width_quantizers(w, 0, columns, plan.options, column_bits);
        auto const shared = sgpte_test::reference_quantizers(w, 0, columns, plan.options);
        bool const exact = sgpte::detail::is_host_space_v<ExecutionSpace> || !mse;
        for (int p = 0; p < rows; ++p)
          for (int k = 0; k < 3; ++k)
          {
            auto const &reference = expected[p][widths[k]];
            if (exact)
            {
              BOOST_TEST(scale(p, 0, k) == reference.scale);
              BOOST_TEST(zero(p, 0, k) == reference.zero);
            }
            else
            {
              BOOST_TEST(scale(p, 0, k) == reference.scale, boost::test_tools::tolerance(1e-6f));
              BOOST_TEST(std::abs(zero(p, 0, k) - reference.zero) <= 1.0f);
            }
          }
        // The narrow widths' grids no longer span the outlier's range.
        for (int p = 0; p < rows; ++p)
          BOOST_TEST(scale(p, 0, 0) < shared[p][2].scale);
      }
    }
  sgpte::QuantizerOptions per_tensor;
  per_tensor.per_channel = false;
  per_tensor.range = sgpte::QuantizerRange::per_width;
  BOOST_CHECK_THROW(per_tensor.validate(), sgpte::InvalidArgument);
}

// Mixed precision from the shared range without the MSE search: once the widths in use are
// known, the narrower widths' parameters are the widest's, scale · maxq_w / maxq and
// round(zero · maxq / maxq_w) (computed here in double: the float results must be those values
// rounded, which they are within one rounding each), which is quant.py's own parameters at that
// width within a rounding of the scale and one step of the zero point; wider unused widths
// keep quant.py's. The grouped sweep's per-group search derives them the same way.
BOOST_AUTO_TEST_CASE_TEMPLATE(narrower_widths_follow_the_widest_in_use, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  std::mt19937 generator(5);
  int const rows = 33, columns = 24;
  sgpte_test::MatrixXd w = sgpte_test::random_matrix(rows, columns, generator);
  w.row(3).setZero();
  w.row(7) = w.row(7).cwiseAbs();
  auto const weight = sgpte_test::to_device<ExecutionSpace>(w);
  std::vector<int> const widths = {2, 3, 4, 8};
  std::vector<bool> const in_use = {true, false, true, false}; // 2 and 4 bits: 4 is the widest
  for (bool symmetric : {false, true})
    for (bool per_channel : {true, false})
    {
      BOOST_TEST_CONTEXT("symmetric " << symmetric << " per channel " << per_channel)
      {
        sgpte::QuantizerOptions options;
        options.symmetric = symmetric;
        options.per_channel = per_channel;
        int const parameter_rows = per_channel ? rows : 1;
        auto plan = sgpte_test::make_plan<ExecutionSpace>(widths, options, parameter_rows, 1);
        sgpte::find_quantization_parameters(space, weight, 0, columns, 0, plan);
        sgpte::derive_from_widest_in_use(space, plan, in_use);
        BOOST_TEST(plan.parameters_from == 2);
        auto const scale = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), plan.scale);
        auto const zero = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), plan.zero);
        auto const direct = sgpte_test::reference_quantizers(w, 0, columns, plan.options);
        int steps_apart = 0;
        for (int p = 0; p < parameter_rows; ++p)
        {
          for (int k : {2, 3}) // the widest in use and a wider unused width: quant.py's
          {
            BOOST_TEST(scale(p, 0, k) == direct[p][widths[k]].scale);
            BOOST_TEST(zero(p, 0, k) == direct[p][widths[k]].zero);
          }
          double const widest_maxq = 15.0;
          for (int k : {0, 1})
          {
            double const maxq = (1 << widths[k]) - 1;
            double const expected_scale = double(scale(p, 0, 2)) * widest_maxq / maxq;
            BOOST_TEST(scale(p, 0, k) == expected_scale, boost::test_tools::tolerance(2e-7));
            BOOST_TEST(zero(p, 0, k) == std::nearbyint(zero(p, 0, 2) * maxq / widest_maxq));
            BOOST_TEST(scale(p, 0, k) == direct[p][widths[k]].scale,
                       boost::test_tools::tolerance(4e-7f));
            BOOST_TEST(std::abs(zero(p, 0, k) - direct[p][widths[k]].zero) <= 1.0f);
            steps_apart += zero(p, 0, k) != direct[p][widths[k]].zero;
            if (symmetric)
              BOOST_TEST(zero(p, 0, k) == (maxq + 1.0) / 2.0);
          }
        }
        if (symmetric)
          BOOST_TEST(steps_apart == 0);

        // The grouped sweep's search: the same values straight away.
        auto again = sgpte_test::make_plan<ExecutionSpace>(widths, options, parameter_rows, 1);
        again.parameters_from = 2;
        sgpte::find_quantization_parameters(space, weight, 0, columns, 0, again);
        auto const scale_again =
            Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), again.scale);
        auto const zero_again =
            Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), again.zero);
        for (int p = 0; p < parameter_rows; ++p)
          for (int k = 0; k < 4; ++k)
          {
            BOOST_TEST(scale_again(p, 0, k) == scale(p, 0, k));
            BOOST_TEST(zero_again(p, 0, k) == zero(p, 0, k));
          }
      }
    }
  // One width in use, per-width ranges or the MSE search: every width keeps its own.
  sgpte::QuantizerOptions mse;
  mse.mse = true;
  sgpte::QuantizerOptions per_width;
  per_width.range = sgpte::QuantizerRange::per_width;
  for (auto const &[options, in] :
       {std::pair{sgpte::QuantizerOptions{}, std::vector<bool>{false, true, false, false}},
        std::pair{mse, in_use}, std::pair{per_width, in_use}})
  {
    auto plan = sgpte_test::make_plan<ExecutionSpace>(widths, options, rows, 1);
    sgpte::derive_from_widest_in_use(space, plan, in);
    BOOST_TEST(plan.parameters_from == -1);
  }
}

BOOST_AUTO_TEST_SUITE_END()
