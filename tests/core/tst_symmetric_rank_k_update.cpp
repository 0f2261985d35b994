// symmetric_rank_k_update_lower and mirror_lower_to_upper on every backend (the vendor syrk
// where one serves the backend, Kokkos Kernels' gemm elsewhere) against Eigen references in double,
// for both transpose flags, an operand with a leading dimension larger than its rows, and orders on
// both sides of the size from which CUDA takes cuBLAS' syrk.

#include <sgpte/backends/symmetric_rank_k_update.hpp>

#include <boost/test/unit_test.hpp>

#include <random>
#include <string>
#include <utility>

#include "sgpte_enable_device_types.hpp"
#include "test_helpers.hpp"
#include "trap_invalid_operations.hpp"

BOOST_FIXTURE_TEST_SUITE(SymmetricRankKUpdate, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE_TEMPLATE(matches_the_full_product_in_both_triangles, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  std::mt19937 generator(11);
  int const k = 53, padding = 3;
  float const alpha = 0.75f, beta = 0.5f;
  for (int const n : {37, sgpte::backends::cublas_syrk_min_order})
    for (char const *trans : {"N", "T"})
    {
      BOOST_TEST_CONTEXT("n " << n << ", trans " << trans)
      {
        bool const transposed = trans[0] == 'T';
        // op(A) is n × k; A is stored with `padding` extra rows (a leading dimension above its
        // row count), as a window of a larger matrix.
        int const rows = transposed ? k : n, columns = transposed ? n : k;
        sgpte_test::MatrixXd const storage =
            sgpte_test::random_matrix(rows + padding, columns, generator);
        sgpte_test::MatrixXd const a = storage.topRows(rows);
        sgpte_test::MatrixXd const half = sgpte_test::random_matrix(n, n, generator);
        sgpte_test::MatrixXd const initial = sgpte_test::round_to_float(half + half.transpose());
        auto const a_storage = sgpte_test::to_device<ExecutionSpace>(storage);
        auto const a_view = Kokkos::subview(a_storage, std::make_pair(0, rows), Kokkos::ALL());
        auto const c = sgpte_test::to_device<ExecutionSpace>(initial);

        sgpte::backends::symmetric_rank_k_update_lower(space, trans, alpha, a_view, beta, c);
        space.fence();
        sgpte_test::MatrixXd const updated = sgpte_test::to_eigen(c);
        sgpte::backends::mirror_lower_to_upper(space, c);
        space.fence();

        sgpte_test::MatrixXd const op_a = transposed ? sgpte_test::MatrixXd(a.transpose()) : a;
        sgpte_test::MatrixXd const expected = alpha * op_a * op_a.transpose() + beta * initial;
        sgpte_test::MatrixXd const magnitude =
            std::abs(alpha) * op_a.cwiseAbs() * op_a.cwiseAbs().transpose() +
            std::abs(beta) * initial.cwiseAbs();
        sgpte_test::MatrixXd const got = sgpte_test::to_eigen(c);
        std::string worst;
        BOOST_TEST(sgpte_test::fraction_within(
                       got, expected, sgpte_test::product_error_bound(k, magnitude.maxCoeff()),
                       &worst) == 1.0,
                   worst);
        BOOST_TEST((got == got.transpose()));
        using Triangle = sgpte_test::MatrixXd;
        BOOST_TEST((Triangle(got.triangularView<Eigen::Lower>()) ==
                    Triangle(updated.triangularView<Eigen::Lower>())));
        // The vendor syrk leaves the strict upper triangle as it was.
        if (sgpte::backends::symmetric_rank_k_update_uses_vendor<ExecutionSpace>(n))
          BOOST_TEST((Triangle(updated.triangularView<Eigen::StrictlyUpper>()) ==
                      Triangle(initial.triangularView<Eigen::StrictlyUpper>())));
      }
    }
}

BOOST_AUTO_TEST_SUITE_END()
