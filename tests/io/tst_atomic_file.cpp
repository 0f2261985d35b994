// AtomicFileWriter: the target is either the old file or the complete new one, and no
// temporary file is left behind, whatever happens in between.

#include <sgpte/io/atomic_file.hpp>

#include "trap_invalid_operations.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "io_test_helpers.hpp"

namespace
{

using namespace sgpte::io;
using namespace sgpte::io::test;

} // namespace

BOOST_FIXTURE_TEST_SUITE(atomic_file, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE(creates_and_replaces_files)
{
  ScratchDirectory scratch;
  auto const target = scratch / "stats.json";
  write_file_atomically(target, "first");
  BOOST_TEST(read_bytes(target) == "first");
  write_file_atomically(target, "second, longer");
  BOOST_TEST(read_bytes(target) == "second, longer");
  write_file_atomically(target, "");
  BOOST_TEST(read_bytes(target).empty());
  BOOST_TEST(scratch.file_names() == std::vector<std::string>{"stats.json"});
}

BOOST_AUTO_TEST_CASE(writes_through_a_temporary_file_in_the_same_directory)
{
  ScratchDirectory scratch;
  auto const target = scratch / "model.safetensors";
  AtomicFileWriter out(target);
  BOOST_TEST(out.temporary_path().parent_path() == scratch.path());
  BOOST_TEST(out.temporary_path().filename().string().rfind("model.safetensors.tmp.", 0) == 0u);
  out.write("partial");
  BOOST_TEST(!std::filesystem::exists(target)); // nothing visible before commit
  out.commit();
  BOOST_TEST(read_bytes(target) == "partial");
  BOOST_TEST(scratch.file_names() == std::vector<std::string>{"model.safetensors"});
  require_file_error([&] { out.write("more"); }, target, {"already committed"});
}

BOOST_AUTO_TEST_CASE(an_abandoned_write_keeps_the_old_file_and_removes_the_temporary)
{
  ScratchDirectory scratch;
  auto const target = scratch / "model.safetensors";
  write_bytes(target, "old model");
  BOOST_CHECK_THROW(
      {
        AtomicFileWriter out(target);
        out.write("half of the new mod");
        throw std::runtime_error("interrupted"); // e.g. NaN found while writing
      },
      std::runtime_error);
  BOOST_TEST(read_bytes(target) == "old model");
  BOOST_TEST(scratch.file_names() == std::vector<std::string>{"model.safetensors"});
}

BOOST_AUTO_TEST_CASE(new_files_get_ordinary_permissions)
{
  // mkstemp would create 0600 files; outputs must be as readable as any other file.
  ScratchDirectory scratch;
  write_file_atomically(scratch / "atomic", "x");
  std::ofstream(scratch / "plain") << "x";
  auto const mode = [](std::filesystem::path const &path)
  { return static_cast<unsigned>(std::filesystem::status(path).permissions()); };
  BOOST_TEST(mode(scratch / "atomic") == mode(scratch / "plain"));
}

BOOST_AUTO_TEST_CASE(failures_name_the_target)
{
  ScratchDirectory scratch;
  auto const nowhere = scratch / "absent" / "out.json";
  require_file_error([&] { write_file_atomically(nowhere, "x"); }, nowhere,
                     {"cannot create temporary file", "No such file"});
  std::filesystem::create_directories(scratch / "occupied" / "child");
  require_file_error([&] { write_file_atomically(scratch / "occupied", "x"); },
                     scratch / "occupied", {"cannot rename"});
  BOOST_TEST(scratch.file_names() == std::vector<std::string>{"occupied"});
}

BOOST_AUTO_TEST_SUITE_END()
