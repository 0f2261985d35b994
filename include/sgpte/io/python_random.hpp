#ifndef SGPTE_IO_PYTHON_RANDOM_HPP
#define SGPTE_IO_PYTHON_RANDOM_HPP

// CPython 3's `random` module (Mersenne Twister MT19937), reproduced bit for bit for the
// calls the reference SparseGPT data loader makes, so that a seed picks exactly the
// calibration windows the Python implementation picks:
//
//   random.seed(seed)
//   for _ in range(nsamples):
//       i = random.randint(0, n_tokens - seqlen - 1)
//
// Covered: seed(int) for any 64-bit integer (CPython seeds with |n|), seeding from the
// 32-bit words of a larger integer, getrandbits(k), random(), randrange(n) and randint(a, b)
// (CPython >= 3.10's _randbelow_with_getrandbits rejection sampling).

#include <sgpte/core/error.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace sgpte::io
{

class PythonRandom
{
public:
  // As random.Random(seed).
  template <class Integer,
            class = std::enable_if_t<std::is_integral_v<Integer> && !std::is_same_v<Integer, bool>>>
  explicit PythonRandom(Integer seed_value)
  {
    seed(seed_value);
  }

  // As random.seed(n): the key is |n| as 32-bit words, least significant first.
  template <class Integer,
            class = std::enable_if_t<std::is_integral_v<Integer> && !std::is_same_v<Integer, bool>>>
  void seed(Integer n)
  {
    // Negating in unsigned arithmetic also gives |n| for the most negative value.
    auto const magnitude =
        n < 0 ? std::uint64_t(0) - static_cast<std::uint64_t>(n) : static_cast<std::uint64_t>(n);
    auto const low = static_cast<std::uint32_t>(magnitude);
    auto const high = static_cast<std::uint32_t>(magnitude >> 32);
    seed_with_key(high == 0 ? std::vector<std::uint32_t>{low}
                            : std::vector<std::uint32_t>{low, high});
  }

  // As random.seed(n) for an integer of any size: `key` holds |n| as 32-bit words, least
  // significant first, without leading zero words ({0} for n = 0).
  void seed_with_key(std::vector<std::uint32_t> const &key)
  {
    if (key.empty())
      throw InvalidArgument("PythonRandom::seed_with_key: the key needs at least one word");
    init_by_array(key);
  }

  // As random.getrandbits(k) for any k >= 0: the k-bit number as 32-bit words, least
  // significant first ((k + 31) / 32 words, none for k = 0).
  std::vector<std::uint32_t> getrandbits_words(std::size_t k)
  {
    std::vector<std::uint32_t> words((k + 31) / 32);
    for (auto &word : words)
    {
      word = next_word();
      if (k < 32)
        word >>= 32 - k;
      k -= k < 32 ? k : 32;
    }
    return words;
  }

  // As random.getrandbits(k), 0 <= k <= 64.
  std::uint64_t getrandbits(std::size_t k)
  {
    if (k > 64)
      throw InvalidArgument("PythonRandom::getrandbits: " + std::to_string(k) +
                            " bits do not fit in 64 bits; use getrandbits_words");
    std::uint64_t bits = 0;
    std::vector<std::uint32_t> const words = getrandbits_words(k);
    for (std::size_t i = 0; i < words.size(); ++i)
      bits |= std::uint64_t(words[i]) << (32 * i);
    return bits;
  }

  // As random.random(): a multiple of 2^-53 in [0, 1).
  double random()
  {
    std::uint32_t const high = next_word() >> 5;
    std::uint32_t const low = next_word() >> 6;
    return (high * 67108864.0 + low) * (1.0 / 9007199254740992.0);
  }

  // As random.randrange(n): uniform in [0, n), n >= 1.
  std::uint64_t randrange(std::uint64_t n)
  {
    if (n == 0)
      throw InvalidArgument("PythonRandom::randrange: empty range (n = 0)");
    std::size_t const k = bit_length(n);
    std::uint64_t r = getrandbits(k);
    while (r >= n)
      r = getrandbits(k);
    return r;
  }

  // As random.randint(a, b): uniform in [a, b], a <= b.
  std::int64_t randint(std::int64_t a, std::int64_t b)
  {
    if (a > b)
      throw InvalidArgument("PythonRandom::randint: empty range [" + std::to_string(a) + ", " +
                            std::to_string(b) + "]");
    // b - a + 1 in modular arithmetic: 0 stands for the full 64-bit range, 2^64.
    std::uint64_t const width = static_cast<std::uint64_t>(b) - static_cast<std::uint64_t>(a) + 1;
    std::uint64_t const offset = width != 0 ? randrange(width) : randbelow_two_to_the_64();
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + offset);
  }

private:
  static constexpr std::size_t state_size = 624;
  static constexpr std::size_t shift_size = 397;

  // n.bit_length() for n > 0.
  static std::size_t bit_length(std::uint64_t n)
  {
    return 64 - static_cast<std::size_t>(__builtin_clzll(n));
  }

  // _randbelow(2**64): 65-bit draws, retried while the top bit is set.
  std::uint64_t randbelow_two_to_the_64()
  {
    std::vector<std::uint32_t> words = getrandbits_words(65);
    while (words[2] != 0)
      words = getrandbits_words(65);
    return words[0] | std::uint64_t(words[1]) << 32;
  }

  void init_genrand(std::uint32_t seed_word)
  {
    _state[0] = seed_word;
    for (std::uint32_t i = 1; i < state_size; ++i)
      _state[i] = 1812433253u * (_state[i - 1] ^ (_state[i - 1] >> 30)) + i;
    _index = state_size;
  }

  void init_by_array(std::vector<std::uint32_t> const &key)
  {
    init_genrand(19650218u);
    std::size_t i = 1;
    std::size_t j = 0;
    auto const advance_i = [&]
    {
      if (++i >= state_size)
      {
        _state[0] = _state[state_size - 1];
        i = 1;
      }
    };
    for (std::size_t k = std::max(state_size, key.size()); k > 0; --k)
    {
      _state[i] = (_state[i] ^ ((_state[i - 1] ^ (_state[i - 1] >> 30)) * 1664525u)) + key[j] +
                  static_cast<std::uint32_t>(j);
      advance_i();
      if (++j >= key.size())
        j = 0;
    }
    for (std::size_t k = state_size - 1; k > 0; --k)
    {
      _state[i] = (_state[i] ^ ((_state[i - 1] ^ (_state[i - 1] >> 30)) * 1566083941u)) -
                  static_cast<std::uint32_t>(i);
      advance_i();
    }
    _state[0] = 0x80000000u; // a non-zero initial state
  }

  void regenerate()
  {
    auto const twist = [](std::uint32_t upper, std::uint32_t lower, std::uint32_t shifted)
    {
      std::uint32_t const y = (upper & 0x80000000u) | (lower & 0x7fffffffu);
      return shifted ^ (y >> 1) ^ ((y & 1u) != 0 ? 0x9908b0dfu : 0u);
    };
    for (std::size_t k = 0; k < state_size; ++k)
      _state[k] =
          twist(_state[k], _state[(k + 1) % state_size], _state[(k + shift_size) % state_size]);
    _index = 0;
  }

  // genrand_uint32: the next tempered output word.
  std::uint32_t next_word()
  {
    if (_index >= state_size)
      regenerate();
    std::uint32_t y = _state[_index++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
  }

  std::array<std::uint32_t, state_size> _state{};
  std::size_t _index = state_size;
};

// The starts of the `nsamples` calibration windows of `seqlen` tokens the reference
// SparseGPT loader draws from a stream of `n_tokens` tokens with random.seed(seed).
inline std::vector<std::size_t> calibration_window_starts(std::int64_t seed, std::size_t n_tokens,
                                                          std::size_t seqlen, std::size_t nsamples)
{
  if (n_tokens <= seqlen)
    throw InvalidArgument("calibration stream has " + std::to_string(n_tokens) +
                          " tokens; it needs more than the window length " +
                          std::to_string(seqlen));
  PythonRandom random(seed);
  std::vector<std::size_t> starts(nsamples);
  for (auto &start : starts)
    start = static_cast<std::size_t>(
        random.randint(0, static_cast<std::int64_t>(n_tokens - seqlen - 1)));
  return starts;
}

} // namespace sgpte::io

#endif
