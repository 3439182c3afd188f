// binary_cross_entropy and binary_cross_entropy_with_logits: pointwise losses on the shared
// driver (core/elementwise.hpp). Weights (and pos_weight) are broadcast to the input's shape as
// stride-0 views; the driver stages them.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>
#include <cmath>
#include <limits>

#include "core/api.hpp"
#include "core/elementwise.hpp"
#include "core/parallel.hpp"
#include "kernels/logistic.hpp"
#include "losskit/classification.hpp"

namespace losskit {
namespace {

using detail::Pass;

/// -(y max(log x, -100) + (1 - y) max(log(1 - x), -100)).
struct BCEOp {
  static constexpr kernels::PwKind kSimd = kernels::PwKind::BCE;  // contiguous float32
  template <class V>
  static V log_x(V x) { return std::max(std::log(x), V(-100)); }
  template <class V>
  static V log_1mx(V x) { return std::max(std::log1p(-x), V(-100)); }
  template <class V>
  V loss(V x, V y) const { return (y - V(1)) * log_1mx(x) - y * log_x(x); }
  // PyTorch's EPSILON is the float 1e-12 (9.99999996e-13) in both dtypes.
  template <class V>
  V dx(V x, V y) const { return (x - y) / std::max((V(1) - x) * x, static_cast<V>(1e-12f)); }
  template <class V>
  V dy(V x, V) const { return log_1mx(x) - log_x(x); }
};

/// p y sp(-x) + (1 - y) sp(x), each term 0 when its coefficient is 0 (finite at x = +-inf).
template <class V>
V bce_logits_loss(V x, V y, V p) {
  return kernels::coef_mul(p * y, kernels::softplus(-x)) + kernels::coef_mul(V(1) - y, kernels::softplus(x));
}
template <class V>
V bce_logits_dx(V x, V y, V p) {
  const V py = p * y;
  return (py + V(1) - y) * kernels::sigmoid(x) - py;
}
template <class V>
V bce_logits_dy(V x, V p) {
  return p * kernels::softplus(-x) - kernels::softplus(x);
}

struct BCELogitsOp {
  static constexpr kernels::PwKind kSimd = kernels::PwKind::BCELogits;  // contiguous float32
  template <class V>
  V loss(V x, V y) const { return bce_logits_loss(x, y, V(1)); }
  template <class V>
  V dx(V x, V y) const { return bce_logits_dx(x, y, V(1)); }
  template <class V>
  V dy(V x, V) const { return bce_logits_dy(x, V(1)); }
};
/// The same with pos_weight as the driver's per-element parameter.
struct BCELogitsPosOp {
  static constexpr kernels::PwKind kSimd = kernels::PwKind::BCELogitsPos;  // contiguous float32
  template <class V>
  V loss(V x, V y, V p) const { return bce_logits_loss(x, y, p); }
  template <class V>
  V dx(V x, V y, V p) const { return bce_logits_dx(x, y, p); }
  template <class V>
  V dy(V x, V, V p) const { return bce_logits_dy(x, p); }
};

/// Fails on the first input element outside [0, 1] (NaN included).
template <class T>
void check_probabilities(std::string_view fn, ConstView<T> input) {
  detail::check_data(fn, "input", input);
  const std::int64_t n = input.numel();
  auto bad = [](T v) { return !(v >= T(0) && v <= T(1)); };
  std::int64_t pos = -1;
  if (input.is_contiguous()) {
    // Chunks scanned without an early exit (the compiler vectorizes them); the first bad
    // element is looked for only in a chunk that has one. On the bits: v is in [0, 1] iff they are at most those of 1.0 or are -0.0 (NaN and
    // negative numbers compare above): integer compares and an OR, which vectorize.
    using U = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
    const U one_bits = std::bit_cast<U>(T(1)), neg_zero = std::bit_cast<U>(T(-0.0));
    const T* p = input.data();
    auto scan = [&](std::int64_t b0, std::int64_t e0) -> std::int64_t {  // first bad in [b0, e0), or -1
      constexpr std::int64_t kChunk = 4096;
      for (std::int64_t b = b0; b < e0; b += kChunk) {
        const std::int64_t e = std::min(e0, b + kChunk);
        U any = 0;
        for (std::int64_t i = b; i < e; ++i) {
          U u;
          std::memcpy(&u, p + i, sizeof(U));
          any |= static_cast<U>((u > one_bits) & (u != neg_zero));
        }
        if (any)
          for (std::int64_t i = b; i < e; ++i)
            if (bad(p[i])) return i;
      }
      return -1;
    };
    // Blocks in parallel; the first bad element is the one of the first block that has one.
    constexpr std::int64_t kGrain = std::int64_t{1} << 16;
    const std::int64_t bs = detail::block_size(n, kGrain);
    std::vector<std::int64_t> first(static_cast<std::size_t>(n > 0 ? (n + bs - 1) / bs : 0), -1);
    detail::parallel_for(n, kGrain,
                         [&](std::int64_t b, std::int64_t e) { first[static_cast<std::size_t>(b / bs)] = scan(b, e); });
    for (const std::int64_t f : first)
      if (f >= 0) { pos = f; break; }
  } else {
    for (std::int64_t i = 0; i < n; ++i)
      if (bad(input.flat(i))) { pos = i; break; }
  }
  if (pos >= 0)
    detail::fail(ErrorKind::Value, fn, "input[", detail::position_of(input.shape(), pos), "] = ", input.flat(pos),
                 " is outside [0, 1]; binary_cross_entropy takes probabilities (use "
                 "binary_cross_entropy_with_logits for logits)");
}

template <class T>
ConstView<T> broadcast_opt(std::string_view fn, std::string_view name, ConstView<T> v, ConstView<T> input) {
  if (v.is_null()) return v;
  detail::check_data(fn, name, v);
  detail::check_data(fn, "input", input);
  return detail::broadcast_to(fn, name, v, input.shape());
}

template <class T>
void run_bce(Pass pass, ConstView<T> input, ConstView<T> target, TensorView<T> out, ConstView<T> grad_output,
             TensorView<T> grad_input, const BCEOptions<T>& o, Tensor<T>* owned = nullptr) {
  constexpr std::string_view fn = "binary_cross_entropy";
  const detail::PointwiseConfig cfg{.fn = fn, .reduction = o.reduction};
  detail::check_reduction(fn, o.reduction);
  const ConstView<T> w = broadcast_opt(fn, "weight", o.weight, input);
  check_probabilities(fn, input);
  detail::run_pointwise(cfg, pass,
                        detail::PointwiseArgs<T>{.input = input, .target = target, .weight = w, .out = out,
                                                 .grad_output = grad_output, .grad_input = grad_input, .owned = owned},
                        BCEOp{});
}

template <class T>
void run_bce_logits(Pass pass, ConstView<T> input, ConstView<T> target, TensorView<T> out, ConstView<T> grad_output,
                    TensorView<T> grad_input, const BCEWithLogitsOptions<T>& o, Tensor<T>* owned = nullptr) {
  constexpr std::string_view fn = "binary_cross_entropy_with_logits";
  const detail::PointwiseConfig cfg{.fn = fn, .reduction = o.reduction};
  detail::check_reduction(fn, o.reduction);
  const ConstView<T> w = broadcast_opt(fn, "weight", o.weight, input);
  const ConstView<T> pw = broadcast_opt(fn, "pos_weight", o.pos_weight, input);
  detail::PointwiseArgs<T> a{.input = input, .target = target, .weight = w, .aux = pw, .out = out,
                             .grad_output = grad_output, .grad_input = grad_input, .owned = owned};
  if (pw.is_null()) detail::run_pointwise(cfg, pass, a, BCELogitsOp{});
  else detail::run_pointwise(cfg, pass, a, BCELogitsPosOp{});
}

}  // namespace

LOSSKIT_DEFINE_LOSS(binary_cross_entropy, float, float, BCEOptions<float>, run_bce)
LOSSKIT_DEFINE_LOSS(binary_cross_entropy, double, double, BCEOptions<double>, run_bce)
LOSSKIT_DEFINE_LOSS(binary_cross_entropy_with_logits, float, float, BCEWithLogitsOptions<float>, run_bce_logits)
LOSSKIT_DEFINE_LOSS(binary_cross_entropy_with_logits, double, double, BCEWithLogitsOptions<double>, run_bce_logits)

}  // namespace losskit
