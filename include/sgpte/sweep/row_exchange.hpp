#ifndef SGPTE_SWEEP_ROW_EXCHANGE_HPP
#define SGPTE_SWEEP_ROW_EXCHANGE_HPP

// The processes that share the rows of a layer's sweep (sweep/row_shards.hpp). Given the
// inverse-Hessian factor every row of W is swept independently, except for the unstructured
// mask, whose threshold is a rank over all rows of a column block: so each process sweeps a
// contiguous block of rows (row_block), the processes sum their threshold histograms (exact:
// integer counts) and finally gather each other's rows. An interface, so that the library
// itself includes no MPI header: distributed/mpi_row_exchange.hpp implements it over an MPI
// communicator. Every call is collective (every process makes the same calls in the same
// order) and takes host memory.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sgpte
{

class RowExchange
{
public:
  virtual ~RowExchange() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;

  // Every process's `values` become the sums over all processes.
  virtual void sum(std::uint32_t *values, std::size_t count) const = 0;

  // `rows` holds the rows of all processes, `row_bytes` bytes each, in rank order: process p's
  // block is the row_counts[p] · row_bytes bytes after the blocks before it (laid out inside as
  // the caller likes). On entry this process's block is filled, on return all are.
  virtual void gather_rows(std::byte *rows, std::size_t row_bytes,
                           std::vector<int> const &row_counts) const = 0;
};

// A contiguous range of rows.
struct RowBlock
{
  int first = 0;
  int count = 0;
};

// Process `rank`'s rows among `ranks` processes: contiguous blocks in rank order whose sizes
// differ by at most one (the first rows % ranks blocks have one more).
inline RowBlock row_block(int rows, int rank, int ranks)
{
  int const base = rows / ranks;
  int const extra = rows % ranks;
  return {rank * base + (rank < extra ? rank : extra), base + (rank < extra ? 1 : 0)};
}

// Every process's number of rows, in rank order.
inline std::vector<int> row_counts(int rows, int ranks)
{
  std::vector<int> counts(static_cast<std::size_t>(ranks));
  for (int rank = 0; rank < ranks; ++rank)
    counts[static_cast<std::size_t>(rank)] = row_block(rows, rank, ranks).count;
  return counts;
}

} // namespace sgpte

#endif
