#ifndef SGPTE_IO_DETAIL_FILE_ERROR_HPP
#define SGPTE_IO_DETAIL_FILE_ERROR_HPP

// The one way the I/O layer reports a problem with a file: a FileError whose message starts
// with the file's path, so a driver can print it as the single line a user sees.

#include <sgpte/core/error.hpp>

#include <filesystem>
#include <string>
#include <system_error>

namespace sgpte::io::detail
{

[[noreturn]] inline void throw_file_error(std::filesystem::path const &file,
                                          std::string const &problem)
{
  throw FileError(file.string() + ": " + problem);
}

// The text of an errno value; std::strerror is not thread-safe, the generic category is.
inline std::string errno_text(int error_number)
{
  return std::generic_category().message(error_number);
}

} // namespace sgpte::io::detail

#endif
