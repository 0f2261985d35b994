// A Kokkos Tools library that answers "where does the time go" for any Kokkos program:
// wall time and count per kernel name and per profiling region (Kokkos Kernels names its
// regions after the routine and the library it dispatched to, e.g. cuBLAS gemm), printed
// at exit sorted by total time. Load it with KOKKOS_TOOLS_LIBS=path/to/libsgpte-kernel-timer.so.
//
// The times are exact, not sampled: Kokkos fences at the end of every kernel (the library
// asks for it), and the library synchronises the device itself at the start of every kernel
// and at both ends of a region, so work queued outside Kokkos (cuBLAS) is not charged to the
// next kernel. cudaDeviceSynchronize comes from the running program where it exports it,
// else from the CUDA runtime library (programs linking the runtime statically do not export
// it; every runtime in a process shares the device's primary context). That serialises the program,
// so its total is an upper bound of an unprofiled run's; the shares are what it is for. Region
// times include the kernels inside them.

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace
{

using Clock = std::chrono::steady_clock;

struct Total
{
  double seconds = 0.0;
  std::uint64_t count = 0;
};

struct State
{
  std::map<std::string, Total> kernels, regions;
  std::map<std::uint64_t, std::pair<std::string, Clock::time_point>> running;
  std::vector<std::pair<std::string, Clock::time_point>> region_stack;
  std::uint64_t next_id = 0;
  Clock::time_point start = Clock::now();
  int (*device_synchronize)() = nullptr;
};

State &state()
{
  static State instance;
  return instance;
}

void begin_kernel(char const *kind, char const *name, std::uint64_t *id)
{
  auto &s = state();
  if (s.device_synchronize)
    s.device_synchronize();
  *id = s.next_id++;
  s.running[*id] = {std::string(kind) + " " + name, Clock::now()};
}

void end_kernel(std::uint64_t id)
{
  auto &s = state();
  auto const found = s.running.find(id);
  if (found == s.running.end())
    return;
  Total &total = s.kernels[found->second.first];
  total.seconds += std::chrono::duration<double>(Clock::now() - found->second.second).count();
  ++total.count;
  s.running.erase(found);
}

void print(char const *title, std::map<std::string, Total> const &totals, double wall)
{
  std::vector<std::pair<std::string, Total>> sorted(totals.begin(), totals.end());
  std::sort(sorted.begin(), sorted.end(),
            [](auto const &a, auto const &b) { return a.second.seconds > b.second.seconds; });
  std::fprintf(stderr, "%s\n%10s %7s %10s  %s\n", title, "seconds", "share", "count", "name");
  for (auto const &[name, total] : sorted)
    std::fprintf(stderr, "%10.4f %6.1f%% %10llu  %s\n", total.seconds, 100.0 * total.seconds / wall,
                 static_cast<unsigned long long>(total.count), name.c_str());
}

} // namespace

extern "C"
{

struct Kokkos_Tools_ToolSettings
{
  bool requires_global_fencing;
  bool padding[255];
};

void kokkosp_request_tool_settings(std::uint32_t, Kokkos_Tools_ToolSettings *settings)
{
  settings->requires_global_fencing = true;
}

void kokkosp_init_library(int, std::uint64_t, std::uint32_t, void *)
{
  auto &s = state();
  s.start = Clock::now();
  void *symbol = dlsym(RTLD_DEFAULT, "cudaDeviceSynchronize");
  for (char const *library : {"libcudart.so", "libcudart.so.13", "libcudart.so.12"})
  {
    if (symbol != nullptr)
      break;
    if (void *handle = dlopen(library, RTLD_NOW | RTLD_LOCAL))
      symbol = dlsym(handle, "cudaDeviceSynchronize");
  }
  s.device_synchronize = reinterpret_cast<int (*)()>(symbol);
}

void kokkosp_finalize_library()
{
  auto &s = state();
  double const wall = std::chrono::duration<double>(Clock::now() - s.start).count();
  std::fprintf(
      stderr, "\nsgpte kernel timer: %.3f s between Kokkos::initialize and finalize (%s)\n", wall,
      s.device_synchronize ? "device synchronised around kernels and regions"
                           : "no CUDA runtime found: host times of kernels fenced by Kokkos");
  print("kernels:", s.kernels, wall);
  print("regions (including their kernels):", s.regions, wall);
}

void kokkosp_begin_parallel_for(char const *name, std::uint32_t, std::uint64_t *id)
{
  begin_kernel("for", name, id);
}
void kokkosp_end_parallel_for(std::uint64_t id) { end_kernel(id); }
void kokkosp_begin_parallel_reduce(char const *name, std::uint32_t, std::uint64_t *id)
{
  begin_kernel("reduce", name, id);
}
void kokkosp_end_parallel_reduce(std::uint64_t id) { end_kernel(id); }
void kokkosp_begin_parallel_scan(char const *name, std::uint32_t, std::uint64_t *id)
{
  begin_kernel("scan", name, id);
}
void kokkosp_end_parallel_scan(std::uint64_t id) { end_kernel(id); }

void kokkosp_push_profile_region(char const *name)
{
  auto &s = state();
  if (s.device_synchronize)
    s.device_synchronize();
  s.region_stack.emplace_back(name, Clock::now());
}

void kokkosp_pop_profile_region()
{
  auto &s = state();
  if (s.region_stack.empty())
    return;
  if (s.device_synchronize)
    s.device_synchronize();
  auto const [name, began] = s.region_stack.back();
  s.region_stack.pop_back();
  Total &total = s.regions[name];
  total.seconds += std::chrono::duration<double>(Clock::now() - began).count();
  ++total.count;
}

} // extern "C"
