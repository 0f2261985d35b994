// sgpte-compare-case CASE.safetensors OUTPUT.safetensors
//
// Checks sgpte-layer's OUTPUT (W_out) against the official implementation's W_out stored
// in CASE, with the criteria of case_comparison.hpp. Prints one line; exit status 0 when
// the case conforms, 1 when it does not, 2 on unreadable input.

#include <sgpte/io/safetensors_reader.hpp>

#include "case_comparison.hpp"

#include <iostream>
#include <string>

namespace
{

Eigen::MatrixXd read_matrix(sgpte::io::SafetensorsReader const &file, std::string const &name)
{
  auto const &info = file.info(name);
  if (info.shape.size() != 2)
    throw sgpte::FileError(file.path().string() + ": tensor '" + name + "' is not a matrix");
  std::vector<float> const values = file.read_as_float(name);
  Eigen::MatrixXd m(info.shape[0], info.shape[1]);
  for (std::size_t i = 0; i < info.shape[0]; ++i)
    for (std::size_t j = 0; j < info.shape[1]; ++j)
      m(i, j) = values[i * info.shape[1] + j];
  return m;
}

} // namespace

int main(int argc, char *argv[])
{
  if (argc != 3)
  {
    std::cerr << "usage: sgpte-compare-case CASE.safetensors OUTPUT.safetensors\n";
    return 2;
  }
  try
  {
    sgpte::io::SafetensorsReader const reference(argv[1]);
    sgpte::io::SafetensorsReader const output(argv[2]);
    auto const metadata = reference.metadata();
    auto const wbits = metadata.find("wbits");
    bool const quantized = wbits != metadata.end() && wbits->second != "0" && wbits->second != "16";
    auto const comparison = sgpte_test::compare_case(read_matrix(reference, "W"), read_matrix(reference, "X"),
                                                     read_matrix(reference, "W_out"), read_matrix(output, "W_out"),
                                                     quantized);
    std::cout << argv[1] << ": " << (comparison.passes() ? "conforms" : "DOES NOT CONFORM") << ": "
              << comparison.report() << "\n";
    return comparison.passes() ? 0 : 1;
  }
  catch (sgpte::Error const &error)
  {
    std::cerr << "sgpte-compare-case: error: " << error.what() << "\n";
    return 2;
  }
}
