#ifndef SGPTE_OPT_PROGRESS_HPP
#define SGPTE_OPT_PROGRESS_HPP

// Progress of long work (evaluation, sequential compression), reported to an optional
// callback on the host: the driver draws it on a terminal, library users may log it.

#include <functional>
#include <string>

namespace sgpte::opt
{

struct Progress
{
  std::string task;  // "evaluate", "compress"
  int done = 0;      // steps finished, of
  int total = 0;     // all steps of the task
  std::string stage; // what runs now, e.g. "layer 3/12: fasterprune fc1"
};

using ProgressCallback = std::function<void(Progress const &)>;

inline void report(ProgressCallback const &progress, char const *task, int done, int total,
                   std::string stage)
{
  if (progress)
    progress(Progress{task, done, total, std::move(stage)});
}

} // namespace sgpte::opt

#endif
