// A layer case's stored configuration (io/case_metadata.hpp): the reference's rule that N:M
// takes precedence over an unstructured sparsity given with it, with a note, while options
// given by the user keep their precedence and the combination they spell stays refused.

#include <sgpte/core/error.hpp>
#include <sgpte/io/case_metadata.hpp>

#include <boost/test/unit_test.hpp>

#include <map>
#include <string>

BOOST_AUTO_TEST_SUITE(CaseMetadata)

BOOST_AUTO_TEST_CASE(n_of_m_takes_precedence_over_a_sparsity_given_with_it)
{
  std::map<std::string, std::string> const metadata = {
      {"sparsity", "0.5"}, {"prunen", "2"}, {"prunem", "4"}, {"wbits", "16"}};
  sgpte::CompressionOptions options;
  auto const notes = sgpte::io::apply_case_metadata(options, metadata, "case.safetensors");
  BOOST_TEST(options.sparsity == 0.0);
  BOOST_TEST(options.prune_n == 2);
  BOOST_TEST(options.prune_m == 4);
  BOOST_TEST(options.wbits == 0);
  BOOST_TEST_REQUIRE(notes.size() == 1u);
  BOOST_TEST(notes[0].find("case.safetensors") != std::string::npos, notes[0]);
  BOOST_TEST(notes[0].find("2:4") != std::string::npos, notes[0]);
  BOOST_CHECK_NO_THROW(options.validate());
}

BOOST_AUTO_TEST_CASE(a_sparsity_alone_or_given_by_the_user_is_kept)
{
  sgpte::CompressionOptions alone;
  BOOST_TEST(sgpte::io::apply_case_metadata(alone, {{"sparsity", "0.5"}}, "case").empty());
  BOOST_TEST(alone.sparsity == 0.5);

  // --sparsity on the command line (kept) with N:M from the case: refused as the options are.
  sgpte::CompressionOptions given;
  given.sparsity = 0.25;
  auto const notes = sgpte::io::apply_case_metadata(
      given, {{"sparsity", "0.5"}, {"prunen", "2"}, {"prunem", "4"}}, "case", {"sparsity"});
  BOOST_TEST(notes.empty());
  BOOST_TEST(given.sparsity == 0.25);
  BOOST_CHECK_THROW(given.validate(), sgpte::InvalidArgument);
}

BOOST_AUTO_TEST_SUITE_END()
