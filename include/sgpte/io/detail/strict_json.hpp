#ifndef SGPTE_IO_DETAIL_STRICT_JSON_HPP
#define SGPTE_IO_DETAIL_STRICT_JSON_HPP

// Parsing a JSON document read from a file with errors that name the file: invalid UTF-8 is
// reported at its byte offset, duplicate keys are rejected at any depth (nlohmann keeps the
// last one silently, so two tensors with the same name would otherwise pass unnoticed), and
// so is nesting deeper than any real header or configuration needs (nlohmann parses
// without recursion, but printing a value in an error message recurses once per level: a
// file of 100 000 nested brackets would overflow the stack).

#include <sgpte/io/detail/file_error.hpp>
#include <sgpte/io/detail/utf8.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace sgpte::io::detail
{

// Safetensors headers nest 3 levels, OPT configurations at most 4.
inline constexpr int max_json_nesting = 64;

// `what` names the document inside the file in messages, e.g. "header" or "JSON".
inline nlohmann::json parse_strict_json(std::filesystem::path const &file, std::string_view text,
                                        std::string const &what)
{
  if (auto const offset = find_invalid_utf8(text))
    throw_file_error(file, what + " is not valid UTF-8 (byte " + std::to_string(*offset) +
                               " of the " + what + ")");

  struct OpenObject
  {
    std::string name; // the key the object is the value of; empty at the top level
    std::set<std::string> keys;
  };
  std::vector<OpenObject> open_objects;
  std::string last_key;
  auto const reject_duplicates =
      [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json &parsed)
  {
    using Event = nlohmann::json::parse_event_t;
    if ((event == Event::object_start || event == Event::array_start) &&
        depth >= max_json_nesting)
      throw_file_error(file, what + " nests objects and arrays more than " +
                                 std::to_string(max_json_nesting) + " levels deep");
    if (event == Event::object_start)
      open_objects.push_back({last_key, {}});
    else if (event == Event::object_end)
      open_objects.pop_back();
    else if (event == Event::key)
    {
      last_key = parsed.get<std::string>();
      OpenObject &object = open_objects.back();
      if (!object.keys.insert(last_key).second)
        throw_file_error(file, what + ": duplicate key '" + last_key + "'" +
                                   (object.name.empty() ? "" : " inside '" + object.name + "'"));
    }
    return true;
  };

  try
  {
    return nlohmann::json::parse(text.begin(), text.end(), reject_duplicates);
  }
  catch (nlohmann::json::exception const &error)
  {
    // Syntax errors, and numbers beyond double's range (out_of_range.406, e.g. 1E400).
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix: it means nothing to users.
    std::string message = error.what();
    if (auto const end_of_prefix = message.find("] "); end_of_prefix != std::string::npos)
      message.erase(0, end_of_prefix + 2);
    throw_file_error(file, what + " is not valid JSON: " + message);
  }
}

} // namespace sgpte::io::detail

#endif
