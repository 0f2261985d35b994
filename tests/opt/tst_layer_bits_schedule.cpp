// Per-layer target bits ("--layer-bits 0-5:3.5,6-11:4.5"): parsing, validation against the
// model and the compressed layers, and how SequentialOptions applies and checks them.

#include <sgpte/opt/layer_bits_schedule.hpp>
#include <sgpte/opt/sequential_compression.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <utility>
#include <vector>

#include "trap_invalid_operations.hpp"

namespace
{

template <class F>
void require_invalid(F &&f, std::vector<std::string> const &fragments)
{
  try
  {
    f();
    BOOST_ERROR("expected an InvalidArgument");
  }
  catch (sgpte::InvalidArgument const &error)
  {
    std::string const message = error.what();
    for (auto const &fragment : fragments)
      BOOST_TEST(message.find(fragment) != std::string::npos,
                 "\"" << fragment << "\" not in: " << message);
  }
}

sgpte::opt::SequentialOptions budget_options(std::string const &schedule)
{
  sgpte::opt::SequentialOptions options;
  options.compression.target_average_bits = 4.0;
  options.compression.allocation = sgpte::AllocationMethod::budget;
  options.layer_bits = sgpte::opt::LayerBitsSchedule::parse(schedule);
  return options;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(LayerBitsSchedule, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE(parses_ranges_and_single_layers_in_any_order)
{
  auto const schedule = sgpte::opt::LayerBitsSchedule::parse("6-11:4.5,0-5:3.5,12:8");
  BOOST_TEST_REQUIRE(schedule.ranges().size() == 3u);
  BOOST_TEST(schedule.ranges()[0].first == 6);
  BOOST_TEST(schedule.ranges()[0].last == 11);
  BOOST_TEST(schedule.ranges()[0].bits == 4.5);
  BOOST_TEST(*schedule.bits_for(0) == 3.5);
  BOOST_TEST(*schedule.bits_for(5) == 3.5);
  BOOST_TEST(*schedule.bits_for(6) == 4.5);
  BOOST_TEST(*schedule.bits_for(12) == 8.0);
  BOOST_TEST(!schedule.bits_for(13));
  schedule.check_layers(13, 0, 13);
}

BOOST_AUTO_TEST_CASE(malformed_entries_are_quoted)
{
  for (std::string const text : {"", "0-5", "0-5:3,", "3"})
    require_invalid([&] { sgpte::opt::LayerBitsSchedule::parse(text); },
                    {"'" + text + "'", "is not FIRST-LAST:BITS or LAYER:BITS"});
  for (auto const &[text, bad] :
       std::vector<std::pair<std::string, std::string>>{{"0-5:", "''"},
                                                        {":3", "''"},
                                                        {"-1:3", "''"},
                                                        {"a-5:3", "'a'"},
                                                        {"0-5:3x", "'3x'"},
                                                        {"0-5:3;6-7:4", "'3;6-7:4'"},
                                                        {" 0-5:3", "' 0'"},
                                                        {"0-3:3,4-5:y", "'y'"}})
    require_invalid([&] { sgpte::opt::LayerBitsSchedule::parse(text); },
                    {"'" + text + "'", "entry", bad + " is not a valid number"});
}

BOOST_AUTO_TEST_CASE(invalid_ranges_and_overlaps_are_named)
{
  require_invalid([] { sgpte::opt::LayerBitsSchedule::parse("5-2:3"); },
                  {"'5-2:3'", "FIRST <= LAST"});
  require_invalid([] { sgpte::opt::LayerBitsSchedule::parse("0--5:3"); }, {"FIRST <= LAST"});
  require_invalid([] { sgpte::opt::LayerBitsSchedule::parse("0-3:0"); }, {"'0-3:0'", "positive"});
  require_invalid([] { sgpte::opt::LayerBitsSchedule::parse("0-3:nan"); }, {"positive"});
  require_invalid([] { sgpte::opt::LayerBitsSchedule::parse("0-5:3,4-7:4"); },
                  {"'0-5:3'", "'4-7:4'", "overlap"});
  require_invalid([] { sgpte::opt::LayerBitsSchedule({{2, 2, 3.0}, {2, 4, 4.0}}); }, {"overlap"});
}

BOOST_AUTO_TEST_CASE(ranges_must_fit_the_model_and_cover_the_compressed_layers)
{
  auto const schedule = sgpte::opt::LayerBitsSchedule::parse("0-5:3.5,6-11:4.5");
  schedule.check_layers(12, 0, 12);
  schedule.check_layers(24, 2, 10); // layers outside [min, max) need no entry
  require_invalid([&] { schedule.check_layers(8, 0, 8); }, {"'6-11:4.5'", "layer 11", "8 layers"});
  require_invalid([] { sgpte::opt::LayerBitsSchedule::parse("0-3:3,5-7:4").check_layers(8, 0, 8); },
                  {"layer 4", "no target bits"});
}

BOOST_AUTO_TEST_CASE(sequential_options_apply_the_schedule_per_layer)
{
  auto const options = budget_options("0:3,1:5.5");
  options.validate(2);
  BOOST_TEST(*options.for_layer(0).target_average_bits == 3.0);
  BOOST_TEST(*options.for_layer(1).target_average_bits == 5.5);
  sgpte::opt::SequentialOptions plain;
  plain.compression.target_average_bits = 4.0;
  BOOST_TEST(*plain.for_layer(1).target_average_bits == 4.0);
}

BOOST_AUTO_TEST_CASE(sequential_options_reject_conflicts_before_any_work)
{
  auto quantile = budget_options("0-1:3");
  quantile.compression.allocation = sgpte::AllocationMethod::quantile;
  require_invalid([&] { quantile.validate(2); }, {"budget"});
  auto uniform = budget_options("0-1:3");
  uniform.compression.target_average_bits.reset();
  uniform.compression.wbits = 4;
  require_invalid([&] { uniform.validate(2); }, {"wbits", "schedule"});
  require_invalid([] { budget_options("0-1:9").validate(2); }, {"layer 0", "target"});
  require_invalid([] { budget_options("0-1:3").validate(1); }, {"layer 1", "1 layers"});

  sgpte::opt::SequentialOptions range;
  range.min_layer = 1;
  range.max_layer = 1;
  require_invalid([&] { range.validate(4); }, {"min layer < max layer"});
  range.max_layer = 5;
  require_invalid([&] { range.validate(4); }, {"<= 4"});
  range.min_layer = -1;
  range.max_layer.reset();
  require_invalid([&] { range.validate(4); }, {"0 <= min layer"});
}

BOOST_AUTO_TEST_SUITE_END()
