// Host work spread over threads (core/detail/host_threads.hpp): every task runs once, and a
// task's exception reaches the caller after the other threads have stopped.

#include <sgpte/core/detail/host_threads.hpp>

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <stdexcept>
#include <vector>

BOOST_AUTO_TEST_SUITE(HostThreads)

BOOST_AUTO_TEST_CASE(every_task_runs_once)
{
  for (std::size_t const count : {0, 1, 3, 1000})
  {
    std::vector<std::atomic<int>> runs(count);
    sgpte::detail::for_each_on_host_threads(count, [&](std::size_t i) { ++runs[i]; });
    for (std::size_t i = 0; i < count; ++i)
      BOOST_TEST(runs[i] == 1, "task " << i << " of " << count);
  }
}

BOOST_AUTO_TEST_CASE(a_tasks_exception_reaches_the_caller)
{
  std::atomic<int> started{0};
  BOOST_CHECK_THROW(sgpte::detail::for_each_on_host_threads(100,
                                                            [&](std::size_t i)
                                                            {
                                                              ++started;
                                                              if (i == 7)
                                                                throw std::runtime_error("task 7");
                                                            }),
                    std::runtime_error);
  BOOST_TEST(started >= 8);
}

BOOST_AUTO_TEST_SUITE_END()
