#ifndef SGPTE_CORE_DETAIL_HOST_THREADS_HPP
#define SGPTE_CORE_DETAIL_HOST_THREADS_HPP

// Independent host work spread over the host's cores with plain threads, for work that makes
// no Kokkos call (the allocation's greedies run on the host while a GPU backend's device
// idles; Kokkos' host backends would need them to be kernels). Each task writes only its own
// result, so the results do not depend on the number of threads.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <future>
#include <thread>
#include <vector>

namespace sgpte::detail
{

// Calls task(i) for every i in [0, count), on up to hardware_concurrency threads; the first
// exception a task throws is rethrown here once every thread has stopped.
template <class Task>
void for_each_on_host_threads(std::size_t count, Task const &task)
{
  std::size_t const threads =
      std::min<std::size_t>(count, std::max(1u, std::thread::hardware_concurrency()));
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  auto const work = [&]
  {
    for (std::size_t i = next++; i < count && !failed; i = next++)
    {
      try
      {
        task(i);
      }
      catch (...)
      {
        failed = true;
        throw;
      }
    }
  };
  std::vector<std::future<void>> workers;
  for (std::size_t t = 1; t < threads; ++t)
    workers.push_back(std::async(std::launch::async, work));
  std::exception_ptr error;
  try
  {
    work();
  }
  catch (...)
  {
    error = std::current_exception();
  }
  for (auto &worker : workers)
  {
    try
    {
      worker.get();
    }
    catch (...)
    {
      if (!error)
        error = std::current_exception();
    }
  }
  if (error)
    std::rethrow_exception(error);
}

} // namespace sgpte::detail

#endif
