// losskit/dtype.hpp: 16-bit floating-point storage types for loss inputs and gradients.
//
// bfloat16 and float16 are plain 2-byte wrappers of their bit patterns (trivially copyable,
// standard layout), so a buffer from PyTorch, NumPy or a GPU runtime can be viewed in place.
// They exist for storage only: losskit converts to float32, accumulates in float32/float64 and
// converts results back with round-to-nearest-even. Conversions:
//   float(bfloat16 / float16)       exact
//   bfloat16(float), float16(float) round to nearest even; NaN stays NaN; overflow gives +-inf
//                                   (float16: |x| >= 65520), tiny values become subnormals/0.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace losskit {

/// bfloat16: 1 sign, 8 exponent, 7 mantissa bits (the upper half of a float32).
struct bfloat16 {
  std::uint16_t bits = 0;

  bfloat16() = default;
  explicit bfloat16(float f) : bits(from_float(f)) {}
  explicit operator float() const { return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16); }
  static bfloat16 from_bits(std::uint16_t b) {
    bfloat16 r;
    r.bits = b;
    return r;
  }
  static std::uint16_t from_float(float f) {
    const std::uint32_t u = std::bit_cast<std::uint32_t>(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((u >> 16) | 0x0040u);  // quiet NaN
    const std::uint32_t rounded = u + 0x7FFFu + ((u >> 16) & 1u);
    return static_cast<std::uint16_t>(rounded >> 16);
  }
};

/// float16 (IEEE binary16): 1 sign, 5 exponent, 10 mantissa bits.
struct float16 {
  std::uint16_t bits = 0;

  float16() = default;
  explicit float16(float f) : bits(from_float(f)) {}
  explicit operator float() const { return to_float(bits); }
  static float16 from_bits(std::uint16_t b) {
    float16 r;
    r.bits = b;
    return r;
  }
  static float to_float(std::uint16_t h) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    const std::uint32_t exp = (h >> 10) & 0x1Fu;
    const std::uint32_t man = h & 0x3FFu;
    std::uint32_t u;
    if (exp == 0x1F) {
      u = sign | 0x7F800000u | (man << 13);  // inf / NaN
    } else if (exp != 0) {
      u = sign | ((exp + 112u) << 23) | (man << 13);
    } else {
      // zero or subnormal: man * 2^-24, exact in float
      const float v = static_cast<float>(man) * 5.9604644775390625e-8f;
      u = sign | std::bit_cast<std::uint32_t>(v);
    }
    return std::bit_cast<float>(u);
  }
  static std::uint16_t from_float(float f) {
    const std::uint32_t u = std::bit_cast<std::uint32_t>(f);
    const std::uint16_t sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
    const std::uint32_t a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return static_cast<std::uint16_t>(sign | 0x7E00u | ((a >> 13) & 0x3FFu));  // NaN
    if (a >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // >= 65520: inf
    if (a >= 0x38800000u) {  // normal half (>= 2^-14)
      const std::uint32_t r = a - 0x38000000u;  // rebias exponent 127 -> 15
      const std::uint32_t rounded = r + 0xFFFu + ((r >> 13) & 1u);
      return static_cast<std::uint16_t>(sign | (rounded >> 13));
    }
    // subnormal half or zero: value / 2^-24, rounded to nearest even (exact float arithmetic)
    const float v = std::bit_cast<float>(a) * 16777216.0f;  // * 2^24
    const float r = v + 8388608.0f - 8388608.0f;            // rounds to an integer (ties to even)
    return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(r));
  }
};

static_assert(sizeof(bfloat16) == 2 && sizeof(float16) == 2);

}  // namespace losskit
