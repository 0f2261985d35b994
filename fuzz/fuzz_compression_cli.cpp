// Fuzz target: the compression options of the command line (drivers/common/
// compression_cli.hpp, shared by sgpte-layer and sgpte-opt) and the layer-case metadata
// that --config-from-metadata applies. The input is split at NUL bytes into words; a word
// "@key=value" is a metadata entry, every other word a command-line argument. The command
// line is parsed, the metadata applied and options() called: invalid input must end in a
// CLI11 error or sgpte::Error, and options that are returned must pass validate().

#include <sgpte/layer/compression_options.hpp>

#include <CLI/CLI.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/compression_cli.hpp"

namespace
{

// More words than any real command line; keeps each input cheap.
constexpr std::size_t max_words = 64;

struct CommandLine
{
  std::vector<std::string> arguments{"sgpte-fuzz"};
  std::map<std::string, std::string> metadata;
};

CommandLine split(std::uint8_t const *data, std::size_t size)
{
  CommandLine result;
  std::string const text(reinterpret_cast<char const *>(data), size);
  std::size_t start = 0;
  for (std::size_t words = 0; start <= text.size() && words < max_words; ++words)
  {
    std::size_t end = text.find('\0', start);
    if (end == std::string::npos)
      end = text.size();
    std::string word = text.substr(start, end - start);
    if (word.size() > 1 && word[0] == '@')
    {
      std::size_t const equals = word.find('=');
      std::string const key =
          word.substr(1, equals == std::string::npos ? std::string::npos : equals - 1);
      result.metadata[key] = equals == std::string::npos ? "" : word.substr(equals + 1);
    }
    else
      result.arguments.push_back(std::move(word));
    start = end + 1;
  }
  return result;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const *data, std::size_t size)
{
  CommandLine const command_line = split(data, size);
  std::vector<char const *> argv;
  for (std::string const &argument : command_line.arguments)
    argv.push_back(argument.c_str());

  CLI::App app{"fuzzed command line", "sgpte-fuzz"};
  sgpte::drivers::CompressionCli cli(app, sgpte::CompressionOptions{});
  try
  {
    app.parse(static_cast<int>(argv.size()), argv.data());
    if (!command_line.metadata.empty())
      cli.apply_metadata(command_line.metadata, "fuzz-input");
    cli.options().validate(); // options() validates; a second call must agree
  }
  catch (CLI::Error const &)
  {
  }
  catch (sgpte::Error const &)
  {
  }
  return 0;
}
