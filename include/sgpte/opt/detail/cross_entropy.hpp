#ifndef SGPTE_OPT_DETAIL_CROSS_ENTROPY_HPP
#define SGPTE_OPT_DETAIL_CROSS_ENTROPY_HPP

// The negative log-likelihood of each next token: −log softmax(logits(t))[ids(t + 1)],
// computed stably as max + log Σ exp(l − max) − l[target] (exponentials in float, their
// sum in double). The last token of every window has no target inside the window and gets 0.

#include <sgpte/core/kokkos_compat.hpp>
#include <sgpte/core/views.hpp>
#include <sgpte/opt/activations.hpp>

#include <Kokkos_Core.hpp>

namespace sgpte::opt::detail
{

// logits: tokens × vocab for tokens [first, first + logits.extent(0)) of the batch whose
// ids are `ids`; nll(first + t) receives token t's loss.
template <class ExecutionSpace>
void next_token_nll(ExecutionSpace const &space, Activations<ExecutionSpace> const &logits,
                    TokenIds<ExecutionSpace> const &ids, int first, int seqlen,
                    Vector<ExecutionSpace, double> const &nll)
{
  using Policy = Kokkos::TeamPolicy<ExecutionSpace>;
  using Member = typename Policy::member_type;
  int const vocab = static_cast<int>(logits.extent(1));
  Kokkos::parallel_for(
      "sgpte::opt::next_token_nll", Policy(space, static_cast<int>(logits.extent(0)), Kokkos::AUTO),
      KOKKOS_LAMBDA(Member const &team) {
        int const row = team.league_rank();
        int const token = first + row;
        if ((token + 1) % seqlen == 0)
        {
          Kokkos::single(Kokkos::PerTeam(team), [&]() { nll(token) = 0.0; });
          return;
        }
        float maximum = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(team, vocab),
            [&](int j, float &partial) { partial = larger(partial, logits(row, j)); },
            Kokkos::Max<float>(maximum));
        double sum = 0.0;
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(team, vocab),
            [&](int j, double &partial) { partial += compat::exp(logits(row, j) - maximum); }, sum);
        Kokkos::single(Kokkos::PerTeam(team), [&]()
                       { nll(token) = maximum + compat::log(sum) - logits(row, ids(token + 1)); });
      });
}

} // namespace sgpte::opt::detail

#endif
