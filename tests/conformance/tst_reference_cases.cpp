// Conformance with the official SparseGPT implementation: every case of
// tests/data/reference (produced by its SparseGPT class, see the README there) is
// compressed through the library on every backend and compared with case_comparison.hpp.
// Where a case stores the reference's H, ours must equal it: both count the single 2-D
// batch as one sample.

#include <sgpte/io/case_metadata.hpp>
#include <sgpte/io/view_io.hpp>
#include <sgpte/layer/layer_compressor.hpp>

#include "case_comparison.hpp"
#include "sgpte_enable_device_types.hpp"
#include "test_helpers.hpp"
#include "trap_invalid_operations.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <filesystem>
#include <vector>

namespace
{

std::vector<std::filesystem::path> reference_cases()
{
  std::vector<std::filesystem::path> cases;
  for (auto const &entry : std::filesystem::directory_iterator(std::filesystem::path(SGPTE_TEST_DATA_DIR) / "reference"))
    if (entry.path().extension() == ".safetensors")
      cases.push_back(entry.path());
  std::sort(cases.begin(), cases.end());
  return cases;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(ReferenceCases, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE_TEMPLATE(library_reproduces_the_official_implementation, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  auto const cases = reference_cases();
  BOOST_TEST_REQUIRE(cases.size() >= 24u);
  for (auto const &path : cases)
  {
    BOOST_TEST_CONTEXT(path.filename().string())
    {
      sgpte::io::SafetensorsReader const file(path);
      sgpte::CompressionOptions options;
      sgpte::io::apply_case_metadata(options, file.metadata(), path.string());
      auto const weight = sgpte::io::read_matrix<ExecutionSpace>(file, "W");
      sgpte_test::MatrixXd const w = sgpte_test::to_eigen(weight);
      sgpte_test::MatrixXd const x = sgpte_test::to_eigen(sgpte::io::read_row_major<ExecutionSpace>(file, "X"));
      sgpte::LayerCompressor<ExecutionSpace> layer(space, path.stem().string(), weight);
      layer.add_batch(space, sgpte::io::read_row_major<ExecutionSpace>(file, "X"));
      if (file.contains("H"))
      {
        sgpte_test::MatrixXd const ours = sgpte_test::to_eigen(layer.statistics().hessian(space));
        sgpte_test::MatrixXd const reference = sgpte_test::to_eigen(sgpte::io::read_row_major<ExecutionSpace>(file, "H"));
        // Two float32 GEMMs over `tokens` products each: relative error ~1e-6.
        BOOST_TEST((ours - reference).norm() <= 1e-5 * reference.norm());
      }
      layer.fasterprune(space, options);
      sgpte_test::MatrixXd const reference_out =
          sgpte_test::to_eigen(sgpte::io::read_row_major<ExecutionSpace>(file, "W_out"));
      auto const comparison = sgpte_test::compare_case(w, x, reference_out, sgpte_test::to_eigen(weight),
                                                       options.quantizes());
      BOOST_TEST(comparison.passes(), comparison.report());
      BOOST_TEST_MESSAGE(path.filename().string() << ": " << comparison.report());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
