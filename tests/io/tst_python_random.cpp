// PythonRandom against sequences produced by CPython itself
// (tests/data/io/python_random.json, written by tools/io/make_io_fixtures.py).

#include <sgpte/io/python_random.hpp>

#include "trap_invalid_operations.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "io_test_helpers.hpp"

namespace
{

using namespace sgpte::io;
using namespace sgpte::io::test;

nlohmann::json const &fixture()
{
  static nlohmann::json const parsed = nlohmann::json::parse(
      sgpte::io::test::read_bytes(sgpte::io::test::io_data_dir / "python_random.json"));
  return parsed;
}

// Seeds as CPython was seeded: through seed(integer) where the seed fits 64 bits, else
// through its 32-bit words.
void seed_like_python(PythonRandom &random, nlohmann::json const &test_case)
{
  nlohmann::json const &seed = test_case["seed"];
  if (seed.is_number_unsigned())
    random.seed(seed.get<std::uint64_t>());
  else if (seed.is_number_integer())
    random.seed(seed.get<std::int64_t>());
  else // beyond 64 bits, nlohmann parses it as a double; the fixture also has its words
    random.seed_with_key(test_case["key"].get<std::vector<std::uint32_t>>());
}

std::string seed_text(nlohmann::json const &test_case) { return test_case["seed"].dump(); }

} // namespace

BOOST_FIXTURE_TEST_SUITE(python_random, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE(getrandbits_matches_cpython)
{
  for (auto const &test_case : fixture()["cases"])
  {
    for (auto const &sequence : test_case["getrandbits"])
    {
      auto const k = sequence["k"].get<std::size_t>();
      BOOST_TEST_CONTEXT("seed " << seed_text(test_case) << ", k " << k)
      {
        PythonRandom words_random(0);
        seed_like_python(words_random, test_case);
        PythonRandom bits_random(0);
        seed_like_python(bits_random, test_case);
        for (auto const &expected : sequence["words"])
        {
          auto expected_words = expected.get<std::vector<std::uint32_t>>();
          std::vector<std::uint32_t> words = words_random.getrandbits_words(k);
          // CPython's number has no leading zero words; ours has (k + 31) / 32 of them.
          while (!words.empty() && words.back() == 0 && words.size() > expected_words.size())
            words.pop_back();
          BOOST_TEST(words == expected_words);
          if (k <= 64)
          {
            std::uint64_t value = 0;
            for (std::size_t i = 0; i < expected_words.size(); ++i)
              value |= std::uint64_t(expected_words[i]) << (32 * i);
            BOOST_TEST(bits_random.getrandbits(k) == value);
          }
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(random_matches_cpython)
{
  for (auto const &test_case : fixture()["cases"])
  {
    PythonRandom random(0);
    seed_like_python(random, test_case);
    for (auto const &expected : test_case["random_times_2_53"])
    {
      double const value = random.random();
      BOOST_TEST(value >= 0.0);
      BOOST_TEST(value < 1.0);
      BOOST_TEST(static_cast<std::uint64_t>(value * 9007199254740992.0) ==
                     expected.get<std::uint64_t>(),
                 "seed " << seed_text(test_case));
    }
  }
}

BOOST_AUTO_TEST_CASE(randint_matches_cpython)
{
  for (auto const &test_case : fixture()["cases"])
  {
    for (auto const &range : test_case["randint"])
    {
      auto const a = range["a"].get<std::int64_t>();
      auto const b = range["b"].get<std::int64_t>();
      BOOST_TEST_CONTEXT("seed " << seed_text(test_case) << ", randint(" << a << ", " << b << ")")
      {
        PythonRandom random(0);
        seed_like_python(random, test_case);
        for (auto const &expected : range["values"])
          BOOST_TEST(random.randint(a, b) == expected.get<std::int64_t>());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(randrange_is_randint_shifted)
{
  PythonRandom first(1234);
  PythonRandom second(1234);
  for (int i = 0; i < 100; ++i)
    BOOST_TEST(first.randrange(1000) == std::uint64_t(second.randint(0, 999)));
}

BOOST_AUTO_TEST_CASE(seeds_of_equal_magnitude_agree)
{
  // CPython seeds with |n|.
  PythonRandom positive(7);
  PythonRandom negative(-7);
  PythonRandom key(0);
  key.seed_with_key({7});
  for (int i = 0; i < 10; ++i)
  {
    std::uint64_t const expected = positive.getrandbits(64);
    BOOST_TEST(negative.getrandbits(64) == expected);
    BOOST_TEST(key.getrandbits(64) == expected);
  }
}

BOOST_AUTO_TEST_CASE(calibration_windows_match_the_reference_loader)
{
  for (auto const &expected : fixture()["calibration"])
  {
    auto const starts = expected["starts"].get<std::vector<std::size_t>>();
    BOOST_TEST(calibration_window_starts(
                   expected["seed"].get<std::int64_t>(), expected["n_tokens"].get<std::size_t>(),
                   expected["seqlen"].get<std::size_t>(), starts.size()) == starts);
  }
}

BOOST_AUTO_TEST_CASE(invalid_ranges_are_rejected)
{
  PythonRandom random(0);
  BOOST_CHECK_THROW(random.randint(3, 2), sgpte::InvalidArgument);
  BOOST_CHECK_THROW(random.randrange(0), sgpte::InvalidArgument);
  BOOST_CHECK_THROW(random.getrandbits(65), sgpte::InvalidArgument);
  BOOST_CHECK_THROW(random.seed_with_key({}), sgpte::InvalidArgument);
  BOOST_CHECK_THROW(calibration_window_starts(0, 2048, 2048, 1), sgpte::InvalidArgument);
  BOOST_TEST(calibration_window_starts(0, 2049, 2048, 3) == (std::vector<std::size_t>{0, 0, 0}));
}

BOOST_AUTO_TEST_SUITE_END()
