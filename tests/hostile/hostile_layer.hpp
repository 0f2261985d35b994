#ifndef SGPTE_TESTS_HOSTILE_HOSTILE_LAYER_HPP
#define SGPTE_TESTS_HOSTILE_HOSTILE_LAYER_HPP

// Shared by the hostile-input tests: one layer compressed from given weights and
// activations, and the check that an operation fails with an error naming the layer.

#include <sgpte/layer/layer_compressor.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "test_helpers.hpp"

namespace sgpte_test
{

inline char const *const hostile_layer_name = "layers.7.fc2";

// A layer with weights w (rows × columns) that has seen the activations x (tokens ×
// columns) as one batch.
template <class ExecutionSpace>
struct HostileLayer
{
  ExecutionSpace space;
  sgpte::Matrix<ExecutionSpace> weight;
  sgpte::LayerCompressor<ExecutionSpace> compressor;

  HostileLayer(MatrixXd const &w, MatrixXd const &x)
      : weight(to_device<ExecutionSpace>(w)), compressor(space, hostile_layer_name, weight)
  {
    compressor.add_batch(space, to_device_row_major<ExecutionSpace>(x));
  }

  MatrixXd weights() const { return to_eigen(weight); }
};

// Weights N(0, 1) and heavy-tailed activations of a small layer.
inline MatrixXd hostile_weights(int rows = 12, int columns = 48, unsigned seed = 5)
{
  std::mt19937 generator(seed);
  return random_matrix(rows, columns, generator);
}

inline MatrixXd hostile_activations(int tokens = 64, int columns = 48, unsigned seed = 6)
{
  std::mt19937 generator(seed);
  return random_activations(tokens, columns, generator, true);
}

// NaN, +Inf and −Inf: what a poisoned weight or activation can be.
inline std::vector<double> non_finite_values()
{
  return {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
          -std::numeric_limits<double>::infinity()};
}

// Pruning and mixed precision together: every float path of the sweep runs.
inline sgpte::CompressionOptions hostile_options()
{
  sgpte::CompressionOptions options;
  options.sparsity = 0.5;
  options.block_size = 16;
  options.target_average_bits = 4.0;
  return options;
}

template <class ExecutionSpace>
struct Compressed
{
  MatrixXd weights;
  sgpte::LayerResult<ExecutionSpace> result;
};

// The layer of weights w calibrated on x, compressed.
template <class ExecutionSpace>
Compressed<ExecutionSpace> compress(MatrixXd const &w, MatrixXd const &x,
                                    sgpte::CompressionOptions const &options = hostile_options())
{
  HostileLayer<ExecutionSpace> layer(w, x);
  auto result = layer.compressor.fasterprune(layer.space, options);
  return {layer.weights(), std::move(result)};
}

// Runs `operation`, which must throw ErrorType with a message naming the layer and
// containing `fragment`.
template <class ErrorType, class Operation>
void require_layer_error(Operation &&operation, std::string const &fragment)
{
  try
  {
    operation();
  }
  catch (ErrorType const &error)
  {
    std::string const message = error.what();
    BOOST_TEST(message.find(std::string("layer '") + hostile_layer_name + "'") != std::string::npos,
               "message does not name the layer: " << message);
    BOOST_TEST(message.find(fragment) != std::string::npos,
               "message lacks \"" << fragment << "\": " << message);
    return;
  }
  BOOST_ERROR("expected an error naming the layer, containing \"" << fragment << "\"");
}

} // namespace sgpte_test

#endif
