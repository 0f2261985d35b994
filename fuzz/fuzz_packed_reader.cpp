// Fuzz target: the packed-layer reader (include/sgpte/packed). Opens the input as a packed
// layer file (read_layer: metadata, widths, scales, zeros, code streams, mask or N:M
// indices, all validated against each other) and unpacks it to dense weights on the host
// backend. A malformed file must end in sgpte::Error; anything else (a crash, a sanitizer
// report, another exception, NaN or Inf in the unpacked weights) is a finding.

#include <sgpte/packed/layer_file.hpp>
#include <sgpte/packed/unpack.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "fuzz_input_file.hpp"

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
  // Kokkos is initialised once for the whole run; it is never finalised (libFuzzer exits).
  Kokkos::initialize();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const *data, std::size_t size)
{
  using Space = Kokkos::DefaultHostExecutionSpace;
  sgpte_fuzz::InputFile const file(data, size);
  try
  {
    Space const space;
    auto const layer = sgpte::packed::read_layer(space, file.path());
    auto const weights = sgpte::packed::unpack(space, layer);
    space.fence();
    for (std::size_t i = 0; i < weights.span(); ++i)
      if (!std::isfinite(weights.data()[i]))
        std::abort(); // a packed file that validates must unpack to finite weights
  }
  catch (sgpte::Error const &)
  {
  }
  return 0;
}
