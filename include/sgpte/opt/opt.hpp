#ifndef SGPTE_OPT_OPT_HPP
#define SGPTE_OPT_OPT_HPP

// The OPT model layer of sgpte: checkpoints, the forward pass on Kokkos, perplexity and
// sequential compression (SPEC §10).
//
//   sgpte::opt::OptCheckpoint checkpoint("models/tiny-opt");
//   auto const calibration = sgpte::opt::calibration_windows(tokens, 256, 128, /*seed*/ 0);
//   sgpte::opt::SequentialOptions options;            // + options.compression, layer_bits, ...
//   sgpte::QuantizationStats stats;
//   sgpte::opt::compress_sequential(space, checkpoint, calibration, options, stats);
//   auto const ppl = sgpte::opt::evaluate_perplexity(space, checkpoint,
//                                                    sgpte::opt::evaluation_windows(eval, 256));
//   checkpoint.write("out/tiny-opt-compressed");

#include <sgpte/opt/activations.hpp>
#include <sgpte/opt/decoder_layer.hpp>
#include <sgpte/opt/layer_bits_schedule.hpp>
#include <sgpte/opt/model_allocation.hpp>
#include <sgpte/opt/model_forward.hpp>
#include <sgpte/opt/opt_checkpoint.hpp>
#include <sgpte/opt/opt_weights.hpp>
#include <sgpte/opt/perplexity.hpp>
#include <sgpte/opt/progress.hpp>
#include <sgpte/opt/sequential_compression.hpp>
#include <sgpte/opt/tensor_names.hpp>
#include <sgpte/opt/token_windows.hpp>

#endif
