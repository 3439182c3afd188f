// The shared driver of the distillation losses on (BT, V) rows with an optional per-row mask
// (Liger Kernel's jsd and tvd): a pointwise Op l(x, y) summed over the vocabulary, rows whose
// `shift_labels` entry equals ignore_index skipped (0 loss, 0 gradients, their elements never
// read), and the reductions normalized by the number of kept rows:
//
//   None       per-element losses, shaped like the input (ignored rows 0)
//   Sum        the sum over kept rows
//   Mean       the sum / (kept rows * V)
//   BatchMean  the sum / kept rows
//
// With no kept row (an empty batch, or every row ignored) Mean and BatchMean give 0, the value
// of an all-ignored batch in Liger's jsd (Liger's tvd divides by zero in Python there).
//
// The Op is the one of the pointwise driver (core/elementwise.hpp): loss(x, y), dx(x, y),
// dy(x, y) in the tensor's dtype, and optionally `kSimd` (+ `simd_params()`), the vector kernel
// that float32 rows with unit column stride run, a run of consecutive kept rows at once when
// every operand is contiguous. Rows are cut into blocks that depend only on the problem size
// (parallel_sum), so results are bitwise identical for any thread count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "core/check.hpp"
#include "core/class_args.hpp"
#include "core/outputs.hpp"
#include "core/parallel.hpp"
#include "kernels/pointwise.hpp"
#include "losskit/reduction.hpp"
#include "losskit/tensor.hpp"

namespace losskit::detail {

/// The tensors of one call; absent ones are empty views.
template <class T>
struct MaskedRowsArgs {
  TensorView<const T> input, target;
  TensorView<T> out{};
  TensorView<const T> grad_output{};
  TensorView<T> grad_input{};
  TensorView<T> grad_target{};  ///< optional
  Tensor<T>* owned = nullptr;   ///< allocate `out` here (the Tensor-returning overloads)
};

struct MaskedRowsConfig {
  std::string_view fn;
  Reduction reduction = Reduction::BatchMean;
  std::int64_t ignore_index = -100;
  TensorView<const std::int64_t> labels{};  ///< optional (BT,): rows equal to ignore_index are skipped
};

/// Validates everything, then runs the pass. Nothing is written before validation passes.
template <class T, class Op>
void run_masked_rows(const MaskedRowsConfig& cfg, Pass pass, MaskedRowsArgs<T> a, const Op& op) {
  const std::string_view fn = cfg.fn;
  const Reduction r = cfg.reduction;
  check_reduction(fn, r, true);
  check_data(fn, "input", a.input);
  check_data(fn, "target", a.target);
  if (a.input.ndim() != 2)
    fail(ErrorKind::Shape, fn, "input must be 2-D (BT, V), got shape ", a.input.shape().str());
  check_same_shape(fn, "input", a.input.shape(), "target", a.target.shape());
  const Shape& shape = a.input.shape();
  const std::int64_t BT = shape[0], V = shape[1];
  const bool labeled = !cfg.labels.is_null();
  if (labeled) {
    check_data(fn, "shift_labels", cfg.labels);
    check_shape(fn, "shift_labels", cfg.labels.shape(), Shape{BT}, "one label per row of input");
  }
  const Shape os = out_shape_of(r, shape);
  if (a.owned) a.out = allocate(*a.owned, os);
  if (has_forward(pass)) {
    check_output(fn, "out", a.out, os);
    check_no_overlap(fn, "out", a.out, named("input", a.input), named("target", a.target),
                     named("shift_labels", cfg.labels));
  }
  double g_scalar = 1.0;
  if (pass == Pass::Backward) g_scalar = scalar_grad_output<T>(fn, r, a.grad_output, shape);
  const bool want_gt = has_backward(pass) && !a.grad_target.is_null();
  if (has_backward(pass)) {
    check_output(fn, "grad_input", a.grad_input, shape);
    check_no_overlap(fn, "grad_input", a.grad_input, named("input", a.input), named("target", a.target),
                     named("shift_labels", cfg.labels), named("grad_output", a.grad_output),
                     named("out", TensorView<const T>(a.out)));
  }
  if (want_gt) {
    check_output(fn, "grad_target", a.grad_target, shape);
    check_no_overlap(fn, "grad_target", a.grad_target, named("input", a.input), named("target", a.target),
                     named("shift_labels", cfg.labels), named("grad_output", a.grad_output),
                     named("out", TensorView<const T>(a.out)), named("grad_input", TensorView<const T>(a.grad_input)));
  }
  // ---- validation done: from here on outputs are written ----
  auto kept = [&](std::int64_t row) {
    return !labeled || cfg.labels.data()[row * cfg.labels.stride(0)] != cfg.ignore_index;
  };
  std::int64_t n_kept = BT;
  if (labeled) {
    n_kept = 0;
    for (std::int64_t i = 0; i < BT; ++i) n_kept += kept(i) ? 1 : 0;
  }
  double denom = 1.0;
  if (r == Reduction::Mean) denom = static_cast<double>(n_kept) * static_cast<double>(V);
  else if (r == Reduction::BatchMean) denom = static_cast<double>(n_kept);
  // No kept element: the gradients are all 0 (nothing is scaled) and the reduced value is 0.
  const double factor = denom > 0 ? 1.0 / denom : 0.0;
  const bool out_none = has_forward(pass) && r == Reduction::None;
  const bool g_tensor = pass == Pass::Backward && r == Reduction::None;
  const T scale = static_cast<T>(r == Reduction::None ? g_scalar : g_scalar * factor);

  // The row and column strides of an operand.
  struct M {
    std::int64_t s0, s1;
  };
  auto m_of = [](const auto& v) { return M{v.ndim() == 2 ? v.stride(0) : 0, v.ndim() == 2 ? v.stride(1) : 0}; };
  const T* x = a.input.data();
  const T* y = a.target.data();
  const T* g = g_tensor ? a.grad_output.data() : nullptr;
  T* o = out_none ? a.out.data() : nullptr;
  T* gi = has_backward(pass) ? a.grad_input.data() : nullptr;
  T* gt = want_gt ? a.grad_target.data() : nullptr;
  const M mx = m_of(a.input), my = m_of(a.target), mg = m_of(a.grad_output), mo = m_of(a.out),
          mgi = m_of(a.grad_input), mgt = m_of(a.grad_target);
  // Zeroes row `row` of an output.
  auto zero_row = [&](T* p, const M& m, std::int64_t row) {
    if (p)
      for (std::int64_t j = 0; j < V; ++j) p[row * m.s0 + j * m.s1] = T(0);
  };

  // The vector path: float32, every operand with unit column stride (a run of kept rows at once
  // when every operand is contiguous, rows one by one otherwise).
  constexpr bool kSimd = std::is_same_v<T, float> && requires { Op::kSimd; };
  bool simd = false, flat = false;
  if constexpr (kSimd) {
    const bool unit_cols = V <= 1 || ((mx.s1 == 1) && (my.s1 == 1) && (!g || mg.s1 == 1) && (!o || mo.s1 == 1) &&
                                      (!gi || mgi.s1 == 1) && (!gt || mgt.s1 == 1));
    simd = unit_cols;
    flat = unit_cols && (BT <= 1 || ((mx.s0 == V) && (my.s0 == V) && (!g || mg.s0 == V) && (!o || mo.s0 == V) &&
                                     (!gi || mgi.s0 == V) && (!gt || mgt.s0 == V)));
  }
  const std::int64_t grain = std::max<std::int64_t>(1, 8192 / std::max<std::int64_t>(V, 1));
  const auto sums = parallel_sum<1>(BT, grain, [&](std::int64_t b, std::int64_t e) {
    double acc = 0;
    for (std::int64_t row = b; row < e;) {
      if (!kept(row)) {
        zero_row(o, mo, row);
        zero_row(gi, mgi, row);
        zero_row(gt, mgt, row);
        ++row;
        continue;
      }
      std::int64_t stop = row + 1;
      if (flat)
        while (stop < e && kept(stop)) ++stop;
      if constexpr (kSimd) {
        if (simd) {
          kernels::PwParams params{};
          if constexpr (requires { op.simd_params(); }) params = op.simd_params();
          // Flat: one range [row V, stop V) of the whole arrays; else row `row` as [0, V).
          const std::int64_t base = flat ? 0 : row, begin = flat ? row * V : 0, end = flat ? stop * V : V;
          auto at = [&](auto* p, const M& m) { return p ? p + base * m.s0 : nullptr; };
          const kernels::PwArgs pa{.x = at(x, mx), .y = at(y, my), .w = nullptr, .out = at(o, mo),
                                   .forward = has_forward(pass), .gi = at(gi, mgi), .gt = at(gt, mgt),
                                   .gvec = at(g, mg), .scale = scale,
                                   .stream = BT * V * static_cast<std::int64_t>(sizeof(float)) >= kernels::kStreamBytes};
          acc += Op::kSimd(params, pa, begin, end);
          row = stop;
          continue;
        }
      }
      for (std::int64_t j = 0; j < V; ++j) {
        const T xi = x[row * mx.s0 + j * mx.s1], yi = y[row * my.s0 + j * my.s1];
        if (has_forward(pass)) {
          const T li = op.loss(xi, yi);
          if (o) o[row * mo.s0 + j * mo.s1] = li;
          else acc += static_cast<double>(li);
        }
        if (gi) {
          const T up = g ? g[row * mg.s0 + j * mg.s1] : scale;
          gi[row * mgi.s0 + j * mgi.s1] = up * op.dx(xi, yi);
          if (gt) gt[row * mgt.s0 + j * mgt.s1] = up * op.dy(xi, yi);
        }
      }
      row = stop;
    }
    return Sums<1>{acc};
  });
  if (has_forward(pass) && r != Reduction::None) a.out.flat(0) = static_cast<T>(denom > 0 ? sums[0] / denom : 0.0);
}

}  // namespace losskit::detail
