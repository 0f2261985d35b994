// The device radix select of the unstructured mask threshold against a full sort, with
// ties and zeros (dead columns give w = 0).

#include <sgpte/sweep/detail/block_threshold.hpp>

#include "sgpte_enable_device_types.hpp"
#include "test_helpers.hpp"

#include "trap_invalid_operations.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>

BOOST_FIXTURE_TEST_SUITE(BlockThreshold, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE_TEMPLATE(selects_the_kth_smallest_score, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  std::mt19937 generator(17);
  int const rows = 23, columns = 50;
  sgpte_test::MatrixXd w = sgpte_test::random_matrix(rows, columns, generator);
  w.col(3).setZero();
  for (int i = 0; i < rows; i += 2)
    w(i, 10) = 0.5; // ties
  sgpte_test::MatrixXd l = sgpte_test::MatrixXd::Identity(columns, columns);
  for (int j = 0; j < columns; ++j)
    l(j, j) = 0.5 + 0.01 * j;
  auto const weight = sgpte_test::to_device<ExecutionSpace>(w);
  auto const lower = sgpte_test::to_device<ExecutionSpace>(l);
  sgpte::detail::BlockThreshold<ExecutionSpace> threshold(space);
  for (auto [begin, count] : {std::pair{0, 50}, std::pair{2, 17}, std::pair{10, 1}})
  {
    std::vector<float> scores;
    for (int j = begin; j < begin + count; ++j)
      for (int i = 0; i < rows; ++i)
        scores.push_back(sgpte::detail::pruning_score(static_cast<float>(w(i, j)), static_cast<float>(l(j, j))));
    std::sort(scores.begin(), scores.end());
    for (std::int64_t rank : {std::int64_t(0), std::int64_t(1), std::int64_t(scores.size() / 2),
                              std::int64_t(scores.size() - 1)})
    {
      threshold.select(space, weight, lower, begin, count, rank);
      float value;
      Kokkos::deep_copy(value, threshold.threshold());
      BOOST_TEST(value == scores[rank], "block " << begin << "+" << count << " rank " << rank);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
