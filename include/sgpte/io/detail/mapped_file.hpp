#ifndef SGPTE_IO_DETAIL_MAPPED_FILE_HPP
#define SGPTE_IO_DETAIL_MAPPED_FILE_HPP

// A whole file mapped read-only into memory. Model checkpoints are large and read once, so
// mapping them avoids a copy and lets the page cache serve repeated runs.

#include <sgpte/io/detail/file_error.hpp>
#include <sgpte/io/detail/unique_fd.hpp>

#include <cerrno>
#include <cstddef>
#include <filesystem>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

namespace sgpte::io::detail
{

class MappedFile
{
public:
  // Throws FileError naming `path` if it cannot be opened, is not a regular file or cannot
  // be mapped. An empty file is valid and has data() == nullptr.
  explicit MappedFile(std::filesystem::path path) : _path(std::move(path))
  {
    UniqueFd const fd(::open(_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid())
      throw_file_error(_path, "cannot open for reading: " + errno_text(errno));
    struct stat status = {};
    if (::fstat(fd.get(), &status) != 0)
      throw_file_error(_path, "cannot stat: " + errno_text(errno));
    if (!S_ISREG(status.st_mode))
      throw_file_error(_path, "not a regular file");
    _size = static_cast<std::size_t>(status.st_size);
    if (_size == 0)
      return;
    // The mapping keeps the contents reachable after the descriptor is closed.
    void *const mapping = ::mmap(nullptr, _size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (mapping == MAP_FAILED)
      throw_file_error(_path, "cannot map into memory: " + errno_text(errno));
    _data = static_cast<unsigned char const *>(mapping);
  }

  MappedFile(MappedFile &&other) noexcept
      : _path(std::move(other._path)), _data(std::exchange(other._data, nullptr)),
        _size(std::exchange(other._size, 0))
  {
  }

  MappedFile &operator=(MappedFile &&other) noexcept
  {
    if (this != &other)
    {
      unmap();
      _path = std::move(other._path);
      _data = std::exchange(other._data, nullptr);
      _size = std::exchange(other._size, 0);
    }
    return *this;
  }

  MappedFile(MappedFile const &) = delete;
  MappedFile &operator=(MappedFile const &) = delete;

  ~MappedFile() { unmap(); }

  std::filesystem::path const &path() const { return _path; }
  unsigned char const *data() const { return _data; }
  std::size_t size() const { return _size; }

private:
  void unmap() noexcept
  {
    if (_data != nullptr)
      ::munmap(const_cast<unsigned char *>(_data), _size);
    _data = nullptr;
    _size = 0;
  }

  std::filesystem::path _path;
  unsigned char const *_data = nullptr;
  std::size_t _size = 0;
};

} // namespace sgpte::io::detail

#endif
