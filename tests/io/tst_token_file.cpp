// Token-id files: little-endian uint16 streams, validated for size and vocabulary.

#include <sgpte/io/token_file.hpp>

#include "trap_invalid_operations.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "io_test_helpers.hpp"

namespace
{

using namespace sgpte::io;
using namespace sgpte::io::test;

} // namespace

BOOST_FIXTURE_TEST_SUITE(token_file, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE(reads_little_endian_ids)
{
  ScratchDirectory scratch;
  write_bytes(scratch / "calib.bin", std::string("\x02\x00\x34\x12\xff\xff\x1f\xc4", 8));
  std::vector<std::uint16_t> const expected = {2, 0x1234, 0xffff, 0xc41f};
  BOOST_TEST(read_token_file(scratch / "calib.bin") == expected);
  BOOST_TEST(read_token_file(scratch / "calib.bin", 65536) == expected);
}

BOOST_AUTO_TEST_CASE(checks_ids_against_the_vocabulary)
{
  ScratchDirectory scratch;
  auto const path = scratch / "eval.bin";
  write_bytes(path, std::string("\x01\x00\x61\xc4\x62\xc4", 6)); // 1, 50273, 50274
  BOOST_TEST(read_token_file(path, 50275).size() == 3u);
  require_file_error([&] { read_token_file(path, 50272); }, path,
                     {"token 50273 at position 1", "vocabulary size 50272"});
}

BOOST_AUTO_TEST_CASE(rejects_empty_odd_and_missing_files)
{
  ScratchDirectory scratch;
  write_bytes(scratch / "empty.bin", "");
  require_file_error([&] { read_token_file(scratch / "empty.bin"); }, scratch / "empty.bin",
                     {"empty"});
  write_bytes(scratch / "odd.bin", "abc");
  require_file_error([&] { read_token_file(scratch / "odd.bin"); }, scratch / "odd.bin",
                     {"odd size (3 bytes)"});
  require_file_error([&] { read_token_file(scratch / "missing.bin"); }, scratch / "missing.bin",
                     {"cannot open"});
}

BOOST_AUTO_TEST_SUITE_END()
