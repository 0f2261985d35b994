#ifndef SGPTE_IO_VIEW_IO_HPP
#define SGPTE_IO_VIEW_IO_HPP

// Safetensors tensors to and from Kokkos views. Files store matrices row-major; weights
// live column-major on the device (sgpte::Matrix), activations row-major.

#include <sgpte/core/error.hpp>
#include <sgpte/core/views.hpp>
#include <sgpte/io/safetensors_reader.hpp>
#include <sgpte/io/safetensors_writer.hpp>

#include <Kokkos_Core.hpp>

#include <string>
#include <vector>

namespace sgpte::io
{

using HostRowMajor = Kokkos::View<float **, Kokkos::LayoutRight, Kokkos::HostSpace>;

// A floating-point matrix of the file as float, row-major on the host.
inline HostRowMajor read_host_matrix(SafetensorsReader const &reader, std::string const &name)
{
  if (!reader.contains(name))
    throw FileError(reader.path().string() + ": has no tensor '" + name + "'");
  TensorInfo const &info = reader.info(name);
  if (info.shape.size() != 2 || !is_floating_point(info.dtype))
    throw FileError(reader.path().string() + ": tensor '" + name + "' must be a 2-D floating-point matrix");
  HostRowMajor host(Kokkos::view_alloc(Kokkos::WithoutInitializing, name), info.shape[0], info.shape[1]);
  reader.read_as_float(name, host.data(), host.size());
  return host;
}

// The matrix as a column-major device matrix (weights).
template <class ExecutionSpace>
Matrix<ExecutionSpace> read_matrix(SafetensorsReader const &reader, std::string const &name)
{
  HostRowMajor const row_major = read_host_matrix(reader, name);
  typename Matrix<ExecutionSpace>::HostMirror column_major(
      Kokkos::view_alloc(Kokkos::WithoutInitializing, name), row_major.extent(0), row_major.extent(1));
  Kokkos::deep_copy(column_major, row_major);
  return Kokkos::create_mirror_view_and_copy(typename ExecutionSpace::memory_space(), column_major);
}

// The matrix as a row-major device view (activations).
template <class ExecutionSpace>
Kokkos::View<float **, Kokkos::LayoutRight, typename ExecutionSpace::memory_space>
read_row_major(SafetensorsReader const &reader, std::string const &name)
{
  return Kokkos::create_mirror_view_and_copy(typename ExecutionSpace::memory_space(), read_host_matrix(reader, name));
}

// Adds a device matrix (any layout) as a row-major tensor of the given float dtype.
template <class MatrixView>
void add_matrix(SafetensorsWriter &writer, std::string const &name, MatrixView const &matrix, Dtype dtype)
{
  auto const host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), matrix);
  HostRowMajor row_major(Kokkos::view_alloc(Kokkos::WithoutInitializing, name), host.extent(0), host.extent(1));
  Kokkos::deep_copy(row_major, host);
  writer.add_float_tensor(name, dtype, {row_major.extent(0), row_major.extent(1)}, row_major.data(),
                          row_major.size());
}

} // namespace sgpte::io

#endif
