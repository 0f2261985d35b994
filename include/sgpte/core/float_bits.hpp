#ifndef SGPTE_CORE_FLOAT_BITS_HPP
#define SGPTE_CORE_FLOAT_BITS_HPP

// A float's bit pattern and back, in host and device code (memcpy is the portable bit cast;
// compilers reduce it to a register move).

#include <sgpte/core/host_device.hpp>

#include <cstdint>
#include <cstring>

namespace sgpte::detail
{

SGPTE_HOST_DEVICE std::uint32_t float_bits(float x)
{
  std::uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
}

SGPTE_HOST_DEVICE float bits_to_float(std::uint32_t bits)
{
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

} // namespace sgpte::detail

#endif
