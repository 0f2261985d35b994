// sgpte-bench: time each stage of the per-layer pipeline (calibration statistics,
// factorisation, importance + allocation, sweep) on the current Kokkos backend.
//
//   sgpte-bench [--shapes 768x768,3072x768] [--configs sparse50,nm24] [--tokens 262144]
//
// Shapes are rows x columns of W. Statistics accumulate `tokens` calibration tokens in
// batches of `--batch` (the OPT pipeline's 128 windows of 2048 tokens by default). Each
// configuration runs on a fresh copy of the weights; the best of --repeat runs is shown.

#include <sgpte/core/number_parsing.hpp>
#include <sgpte/core/product_precision.hpp>
#include <sgpte/layer/layer_compressor.hpp>

#include <Kokkos_Core.hpp>
#include <Kokkos_Random.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/benchmark_main.hpp"

namespace
{

std::map<std::string, std::function<void(sgpte::CompressionOptions &)>> const configurations = {
    {"sparse50", [](sgpte::CompressionOptions &o) { o.sparsity = 0.5; }},
    {"nm24", [](sgpte::CompressionOptions &o) { o.prune_n = 2, o.prune_m = 4; }},
    {"sparse50_w4", [](sgpte::CompressionOptions &o) { o.sparsity = 0.5, o.wbits = 4; }},
    {"w4", [](sgpte::CompressionOptions &o) { o.wbits = 4; }},
    {"mixed40_budget",
     [](sgpte::CompressionOptions &o) { o.target_average_bits = 4.0, o.allocation = sgpte::AllocationMethod::budget; }},
    {"sparse50_mixed40_quantile", [](sgpte::CompressionOptions &o) { o.sparsity = 0.5, o.target_average_bits = 4.0, o.allocation = sgpte::AllocationMethod::quantile; }},
};

template <class ExecutionSpace, class View>
void fill_uniform(ExecutionSpace const &space, View const &view, unsigned seed, float scale)
{
  // Kokkos 3.4's fill_random has no instance overload: it runs on the view's space.
  space.fence();
  Kokkos::Random_XorShift64_Pool<ExecutionSpace> pool(seed);
  Kokkos::fill_random(view, pool, -scale, scale);
  Kokkos::fence();
}

struct Shape
{
  int rows;
  int columns;
};

Shape parse_shape(std::string const &text)
{
  auto const x = text.find('x');
  if (x == std::string::npos)
    throw sgpte::InvalidArgument("--shapes: '" + text + "' is not ROWSxCOLUMNS");
  return {sgpte::parse_number<int>(text.substr(0, x), "--shapes"),
          sgpte::parse_number<int>(text.substr(x + 1), "--shapes")};
}

struct Options
{
  std::vector<std::string> shapes = {"768x768", "3072x768", "768x3072", "4096x4096"};
  std::vector<std::string> names = {"sparse50", "nm24", "sparse50_w4", "mixed40_budget"};
  long tokens = 128L * 2048;
  int batch = 2048;
  int repeat = 1;
  std::string statistics_precision = "fp32";
  std::string json; // also write the results here
};

template <class ExecutionSpace>
void run_benchmark(ExecutionSpace const &space, Options const &options)
{
  for (auto const &name : options.names)
    if (!configurations.count(name))
      throw sgpte::InvalidArgument("--configs: unknown configuration '" + name + "'");
  sgpte::ProductPrecision const statistics_precision =
      sgpte::product_precision_names().at(options.statistics_precision);
  std::printf("sgpte-bench on %s (Kokkos %s), %ld calibration tokens in batches of %d%s\n",
              ExecutionSpace::name(), sgpte::compat::version_string().c_str(), options.tokens,
              options.batch,
              statistics_precision == sgpte::ProductPrecision::tf32 ? ", statistics in TF32" : "");
  nlohmann::json results = nlohmann::json::array();
  std::printf("%-11s %-26s %12s %14s %11s %9s %12s\n", "shape", "configuration", "statistics s", "factorization s",
              "allocation s", "sweep s", "fasterprune s");
  for (auto const &text : options.shapes)
  {
    Shape const shape = parse_shape(text);
    sgpte::Matrix<ExecutionSpace> original("original", shape.rows, shape.columns);
    fill_uniform(space, original, 1, 0.05f);
    sgpte::Matrix<ExecutionSpace> weight("weight", shape.rows, shape.columns);
    Kokkos::View<float **, Kokkos::LayoutRight, typename ExecutionSpace::memory_space> inputs("inputs", options.batch,
                                                                                             shape.columns);
    fill_uniform(space, inputs, 2, 1.0f);
    sgpte::LayerCompressor<ExecutionSpace> layer(space, text, weight);
    layer.statistics().set_product_precision(statistics_precision);
    // The batches back to back, timed as a whole, as the reference's loop is.
    space.fence();
    Kokkos::Timer statistics_timer;
    for (long done = 0; done < options.tokens; done += options.batch)
    {
      long const now = std::min<long>(options.batch, options.tokens - done);
      layer.statistics().add_batch(
          space, Kokkos::subview(inputs, Kokkos::make_pair(0L, now), Kokkos::ALL));
    }
    space.fence();
    double const statistics_seconds = statistics_timer.seconds();
    for (auto const &name : options.names)
    {
      sgpte::CompressionOptions compression;
      configurations.at(name)(compression);
      sgpte::StageSeconds best;
      double best_total = -1.0;
      for (int r = 0; r < options.repeat; ++r)
      {
        Kokkos::deep_copy(space, weight, original);
        auto const result = layer.fasterprune(space, compression);
        double const total = result.statistics.seconds.total() - result.statistics.seconds.statistics;
        if (best_total < 0.0 || total < best_total)
        {
          best_total = total;
          best = result.statistics.seconds;
        }
      }
      std::printf("%-11s %-26s %12.3f %14.3f %11.3f %9.3f %12.3f\n", text.c_str(), name.c_str(),
                  statistics_seconds, best.factorization, best.allocation, best.sweep, best_total);
      std::fflush(stdout);
      results.push_back({{"shape", text},
                         {"configuration", name},
                         {"statistics_seconds", statistics_seconds},
                         {"factorization_seconds", best.factorization},
                         {"allocation_seconds", best.allocation},
                         {"sweep_seconds", best.sweep},
                         {"fasterprune_seconds", best_total}});
    }
  }
  if (!options.json.empty())
  {
    nlohmann::json const json = {{"backend", ExecutionSpace::name()},
                                 {"kokkos", sgpte::compat::version_string()},
                                 {"tokens", options.tokens},
                                 {"results", results}};
    std::ofstream out(options.json);
    out << json.dump(2) << "\n";
    if (!out)
      throw sgpte::FileError(options.json + ": cannot write the results");
  }
}

} // namespace

int main(int argc, char *argv[])
{
  sgpte::drivers::KokkosArguments command_line(argc, argv);
  CLI::App app{"Time the stages of sgpte's per-layer pipeline on a Kokkos backend.", "sgpte-bench"};
  app.footer(sgpte::drivers::KokkosArguments::help_footer);
  Options options;
  app.add_option("--shapes", options.shapes, "Layer shapes ROWSxCOLUMNS")->delimiter(',')->capture_default_str();
  app.add_option("--configs", options.names, "Configurations")->delimiter(',')->capture_default_str();
  app.add_option("--tokens", options.tokens, "Calibration tokens")->capture_default_str();
  app.add_option("--batch", options.batch, "Tokens per add_batch call")->capture_default_str();
  app.add_option("--repeat", options.repeat, "Runs per configuration (best is shown)")->capture_default_str();
  app.add_option("--statistics-precision", options.statistics_precision,
                 "Arithmetic of the statistics' product XtX: fp32, or tf32 (Cuda only)")
      ->check(CLI::IsMember(sgpte::product_precision_names()))
      ->capture_default_str();
  app.add_option("--json", options.json, "Also write the results as JSON to this file");
  return sgpte::bench::run_on_chosen_backend(
      app, command_line, [&](auto const &space) { run_benchmark(space, options); });
}
