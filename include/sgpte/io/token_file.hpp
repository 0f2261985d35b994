#ifndef SGPTE_IO_TOKEN_FILE_HPP
#define SGPTE_IO_TOKEN_FILE_HPP

// Token-id files: one stream of little-endian uint16 token ids, nothing else (the format of
// calibration and evaluation text already tokenised). The file must be non-empty and of
// even size; with a vocabulary size, every id must be below it. Errors are sgpte::FileError
// naming the file (and the first offending position and value).

#include <sgpte/io/detail/file_error.hpp>
#include <sgpte/io/detail/mapped_file.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace sgpte::io
{

inline std::vector<std::uint16_t> read_token_file(std::filesystem::path const &path,
                                                  std::optional<std::size_t> vocab_size = {})
{
  detail::MappedFile const file(path);
  if (file.size() == 0)
    detail::throw_file_error(path, "token file is empty");
  if (file.size() % 2 != 0)
    detail::throw_file_error(path, "token file has an odd size (" + std::to_string(file.size()) +
                                       " bytes); expected little-endian uint16 token ids");
  std::vector<std::uint16_t> tokens(file.size() / 2);
  std::memcpy(tokens.data(), file.data(), file.size());
  if (vocab_size)
    for (std::size_t position = 0; position < tokens.size(); ++position)
      if (tokens[position] >= *vocab_size)
        detail::throw_file_error(path, "token " + std::to_string(tokens[position]) +
                                           " at position " + std::to_string(position) +
                                           " is not below the vocabulary size " +
                                           std::to_string(*vocab_size));
  return tokens;
}

} // namespace sgpte::io

#endif
