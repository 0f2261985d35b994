#ifndef SGPTE_OPT_DETAIL_EMBEDDING_HPP
#define SGPTE_OPT_DETAIL_EMBEDDING_HPP

// The input of decoder layer 0 as OPTDecoder computes it: token embeddings (projected to
// the hidden size by project_in where word_embed_proj_dim differs) plus the learned position
// embeddings of positions 0 … seqlen−1, stored from row 2 on; the sum in float, rounded to the
// activations' type.

#include <sgpte/core/half_precision.hpp>
#include <sgpte/core/views.hpp>
#include <sgpte/opt/activations.hpp>
#include <sgpte/opt/detail/linear.hpp>
#include <sgpte/opt/opt_weights.hpp>
#include <sgpte/opt/tensor_names.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>

namespace sgpte::opt::detail
{

template <class ExecutionSpace, class Value>
struct GatheredRowEntry
{
  RowMajorMatrix<ExecutionSpace, Value> table;
  TokenIds<ExecutionSpace> ids;
  Activations<ExecutionSpace, Value> rows;

  KOKKOS_FUNCTION void operator()(std::int64_t token, std::int64_t feature) const
  {
    rows(token, feature) = table(ids(token), feature);
  }
};

// hidden(t, :) += positions(t mod seqlen + position_offset, :)
template <class ExecutionSpace, class Value>
struct PositionEntry
{
  RowMajorMatrix<ExecutionSpace, Value> positions;
  Activations<ExecutionSpace, Value> hidden;
  int seqlen;

  KOKKOS_FUNCTION void operator()(std::int64_t token, std::int64_t feature) const
  {
    auto const position = static_cast<int>(token % seqlen) + position_offset;
    hidden(token, feature) = from_float<Value>(to_float(hidden(token, feature)) +
                                               to_float(positions(position, feature)));
  }
};

// rows(t, :) = table(ids(t), :)
template <class ExecutionSpace, class Value>
void gather_rows(ExecutionSpace const &space, RowMajorMatrix<ExecutionSpace, Value> const &table,
                 TokenIds<ExecutionSpace> const &ids,
                 Activations<ExecutionSpace, Value> const &rows)
{
  for_every_entry("sgpte::opt::gather_embeddings", space, rows.extent(0), rows.extent(1),
                  GatheredRowEntry<ExecutionSpace, Value>{table, ids, rows});
}

// hidden: ids.extent(0) × hidden_size. `projected` is a tokens × word_embed_proj_dim
// workspace, used only when the model has project_in.
template <class ExecutionSpace, class Value>
void embed(ExecutionSpace const &space, EdgeWeights<ExecutionSpace, Value> const &edges,
           TokenIds<ExecutionSpace> const &ids, int seqlen,
           Activations<ExecutionSpace, Value> const &hidden,
           Activations<ExecutionSpace, Value> const &projected)
{
  if (edges.project_in.data() != nullptr)
  {
    gather_rows(space, edges.embed_tokens, ids, projected);
    linear(space, LinearWeights<ExecutionSpace, Value>{edges.project_in, {}}, projected, hidden);
  }
  else
  {
    gather_rows(space, edges.embed_tokens, ids, hidden);
  }
  for_every_entry("sgpte::opt::add_positions", space, hidden.extent(0), hidden.extent(1),
                  PositionEntry<ExecutionSpace, Value>{edges.embed_positions, hidden, seqlen});
}

} // namespace sgpte::opt::detail

#endif
