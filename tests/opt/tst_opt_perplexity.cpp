// Perplexity as the reference's opt_eval defines it, against the double-precision reference
// on a synthetic model (independent of the batching), and against the value transformers
// gives for the shipped tiny-opt on the shipped evaluation tokens.

#include <sgpte/io/safetensors_reader.hpp>
#include <sgpte/io/token_file.hpp>
#include <sgpte/opt/perplexity.hpp>
#include <sgpte/opt/token_windows.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "opt_test_helpers.hpp"
#include "sgpte_enable_device_types.hpp"
#include "trap_invalid_operations.hpp"

BOOST_FIXTURE_TEST_SUITE(OptPerplexity, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE_TEMPLATE(matches_the_reference_definition_for_any_batching, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  sgpte_test::ScratchDirectory directory;
  auto const model =
      sgpte_test::write_synthetic_opt(directory.path(), sgpte_test::opt_config_json(), 41);
  sgpte::opt::OptCheckpoint const checkpoint(directory.path());
  int const seqlen = 10;
  // 7 windows and a partial one that opt_eval ignores.
  auto const windows =
      sgpte::opt::evaluation_windows(sgpte_test::random_tokens(7 * seqlen + 4, 40, 43), seqlen);
  BOOST_TEST_REQUIRE(windows.count() == 7u);

  sgpte_test::ReferenceOpt const reference(model);
  double loss_sum = 0.0;
  for (std::size_t w = 0; w < windows.count(); ++w)
  {
    std::vector<int> const ids(windows.ids.begin() + w * seqlen,
                               windows.ids.begin() + (w + 1) * seqlen);
    loss_sum += sgpte_test::ReferenceOpt::window_loss(reference.forward(ids).logits, ids);
  }
  double const expected = std::exp(loss_sum / windows.count());

  auto const one_batch = sgpte::opt::evaluate_perplexity(space, checkpoint, windows);
  BOOST_TEST(one_batch.windows == 7u);
  BOOST_TEST(std::abs(one_batch.perplexity / expected - 1.0) < 1e-6,
             one_batch.perplexity << " vs " << expected);

  // Batches of 2 windows and the smallest workspace (one window, one token of logits).
  sgpte::opt::ForwardOptions small;
  small.batch_bytes = 2 * (2 * seqlen * 16 * sizeof(float));
  small.workspace_bytes = 1;
  auto const batched = sgpte::opt::evaluate_perplexity(space, checkpoint, windows, small);
  BOOST_TEST(std::abs(batched.perplexity / one_batch.perplexity - 1.0) < 1e-6);

  // Shared out among 3 processes (windows 1-3, 4-5, 6-7), each evaluating its share: their
  // window losses in rank order give the same perplexity (distributed/mpi_reduction.hpp).
  std::vector<double> losses;
  for (int rank = 0; rank < 3; ++rank)
  {
    auto const share = sgpte::opt::evaluate_perplexity(
        space, checkpoint, sgpte::opt::window_share(windows, rank, 3), small);
    BOOST_TEST(share.windows == (rank == 0 ? 3u : 2u));
    losses.insert(losses.end(), share.window_losses.begin(), share.window_losses.end());
  }
  auto const shared = sgpte::opt::perplexity_of(losses, 0.0);
  BOOST_TEST(shared.windows == 7u);
  BOOST_TEST(std::abs(shared.perplexity / one_batch.perplexity - 1.0) < 1e-6);
  BOOST_CHECK_THROW(sgpte::opt::perplexity_of({}, 0.0), sgpte::InvalidArgument);
}

// The shares of the windows, in rank order, are the windows in order, as even as can be.
BOOST_AUTO_TEST_CASE(window_shares_partition_the_windows_in_order)
{
  sgpte::opt::TokenWindows const windows{2, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}}; // 5 windows
  for (int ranks = 1; ranks <= 5; ++ranks)
  {
    std::vector<int> joined;
    for (int rank = 0; rank < ranks; ++rank)
    {
      auto const share = sgpte::opt::window_share(windows, rank, ranks);
      BOOST_TEST(share.seqlen == 2);
      std::size_t const expected = 5 / ranks + (rank < 5 % ranks ? 1 : 0);
      BOOST_TEST(share.count() == expected);
      joined.insert(joined.end(), share.ids.begin(), share.ids.end());
    }
    BOOST_TEST(joined == windows.ids, boost::test_tools::per_element());
  }
  BOOST_TEST(sgpte::opt::window_share(windows, 5, 6).count() == 0u);
  BOOST_CHECK_THROW(sgpte::opt::window_share(windows, 2, 2), sgpte::InvalidArgument);
  BOOST_CHECK_THROW(sgpte::opt::window_share(windows, 0, 0), sgpte::InvalidArgument);
}

BOOST_AUTO_TEST_CASE(windows_that_do_not_fit_are_refused)
{
  sgpte_test::ScratchDirectory directory;
  sgpte_test::write_synthetic_opt(directory.path(), sgpte_test::opt_config_json(), 41);
  sgpte::opt::OptCheckpoint const checkpoint(directory.path());
  auto const tokens = sgpte_test::random_tokens(100, 40, 43);
  BOOST_CHECK_THROW(sgpte::opt::evaluate_perplexity(Kokkos::DefaultExecutionSpace(), checkpoint,
                                                    sgpte::opt::evaluation_windows(tokens, 13)),
                    sgpte::InvalidArgument);
  BOOST_CHECK_THROW(sgpte::opt::evaluation_windows(tokens, 101), sgpte::InvalidArgument);
  BOOST_CHECK_THROW(sgpte::opt::evaluation_windows(tokens, 0), sgpte::InvalidArgument);
}

// transformers' dense perplexity of tiny-opt, recorded when the reference activations were
// made (tools/reference/make_opt_logits.py), to 4 significant digits.
BOOST_AUTO_TEST_CASE_TEMPLATE(tiny_opt_dense_perplexity_matches_transformers, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  sgpte::io::SafetensorsReader const reference(sgpte_test::tiny_opt_reference);
  double const expected = std::stod(reference.metadata().at("dense_perplexity.tiny-opt"));
  sgpte::opt::OptCheckpoint const checkpoint(sgpte_test::tiny_opt_dir);
  auto const tokens =
      sgpte::io::read_token_file(sgpte_test::models_dir / "data" / "evaluation.bin", 256);
  auto const result = sgpte::opt::evaluate_perplexity(ExecutionSpace(), checkpoint,
                                                      sgpte::opt::evaluation_windows(tokens, 256));
  BOOST_TEST_MESSAGE("tiny-opt dense perplexity: sgpte "
                     << std::setprecision(10) << result.perplexity << ", transformers " << expected
                     << " (" << result.windows << " windows, " << result.seconds << " s)");
  BOOST_TEST(result.windows == 4175u);
  BOOST_TEST(std::abs(result.perplexity / expected - 1.0) < 5e-5);
}

BOOST_AUTO_TEST_SUITE_END()
