#ifndef SGPTE_DRIVERS_SGPTE_OPT_RANKS_HPP
#define SGPTE_DRIVERS_SGPTE_OPT_RANKS_HPP

// The processes of a run, as sgpte-opt shares the work among them: one process, or with
// -DSGPTE_ENABLE_MPI=ON those of MPI_COMM_WORLD (mpirun -np N sgpte-opt …). Each process
// holds a share of the calibration and evaluation windows and runs their forward passes; the
// statistics and window losses are combined across processes (distributed/mpi_reduction.hpp),
// after which the processes share the rows of every module's sweep and gather them
// (distributed/mpi_row_exchange.hpp), so that each holds every compressed layer; process 0
// prints and writes.
// A build without MPI includes no MPI header and shares nothing.

#include <sgpte/config.hpp>

#include <sgpte/calibration/calibration_statistics.hpp>
#include <sgpte/opt/perplexity.hpp>
#include <sgpte/opt/sequential_compression.hpp>
#include <sgpte/opt/token_windows.hpp>
#include <sgpte/sweep/row_exchange.hpp>

#include <memory>

#if SGPTE_HAVE_MPI
#include <sgpte/distributed/mpi_reduction.hpp>
#include <sgpte/distributed/mpi_row_exchange.hpp>

#include <mpi.h>
#endif

namespace sgpte::drivers
{

class Ranks
{
public:
  // Initialises MPI (before Kokkos, which it outlives) where the build has it.
  Ranks(int &argc, char **&argv)
  {
#if SGPTE_HAVE_MPI
    MPI_Init(&argc, &argv);
    _rank = distributed::rank_of(MPI_COMM_WORLD);
    _size = distributed::ranks_of(MPI_COMM_WORLD);
    if (_size > 1)
      _rows = std::make_unique<distributed::MpiRowExchange>(MPI_COMM_WORLD);
#else
    (void)argc;
    (void)argv;
#endif
  }
  Ranks(Ranks const &) = delete;
  Ranks &operator=(Ranks const &) = delete;
  ~Ranks()
  {
#if SGPTE_HAVE_MPI
    MPI_Finalize();
#endif
  }

  int rank() const { return _rank; }
  int size() const { return _size; }
  // Whether this process prints and writes the outputs.
  bool leads() const { return _rank == 0; }

  opt::TokenWindows share(opt::TokenWindows const &windows) const
  {
    return _size == 1 ? windows : opt::window_share(windows, _rank, _size);
  }

  // Combines each layer's statistics across the processes; none with one process.
  template <class ExecutionSpace>
  opt::StatisticsReduction<ExecutionSpace> statistics_reduction() const
  {
#if SGPTE_HAVE_MPI
    if (_size > 1)
      return [](ExecutionSpace const &space, CalibrationStatistics<ExecutionSpace> &statistics)
      { distributed::merge_across_ranks(MPI_COMM_WORLD, space, statistics); };
#endif
    return {};
  }

  // Shares the rows of each module's sweep among the processes; none with one process.
  RowExchange const *row_exchange() const { return _rows.get(); }

  // The perplexity over every process's windows from this process's over its share.
  opt::PerplexityResult merge(opt::PerplexityResult const &share) const
  {
#if SGPTE_HAVE_MPI
    return distributed::merge_perplexity(MPI_COMM_WORLD, share);
#else
    return share;
#endif
  }

  // After an error on this process: with several processes the others may be waiting for it
  // in a collective, so all of them are ended (with `status`); with one, nothing happens.
  void end_all_after_error(int status) const
  {
#if SGPTE_HAVE_MPI
    if (_size > 1)
      MPI_Abort(MPI_COMM_WORLD, status);
#else
    (void)status;
#endif
  }

private:
  int _rank = 0;
  int _size = 1;
  std::unique_ptr<RowExchange> _rows;
};

} // namespace sgpte::drivers

#endif
