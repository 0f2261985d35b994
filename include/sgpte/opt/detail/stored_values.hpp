#ifndef SGPTE_OPT_DETAIL_STORED_VALUES_HPP
#define SGPTE_OPT_DETAIL_STORED_VALUES_HPP

// A checkpoint tensor's stored bytes on the device (F32, F16 or BF16, row-major, as in the
// file) and the kernels between them and the views the pipeline computes with: the forward
// pass's values in its precision, a weight in float and column-major for LayerCompressor,
// and back, so that weights cross the host–device link once each way in their stored dtype
// and are never converted or transposed on the host.

#include <sgpte/core/half_precision.hpp>
#include <sgpte/core/views.hpp>
#include <sgpte/io/byte_span.hpp>
#include <sgpte/io/dtype.hpp>
#include <sgpte/io/float_codec.hpp>
#include <sgpte/opt/detail/device_copy.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace sgpte::opt::detail
{

template <class ExecutionSpace>
using DeviceBytes = Kokkos::View<unsigned char *, typename ExecutionSpace::memory_space>;

// A tensor's bytes inside a device buffer, aligned for its dtype.
template <class ExecutionSpace>
struct StoredTensor
{
  DeviceBytes<ExecutionSpace> bytes;
  io::Dtype dtype = io::Dtype::F32;
  std::size_t rows = 1, columns = 0; // a vector is 1 × n

  std::size_t count() const { return rows * columns; }
};

// Element `index` of stored bytes of `dtype` (F32, F16 or BF16) as float.
KOKKOS_INLINE_FUNCTION float stored_value(io::Dtype dtype, unsigned char const *bytes,
                                          std::size_t index)
{
  switch (dtype)
  {
  case io::Dtype::F16:
    return float_from_f16_bits(reinterpret_cast<std::uint16_t const *>(bytes)[index]);
  case io::Dtype::BF16:
    return float_from_bf16_bits(reinterpret_cast<std::uint16_t const *>(bytes)[index]);
  default:
    return reinterpret_cast<float const *>(bytes)[index];
  }
}

// Stores `value` as element `index` of bytes of `dtype`; returns the value as it reads back.
KOKKOS_INLINE_FUNCTION float store_value(io::Dtype dtype, unsigned char *bytes, std::size_t index,
                                         float value)
{
  switch (dtype)
  {
  case io::Dtype::F16:
  {
    std::uint16_t const bits = f16_bits_from_float(value);
    reinterpret_cast<std::uint16_t *>(bytes)[index] = bits;
    return float_from_f16_bits(bits);
  }
  case io::Dtype::BF16:
  {
    std::uint16_t const bits = bf16_bits_from_float(value);
    reinterpret_cast<std::uint16_t *>(bytes)[index] = bits;
    return float_from_bf16_bits(bits);
  }
  default:
    reinterpret_cast<float *>(bytes)[index] = value;
    return value;
  }
}

// The bytes of host memory (a mapped file's tensor, a replacement) in a new device buffer.
template <class ExecutionSpace>
DeviceBytes<ExecutionSpace> device_bytes(ExecutionSpace const &space, io::ByteSpan bytes,
                                         std::string const &label)
{
  return copy_to_device(space, bytes.data, bytes.size, label);
}

// out[i] = the tensor's element i rounded to Value's precision, for every element (out holds
// count() values of type Out: Value, or float for parameters PyTorch would hold in Value).
template <class Value, class ExecutionSpace, class Out>
void decode(ExecutionSpace const &space, StoredTensor<ExecutionSpace> const &tensor, Out *out)
{
  auto const bytes = tensor.bytes;
  io::Dtype const dtype = tensor.dtype;
  Kokkos::parallel_for(
      "sgpte::opt::decode_stored",
      Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>(
          space, 0, static_cast<std::int64_t>(tensor.count())),
      KOKKOS_LAMBDA(std::int64_t i) {
        out[i] = from_float<Out>(
            rounded_to<Value>(stored_value(dtype, bytes.data(), static_cast<std::size_t>(i))));
      });
}

// The tensor (rows × columns) as a float column-major matrix of its shape.
template <class ExecutionSpace>
void decode_transposed(ExecutionSpace const &space, StoredTensor<ExecutionSpace> const &tensor,
                       Matrix<ExecutionSpace> const &matrix)
{
  auto const bytes = tensor.bytes;
  io::Dtype const dtype = tensor.dtype;
  auto const columns = static_cast<std::int64_t>(tensor.columns);
  Kokkos::parallel_for(
      "sgpte::opt::decode_transposed",
      Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>(
          space, 0, static_cast<std::int64_t>(tensor.count())),
      KOKKOS_LAMBDA(std::int64_t i) {
        matrix(i / columns, i % columns) =
            stored_value(dtype, bytes.data(), static_cast<std::size_t>(i));
      });
}

// Stores a float column-major matrix into the tensor's bytes (rounded to its dtype) and, as
// the values read back, into `values` (row-major, rounded to Value) when it is not empty.
// Returns how many values were not finite, or overflowed the dtype (stored as ±infinity).
template <class ExecutionSpace, class Value>
io::FloatEncodingCheck encode(ExecutionSpace const &space, Matrix<ExecutionSpace> const &matrix,
                              StoredTensor<ExecutionSpace> const &tensor,
                              RowMajorMatrix<ExecutionSpace, Value> const &values)
{
  auto const bytes = tensor.bytes;
  io::Dtype const dtype = tensor.dtype;
  auto const columns = static_cast<std::int64_t>(tensor.columns);
  bool const with_values = values.extent(0) > 0;
  // Both counts in one integer: non-finite ones in the low 32 bits, overflows above (a
  // tensor has fewer than 2³² elements).
  std::int64_t counts = 0;
  Kokkos::parallel_reduce(
      "sgpte::opt::encode_stored",
      Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>(
          space, 0, static_cast<std::int64_t>(tensor.count())),
      KOKKOS_LAMBDA(std::int64_t i, std::int64_t & partial) {
        std::int64_t const row = i / columns, column = i % columns;
        float const value = matrix(row, column);
        float const stored = store_value(dtype, bytes.data(), static_cast<std::size_t>(i), value);
        if (with_values)
          values(row, column) = from_float<Value>(stored);
        std::uint32_t const exponent = sgpte::detail::float_bits(value) & 0x7f800000u;
        if (exponent == 0x7f800000u)
          partial += 1;
        else if ((sgpte::detail::float_bits(stored) & 0x7f800000u) == 0x7f800000u)
          partial += std::int64_t(1) << 32;
      },
      counts);
  io::FloatEncodingCheck check;
  check.non_finite = static_cast<std::size_t>(counts & 0xffffffff);
  check.overflow = static_cast<std::size_t>(counts >> 32);
  return check;
}

} // namespace sgpte::opt::detail

#endif
