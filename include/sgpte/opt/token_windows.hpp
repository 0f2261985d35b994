#ifndef SGPTE_OPT_TOKEN_WINDOWS_HPP
#define SGPTE_OPT_TOKEN_WINDOWS_HPP

// Windows of `seqlen` tokens cut from a token stream, as the reference pipeline cuts them:
// calibration windows at the starts its data loader draws with random.seed(seed)
// (io::calibration_window_starts), evaluation windows back to back, n_tokens // seqlen of
// them (opt_eval).

#include <sgpte/core/error.hpp>
#include <sgpte/io/python_random.hpp>
#include <sgpte/opt/activations.hpp>
#include <sgpte/opt/detail/device_copy.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sgpte::opt
{

struct TokenWindows
{
  int seqlen = 0;
  std::vector<int> ids; // window after window

  std::size_t count() const
  {
    return seqlen > 0 ? ids.size() / static_cast<std::size_t>(seqlen) : 0;
  }
  std::size_t tokens() const { return ids.size(); }
};

namespace detail
{

inline void require_positive_seqlen(int seqlen)
{
  if (seqlen <= 0)
    throw InvalidArgument("the window length must be positive, got " + std::to_string(seqlen));
}

} // namespace detail

inline TokenWindows calibration_windows(std::vector<std::uint16_t> const &stream, int seqlen,
                                        int nsamples, std::int64_t seed)
{
  detail::require_positive_seqlen(seqlen);
  if (nsamples <= 0)
    throw InvalidArgument("the number of calibration samples must be positive, got " +
                          std::to_string(nsamples));
  TokenWindows windows{seqlen, {}};
  windows.ids.reserve(static_cast<std::size_t>(nsamples) * seqlen);
  for (std::size_t const start :
       io::calibration_window_starts(seed, stream.size(), seqlen, nsamples))
    windows.ids.insert(windows.ids.end(), stream.begin() + start, stream.begin() + start + seqlen);
  return windows;
}

inline TokenWindows evaluation_windows(std::vector<std::uint16_t> const &stream, int seqlen)
{
  detail::require_positive_seqlen(seqlen);
  std::size_t const count = stream.size() / static_cast<std::size_t>(seqlen);
  if (count == 0)
    throw InvalidArgument("the evaluation stream has " + std::to_string(stream.size()) +
                          " tokens, fewer than one window of " + std::to_string(seqlen));
  return TokenWindows{seqlen, std::vector<int>(stream.begin(), stream.begin() + count * seqlen)};
}

// Process `rank`'s share of the windows when `ranks` processes share them out: a contiguous
// run, the first count % ranks processes taking one window more, so that the shares in rank
// order are the windows in order.
inline TokenWindows window_share(TokenWindows const &windows, int rank, int ranks)
{
  if (ranks < 1 || rank < 0 || rank >= ranks)
    throw InvalidArgument("process " + std::to_string(rank) + " of " + std::to_string(ranks) +
                          " does not exist");
  std::size_t const count = windows.count();
  std::size_t const base = count / static_cast<std::size_t>(ranks);
  std::size_t const extra = count % static_cast<std::size_t>(ranks);
  std::size_t const r = static_cast<std::size_t>(rank);
  std::size_t const first = r * base + std::min(r, extra);
  std::size_t const share = base + (r < extra ? 1 : 0);
  std::size_t const seqlen = static_cast<std::size_t>(windows.seqlen);
  return TokenWindows{windows.seqlen,
                      std::vector<int>(windows.ids.begin() + first * seqlen,
                                       windows.ids.begin() + (first + share) * seqlen)};
}

// Windows [first, first + count) on the device.
template <class ExecutionSpace>
TokenIds<ExecutionSpace> windows_on_device(ExecutionSpace const &space, TokenWindows const &windows,
                                           std::size_t first, std::size_t count)
{
  std::size_t const seqlen = static_cast<std::size_t>(windows.seqlen);
  return detail::copy_to_device(space, windows.ids.data() + first * seqlen, count * seqlen,
                                "sgpte::opt::token_ids");
}

} // namespace sgpte::opt

#endif
