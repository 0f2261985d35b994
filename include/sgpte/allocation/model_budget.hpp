#ifndef SGPTE_ALLOCATION_MODEL_BUDGET_HPP
#define SGPTE_ALLOCATION_MODEL_BUDGET_HPP

// One packed-byte budget for a whole model, shared out among its linear modules (issue 19's
// model-wide budget). Each module offers candidates, (packed bytes, expected error) pairs —
// the packed allocation's results at a ladder of byte budgets (allocation/packed_budget.hpp),
// the errors in the units of the OBS sensitivity, the increase of the module's output squared
// error over the calibration tokens — and the allocation picks one candidate per module:
//   1. every module starts at its smallest candidate;
//   2. along each module's lower convex hull (bytes against error), the step with the largest
//      error reduction per added byte that fits the remaining bytes is taken, until none fits
//      (a module whose next hull step does not fit stops there);
//   3. the bytes left are spent on the single change of one module's candidate (any candidate,
//      not only the hull's) that lowers the total error most, repeatedly;
//   4. the result is compared with `reference` (e.g. every module at uniform quantization's
//      candidate, which fits the budget by construction) and the one with the smaller total
//      expected error is kept: by its own measure it is never worse than the reference.
// The total bytes never exceed the budget. On convex curves with equal byte steps (the greedy's
// classic case) steps 1–2 are optimal.

#include <sgpte/core/error.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <queue>
#include <string>
#include <tuple>
#include <vector>

namespace sgpte
{

struct AllocationCandidate
{
  std::int64_t bytes = 0;
  double error = 0.0;
};

struct ModelAllocation
{
  std::vector<std::size_t> choice; // per module, the index of its candidate
  std::int64_t bytes = 0;
  double error = 0.0;
};

namespace detail
{

// The candidates' indices on the lower convex hull of (bytes, error), by increasing bytes,
// starting at the smallest (ties: the smaller error).
inline std::vector<std::size_t> lower_hull(std::vector<AllocationCandidate> const &candidates)
{
  std::vector<std::size_t> order(candidates.size());
  std::iota(order.begin(), order.end(), std::size_t(0));
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b)
            {
              return std::tie(candidates[a].bytes, candidates[a].error, a) <
                     std::tie(candidates[b].bytes, candidates[b].error, b);
            });
  std::vector<std::size_t> hull;
  for (std::size_t const i : order)
  {
    AllocationCandidate const &c = candidates[i];
    if (!hull.empty() && c.error >= candidates[hull.back()].error)
      continue; // more (or as many) bytes for no less error
    // Drop the last hull point while it lies on or above the chord to the new one.
    while (hull.size() >= 2)
    {
      AllocationCandidate const &a = candidates[hull[hull.size() - 2]];
      AllocationCandidate const &b = candidates[hull.back()];
      double const cross = static_cast<double>(b.bytes - a.bytes) * (c.error - a.error) -
                           (b.error - a.error) * static_cast<double>(c.bytes - a.bytes);
      if (cross > 0.0)
        break;
      hull.pop_back();
    }
    hull.push_back(i);
  }
  return hull;
}

inline double total_error(std::vector<std::vector<AllocationCandidate>> const &curves,
                          std::vector<std::size_t> const &choice)
{
  double total = 0.0;
  for (std::size_t m = 0; m < curves.size(); ++m)
    total += curves[m][choice[m]].error;
  return total;
}

inline std::int64_t total_bytes(std::vector<std::vector<AllocationCandidate>> const &curves,
                                std::vector<std::size_t> const &choice)
{
  std::int64_t total = 0;
  for (std::size_t m = 0; m < curves.size(); ++m)
    total += curves[m][choice[m]].bytes;
  return total;
}

} // namespace detail

// curves: per module, its candidates (at least one each, errors finite); budget: the most
// packed bytes the modules may use together; reference: one candidate per module within the
// budget (empty: none).
inline ModelAllocation allocate_model_bytes(std::vector<std::vector<AllocationCandidate>> const &curves,
                                            std::int64_t budget,
                                            std::vector<std::size_t> const &reference = {})
{
  std::size_t const modules = curves.size();
  for (std::size_t m = 0; m < modules; ++m)
  {
    if (curves[m].empty())
      throw InvalidArgument("module " + std::to_string(m) + " offers no candidate allocation");
    for (AllocationCandidate const &c : curves[m])
      if (!std::isfinite(c.error) || c.bytes < 0)
        throw InvalidArgument("module " + std::to_string(m) +
                              " offers a candidate with a non-finite error or negative bytes");
  }
  if (!reference.empty())
  {
    if (reference.size() != modules)
      throw InvalidArgument("the reference allocation names " + std::to_string(reference.size()) +
                            " modules for " + std::to_string(modules));
    for (std::size_t m = 0; m < modules; ++m)
      if (reference[m] >= curves[m].size())
        throw InvalidArgument("the reference allocation names a candidate module " +
                              std::to_string(m) + " does not have");
  }

  std::vector<std::vector<std::size_t>> hulls(modules);
  std::vector<std::size_t> step(modules, 0); // position on the hull
  ModelAllocation result;
  result.choice.resize(modules);
  for (std::size_t m = 0; m < modules; ++m)
  {
    hulls[m] = detail::lower_hull(curves[m]);
    result.choice[m] = hulls[m].front();
  }
  std::int64_t remaining = budget - detail::total_bytes(curves, result.choice);
  if (remaining < 0)
    throw InvalidArgument("the model's packed-byte budget (" + std::to_string(budget) +
                          " bytes) is below its smallest allocation (" +
                          std::to_string(budget - remaining) + " bytes)");

  // 2. Hull steps, best error reduction per byte first (ties: the lower module).
  using Step = std::pair<double, std::size_t>; // gain per byte, module
  auto const worse = [](Step const &a, Step const &b)
  { return a.first < b.first || (a.first == b.first && a.second > b.second); };
  std::priority_queue<Step, std::vector<Step>, decltype(worse)> steps(worse);
  auto const offer = [&](std::size_t m)
  {
    if (step[m] + 1 >= hulls[m].size())
      return;
    AllocationCandidate const &from = curves[m][hulls[m][step[m]]];
    AllocationCandidate const &to = curves[m][hulls[m][step[m] + 1]];
    steps.push({(from.error - to.error) / static_cast<double>(std::max<std::int64_t>(1, to.bytes - from.bytes)), m});
  };
  for (std::size_t m = 0; m < modules; ++m)
    offer(m);
  while (!steps.empty())
  {
    std::size_t const m = steps.top().second;
    steps.pop();
    std::size_t const next = hulls[m][step[m] + 1];
    std::int64_t const cost = curves[m][next].bytes - curves[m][result.choice[m]].bytes;
    if (cost > remaining)
      continue;
    remaining -= cost;
    result.choice[m] = next;
    ++step[m];
    offer(m);
  }

  // 3. The bytes left: the best single change, repeatedly.
  for (;;)
  {
    double best_gain = 0.0;
    std::size_t best_module = modules, best_candidate = 0;
    for (std::size_t m = 0; m < modules; ++m)
    {
      AllocationCandidate const &current = curves[m][result.choice[m]];
      for (std::size_t c = 0; c < curves[m].size(); ++c)
      {
        double const gain = current.error - curves[m][c].error;
        if (curves[m][c].bytes - current.bytes <= remaining && gain > best_gain)
        {
          best_gain = gain;
          best_module = m;
          best_candidate = c;
        }
      }
    }
    if (best_module == modules)
      break;
    remaining -= curves[best_module][best_candidate].bytes - curves[best_module][result.choice[best_module]].bytes;
    result.choice[best_module] = best_candidate;
  }

  result.bytes = budget - remaining;
  result.error = detail::total_error(curves, result.choice);
  // 4. Never worse than the reference.
  if (!reference.empty())
  {
    std::int64_t const bytes = detail::total_bytes(curves, reference);
    double const error = detail::total_error(curves, reference);
    if (bytes <= budget && error < result.error)
      result = ModelAllocation{reference, bytes, error};
  }
  return result;
}

} // namespace sgpte

#endif
