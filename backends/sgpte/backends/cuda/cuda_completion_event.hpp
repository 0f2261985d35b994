#ifndef SGPTE_BACKENDS_CUDA_CUDA_COMPLETION_EVENT_HPP
#define SGPTE_BACKENDS_CUDA_CUDA_COMPLETION_EVENT_HPP

// CompletionEvent on Kokkos::Cuda (completion_event.hpp): one cudaEvent_t, recorded on the
// instance's stream. Copies share the event, so that a class holding one stays copyable.

#include <sgpte/core/error.hpp>

#include <Kokkos_Core.hpp>

#include <memory>
#include <string>
#include <type_traits>

#include <cuda_runtime.h>

namespace sgpte::backends
{

class CudaCompletionEvent
{
public:
  static constexpr bool overlaps = true;
  using result_memory_space = Kokkos::CudaHostPinnedSpace;

  CudaCompletionEvent()
  {
    cudaEvent_t event = nullptr;
    check(cudaEventCreateWithFlags(&event, cudaEventDisableTiming), "cudaEventCreateWithFlags");
    _event.reset(event, [](cudaEvent_t e) { cudaEventDestroy(e); });
  }

  void record(Kokkos::Cuda const &space)
  {
    check(cudaEventRecord(_event.get(), space.cuda_stream()), "cudaEventRecord");
  }
  void wait() const { check(cudaEventSynchronize(_event.get()), "cudaEventSynchronize"); }

private:
  static void check(cudaError_t status, char const *what)
  {
    if (status != cudaSuccess)
      throw Error(std::string("CUDA call ") + what + " failed: " + cudaGetErrorString(status));
  }

  std::shared_ptr<std::remove_pointer_t<cudaEvent_t>> _event;
};

} // namespace sgpte::backends

#endif
