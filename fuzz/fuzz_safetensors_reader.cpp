// Fuzz target: SafetensorsReader. Opens the input as a safetensors file and reads the
// metadata and every tensor: floating-point ones converted to float, the others as values
// of their own type. A malformed file must end in sgpte::Error; anything else (a crash, a sanitizer
// report, another exception) is a finding.

#include <sgpte/io/safetensors_reader.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_input_file.hpp"

namespace
{

// Folds values into a result the compiler cannot drop, so every element is really read.
unsigned volatile sink;

template <class T>
unsigned sum_of(std::vector<T> const &values)
{
  unsigned sum = 0;
  for (T value : values)
    sum += static_cast<unsigned>(value);
  return sum;
}

unsigned read_integers(sgpte::io::SafetensorsReader const &reader, std::string const &name)
{
  using sgpte::io::Dtype;
  switch (reader.info(name).dtype)
  {
  case Dtype::BOOL:
    return sum_of(reader.read_values<bool>(name));
  case Dtype::U8:
    return sum_of(reader.read_values<std::uint8_t>(name));
  case Dtype::I8:
    return sum_of(reader.read_values<std::int8_t>(name));
  case Dtype::I16:
    return sum_of(reader.read_values<std::int16_t>(name));
  case Dtype::U16:
    return sum_of(reader.read_values<std::uint16_t>(name));
  case Dtype::I32:
    return sum_of(reader.read_values<std::int32_t>(name));
  case Dtype::U32:
    return sum_of(reader.read_values<std::uint32_t>(name));
  case Dtype::I64:
    return sum_of(reader.read_values<std::int64_t>(name));
  default: // floating point: read by read_everything
    return 0;
  }
}

void read_everything(sgpte::io::SafetensorsReader const &reader)
{
  unsigned checksum = 0;
  for (auto const &[key, value] : reader.metadata())
    checksum += static_cast<unsigned>(key.size() + value.size());
  for (std::string const &name : reader.names())
  {
    sgpte::io::TensorInfo const &info = reader.info(name);
    if (sgpte::io::is_floating_point(info.dtype))
    {
      std::vector<float> const values = reader.read_as_float(name);
      for (float value : values)
        checksum += value != value ? 1u : 0u; // NaN is a valid value; this reads it
    }
    else
      checksum += read_integers(reader, name);
  }
  sink = checksum;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const *data, std::size_t size)
{
  sgpte_fuzz::InputFile const file(data, size);
  try
  {
    sgpte::io::SafetensorsReader const reader(file.path());
    read_everything(reader);
  }
  catch (sgpte::Error const &)
  {
  }
  return 0;
}
