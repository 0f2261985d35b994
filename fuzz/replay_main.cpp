// Replays inputs through a fuzz target's LLVMFuzzerTestOneInput without libFuzzer: the
// regression tests of CTest run the committed reproducers (tests/data/fuzz/<target>/) and
// the seed corpus through every build, sanitized or not. Arguments are files or
// directories (every regular file inside, in name order). A finding aborts, or escapes as
// an exception that is reported here with the input that raised it.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const *data, std::size_t size);
// Optional, as in libFuzzer: one-time set-up of a target (e.g. starting Kokkos).
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

namespace
{

std::vector<std::filesystem::path> inputs_of(std::filesystem::path const &argument)
{
  if (!std::filesystem::is_directory(argument))
    return {argument};
  std::vector<std::filesystem::path> files;
  for (auto const &entry : std::filesystem::directory_iterator(argument))
    if (entry.is_regular_file())
      files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

} // namespace

int main(int argc, char *argv[])
{
  if (LLVMFuzzerInitialize)
    LLVMFuzzerInitialize(&argc, &argv);
  std::size_t replayed = 0;
  for (int i = 1; i < argc; ++i)
    for (std::filesystem::path const &input : inputs_of(argv[i]))
    {
      std::ifstream in(input, std::ios::binary);
      if (!in)
      {
        std::cerr << "cannot read " << input << "\n";
        return 1;
      }
      std::istreambuf_iterator<char> const begin(in), end;
      std::vector<std::uint8_t> const bytes(begin, end);
      try
      {
        LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
      }
      catch (std::exception const &error)
      {
        std::cerr << input << ": unexpected exception: " << error.what() << "\n";
        return 1;
      }
      ++replayed;
    }
  std::cout << "replayed " << replayed << " inputs\n";
  return replayed > 0 ? 0 : 1;
}
