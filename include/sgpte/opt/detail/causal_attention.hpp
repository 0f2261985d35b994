#ifndef SGPTE_OPT_DETAIL_CAUSAL_ATTENTION_HPP
#define SGPTE_OPT_DETAIL_CAUSAL_ATTENTION_HPP

// Causal multi-head self-attention of OPT for windows of `seqlen` tokens, given the
// projected (and already scaled) queries, keys and values: per window and head,
// scores = q kᵀ, a softmax over the keys up to the query's own position, context = p v.
// Both products are GEMMs on sub-views of the column-major features × tokens views (a head
// is a block of rows, a window a block of columns), one strided batch over the heads per
// window; the scores of all heads of one window live in a seqlen × (heads · seqlen)
// workspace, keys down the rows, so each query's scores are contiguous for the softmax.

#include <sgpte/backends/strided_batched_gemm.hpp>
#include <sgpte/core/kokkos_compat.hpp>
#include <sgpte/core/views.hpp>
#include <sgpte/opt/activations.hpp>

#include <Kokkos_Core.hpp>

#include <tuple>
#include <utility>

namespace sgpte::opt::detail
{

// Queries are taken in this many blocks per window: block j's queries see only the keys
// up to its last query, so both of its products stop there, (blocks + 1) / (2 · blocks)
// of the work of full products — the rest would be scores the softmax masks and
// zeros the context product multiplies.
inline constexpr int causal_query_blocks = 4;

// The first query position of block `block` of a window (seqlen for block causal_query_blocks).
KOKKOS_INLINE_FUNCTION int query_block_begin(int block, int seqlen)
{
  return seqlen * block / causal_query_blocks;
}

// The keys the products of the block holding query position `position` cover: those up to
// the block's last query.
KOKKOS_INLINE_FUNCTION int keys_of_query_block(int position, int seqlen)
{
  int block = 1;
  while (query_block_begin(block, seqlen) <= position)
    ++block;
  return query_block_begin(block, seqlen);
}

// The softmax of transformers' eager attention: masked keys (after the query) get
// probability 0, the rest exp(s − max) / Σ exp(s − max) over the visible keys. The
// exponentials are computed twice (for the sum, then for the result) rather than stored in
// between: the scores are the largest buffer of the forward pass, and a stored
// intermediate would cost one more write and read of them; exp gives the same float both
// times. Only the keys the query's block covers are written: the context product reads no
// others.
template <class ExecutionSpace>
void causal_softmax(ExecutionSpace const &space, Matrix<ExecutionSpace> const &scores, int seqlen)
{
  using Policy = Kokkos::TeamPolicy<ExecutionSpace>;
  using Member = typename Policy::member_type;
  Kokkos::parallel_for(
      "sgpte::opt::causal_softmax", Policy(space, static_cast<int>(scores.extent(1)), Kokkos::AUTO),
      KOKKOS_LAMBDA(Member const &team) {
        int const column = team.league_rank();
        int const position = column % seqlen;
        int const visible = position + 1; // keys 0 … query position
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
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, keys_of_query_block(position, seqlen)),
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
  for (int window = 0; window < windows; ++window)
  {
    int const start = window * seqlen;
    // For each query block [first, last) of the window: its tokens, the keys it sees and,
    // per head, its scores (keys × queries).
    auto const for_each_query_block = [&](auto const &products)
    {
      for (int block = 0; block < causal_query_blocks; ++block)
      {
        int const first = query_block_begin(block, seqlen);
        int const last = query_block_begin(block + 1, seqlen);
        if (first == last)
          continue;
        auto const queries = std::make_pair(start + first, start + last);
        auto const keys = std::make_pair(start, start + last);
        auto const block_scores = [=](int head)
        {
          return Kokkos::subview(scores, std::make_pair(0, last),
                                 std::make_pair(head * seqlen + first, head * seqlen + last));
        };
        products(queries, keys, block_scores);
      }
    };
    // scoresᵀ (keys × queries) = K Qᵀ = (Kᵀ)ᵀ Qᵀ, all heads in one batch.
    for_each_query_block(
        [&](auto queries, auto keys, auto const &block_scores)
        {
          backends::strided_batched_gemm(
              space, "T", "N", 1.0f,
              [&](int head)
              {
                return std::make_tuple(Kokkos::subview(k_t, head_rows(head), keys),
                                       Kokkos::subview(q_t, head_rows(head), queries),
                                       block_scores(head));
              },
              heads, 0.0f);
        });
    causal_softmax(space, scores, seqlen);
    // contextᵀ (head_dim × queries) = Vᵀ Pᵀ.
    for_each_query_block(
        [&](auto queries, auto keys, auto const &block_scores)
        {
          backends::strided_batched_gemm(
              space, "N", "N", 1.0f,
              [&](int head)
              {
                return std::make_tuple(Kokkos::subview(v_t, head_rows(head), keys),
                                       block_scores(head),
                                       Kokkos::subview(context_t, head_rows(head), queries));
              },
              heads, 0.0f);
        });
  }
}

} // namespace sgpte::opt::detail

#endif
