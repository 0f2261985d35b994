#ifndef SGPTE_PACKED_PACKED_HPP
#define SGPTE_PACKED_PACKED_HPP

// Packed checkpoints (docs/format.md): what the compression saved, in bytes. pack_layer and
// write_layer / read_layer for one layer, PackedModelWriter and unpack_model for a model,
// unpack back to dense weights, packed_matmul to compute with a packed layer directly.

#include <sgpte/packed/layer_file.hpp>
#include <sgpte/packed/model_reader.hpp>
#include <sgpte/packed/model_writer.hpp>
#include <sgpte/packed/pack.hpp>
#include <sgpte/packed/packed_matmul.hpp>
#include <sgpte/packed/unpack.hpp>

#endif
