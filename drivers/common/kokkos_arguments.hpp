#ifndef SGPTE_DRIVERS_KOKKOS_ARGUMENTS_HPP
#define SGPTE_DRIVERS_KOKKOS_ARGUMENTS_HPP

// Kokkos::initialize also reacts to unprefixed arguments such as --help (Kokkos 3.4),
// which must reach the program's own option parser instead. The command line is split:
// --kokkos-* arguments initialise Kokkos, everything else is the program's.

#include <Kokkos_Core.hpp>

#include <memory>
#include <string>
#include <vector>

namespace sgpte::drivers
{

class KokkosArguments
{
public:
  KokkosArguments(int argc, char *argv[])
  {
    _kokkos.push_back(argv[0]);
    _program.push_back(argv[0]);
    for (int i = 1; i < argc; ++i)
      (std::string(argv[i]).rfind("--kokkos-", 0) == 0 ? _kokkos : _program).push_back(argv[i]);
  }

  int program_argc() const { return static_cast<int>(_program.size()); }
  char **program_argv() { return _program.data(); }

  // Initialises Kokkos with the --kokkos-* arguments; finalises it when destroyed.
  std::unique_ptr<Kokkos::ScopeGuard> initialize_kokkos()
  {
    int argc = static_cast<int>(_kokkos.size());
    return std::make_unique<Kokkos::ScopeGuard>(argc, _kokkos.data());
  }

  static constexpr char const *help_footer =
      "Kokkos options (--kokkos-*, e.g. --kokkos-num-threads=16 or, with Kokkos 3, "
      "--kokkos-threads=16) are passed to Kokkos; see --kokkos-help.";

private:
  std::vector<char *> _kokkos;
  std::vector<char *> _program;
};

} // namespace sgpte::drivers

#endif
