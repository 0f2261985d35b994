// Compares two sgpte-opt runs of the same model and options: their compressed checkpoints
// (model.safetensors) tensor by tensor, and their statistics JSON's perplexities. Passes
// (status 0) when at most --max-differing-fraction of all the weights differ at all and the
// compressed perplexities are within --perplexity-tolerance (relative) of each other, and so
// are the dense ones: these do not depend on the calibration, but each process evaluates its
// share of the windows, and a GPU's products round differently for a batch of another size
// (cuBLAS picks its kernel by shape; measured on an H200: 2e-11 apart). Prints what it found.
//
//   sgpte_compare_runs A_DIR A.json B_DIR B.json --max-differing-fraction F --perplexity-tolerance
//   T

#include <sgpte/io/safetensors_reader.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace
{

double perplexity(nlohmann::json const &statistics, char const *model)
{
  return statistics.at("perplexity").at(model).at("perplexity").get<double>();
}

} // namespace

int main(int argc, char *argv[])
{
  if (argc != 9 || std::string(argv[5]) != "--max-differing-fraction" ||
      std::string(argv[7]) != "--perplexity-tolerance")
  {
    std::cerr << "usage: " << argv[0]
              << " A_DIR A.json B_DIR B.json --max-differing-fraction F --perplexity-tolerance T\n";
    return 2;
  }
  double const max_differing_fraction = std::atof(argv[6]);
  double const perplexity_tolerance = std::atof(argv[8]);
  sgpte::io::SafetensorsReader const a(std::string(argv[1]) + "/model.safetensors");
  sgpte::io::SafetensorsReader const b(std::string(argv[3]) + "/model.safetensors");
  if (a.names() != b.names())
  {
    std::cerr << "FAIL: the checkpoints hold different tensors\n";
    return 1;
  }
  std::size_t values = 0, differing = 0;
  double largest_difference = 0.0; // relative to the tensor's largest magnitude
  for (std::string const &name : a.names())
  {
    std::vector<float> const x = a.read_as_float(name);
    std::vector<float> const y = b.read_as_float(name);
    if (x.size() != y.size())
    {
      std::cerr << "FAIL: tensor " << name << " has other shapes\n";
      return 1;
    }
    double scale = 0.0;
    for (float const value : x)
      scale = std::fmax(scale, std::fabs(value));
    for (std::size_t i = 0; i < x.size(); ++i)
      if (x[i] != y[i])
      {
        ++differing;
        largest_difference = std::fmax(largest_difference, std::fabs(x[i] - y[i]) / scale);
      }
    values += x.size();
  }
  nlohmann::json const a_statistics = nlohmann::json::parse(std::ifstream(argv[2]));
  nlohmann::json const b_statistics = nlohmann::json::parse(std::ifstream(argv[4]));
  double const dense_a = perplexity(a_statistics, "dense"),
               dense_b = perplexity(b_statistics, "dense");
  double const compressed_a = perplexity(a_statistics, "compressed");
  double const compressed_b = perplexity(b_statistics, "compressed");
  double const fraction = static_cast<double>(differing) / static_cast<double>(values);
  double const perplexity_difference = std::fabs(compressed_b / compressed_a - 1.0);
  std::printf("%zu of %zu weights differ (fraction %.3g, largest difference %.3g of its tensor's "
              "largest magnitude); compressed perplexity %.17g vs %.17g (relative difference "
              "%.3g); dense %.17g vs %.17g\n",
              differing, values, fraction, largest_difference, compressed_a, compressed_b,
              perplexity_difference, dense_a, dense_b);
  bool ok = true;
  if (fraction > max_differing_fraction)
    ok = false,
    std::printf("FAIL: more than a fraction %g of the weights differ\n", max_differing_fraction);
  if (perplexity_difference > perplexity_tolerance)
    ok = false,
    std::printf("FAIL: the compressed perplexities differ by more than %g\n", perplexity_tolerance);
  if (std::fabs(dense_b / dense_a - 1.0) > perplexity_tolerance)
    ok = false,
    std::printf("FAIL: the dense perplexities differ by more than %g\n", perplexity_tolerance);
  return ok ? 0 : 1;
}
