#ifndef SGPTE_ALLOCATION_DETAIL_UPGRADE_HEAPS_HPP
#define SGPTE_ALLOCATION_DETAIL_UPGRADE_HEAPS_HPP

// The pending upgrades of the budget greedy, one max-heap per upgrade cost (the distinct
// steps between consecutive bit options). The best upgrade that still fits the budget is
// the best of the tops of the heaps whose cost fits; since the remaining budget only
// shrinks, a heap whose cost stops fitting is dropped for good.

#include <cstdint>
#include <map>
#include <optional>
#include <queue>
#include <vector>

namespace sgpte::detail
{

struct Upgrade
{
  double gain; // per added bit
  int column;
};

// The greedy's order: larger gain first, ties to the lower column.
inline bool is_better_upgrade(Upgrade const &a, Upgrade const &b)
{
  return a.gain > b.gain || (a.gain == b.gain && a.column < b.column);
}

class UpgradeHeaps
{
public:
  explicit UpgradeHeaps(std::vector<int> const &bit_options)
  {
    for (std::size_t o = 1; o < bit_options.size(); ++o)
      _index_of_cost.emplace(bit_options[o] - bit_options[o - 1], 0);
    int index = 0;
    for (auto &entry : _index_of_cost)
    {
      entry.second = index++;
      _costs.push_back(entry.first);
    }
    _heaps.resize(_costs.size());
    _dropped.assign(_costs.size(), false);
  }

  void push(int cost, Upgrade upgrade)
  {
    int const index = _index_of_cost.at(cost);
    if (!_dropped[index])
      _heaps[index].push(upgrade);
  }

  std::optional<Upgrade> pop_best_fitting(std::int64_t remaining_bits)
  {
    int best = -1;
    for (std::size_t h = 0; h < _heaps.size(); ++h)
    {
      if (_dropped[h])
        continue;
      if (_costs[h] > remaining_bits)
      {
        _dropped[h] = true;
        _heaps[h] = heap();
        continue;
      }
      if (!_heaps[h].empty() && (best < 0 || is_better_upgrade(_heaps[h].top(), _heaps[best].top())))
        best = static_cast<int>(h);
    }
    if (best < 0)
      return std::nullopt;
    Upgrade const upgrade = _heaps[best].top();
    _heaps[best].pop();
    return upgrade;
  }

private:
  struct WorseUpgrade
  {
    bool operator()(Upgrade const &a, Upgrade const &b) const { return is_better_upgrade(b, a); }
  };
  using heap = std::priority_queue<Upgrade, std::vector<Upgrade>, WorseUpgrade>;

  std::map<int, int> _index_of_cost;
  std::vector<int> _costs;
  std::vector<heap> _heaps;
  std::vector<bool> _dropped;
};

} // namespace sgpte::detail

#endif
