#ifndef SGPTE_FUZZ_FUZZ_INPUT_FILE_HPP
#define SGPTE_FUZZ_FUZZ_INPUT_FILE_HPP

// The readers under test open files by path (they mmap them), so each fuzz input is
// presented as a file: an in-memory file (memfd) rewritten for every input and opened
// through /proc/self/fd. No disk traffic, nothing to clean up, and a process running
// several fuzzers or replays never shares the file with another.

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <sys/mman.h>
#include <unistd.h>

namespace sgpte_fuzz
{

class InputFile
{
public:
  // Replaces the file's contents with the input; the path stays the same.
  InputFile(std::uint8_t const *data, std::size_t size)
  {
    int const fd = descriptor();
    if (::ftruncate(fd, 0) != 0)
      die("ftruncate");
    std::size_t written = 0;
    while (written < size)
    {
      ssize_t const n = ::pwrite(fd, data + written, size - written, static_cast<off_t>(written));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        die("pwrite");
      written += static_cast<std::size_t>(n);
    }
  }

  std::string path() const { return "/proc/self/fd/" + std::to_string(descriptor()); }

private:
  // A harness failure is not a finding: report it and stop rather than throw into the
  // code under test's error handling.
  [[noreturn]] static void die(char const *what)
  {
    std::fprintf(stderr, "sgpte fuzz harness: %s failed: %s\n", what, std::strerror(errno));
    std::abort();
  }

  static int descriptor()
  {
    static int const fd = []
    {
      int const created = ::memfd_create("sgpte-fuzz-input", MFD_CLOEXEC);
      if (created < 0)
        die("memfd_create");
      return created;
    }();
    return fd;
  }
};

} // namespace sgpte_fuzz

#endif
