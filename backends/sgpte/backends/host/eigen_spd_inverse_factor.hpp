#ifndef SGPTE_BACKENDS_HOST_EIGEN_SPD_INVERSE_FACTOR_HPP
#define SGPTE_BACKENDS_HOST_EIGEN_SPD_INVERSE_FACTOR_HPP

// Native implementation of spd_inverse_lower_factor: Eigen's blocked LLT and a triangular
// solve, in double precision on a host copy. It serves every execution space that has no
// vendor library (and is the reference the vendor paths are tested against).

#include <sgpte/backends/host/reversed_copy.hpp>
#include <sgpte/core/views.hpp>

#include <Eigen/Cholesky>
#include <Eigen/Core>

namespace sgpte::backends
{

template <class ExecutionSpace>
bool eigen_spd_inverse_lower_factor(ExecutionSpace const &space, Matrix<ExecutionSpace> const &hessian,
                                    double damp, Matrix<ExecutionSpace> const &lower)
{
  Eigen::Index const n = static_cast<Eigen::Index>(hessian.extent(0));
  Eigen::MatrixXd reversed(n, n);
  detail::fill_reversed_damped(space, hessian, damp, reversed.data());
  Eigen::LLT<Eigen::MatrixXd, Eigen::Lower> cholesky(reversed);
  if (cholesky.info() != Eigen::Success)
    return false;
  Eigen::MatrixXd inverse_factor = Eigen::MatrixXd::Identity(n, n);
  cholesky.matrixL().solveInPlace(inverse_factor);
  if (!inverse_factor.allFinite())
    return false;
  detail::store_reversed_transpose(space, inverse_factor.data(), lower);
  return true;
}

} // namespace sgpte::backends

#endif
