#ifndef SGPTE_DISTRIBUTED_MPI_ROW_EXCHANGE_HPP
#define SGPTE_DISTRIBUTED_MPI_ROW_EXCHANGE_HPP

// The RowExchange of the processes of an MPI communicator: the rows of each layer's sweep
// shared among them (sweep/row_shards.hpp). The threshold histograms are summed with
// MPI_Allreduce (integer counts: the same sums in any order), the swept rows gathered with
// MPI_Allgatherv, one MPI datatype per row so that the counts are rows (a layer's bytes may
// exceed an int). Host memory, so any MPI serves, CUDA-aware or not. Needs sgpte built with
// -DSGPTE_ENABLE_MPI=ON; MPI's default error handler (errors are fatal) is assumed.

#include <sgpte/config.hpp>

#if !SGPTE_HAVE_MPI
#error "sgpte/distributed/mpi_row_exchange.hpp needs sgpte configured with -DSGPTE_ENABLE_MPI=ON"
#endif

#include <sgpte/core/error.hpp>
#include <sgpte/distributed/mpi_reduction.hpp>
#include <sgpte/sweep/row_exchange.hpp>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <mpi.h>

namespace sgpte::distributed
{

class MpiRowExchange final : public RowExchange
{
public:
  explicit MpiRowExchange(MPI_Comm communicator)
      : _communicator(communicator), _rank(rank_of(communicator)), _size(ranks_of(communicator))
  {
  }

  int rank() const override { return _rank; }
  int size() const override { return _size; }

  void sum(std::uint32_t *values, std::size_t count) const override
  {
    for (std::size_t first = 0; first < count; first += detail::message_values)
    {
      int const piece = static_cast<int>(std::min(detail::message_values, count - first));
      MPI_Allreduce(MPI_IN_PLACE, values + first, piece, MPI_UINT32_T, MPI_SUM, _communicator);
    }
  }

  void gather_rows(std::byte *rows, std::size_t row_bytes,
                   std::vector<int> const &row_counts) const override
  {
    if (static_cast<int>(row_counts.size()) != _size)
      throw InvalidArgument("row counts for " + std::to_string(row_counts.size()) +
                            " processes, not " + std::to_string(_size));
    if (row_bytes > static_cast<std::size_t>(INT_MAX))
      throw InvalidArgument("a row of " + std::to_string(row_bytes) + " bytes is too long for MPI");
    std::vector<int> offsets(row_counts.size(), 0);
    for (std::size_t rank = 1; rank < row_counts.size(); ++rank)
      offsets[rank] = offsets[rank - 1] + row_counts[rank - 1];
    MPI_Datatype row;
    MPI_Type_contiguous(static_cast<int>(row_bytes), MPI_BYTE, &row);
    MPI_Type_commit(&row);
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, rows, row_counts.data(), offsets.data(), row,
                   _communicator);
    MPI_Type_free(&row);
  }

private:
  MPI_Comm _communicator;
  int _rank;
  int _size;
};

} // namespace sgpte::distributed

#endif
