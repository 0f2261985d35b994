#ifndef SGPTE_TESTS_IO_IO_TEST_HELPERS_HPP
#define SGPTE_TESTS_IO_IO_TEST_HELPERS_HPP

// Shared by the I/O tests: a scratch directory per test, whole-file reads and writes, and
// the check that an operation fails with a FileError whose message names the file.

#include <sgpte/core/error.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <unistd.h>

namespace sgpte::io::test
{

inline std::filesystem::path const io_data_dir = std::filesystem::path(SGPTE_TEST_DATA_DIR) / "io";

// A fresh directory under the system's temporary directory, removed with its contents.
class ScratchDirectory
{
public:
  ScratchDirectory()
  {
    static std::atomic<int> sequence{0};
    _path = std::filesystem::temp_directory_path() /
            ("sgpte_io_test." + std::to_string(::getpid()) + "." + std::to_string(sequence++));
    std::filesystem::remove_all(_path);
    std::filesystem::create_directories(_path);
  }
  ScratchDirectory(ScratchDirectory const &) = delete;
  ScratchDirectory &operator=(ScratchDirectory const &) = delete;
  ~ScratchDirectory()
  {
    std::error_code ignored;
    std::filesystem::remove_all(_path, ignored);
  }

  std::filesystem::path const &path() const { return _path; }
  std::filesystem::path operator/(std::string const &name) const { return _path / name; }

  // The names of the files in the directory, sorted.
  std::vector<std::string> file_names() const
  {
    std::vector<std::string> names;
    for (auto const &entry : std::filesystem::directory_iterator(_path))
      names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

private:
  std::filesystem::path _path;
};

inline std::string read_bytes(std::filesystem::path const &path)
{
  std::ifstream in(path, std::ios::binary);
  BOOST_TEST_REQUIRE(in.good(), "cannot open " << path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(std::filesystem::path const &path, std::string const &bytes)
{
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  BOOST_TEST_REQUIRE(out.good(), "cannot write " << path);
}

// Runs `operation`, which must throw sgpte::FileError with a message that contains the file
// name and every one of `fragments`.
template <class Operation>
void require_file_error(Operation &&operation, std::filesystem::path const &file,
                        std::vector<std::string> const &fragments)
{
  try
  {
    operation();
  }
  catch (FileError const &error)
  {
    std::string const message = error.what();
    BOOST_TEST(message.find(file.filename().string()) != std::string::npos,
               "message does not name " << file.filename() << ": " << message);
    for (auto const &fragment : fragments)
      BOOST_TEST(message.find(fragment) != std::string::npos,
                 "message lacks \"" << fragment << "\": " << message);
    return;
  }
  BOOST_ERROR("expected a FileError about " << file.filename());
}

} // namespace sgpte::io::test

#endif
