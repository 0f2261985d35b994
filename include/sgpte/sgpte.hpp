#ifndef SGPTE_SGPTE_HPP
#define SGPTE_SGPTE_HPP

// Umbrella header: the whole public API of sgpte.

#include <sgpte/config.hpp>

#include <sgpte/allocation/bit_allocation.hpp>
#include <sgpte/allocation/packed_budget.hpp>
#include <sgpte/calibration/calibration_statistics.hpp>
#include <sgpte/core/error.hpp>
#include <sgpte/importance/importance_score.hpp>
#include <sgpte/importance/obs_sensitivity.hpp>
#include <sgpte/layer/compression_options.hpp>
#include <sgpte/layer/layer_compressor.hpp>
#include <sgpte/linalg/inverse_hessian_factor.hpp>
#include <sgpte/opt/opt.hpp>
#include <sgpte/quantization/quantizer.hpp>
#include <sgpte/stats/quantization_stats.hpp>
#include <sgpte/sweep/fused_sweep.hpp>
#include <sgpte/sweep/row_exchange.hpp>
#include <sgpte/sweep/row_shards.hpp>

#if SGPTE_HAVE_MPI
#include <sgpte/distributed/mpi_reduction.hpp>
#include <sgpte/distributed/mpi_row_exchange.hpp>
#endif

#endif
