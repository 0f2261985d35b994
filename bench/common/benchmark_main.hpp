#ifndef SGPTE_BENCH_COMMON_BENCHMARK_MAIN_HPP
#define SGPTE_BENCH_COMMON_BENCHMARK_MAIN_HPP

// The end every benchmark's main() shares: adds --backend to the options, parses the command
// line, initialises Kokkos and calls run(space) on the chosen backend's default instance.
// Returns the program's exit status: CLI11's for a parse error or --help, 1 with
// "PROGRAM: error: …" for an sgpte::Error.

#include <sgpte/core/error.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>
#include <utility>

#include "common/backend.hpp"
#include "common/kokkos_arguments.hpp"

namespace sgpte::bench
{

template <class Run>
int run_on_chosen_backend(CLI::App &app, drivers::KokkosArguments &command_line, Run &&run)
{
  std::string backend = "default";
  app.add_option("--backend", backend, "Kokkos execution space to run on")
      ->check(CLI::IsMember(drivers::enabled_backends()))
      ->capture_default_str();
  CLI11_PARSE(app, command_line.program_argc(), command_line.program_argv());
  auto const kokkos = command_line.initialize_kokkos();
  try
  {
    drivers::with_backend(backend, std::forward<Run>(run));
  }
  catch (Error const &error)
  {
    std::fprintf(stderr, "%s: error: %s\n", app.get_name().c_str(), error.what());
    return 1;
  }
  return 0;
}

} // namespace sgpte::bench

#endif
