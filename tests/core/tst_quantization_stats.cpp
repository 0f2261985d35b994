// QuantizationStats: the global figures are the sums of the layers', the summary and the
// JSON carry them.

#include <sgpte/stats/quantization_stats.hpp>

#include <boost/test/unit_test.hpp>

#include <sstream>

#include "trap_invalid_operations.hpp"

BOOST_FIXTURE_TEST_SUITE(QuantizationStatistics, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE(global_figures_sum_up)
{
  sgpte::QuantizationStats stats;
  sgpte::LayerStatistics a;
  a.name = "layers.0.fc1";
  a.rows = 100;
  a.columns = 10;
  a.bit_histogram = {{2, 4}, {8, 6}};
  a.average_bits = (2 * 4 + 8 * 6) / 10.0;
  a.size_before_bytes = 2000;
  a.size_after_bytes = 700;
  a.allocation = "quantile";
  a.quantizer_range = "per-width";
  a.target_average_bits = 4.0;
  sgpte::LayerStatistics b;
  b.name = "layers.0.fc2";
  b.rows = 10;
  b.columns = 30;
  b.bit_histogram = {{2, 30}};
  b.average_bits = 2.0;
  b.size_before_bytes = 600;
  b.size_after_bytes = 100;
  sgpte::LayerStatistics pruned_only;
  pruned_only.name = "layers.1.fc1";
  pruned_only.rows = 5;
  pruned_only.columns = 5;
  pruned_only.bit_histogram = {{0, 5}};
  stats.add(a);
  stats.add(b);
  stats.add(pruned_only);

  BOOST_TEST(stats.total_channels() == 45);
  auto const histogram = stats.bit_histogram();
  BOOST_TEST(histogram.at(2) == 34);
  BOOST_TEST(histogram.at(8) == 6);
  BOOST_TEST(histogram.at(0) == 5);
  // weighted by rows × columns, over the quantized layers only
  BOOST_TEST(stats.average_bits() == (5.6 * 1000 + 2.0 * 300) / 1300.0, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(stats.size_before_bytes() == 2600);
  BOOST_TEST(stats.size_after_bytes() == 800);
  // Packed bytes per weight, over every layer: 8 · 800 bytes / 1325 weights.
  BOOST_TEST(a.packed_bits_per_weight() == 8.0 * 700 / 1000, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(stats.packed_bits_per_weight() == 8.0 * 800 / 1325,
             boost::test_tools::tolerance(1e-12));

  auto const json = stats.to_json();
  BOOST_TEST(json["total_channels"].get<int>() == 45);
  BOOST_TEST(json["layers"].size() == 3u);
  BOOST_TEST(json["layers"][0]["bit_histogram"]["8"].get<int>() == 6);
  BOOST_TEST(json["layers"][0]["target_average_bits"].get<double>() == 4.0);
  BOOST_TEST(json["layers"][0]["quantizer_range"].get<std::string>() == "per-width");
  BOOST_TEST(!json["layers"][1].contains("quantizer_range")); // not mixed precision
  // A layer read back (--resume) is the layer written.
  auto const restored = sgpte::QuantizationStats::layer_from_json(json["layers"][0]);
  BOOST_TEST(restored.quantizer_range == "per-width");
  BOOST_TEST(restored.allocation == "quantile");
  BOOST_TEST(sgpte::QuantizationStats::layer_from_json(json["layers"][1]).quantizer_range.empty());
  BOOST_TEST(json["packed_bits_per_weight"].get<double>() == stats.packed_bits_per_weight());
  BOOST_TEST(json["layers"][1]["packed_bits_per_weight"].get<double>() == 8.0 * 100 / 300,
             boost::test_tools::tolerance(1e-12));

  std::ostringstream out;
  stats.print_summary(out);
  std::string const text = out.str();
  BOOST_TEST(text.find("Total channels: 45") != std::string::npos, text);
  BOOST_TEST(text.find("2-bit") != std::string::npos);
  BOOST_TEST(text.find("75.56%") != std::string::npos, text); // 34 / 45
  BOOST_TEST(text.find("packed: 4.830 bits per weight") != std::string::npos, text);
  BOOST_TEST(text.find("does not enforce the target") != std::string::npos, text);
  BOOST_TEST(text.find("layers.0.fc2") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
