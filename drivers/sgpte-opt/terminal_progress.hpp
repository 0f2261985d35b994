#ifndef SGPTE_DRIVERS_SGPTE_OPT_TERMINAL_PROGRESS_HPP
#define SGPTE_DRIVERS_SGPTE_OPT_TERMINAL_PROGRESS_HPP

// The progress line of sgpte-opt: redrawn in place on stderr while it is a terminal, absent
// otherwise (logs and pipes get only the results).

#include <sgpte/opt/progress.hpp>

#include <cstdio>

#include <unistd.h>

namespace sgpte::drivers
{

class TerminalProgress
{
public:
  // shown: whether this process shows progress at all (one of an MPI run's processes does).
  explicit TerminalProgress(bool shown = true) : _enabled(shown && ::isatty(STDERR_FILENO) == 1) {}
  TerminalProgress(TerminalProgress const &) = delete;
  TerminalProgress &operator=(TerminalProgress const &) = delete;
  ~TerminalProgress() { clear(); }

  opt::ProgressCallback callback()
  {
    if (!_enabled)
      return {};
    return [this](opt::Progress const &progress)
    {
      std::fprintf(stderr, "\r\033[K%s [%d/%d] %s", progress.task.c_str(), progress.done,
                   progress.total, progress.stage.c_str());
      std::fflush(stderr);
      _drawn = true;
    };
  }

  // Erases the line, before anything else is printed.
  void clear()
  {
    if (!_drawn)
      return;
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    _drawn = false;
  }

private:
  bool _enabled;
  bool _drawn = false;
};

} // namespace sgpte::drivers

#endif
