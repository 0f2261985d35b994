#ifndef SGPTE_OPT_FORWARD_PRECISION_HPP
#define SGPTE_OPT_FORWARD_PRECISION_HPP

// The precision of the OPT forward passes (calibration and evaluation): the type their
// activations and weights are held in, float, float16 or bfloat16. Products accumulate in
// fp32 whatever it is, layer norms and softmaxes compute in float or double and round their
// results once: what PyTorch does with a model loaded in that dtype, as the official
// pipeline runs an fp16 checkpoint. The calibration statistics and the sweep stay in fp32
// (CalibrationStatistics takes the half-precision activations as the exact values they are).
//
// The default follows the checkpoint on a GPU, as the official pipeline does (F16 → fp16,
// BF16 → bf16, F32 → fp32), and is fp32 on host backends, whose half-precision products
// widen to float (backends/mixed_precision_gemm.hpp) and gain nothing.

#include <sgpte/core/error.hpp>
#include <sgpte/core/half_precision.hpp>
#include <sgpte/core/views.hpp>
#include <sgpte/io/dtype.hpp>

#include <map>
#include <string>
#include <type_traits>

namespace sgpte::opt
{

enum class ForwardPrecision
{
  fp32,
  fp16,
  bf16
};

// The names the command-line option takes.
inline std::map<std::string, ForwardPrecision> const &forward_precision_names()
{
  static std::map<std::string, ForwardPrecision> const names = {{"fp32", ForwardPrecision::fp32},
                                                                {"fp16", ForwardPrecision::fp16},
                                                                {"bf16", ForwardPrecision::bf16}};
  return names;
}

inline std::string forward_precision_name(ForwardPrecision precision)
{
  for (auto const &[name, value] : forward_precision_names())
    if (value == precision)
      return name;
  throw InvalidArgument("unknown forward precision");
}

// The precision of a checkpoint's weights of this dtype (F64 computes in fp32).
inline ForwardPrecision forward_precision_of(io::Dtype dtype)
{
  return dtype == io::Dtype::F16    ? ForwardPrecision::fp16
         : dtype == io::Dtype::BF16 ? ForwardPrecision::bf16
                                    : ForwardPrecision::fp32;
}

// The default for a checkpoint whose weights have `dtype` on ExecutionSpace.
template <class ExecutionSpace>
ForwardPrecision default_forward_precision(io::Dtype dtype)
{
  return sgpte::detail::is_host_space_v<ExecutionSpace> ? ForwardPrecision::fp32
                                                        : forward_precision_of(dtype);
}

// Calls f(Value{}) with the value type of the precision: float, float16 or bfloat16.
template <class Function>
decltype(auto) with_forward_value_type(ForwardPrecision precision, Function &&f)
{
  switch (precision)
  {
  case ForwardPrecision::fp16:
    return f(float16{});
  case ForwardPrecision::bf16:
    return f(bfloat16{});
  case ForwardPrecision::fp32:
    break;
  }
  return f(float{});
}

// Bytes of one value of the precision.
inline std::size_t forward_value_bytes(ForwardPrecision precision)
{
  return precision == ForwardPrecision::fp32 ? sizeof(float) : sizeof(float16);
}

} // namespace sgpte::opt

#endif
