// Validation and canonical layout shared by the losses that take class scores and class-id
// targets (nll_loss, cross_entropy, and every loss of the same form).
//
//   input  (C), (N, C) or (N, C, d1..dK), class dim 1 (0 for a 1-D input)
//   target (), (N) or (N, d1..dK) int64 ids in [0, C), or ignore_index
//
// prepare() checks every argument (shapes, weight length, each target id, output shapes, buffer
// overlap) before anything is written, and computes the summed weight of the kept targets, the
// denominator of Reduction::Mean.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/check.hpp"
#include "core/layout.hpp"
#include "core/parallel.hpp"
#include "losskit/reduction.hpp"
#include "losskit/tensor.hpp"

namespace losskit::detail {

/// ignore_index of a loss that has none (multi_margin_loss): no id is ignored, and messages
/// about a bad id do not mention ignore_index.
inline constexpr std::int64_t kNoIgnore = INT64_MIN;

/// Class dim of an input with `ndim` dims (0 for 1-D, else 1). Fails on a 0-d input.
int class_dim_of(std::string_view fn, int ndim);

/// The shape of the per-element losses: the input's shape without its class dim.
Shape loss_shape_of(const Shape& input_shape, int class_dim);

/// Fails naming the bad target id at flat position `pos` of a target of shape `shape`:
/// "target[i, j] = v is outside [0, C) and is not ignore_index (k)".
[[noreturn]] void fail_class_target(std::string_view fn, const Shape& shape, std::int64_t pos, std::int64_t v,
                                    std::int64_t C, std::int64_t ignore_index);

/// Checks target ids: each in [0, C) or == ignore_index, failing on the first bad one. Returns
/// the summed weight of the kept targets (their count when weight is empty), added in a fixed
/// block order so that it does not depend on the thread count.
template <class T>
double check_class_targets(std::string_view fn, const ND<const std::int64_t>& y, const Shape& target_shape,
                           std::int64_t C, std::int64_t ignore_index, std::span<const T> weight) {
  const std::int64_t n = y.N * y.D;
  std::int64_t bad = -1;
  const auto sums = parallel_sum<1>(n, 4096, [&](std::int64_t b, std::int64_t e) {
    double acc = 0;
    for (std::int64_t i = b; i < e; ++i) {
      const std::int64_t v = y.at(i / y.D, i % y.D);
      if (v == ignore_index) continue;
      if (v < 0 || v >= C) {
#pragma omp critical(losskit_bad_target)
        if (bad < 0 || i < bad) bad = i;
        continue;
      }
      acc += weight.empty() ? 1.0 : static_cast<double>(weight[static_cast<std::size_t>(v)]);
    }
    return Sums<1>{acc};
  });
  if (bad >= 0) fail_class_target(fn, target_shape, bad, y.at(bad / y.D, bad % y.D), C, ignore_index);
  return sums[0];
}

/// Validates reduction for a loss that knows None/Mean/Sum only.
void check_reduction(std::string_view fn, Reduction r, bool allow_batchmean = false);

/// Fails unless `weight` is empty or has C entries.
void check_weight(std::string_view fn, std::size_t weight_len, std::int64_t C, std::string_view name = "weight");

/// The output shape of a loss: `per_element` for None, 0-d otherwise.
inline Shape out_shape_of(Reduction r, const Shape& per_element) {
  return r == Reduction::None ? per_element : Shape{};
}

/// Reads the upstream gradient: returns the scalar for Mean/Sum after checking its shape, or 0
/// for None (then the per-element view is used).
template <class T>
double scalar_grad_output(std::string_view fn, Reduction r, const TensorView<const T>& g, const Shape& per_element) {
  check_data(fn, "grad_output", g);
  check_shape(fn, "grad_output", g.shape(), out_shape_of(r, per_element));
  if (r == Reduction::None) return 0.0;
  return static_cast<double>(g.flat(0));
}

/// Everything a class-id loss kernel needs, validated and in canonical form. T is the input's
/// dtype, A the dtype of weights and upstream gradients (float for 16-bit inputs, else T).
template <class T, class A = T>
struct ClassArgs {
  Staged<const T> input_stage;
  Staged<const std::int64_t> target_stage;
  Staged<const A> grad_out_stage;
  NCD<const T> x;
  ND<const std::int64_t> y;
  ND<const A> g;            ///< per-element upstream gradient (Reduction::None backward only)
  Shape loss_shape;         ///< shape of the per-element losses
  double total_weight = 0;  ///< sum of w[y_i] over kept targets (count when unweighted)
  int class_dim = 1;
};

/// Per-element view (target-shaped: N, d1..dK, or 0-d for a 1-D input) as ND.
template <class T>
ND<T> nd_view_of_loss(const TensorView<T>& v, int class_dim) {
  if (class_dim == 0) return ND<T>{v.data(), 1, 1, 0, 0};
  return nd_of(v, 1);
}

/// Stages a per-element (loss-shaped) view when its spatial dims do not collapse.
template <class T>
Staged<T> stage_loss_shaped(const TensorView<T>& v, bool is_output) {
  return Staged<T>(v, !collapsible(v, 1, v.ndim()), is_output);
}

/// The outputs of a class-score loss in canonical form: the per-element losses (written for
/// Reduction::None) as ND and the gradient as NCD, each staged when its strides need it.
/// flush_out() / flush_grad() copy staged outputs back into the caller's views.
template <class A, class G>
struct ClassOutputs {
  Staged<A> out_stage;
  ND<A> out{};
  Staged<G> grad_stage;
  NCD<G> grad{};
  ClassOutputs(bool per_element_out, const TensorView<A>& out_view, bool want_grad, const TensorView<G>& grad_view,
               int class_dim) {
    if (per_element_out) {
      out_stage = stage_loss_shaped(out_view, true);
      out = nd_view_of_loss(out_stage.view(), class_dim);
    }
    if (want_grad) {
      grad_stage = Staged<G>(grad_view, !ncd_ok(grad_view, class_dim), true);
      grad = ncd_of(grad_stage.view(), class_dim);
    }
  }
  void flush_out() { out_stage.flush(); }
  void flush_grad() { grad_stage.flush(); }
};

/// Validates input, target and weight, stages non-collapsible views and checks every target.
template <class T, class A>
void prepare_class_args(std::string_view fn, ClassArgs<T, A>& a, TensorView<const T> input,
                        TensorView<const std::int64_t> target, std::span<const A> weight,
                        std::int64_t ignore_index) {
  check_data(fn, "input", input);
  check_data(fn, "target", target);
  a.class_dim = class_dim_of(fn, input.ndim());
  a.loss_shape = loss_shape_of(input.shape(), a.class_dim);
  if (!(target.shape() == a.loss_shape))
    fail(ErrorKind::Shape, fn, "expected target of shape ", a.loss_shape.str(), " for input of shape ",
         input.shape().str(), ", got ", target.shape().str());
  const std::int64_t C = input.size(a.class_dim);
  check_weight(fn, weight.size(), C);
  if (C == 0 && a.loss_shape.numel() > 0)
    fail(ErrorKind::Shape, fn, "input of shape ", input.shape().str(), " has no classes");
  a.input_stage = Staged<const T>(input, !ncd_ok(input, a.class_dim), false);
  a.target_stage = Staged<const std::int64_t>(target, !collapsible(target, 1, target.ndim()), false);
  a.x = ncd_of(a.input_stage.view(), a.class_dim);
  a.y = nd_view_of_loss(a.target_stage.view(), a.class_dim);
  a.total_weight = check_class_targets(fn, a.y, target.shape(), C, ignore_index, weight);
}

}  // namespace losskit::detail
