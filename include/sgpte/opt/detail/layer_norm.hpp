#ifndef SGPTE_OPT_DETAIL_LAYER_NORM_HPP
#define SGPTE_OPT_DETAIL_LAYER_NORM_HPP

// torch.nn.LayerNorm over the features of each token (eps 1e-5, the default OPT uses):
// y = (x − mean) / sqrt(var + eps) · weight + bias with the biased variance. One team per
// token; mean and variance are accumulated in double in two passes, y computed in float and
// rounded to the output's type (PyTorch's half-precision layer norm also computes in float).

#include <sgpte/core/half_precision.hpp>
#include <sgpte/core/kokkos_compat.hpp>
#include <sgpte/opt/activations.hpp>
#include <sgpte/opt/opt_weights.hpp>

#include <Kokkos_Core.hpp>

namespace sgpte::opt::detail
{

inline constexpr double layer_norm_epsilon = 1e-5;

// The layer norm of one token's row of `input` into the same row of `output`, by the team
// the row belongs to. A team that has just written the row must pass a team barrier first.
template <class Member, class InputView, class ExecutionSpace, class Value>
KOKKOS_INLINE_FUNCTION void layer_norm_row(Member const &team, std::int64_t token,
                                           InputView const &input,
                                           LayerNormWeights<ExecutionSpace> const &weights,
                                           Activations<ExecutionSpace, Value> const &output)
{
  int const features = static_cast<int>(input.extent(1));
  bool const affine = weights.weight.extent(0) > 0;
  double sum = 0.0;
  Kokkos::parallel_reduce(
      Kokkos::TeamThreadRange(team, features),
      [&](int j, double &partial) { partial += to_float(input(token, j)); }, sum);
  double const mean = sum / features;
  double squares = 0.0;
  Kokkos::parallel_reduce(
      Kokkos::TeamThreadRange(team, features),
      [&](int j, double &partial)
      {
        double const deviation = to_float(input(token, j)) - mean;
        partial += deviation * deviation;
      },
      squares);
  auto const mean_f = static_cast<float>(mean);
  auto const inverse_std =
      static_cast<float>(1.0 / compat::sqrt(squares / features + layer_norm_epsilon));
  Kokkos::parallel_for(Kokkos::TeamThreadRange(team, features),
                       [&](int j)
                       {
                         float const normalised = (to_float(input(token, j)) - mean_f) * inverse_std;
                         output(token, j) = from_float<Value>(
                             affine ? normalised * weights.weight(j) + weights.bias(j) : normalised);
                       });
}

template <class ExecutionSpace, class InputView, class Value>
void layer_norm(ExecutionSpace const &space, LayerNormWeights<ExecutionSpace> const &weights,
                InputView const &input, Activations<ExecutionSpace, Value> const &output)
{
  using Policy = Kokkos::TeamPolicy<ExecutionSpace>;
  using Member = typename Policy::member_type;
  Kokkos::parallel_for(
      "sgpte::opt::layer_norm", Policy(space, static_cast<int>(input.extent(0)), Kokkos::AUTO),
      KOKKOS_LAMBDA(Member const &team) {
        layer_norm_row(team, team.league_rank(), input, weights, output);
      });
}

} // namespace sgpte::opt::detail

#endif
