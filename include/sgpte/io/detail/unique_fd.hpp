#ifndef SGPTE_IO_DETAIL_UNIQUE_FD_HPP
#define SGPTE_IO_DETAIL_UNIQUE_FD_HPP

// Owns a POSIX file descriptor so that every early exit (an exception included) closes it.

#include <cerrno>
#include <utility>

#include <unistd.h>

namespace sgpte::io::detail
{

class UniqueFd
{
public:
  explicit UniqueFd(int fd) : _fd(fd) {}
  UniqueFd(UniqueFd &&other) noexcept : _fd(std::exchange(other._fd, -1)) {}
  UniqueFd &operator=(UniqueFd &&other) noexcept
  {
    if (this != &other)
    {
      close();
      _fd = std::exchange(other._fd, -1);
    }
    return *this;
  }
  UniqueFd(UniqueFd const &) = delete;
  UniqueFd &operator=(UniqueFd const &) = delete;
  ~UniqueFd() { close(); }

  int get() const { return _fd; }
  bool valid() const { return _fd >= 0; }

  // Closes now and returns 0 or the errno of a failed close: on some file systems a write
  // error only shows up here, so writers must check it.
  int close() noexcept
  {
    if (_fd < 0)
      return 0;
    int const result = ::close(std::exchange(_fd, -1));
    return result == 0 ? 0 : errno;
  }

private:
  int _fd;
};

} // namespace sgpte::io::detail

#endif
