#ifndef SGPTE_CORE_PRODUCT_PRECISION_HPP
#define SGPTE_CORE_PRODUCT_PRECISION_HPP

// The arithmetic of the calibration statistics' product XᵀX, most of a calibration pass on a
// GPU (SPEC §2).
//
// fp32: float products accumulated in float, as the reference forms them. tf32: the inputs
// rounded to TensorFloat-32 (float's 8-bit exponent, a 10-bit mantissa) and multiplied on the
// tensor cores, the products accumulated in float: an opt-in speed option, on Cuda with cuBLAS
// only. Each product then carries a relative error of up to about 2⁻¹⁰ (against 2⁻²³), like
// PyTorch's matmul with allow_tf32, which the reference turns off.

#include <map>
#include <string>

namespace sgpte
{

enum class ProductPrecision
{
  fp32,
  tf32
};

// The names the command-line options take.
inline std::map<std::string, ProductPrecision> const &product_precision_names()
{
  static std::map<std::string, ProductPrecision> const names = {{"fp32", ProductPrecision::fp32},
                                                                {"tf32", ProductPrecision::tf32}};
  return names;
}

} // namespace sgpte

#endif
