#ifndef SGPTE_OPT_MODEL_ALLOCATION_HPP
#define SGPTE_OPT_MODEL_ALLOCATION_HPP

// The result of the model-wide allocation (AllocationMethod::model), which shares the packed
// bytes of the whole model out among its modules in a pre-pass (opt/sequential_compression.hpp).

#include <sgpte/opt/tensor_names.hpp>

#include <array>
#include <cstdint>
#include <vector>

namespace sgpte::opt
{

// Per compressed layer (from the first one compressed) and module, the packed bytes beyond
// uniform ⌊target⌋-bit quantization that the module's packed allocation is given
// (CompressionOptions::packed_extra_bytes; may be negative).
using ModelAllocationBytes = std::vector<std::array<std::int64_t, linear_modules.size()>>;

} // namespace sgpte::opt

#endif
