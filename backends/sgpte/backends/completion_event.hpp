#ifndef SGPTE_BACKENDS_COMPLETION_EVENT_HPP
#define SGPTE_BACKENDS_COMPLETION_EVENT_HPP

// CompletionEvent<ExecutionSpace>: lets the host wait for the work queued on an instance up to
// a point, record(space), while the work queued after that point goes on: wait() returns
// once everything queued before the record is done. A result the device writes before the
// record is readable on the host after wait() if it lies in result_memory_space.
//
// `overlaps` says whether the work queued after the record can run while the host waits.
// Where it cannot (the host spaces, whose kernels have finished when their call returns, and
// device spaces without an event here), wait() fences the instance and the host memory
// space serves the results (Kokkos copies a device reduction's result into it). CUDA's
// (cuda/cuda_completion_event.hpp) is a cudaEvent_t on the instance's stream, with the
// results in pinned host memory that the device writes directly.

#include <Kokkos_Core.hpp>

#if defined(KOKKOS_ENABLE_CUDA)
#include <sgpte/backends/cuda/cuda_completion_event.hpp>
#endif

namespace sgpte::backends
{

template <class ExecutionSpace>
class CompletionEvent
{
public:
  static constexpr bool overlaps = false;
  using result_memory_space = Kokkos::HostSpace;

  void record(ExecutionSpace const &space) { _space = space; }
  void wait() const { _space.fence(); }

private:
  ExecutionSpace _space;
};

#if defined(KOKKOS_ENABLE_CUDA)
template <>
class CompletionEvent<Kokkos::Cuda> : public CudaCompletionEvent
{
};
#endif

} // namespace sgpte::backends

#endif
