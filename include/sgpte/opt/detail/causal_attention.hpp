#ifndef SGPTE_OPT_DETAIL_CAUSAL_ATTENTION_HPP
#define SGPTE_OPT_DETAIL_CAUSAL_ATTENTION_HPP

// Causal multi-head self-attention of OPT for windows of `seqlen` tokens, given the
// projected (and already scaled) queries, keys and values: per window and head,
// scores = q kᵀ, a softmax over the keys up to the query's own position, context = p v.
// Both products are GEMMs on sub-views of the column-major features × tokens views (a head
// is a block of rows, a window a block of columns); the scores of all heads of one window
// live in a seqlen × (heads · seqlen) workspace, keys down the rows, so each query's scores
// are contiguous for the softmax.

#include <sgpte/core/kokkos_compat.hpp>
#include <sgpte/core/views.hpp>
#include <sgpte/opt/activations.hpp>

#include <Kokkos_Core.hpp>

#include <utility>

namespace sgpte::opt::detail
{

// The softmax of transformers' eager attention: masked keys (after the query) get
// probability 0, the rest exp(s − max) / Σ exp(s − max) over the visible keys. The
// exponentials are computed twice (for the sum, then for the result) rather than stored in
// between: the scores are the largest buffer of the forward pass, and a stored
// intermediate would cost one more write and read of them; exp gives the same float both
// times.
template <class ExecutionSpace>
void causal_softmax(ExecutionSpace const &space, Matrix<ExecutionSpace> const &scores, int seqlen)
{
  using Policy = Kokkos::TeamPolicy<ExecutionSpace>;
  using Member = typename Policy::member_type;
  Kokkos::parallel_for(
      "sgpte::opt::causal_softmax", Policy(space, static_cast<int>(scores.extent(1)), Kokkos::AUTO),
      KOKKOS_LAMBDA(Member const &team) {
        int const column = team.league_rank();
        int const visible = column % seqlen + 1; // keys 0 … query position
        float maximum = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(team, visible),
            [&](int key, float &partial) { partial = larger(partial, scores(key, column)); },
            Kokkos::Max<float>(maximum));
        double sum = 0.0;
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(team, visible),
            [&](int key, double &partial)
            { partial += compat::exp(scores(key, column) - maximum); },
            sum);
        auto const inverse = static_cast<float>(1.0 / sum);
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, seqlen),
                             [&](int key)
                             {
                               scores(key, column) =
                                   key < visible
                                       ? compat::exp(scores(key, column) - maximum) * inverse
                                       : 0.0f;
                             });
      });
}

// q, k, v, context: tokens × hidden (windows · seqlen tokens); scores: a workspace of
// seqlen × (heads · seqlen).
template <class ExecutionSpace>
void causal_self_attention(ExecutionSpace const &space, Activations<ExecutionSpace> const &q,
                           Activations<ExecutionSpace> const &k,
                           Activations<ExecutionSpace> const &v,
                           Activations<ExecutionSpace> const &context, int seqlen, int heads,
                           Matrix<ExecutionSpace> const &scores)
{
  int const head_dim = static_cast<int>(q.extent(1)) / heads;
  int const windows = static_cast<int>(q.extent(0)) / seqlen;
  auto const q_t = transposed(q), k_t = transposed(k), v_t = transposed(v);
  auto const context_t = transposed(context);
  auto const head_rows = [&](int head)
  { return std::make_pair(head * head_dim, (head + 1) * head_dim); };
  auto const head_scores = [&](int head)
  {
    return Kokkos::subview(scores, Kokkos::ALL(),
                           std::make_pair(head * seqlen, (head + 1) * seqlen));
  };
  for (int window = 0; window < windows; ++window)
  {
    auto const tokens = std::make_pair(window * seqlen, (window + 1) * seqlen);
    // scoresᵀ (keys × queries) = K Qᵀ = (Kᵀ)ᵀ Qᵀ.
    for (int head = 0; head < heads; ++head)
      compat::gemm(space, "T", "N", 1.0f, Kokkos::subview(k_t, head_rows(head), tokens),
                   Kokkos::subview(q_t, head_rows(head), tokens), 0.0f, head_scores(head));
    causal_softmax(space, scores, seqlen);
    // contextᵀ (head_dim × queries) = Vᵀ Pᵀ.
    for (int head = 0; head < heads; ++head)
      compat::gemm(space, "N", "N", 1.0f, Kokkos::subview(v_t, head_rows(head), tokens),
                   head_scores(head), 0.0f, Kokkos::subview(context_t, head_rows(head), tokens));
  }
}

} // namespace sgpte::opt::detail

#endif
