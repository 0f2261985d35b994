#ifndef SGPTE_IO_DETAIL_UTF8_HPP
#define SGPTE_IO_DETAIL_UTF8_HPP

// UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), so
// that a header with stray bytes is reported as such, at its offset, rather than as an
// obscure JSON parse error.

#include <cstddef>
#include <optional>
#include <string_view>

namespace sgpte::io::detail
{

// The offset of the first byte that does not belong to a valid UTF-8 sequence, if any.
inline std::optional<std::size_t> find_invalid_utf8(std::string_view text)
{
  auto const byte_at = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  std::size_t i = 0;
  while (i < text.size())
  {
    unsigned char const lead = byte_at(i);
    std::size_t length;
    // The allowed range of the second byte, which rules out overlong forms, surrogates and
    // code points past U+10FFFF; later continuation bytes are always 0x80..0xBF.
    unsigned char second_min = 0x80;
    unsigned char second_max = 0xbf;
    if (lead < 0x80)
      length = 1;
    else if (lead >= 0xc2 && lead <= 0xdf)
      length = 2;
    else if (lead >= 0xe0 && lead <= 0xef)
    {
      length = 3;
      second_min = lead == 0xe0 ? 0xa0 : 0x80;
      second_max = lead == 0xed ? 0x9f : 0xbf;
    }
    else if (lead >= 0xf0 && lead <= 0xf4)
    {
      length = 4;
      second_min = lead == 0xf0 ? 0x90 : 0x80;
      second_max = lead == 0xf4 ? 0x8f : 0xbf;
    }
    else
      return i;
    if (length > text.size() - i)
      return i;
    for (std::size_t k = 1; k < length; ++k)
    {
      unsigned char const minimum = k == 1 ? second_min : 0x80;
      unsigned char const maximum = k == 1 ? second_max : 0xbf;
      if (byte_at(i + k) < minimum || byte_at(i + k) > maximum)
        return i;
    }
    i += length;
  }
  return std::nullopt;
}

} // namespace sgpte::io::detail

#endif
