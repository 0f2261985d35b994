#ifndef SGPTE_OPT_DETAIL_LINEAR_HPP
#define SGPTE_OPT_DETAIL_LINEAR_HPP

// y = x Wᵀ + b for row-major activations x (tokens × in) and a column-major weight W
// (out × in): one GEMM on the transposed views (yᵀ = W xᵀ), then one elementwise pass for
// the bias and whatever follows it in OPT — the attention scaling of q, the ReLU of fc1, the
// residual sum — in the order transformers evaluates them, so the rounding matches.

#include <sgpte/core/kokkos_compat.hpp>
#include <sgpte/core/views.hpp>
#include <sgpte/opt/activations.hpp>
#include <sgpte/opt/opt_weights.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>

namespace sgpte::opt::detail
{

// output = relu?((x Wᵀ + b) · scale) + residual, each part optional.
struct LinearEpilogue
{
  float scale = 1.0f;
  bool relu = false;
};

template <class ExecutionSpace>
struct LinearEpilogueEntry
{
  Activations<ExecutionSpace> output;
  Vector<ExecutionSpace, float> bias;   // empty: no bias
  Activations<ExecutionSpace> residual; // empty: no residual
  LinearEpilogue epilogue;

  KOKKOS_FUNCTION void operator()(std::int64_t token, std::int64_t feature) const
  {
    float value = output(token, feature);
    if (bias.extent(0) > 0)
      value += bias(feature);
    value *= epilogue.scale;
    if (epilogue.relu && value < 0.0f)
      value = 0.0f;
    if (residual.extent(0) > 0)
      value = residual(token, feature) + value;
    output(token, feature) = value;
  }
};

template <class ExecutionSpace, class InputView>
void linear(ExecutionSpace const &space, LinearWeights<ExecutionSpace> const &weights,
            InputView const &input, Activations<ExecutionSpace> const &output,
            LinearEpilogue epilogue = {},
            Activations<ExecutionSpace> const &residual = Activations<ExecutionSpace>())
{
  compat::gemm(space, "N", "N", 1.0f, weights.weight, transposed(input), 0.0f, transposed(output));

  if (weights.bias.extent(0) == 0 && residual.extent(0) == 0 && !epilogue.relu &&
      epilogue.scale == 1.0f)
    return;
  for_every_entry("sgpte::opt::linear_epilogue", space, output.extent(0), output.extent(1),
                  LinearEpilogueEntry<ExecutionSpace>{output, weights.bias, residual, epilogue});
}

} // namespace sgpte::opt::detail

#endif
