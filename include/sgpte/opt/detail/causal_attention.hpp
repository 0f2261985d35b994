#ifndef SGPTE_OPT_DETAIL_CAUSAL_ATTENTION_HPP
#define SGPTE_OPT_DETAIL_CAUSAL_ATTENTION_HPP

// Causal multi-head self-attention of OPT for windows of `seqlen` tokens, given the
// projected (and already scaled) queries, keys and values: per window and head,
// scores = q kᵀ, a softmax over the keys up to the query's own position, context = p v.
// Both products are GEMMs on sub-views of the column-major features × tokens views (a head
// is a block of rows, a window a block of columns), one strided batch over the heads per
// window; the scores of all heads of one window live in a seqlen × (heads · seqlen) float
// workspace, keys down the rows, so each query's scores are contiguous for the softmax, which
// writes the probabilities over them.

#include <sgpte/backends/strided_batched_gemm.hpp>
#include <sgpte/core/error.hpp>
#include <sgpte/core/half_precision.hpp>
#include <sgpte/core/kokkos_compat.hpp>
#include <sgpte/core/views.hpp>
#include <sgpte/opt/activations.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <tuple>
#include <type_traits>
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

// The attention probabilities of one window in the memory of its scores: the scores
// themselves for float activations; for half-precision ones, each column's probabilities in
// the first half of that column's bytes (a leading dimension of twice the scores' in
// elements), so that the softmax writes them where it read the scores and no second
// seqlen × (heads · seqlen) buffer is needed.
template <class Value, class ExecutionSpace>
auto probabilities_in(Matrix<ExecutionSpace> const &scores)
{
  if constexpr (std::is_same<Value, float>::value)
    return scores;
  else
  {
    if (scores.stride(1) != scores.extent(0))
      throw Error("attention scores must be an unpadded column-major matrix");
    Kokkos::View<Value **, Kokkos::LayoutLeft, typename ExecutionSpace::memory_space,
                 Kokkos::MemoryTraits<Kokkos::Unmanaged>> const
        wide(reinterpret_cast<Value *>(scores.data()), 2 * scores.extent(0), scores.extent(1));
    return Kokkos::subview(wide, std::make_pair(std::size_t(0), scores.extent(0)), Kokkos::ALL());
  }
}

// The softmax of transformers' eager attention: masked keys (after the query) get
// probability 0, the rest exp(s − max) / Σ exp(s − max) over the visible keys, computed in
// float from float scores (as PyTorch's half-precision attention upcasts them) and stored in
// the activations' type. A team per query reads its scores once into scratch memory and
// writes the probabilities over them (probabilities_in); only the keys the query's block
// covers are written, as the context product reads no others.
template <class ExecutionSpace, class Probabilities>
void causal_softmax(ExecutionSpace const &space, Matrix<ExecutionSpace> const &scores,
                    Probabilities const &probabilities, int seqlen)
{
  using Value = typename Probabilities::non_const_value_type;
  using Policy = Kokkos::TeamPolicy<ExecutionSpace>;
  using Member = typename Policy::member_type;
  using Row = Kokkos::View<float *, typename ExecutionSpace::scratch_memory_space,
                           Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
  int const level = seqlen <= 8192 ? 0 : 1; // level 0 (on-chip on GPUs) holds 32 KiB
  Kokkos::parallel_for(
      "sgpte::opt::causal_softmax",
      Policy(space, static_cast<int>(scores.extent(1)), Kokkos::AUTO)
          .set_scratch_size(level, Kokkos::PerTeam(Row::shmem_size(seqlen))),
      KOKKOS_LAMBDA(Member const &team) {
        int const column = team.league_rank();
        int const position = column % seqlen;
        int const visible = position + 1; // keys 0 … query position
        Row const row(team.team_scratch(level), visible);
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, visible),
                             [&](int key) { row(key) = scores(key, column); });
        team.team_barrier();
        float maximum = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(team, visible),
            [&](int key, float &partial) { partial = larger(partial, row(key)); },
            Kokkos::Max<float>(maximum));
        double sum = 0.0;
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(team, visible),
            [&](int key, double &partial) { partial += compat::exp(row(key) - maximum); }, sum);
        auto const inverse = static_cast<float>(1.0 / sum);
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, keys_of_query_block(position, seqlen)),
                             [&](int key)
                             {
                               probabilities(key, column) = from_float<Value>(
                                   key < visible ? compat::exp(row(key) - maximum) * inverse
                                                 : 0.0f);
                             });
      });
}

// q, k, v, context: tokens × hidden (windows · seqlen tokens); scores: a workspace of
// seqlen × (heads · seqlen), unpadded. The scores are formed in float from the activations'
// type, the probabilities and the context in the activations' type.
template <class ExecutionSpace, class Value>
void causal_self_attention(ExecutionSpace const &space, Activations<ExecutionSpace, Value> const &q,
                           Activations<ExecutionSpace, Value> const &k,
                           Activations<ExecutionSpace, Value> const &v,
                           Activations<ExecutionSpace, Value> const &context, int seqlen, int heads,
                           Matrix<ExecutionSpace> const &scores)
{
  auto const probabilities = probabilities_in<Value, ExecutionSpace>(scores);
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
        auto const block_of = [=](auto const &matrix)
        {
          return [=](int head)
          {
            return Kokkos::subview(matrix, std::make_pair(0, last),
                                   std::make_pair(head * seqlen + first, head * seqlen + last));
          };
        };
        products(queries, keys, block_of(scores), block_of(probabilities));
      }
    };
    // scoresᵀ (keys × queries) = K Qᵀ = (Kᵀ)ᵀ Qᵀ, all heads in one batch.
    for_each_query_block(
        [&](auto queries, auto keys, auto const &block_scores, auto const &)
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
    causal_softmax(space, scores, probabilities, seqlen);
    // contextᵀ (head_dim × queries) = Vᵀ Pᵀ.
    for_each_query_block(
        [&](auto queries, auto keys, auto const &, auto const &block_probabilities)
        {
          backends::strided_batched_gemm(
              space, "N", "N", 1.0f,
              [&](int head)
              {
                return std::make_tuple(Kokkos::subview(v_t, head_rows(head), keys),
                                       block_probabilities(head),
                                       Kokkos::subview(context_t, head_rows(head), queries));
              },
              heads, 0.0f);
        });
  }
}

} // namespace sgpte::opt::detail

#endif
