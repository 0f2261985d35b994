#ifndef SGPTE_IO_BYTE_SPAN_HPP
#define SGPTE_IO_BYTE_SPAN_HPP

// A read-only view of raw bytes (C++17 has no std::span): tensor data inside a mapped file,
// or bytes handed to a writer.

#include <cstddef>

namespace sgpte::io
{

struct ByteSpan
{
  unsigned char const *data = nullptr;
  std::size_t size = 0;
};

} // namespace sgpte::io

#endif
