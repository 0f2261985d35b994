#ifndef SGPTE_IO_ATOMIC_FILE_HPP
#define SGPTE_IO_ATOMIC_FILE_HPP

// Writing an output file so that it is either complete or absent: the bytes go to a
// temporary file in the target's directory, which is flushed to disk and then renamed over
// the target. An interrupted or failed run therefore never leaves a truncated file that
// looks valid, and never destroys an existing file it did not finish replacing.
//
//   sgpte::io::AtomicFileWriter out("model.safetensors");
//   out.write(header.data(), header.size());
//   ...
//   out.commit(); // without commit (e.g. an exception), the temporary file is removed
//
// Every failure throws sgpte::FileError naming the target file.

#include <sgpte/io/detail/file_error.hpp>
#include <sgpte/io/detail/unique_fd.hpp>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

namespace sgpte::io
{

class AtomicFileWriter
{
public:
  // Creates `<target>.tmp.<pid>.<n>` next to the target (same directory, so that the final
  // rename cannot cross file systems). The file gets the usual 0666 & ~umask permissions.
  explicit AtomicFileWriter(std::filesystem::path target)
      : _target(std::move(target)), _fd(create_temporary())
  {
  }

  AtomicFileWriter(AtomicFileWriter const &) = delete;
  AtomicFileWriter &operator=(AtomicFileWriter const &) = delete;

  ~AtomicFileWriter() { abandon(); }

  std::filesystem::path const &target() const { return _target; }
  std::filesystem::path const &temporary_path() const { return _temporary; }

  void write(void const *data, std::size_t size)
  {
    require_open("write");
    auto const *bytes = static_cast<unsigned char const *>(data);
    while (size > 0)
    {
      ssize_t const written = ::write(_fd.get(), bytes, size);
      if (written < 0 && errno == EINTR)
        continue;
      if (written <= 0)
        fail("cannot write to temporary file", written < 0 ? errno : EIO);
      bytes += written;
      size -= static_cast<std::size_t>(written);
    }
  }

  void write(std::string_view text) { write(text.data(), text.size()); }

  // Flushes the data to disk and renames the temporary file over the target.
  void commit()
  {
    require_open("commit");
    if (::fsync(_fd.get()) != 0)
      fail("cannot flush temporary file to disk", errno);
    if (int const close_error = _fd.close(); close_error != 0)
      fail("cannot close temporary file", close_error);
    if (::rename(_temporary.c_str(), _target.c_str()) != 0)
      fail("cannot rename temporary file over the target", errno);
    _temporary.clear();
    sync_directory();
  }

private:
  detail::UniqueFd create_temporary()
  {
    static std::atomic<unsigned> sequence{0};
    std::string const stem = _target.filename().string() + ".tmp." + std::to_string(::getpid());
    // A stale file from an earlier process with the same pid only costs another attempt.
    for (int attempt = 0; attempt < 100; ++attempt)
    {
      auto const candidate =
          _target.parent_path() / (stem + "." + std::to_string(sequence.fetch_add(1)));
      int const fd = ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd >= 0)
      {
        _temporary = candidate;
        return detail::UniqueFd(fd);
      }
      if (errno != EEXIST)
        detail::throw_file_error(_target, "cannot create temporary file " + candidate.string() +
                                              ": " + detail::errno_text(errno));
    }
    detail::throw_file_error(_target, "cannot create a temporary file next to it: every "
                                      "candidate name is taken");
  }

  void require_open(char const *operation)
  {
    if (_temporary.empty())
      detail::throw_file_error(_target, std::string("cannot ") + operation +
                                            ": the file was already committed or abandoned");
  }

  [[noreturn]] void fail(std::string const &what, int error_number)
  {
    std::string const temporary_name = _temporary.string();
    abandon();
    detail::throw_file_error(_target,
                             what + " " + temporary_name + ": " + detail::errno_text(error_number));
  }

  void abandon() noexcept
  {
    _fd.close();
    if (!_temporary.empty())
      std::remove(_temporary.c_str());
    _temporary.clear();
  }

  // Makes the rename itself durable. Best effort: the new file is already in place and
  // complete, so a failure here must not turn a finished write into an error.
  void sync_directory() const noexcept
  {
    auto const directory =
        _target.parent_path().empty() ? std::filesystem::path(".") : _target.parent_path();
    detail::UniqueFd const directory_fd(
        ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (directory_fd.valid())
      ::fsync(directory_fd.get());
  }

  std::filesystem::path _target;
  std::filesystem::path _temporary;
  detail::UniqueFd _fd;
};

// Writes `contents` to `target` atomically (see AtomicFileWriter).
inline void write_file_atomically(std::filesystem::path const &target, std::string_view contents)
{
  AtomicFileWriter out(target);
  out.write(contents);
  out.commit();
}

} // namespace sgpte::io

#endif
