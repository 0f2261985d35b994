#ifndef SGPTE_CORE_NUMBER_PARSING_HPP
#define SGPTE_CORE_NUMBER_PARSING_HPP

// Strict parsing of numbers, 0/1 flags and comma-separated lists from command lines and
// file metadata: the whole text must be the value, else ErrorType is thrown with a message
// that starts with `what` (the option or the file and key).

#include <sgpte/core/error.hpp>

#include <charconv>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace sgpte
{

template <class Number, class ErrorType = InvalidArgument>
Number parse_number(std::string_view text, std::string const &what)
{
  Number value{};
  auto const [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size())
    throw ErrorType(what + ": '" + std::string(text) + "' is not a valid number");
  return value;
}

template <class ErrorType = InvalidArgument>
bool parse_flag(std::string_view text, std::string const &what)
{
  if (text == "1" || text == "true" || text == "True")
    return true;
  if (text == "0" || text == "false" || text == "False")
    return false;
  throw ErrorType(what + ": '" + std::string(text) + "' is not 0 or 1");
}

template <class Number, class ErrorType = InvalidArgument>
std::vector<Number> parse_list(std::string_view text, std::string const &what)
{
  std::vector<Number> values;
  std::size_t start = 0;
  while (start <= text.size())
  {
    std::size_t const comma = text.find(',', start);
    std::size_t const end = comma == std::string_view::npos ? text.size() : comma;
    values.push_back(parse_number<Number, ErrorType>(text.substr(start, end - start), what));
    start = end + 1;
  }
  return values;
}

} // namespace sgpte

#endif
