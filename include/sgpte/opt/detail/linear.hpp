#ifndef SGPTE_OPT_DETAIL_LINEAR_HPP
#define SGPTE_OPT_DETAIL_LINEAR_HPP

// y = x Wᵀ + b for row-major activations x (tokens × in) and a row-major weight W (out × in,
// as checkpoints store it): one GEMM on the transposed views (yᵀ = (Wᵀ)ᵀ xᵀ, fp32
// accumulation, y rounded to the activations' type), then one elementwise pass for the bias
// and whatever follows it in OPT — the attention scaling of q, the ReLU of fc1, the residual
// sum — in float, in the order transformers evaluates them, the result rounded to the
// activations' type (PyTorch in half precision rounds after the bias, the scaling and the
// residual sum each: the two differ by rounding, not in kind). Where a layer norm follows
// the sum, linear_then_layer_norm does both in that pass.

#include <sgpte/backends/mixed_precision_gemm.hpp>
#include <sgpte/core/half_precision.hpp>
#include <sgpte/core/views.hpp>
#include <sgpte/opt/activations.hpp>
#include <sgpte/opt/detail/layer_norm.hpp>
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

template <class ExecutionSpace, class Value>
struct LinearEpilogueEntry
{
  Activations<ExecutionSpace, Value> output;
  Vector<ExecutionSpace, float> bias;          // empty: no bias
  Activations<ExecutionSpace, Value> residual; // empty: no residual
  LinearEpilogue epilogue;

  KOKKOS_FUNCTION void operator()(std::int64_t token, std::int64_t feature) const
  {
    float value = to_float(output(token, feature));
    if (bias.extent(0) > 0)
      value += bias(feature);
    value *= epilogue.scale;
    if (epilogue.relu && value < 0.0f)
      value = 0.0f;
    if (residual.extent(0) > 0)
      value = to_float(residual(token, feature)) + value;
    output(token, feature) = from_float<Value>(value);
  }
};

// The epilogue of a token's row, then the row's layer norm by the same team: the row is read
// back from cache rather than memory, and one kernel replaces two. The values are those of
// the epilogue followed by layer_norm(): the norm reads the row as stored.
template <class ExecutionSpace, class Value>
struct EpilogueThenLayerNorm
{
  using Member = typename Kokkos::TeamPolicy<ExecutionSpace>::member_type;
  LinearEpilogueEntry<ExecutionSpace, Value> entry;
  LayerNormWeights<ExecutionSpace> norm;
  Activations<ExecutionSpace, Value> normed;

  KOKKOS_FUNCTION void operator()(Member const &team) const
  {
    std::int64_t const token = team.league_rank();
    Kokkos::parallel_for(
        Kokkos::TeamThreadRange(team, static_cast<std::int64_t>(entry.output.extent(1))),
        [&](std::int64_t feature) { entry(token, feature); });
    team.team_barrier();
    layer_norm_row(team, token, entry.output, norm, normed);
  }
};

template <class ExecutionSpace, class Value, class InputView>
void product(ExecutionSpace const &space, LinearWeights<ExecutionSpace, Value> const &weights,
             InputView const &input, Activations<ExecutionSpace, Value> const &output)
{
  backends::mixed_precision_gemm(space, "T", "N", 1.0f, transposed(weights.weight),
                                 transposed(input), 0.0f, transposed(output));
}

template <class ExecutionSpace, class Value, class InputView>
void linear(
    ExecutionSpace const &space, LinearWeights<ExecutionSpace, Value> const &weights,
    InputView const &input, Activations<ExecutionSpace, Value> const &output,
    LinearEpilogue epilogue = {},
    Activations<ExecutionSpace, Value> const &residual = Activations<ExecutionSpace, Value>())
{
  product(space, weights, input, output);
  if (weights.bias.extent(0) == 0 && residual.extent(0) == 0 && !epilogue.relu &&
      epilogue.scale == 1.0f)
    return;
  for_every_entry(
      "sgpte::opt::linear_epilogue", space, output.extent(0), output.extent(1),
      LinearEpilogueEntry<ExecutionSpace, Value>{output, weights.bias, residual, epilogue});
}

// output = relu?((x Wᵀ + b) · scale) + residual as linear(), and normed = its layer norm.
template <class ExecutionSpace, class Value, class InputView>
void linear_then_layer_norm(ExecutionSpace const &space,
                            LinearWeights<ExecutionSpace, Value> const &weights,
                            InputView const &input, Activations<ExecutionSpace, Value> const &output,
                            LinearEpilogue epilogue,
                            Activations<ExecutionSpace, Value> const &residual,
                            LayerNormWeights<ExecutionSpace> const &norm,
                            Activations<ExecutionSpace, Value> const &normed)
{
  product(space, weights, input, output);
  Kokkos::parallel_for(
      "sgpte::opt::linear_epilogue_layer_norm",
      Kokkos::TeamPolicy<ExecutionSpace>(space, static_cast<int>(output.extent(0)), Kokkos::AUTO),
      EpilogueThenLayerNorm<ExecutionSpace, Value>{
          {output, weights.bias, residual, epilogue}, norm, normed});
}

} // namespace sgpte::opt::detail

#endif
