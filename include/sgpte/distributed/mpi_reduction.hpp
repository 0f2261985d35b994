#ifndef SGPTE_DISTRIBUTED_MPI_REDUCTION_HPP
#define SGPTE_DISTRIBUTED_MPI_REDUCTION_HPP

// The calibration statistics and perplexities of MPI processes that each hold a share of the
// windows (opt::window_share), combined into those of all the windows. Deterministic: rank 0
// merges the ranks' statistics in rank order (merge_statistics) and broadcasts the result,
// so every rank holds the same bits whatever the timing, and the result does not depend on
// the number of ranks beyond rounding; with one rank nothing changes. The data travel
// through host memory, so any MPI serves, CUDA-aware or not. Needs sgpte built with
// -DSGPTE_ENABLE_MPI=ON. MPI's default error handler (errors are fatal) is assumed: return
// codes are not checked.

#include <sgpte/config.hpp>

#if !SGPTE_HAVE_MPI
#error "sgpte/distributed/mpi_reduction.hpp needs sgpte configured with -DSGPTE_ENABLE_MPI=ON"
#endif

#include <sgpte/calibration/calibration_statistics.hpp>
#include <sgpte/calibration/host_statistics.hpp>
#include <sgpte/opt/perplexity.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include <mpi.h>

namespace sgpte::distributed
{

inline int rank_of(MPI_Comm communicator)
{
  int rank = 0;
  MPI_Comm_rank(communicator, &rank);
  return rank;
}

inline int ranks_of(MPI_Comm communicator)
{
  int ranks = 1;
  MPI_Comm_size(communicator, &ranks);
  return ranks;
}

namespace detail
{

template <class Value>
MPI_Datatype datatype()
{
  static_assert(std::is_same_v<Value, float> || std::is_same_v<Value, double> ||
                    std::is_same_v<Value, std::int64_t>,
                "float, double or int64 values");
  if constexpr (std::is_same_v<Value, float>)
    return MPI_FLOAT;
  else if constexpr (std::is_same_v<Value, double>)
    return MPI_DOUBLE;
  else
    return MPI_INT64_T;
}

// MPI counts are int: a Hessian of more than 2³¹ − 1 entries (46341² and up) goes in pieces.
inline constexpr std::size_t message_values = std::size_t(1) << 30;

enum class Transfer
{
  send,
  receive,
  broadcast
};

// Sends `count` values to `peer`, receives them from `peer`, or broadcasts them from `peer`.
template <class Value>
void transfer(Transfer transfer, Value *values, std::size_t count, int peer, MPI_Comm communicator)
{
  for (std::size_t first = 0; first < count; first += message_values)
  {
    int const piece = static_cast<int>(std::min(message_values, count - first));
    if (transfer == Transfer::send)
      MPI_Send(values + first, piece, datatype<Value>(), peer, 0, communicator);
    else if (transfer == Transfer::receive)
      MPI_Recv(values + first, piece, datatype<Value>(), peer, 0, communicator, MPI_STATUS_IGNORE);
    else
      MPI_Bcast(values + first, piece, datatype<Value>(), peer, communicator);
  }
}

inline void transfer(Transfer how, HostCalibrationStatistics &statistics, int peer,
                     MPI_Comm communicator)
{
  transfer(how, statistics.hessian.data(), statistics.hessian.size(), peer, communicator);
  for (auto const &column : {statistics.mean_abs, statistics.mean, statistics.m2})
    transfer(how, column.data(), column.size(), peer, communicator);
  std::int64_t counts[] = {statistics.tokens, statistics.samples};
  transfer(how, counts, 2, peer, communicator);
  statistics.tokens = counts[0];
  statistics.samples = counts[1];
}

} // namespace detail

// Every rank's `statistics` become those of all ranks' samples. Collective: every rank calls
// it for the same layers in the same order.
template <class ExecutionSpace>
void merge_across_ranks(MPI_Comm communicator, ExecutionSpace const &space,
                        CalibrationStatistics<ExecutionSpace> &statistics)
{
  int const ranks = ranks_of(communicator);
  if (ranks == 1)
    return;
  HostCalibrationStatistics merged = statistics.to_host(space);
  if (rank_of(communicator) == 0)
  {
    HostCalibrationStatistics other = empty_host_statistics(merged.columns());
    for (int rank = 1; rank < ranks; ++rank)
    {
      detail::transfer(detail::Transfer::receive, other, rank, communicator);
      merge_statistics(merged, other);
    }
  }
  else
    detail::transfer(detail::Transfer::send, merged, 0, communicator);
  detail::transfer(detail::Transfer::broadcast, merged, 0, communicator);
  statistics.assign(space, merged);
}

// The perplexity over all ranks' windows, on every rank, from each rank's result over its
// share (opt::window_share: the shares in rank order are the windows in order). The window
// losses are summed in window order (opt::perplexity_of): the perplexity equals a single
// process's whenever the window losses do. The seconds are the slowest rank's.
inline opt::PerplexityResult merge_perplexity(MPI_Comm communicator,
                                              opt::PerplexityResult const &share)
{
  int const ranks = ranks_of(communicator);
  if (ranks == 1)
    return share;
  int const count = static_cast<int>(share.window_losses.size());
  std::vector<int> counts(ranks);
  MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, communicator);
  std::vector<int> offsets(ranks, 0);
  for (int rank = 1; rank < ranks; ++rank)
    offsets[rank] = offsets[rank - 1] + counts[rank - 1];
  std::vector<double> losses(static_cast<std::size_t>(offsets.back() + counts.back()));
  MPI_Allgatherv(share.window_losses.data(), count, MPI_DOUBLE, losses.data(), counts.data(),
                 offsets.data(), MPI_DOUBLE, communicator);
  double seconds = share.seconds;
  MPI_Allreduce(MPI_IN_PLACE, &seconds, 1, MPI_DOUBLE, MPI_MAX, communicator);
  return opt::perplexity_of(std::move(losses), seconds);
}

} // namespace sgpte::distributed

#endif
