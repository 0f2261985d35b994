// sgpte-make-hostile-case KIND OUTPUT.safetensors: writes a small sgpte-layer input (W 8 × 16,
// X 32 × 16, float32) poisoned as KIND says, for the end-to-end refusal tests:
//   nan_activations   one NaN in X
//   huge_activations  X around 1e30 (XᵀX overflows float)
//   huge_weights      W around 1e30 (the sweep's scores w²/d² overflow float)

#include <sgpte/io/safetensors_writer.hpp>

#include <cmath>
#include <cstddef>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

namespace
{

// Deterministic values in [−1, 1] that make a well-conditioned layer.
std::vector<float> pattern(std::size_t count, double phase)
{
  std::vector<float> values(count);
  for (std::size_t i = 0; i < count; ++i)
    values[i] = static_cast<float>(std::sin(1.7 * static_cast<double>(i) + phase));
  return values;
}

} // namespace

int main(int argc, char *argv[])
{
  if (argc != 3)
  {
    std::cerr
        << "usage: sgpte-make-hostile-case nan_activations|huge_activations|huge_weights OUTPUT\n";
    return 2;
  }
  std::string const kind = argv[1];
  std::vector<float> w = pattern(8 * 16, 0.0);
  std::vector<float> x = pattern(32 * 16, 0.5);
  if (kind == "nan_activations")
    x[37] = std::numeric_limits<float>::quiet_NaN();
  else if (kind == "huge_activations")
    for (float &value : x)
      value *= 1e30f;
  else if (kind == "huge_weights")
    for (float &value : w)
      value *= 1e30f;
  else
  {
    std::cerr << "sgpte-make-hostile-case: unknown kind '" << kind << "'\n";
    return 2;
  }
  sgpte::io::SafetensorsWriter writer;
  writer.add_values("W", {8, 16}, w.data(), w.size());
  writer.add_values("X", {32, 16}, x.data(), x.size());
  writer.write(argv[2]);
  return 0;
}
