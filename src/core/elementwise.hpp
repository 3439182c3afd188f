// The shared driver of pointwise losses l(x, y) (mse, l1, huber, kl_div, bce, ...):
// validation, optional per-element weight, reductions, the three passes, gradients w.r.t. the
// input and (optionally) the target, any strides, deterministic parallel sums.
//
// A loss supplies an Op with
//   template <class V> V loss(V x, V y) const;      // the per-element loss
//   template <class V> V dx(V x, V y) const;        // d loss / d x
//   template <class V> V dy(V x, V y) const;        // d loss / d y (only if grad_target is used)
// V is the tensor's dtype (float or double): ops compute in it, as PyTorch does, so that the
// contiguous loops vectorise.
// An Op may also name its Highway-vectorized twin (kernels/pointwise.hpp), a kernel exported from
// the loss's own file:
//   static constexpr kernels::PwBlockFn kSimd = &kernels::MyBlock_dispatch;
//   kernels::PwParams simd_params() const;          // only if the kernel has parameters
// Then float32 calls whose operands are all contiguous run one SIMD sweep per block; other
// dtypes and strided operands use the scalar loop below.
// A loss with a per-element parameter (bce_with_logits' pos_weight, broadcast to the input's
// shape) passes it as PointwiseArgs::aux; its Op then takes it as a third argument:
//   loss(x, y, a), dx(x, y, a), dy(x, y, a)
// (its vector kernel reads it in place when it repeats along the trailing dims, else staged).
#pragma once

#include <cstdint>
#include <string_view>

#include "core/check.hpp"
#include "core/class_args.hpp"
#include "core/layout.hpp"
#include "core/outputs.hpp"
#include "core/parallel.hpp"
#include "kernels/pointwise.hpp"
#include "losskit/reduction.hpp"
#include "losskit/tensor.hpp"

namespace losskit::detail {

/// The tensors of one pointwise-loss call. Absent ones are empty views. T is the dtype of the
/// inputs; A that of the loss, the upstream gradient and the arithmetic (float for 16-bit
/// inputs, else T); G that of the gradients (T or A).
template <class T, class A = T, class G = T>
struct PointwiseArgs {
  TensorView<const T> input, target;
  TensorView<const T> weight{};       ///< optional, same shape as input
  TensorView<const T> aux{};          ///< per-element parameter of an AuxOp, same shape as input
  TensorView<A> out{};                ///< forward output (0-d, or input-shaped for None)
  TensorView<const A> grad_output{};  ///< backward upstream gradient
  TensorView<G> grad_input{};         ///< backward output
  TensorView<G> grad_target{};        ///< optional backward output
  Tensor<A>* owned = nullptr;         ///< allocate `out` here (the Tensor-returning overloads)
};

/// How Reduction::Mean (and BatchMean) divide the summed loss.
enum class MeanOver {
  Elements,  ///< by the number of elements
  Weights,   ///< by the sum of the weights when a weight is given (PyTorch's weighted mse/l1)
};

struct PointwiseConfig {
  std::string_view fn;
  Reduction reduction = Reduction::Mean;
  bool allow_batchmean = false;  ///< BatchMean divides by input.size(0)
  MeanOver mean_over = MeanOver::Elements;
  std::string_view input_name = "input";
  std::string_view target_name = "target";
};

/// An Op whose per-element functions take a third, per-element parameter (PointwiseArgs::aux).
template <class Op, class V>
concept AuxOp = requires(const Op& op, V v) { op.loss(v, v, v); };

/// Validates everything, then runs the pass. Nothing is written before validation passes.
template <class T, class A, class G, class Op>
void run_pointwise(const PointwiseConfig& cfg, Pass pass, PointwiseArgs<T, A, G> a, const Op& op) {
  const std::string_view fn = cfg.fn;
  const Reduction r = cfg.reduction;
  check_reduction(fn, r, cfg.allow_batchmean);
  check_data(fn, cfg.input_name, a.input);
  check_data(fn, cfg.target_name, a.target);
  check_same_shape(fn, cfg.input_name, a.input.shape(), cfg.target_name, a.target.shape());
  const bool weighted = !a.weight.is_null();
  if (weighted) {
    check_data(fn, "weight", a.weight);
    check_same_shape(fn, cfg.input_name, a.input.shape(), "weight", a.weight.shape());
  }
  constexpr bool kAux = AuxOp<Op, A>;
  if constexpr (kAux) {
    check_data(fn, "aux", a.aux);
    check_same_shape(fn, cfg.input_name, a.input.shape(), "aux", a.aux.shape());
  }
  if (r == Reduction::BatchMean && a.input.ndim() == 0)
    fail(ErrorKind::Value, fn, "reduction = 'batchmean' needs an input with a batch dim, got a 0-d input");
  const Shape& shape = a.input.shape();
  if (a.owned) a.out = allocate(*a.owned, out_shape_of(r, shape));
  if (has_forward(pass)) {
    check_output(fn, "out", a.out, out_shape_of(r, shape));
    check_no_overlap(fn, "out", a.out, named(cfg.input_name, a.input), named(cfg.target_name, a.target),
                     named("weight", a.weight), named("aux", a.aux));
  }
  double g_scalar = 1.0;
  if (pass == Pass::Backward) g_scalar = scalar_grad_output<A>(fn, r, a.grad_output, shape);
  const bool want_gt = has_backward(pass) && !a.grad_target.is_null();
  if (has_backward(pass)) {
    check_output(fn, "grad_input", a.grad_input, shape);
    check_no_overlap(fn, "grad_input", a.grad_input, named(cfg.input_name, a.input),
                     named(cfg.target_name, a.target), named("weight", a.weight), named("grad_output", a.grad_output),
                     named("out", TensorView<const A>(a.out)), named("aux", a.aux));
  }
  if (want_gt) {
    check_output(fn, "grad_target", a.grad_target, shape);
    check_no_overlap(fn, "grad_target", a.grad_target, named(cfg.input_name, a.input),
                     named(cfg.target_name, a.target), named("weight", a.weight), named("grad_output", a.grad_output),
                     named("out", TensorView<const A>(a.out)), named("grad_input", TensorView<const G>(a.grad_input)));
  }
  // ---- validation done: from here on outputs are written ----
  const std::int64_t n = shape.numel();
  // Every operand as a flat array (contiguous views are used in place; others are staged).
  const int nd = a.input.ndim();
  auto flat_ok = [&](const auto& v) { return v.is_null() || collapsible(v, 0, nd); };
  Staged<const T> xs(a.input, !flat_ok(a.input), false), ys(a.target, !flat_ok(a.target), false);
  Staged<const T> ws(a.weight, weighted && !flat_ok(a.weight), false);
  const bool use_g_tensor = pass == Pass::Backward && r == Reduction::None;
  Staged<const A> gs(a.grad_output, use_g_tensor && !flat_ok(a.grad_output), false);
  const bool out_none = has_forward(pass) && r == Reduction::None;
  Staged<A> os(a.out, out_none && !flat_ok(a.out), true);
  Staged<G> gis(a.grad_input, has_backward(pass) && !flat_ok(a.grad_input), true);
  Staged<G> gts(a.grad_target, want_gt && !flat_ok(a.grad_target), true);
  auto flat = [&](auto v) {
    using P = decltype(v.data());
    struct F {
      P p;
      std::int64_t s;
      auto& operator[](std::int64_t i) const { return p[i * s]; }
    };
    if (v.data() == nullptr) return F{nullptr, 0};
    const auto c = collapse(v.shape(), v.strides(), 0, v.ndim());
    return F{v.data(), c->extent <= 1 ? 1 : c->stride};
  };
  const auto x = flat(xs.view()), y = flat(ys.view()), w = flat(ws.view()), g = flat(gs.view());
  const auto o = flat(os.view()), gi = flat(gis.view()), gt = flat(gts.view());
  // The SIMD sweep (kernels/pointwise.hpp) takes float32 operands that are all unit-stride.
  constexpr bool kSimd = std::is_same_v<T, float> && std::is_same_v<G, float> && requires { Op::kSimd; };
  auto unit = [](const auto& f) { return f.p == nullptr || f.s == 1; };
  const bool simd = kSimd && unit(x) && unit(y) && unit(w) && unit(g) && unit(o) && unit(gi) && unit(gt);
  // The aux operand: flat, or (SIMD only) read in place when it repeats every `period`
  // elements (pos_weight [C] broadcast against [..., C]), else staged.
  const std::int64_t period = kAux && simd ? trailing_period(a.aux) : 0;
  Staged<const T> as(a.aux, kAux && !flat_ok(a.aux) && period == 0, false);
  const auto aux = flat(as.view());
  // The op's three functions, with the per-element parameter when it takes one.
  auto f_loss = [&](A xi, A yi, std::int64_t i) {
    if constexpr (kAux) return op.loss(xi, yi, static_cast<A>(aux[i]));
    else { (void)i; return op.loss(xi, yi); }
  };
  auto f_dx = [&](A xi, A yi, std::int64_t i) {
    if constexpr (kAux) return op.dx(xi, yi, static_cast<A>(aux[i]));
    else { (void)i; return op.dx(xi, yi); }
  };
  auto f_dy = [&](A xi, A yi, std::int64_t i) {
    if constexpr (kAux) return op.dy(xi, yi, static_cast<A>(aux[i]));
    else { (void)i; return op.dy(xi, yi); }
  };

  // The weighted-mean denominator needs sum(w) before the backward can scale: a cheap pre-pass.
  double denom = static_cast<double>(n);
  if (r == Reduction::BatchMean) denom = static_cast<double>(shape[0]);
  if (weighted && cfg.mean_over == MeanOver::Weights && r == Reduction::Mean) {
    denom = parallel_sum<1>(n, 8192, [&](std::int64_t b, std::int64_t e) {
      double s = 0;
      for (std::int64_t i = b; i < e; ++i) s += static_cast<double>(static_cast<A>(w[i]));
      return Sums<1>{s};
    })[0];
  }
  const A scale = static_cast<A>(reduce_scale(r, g_scalar, denom));
  auto flush_grads = [&] {
    gis.flush();
    if (want_gt) gts.flush();
  };
  if constexpr (kSimd) {
    if (simd && (!kAux || period > 0 || unit(aux))) {
      kernels::PwParams params{};
      if constexpr (requires { op.simd_params(); }) params = op.simd_params();
      const float* aux_p = nullptr;
      if constexpr (kAux) aux_p = period > 0 ? a.aux.data() : aux.p;
      const kernels::PwArgs pa{.x = x.p, .y = y.p, .w = weighted ? w.p : nullptr, .out = out_none ? o.p : nullptr,
                               .forward = has_forward(pass), .gi = has_backward(pass) ? gi.p : nullptr,
                               .gt = want_gt ? gt.p : nullptr, .gvec = use_g_tensor ? g.p : nullptr, .scale = scale,
                               .stream = n * static_cast<std::int64_t>(sizeof(float)) >= kernels::kStreamBytes,
                               .aux = aux_p, .aux_period = period};
      const auto sums = parallel_sum<1>(n, 8192, [&](std::int64_t b, std::int64_t e) {
        return Sums<1>{Op::kSimd(params, pa, b, e)};
      });
      finish_pass(pass, r, a.out, sums[0], denom, [&] { os.flush(); }, flush_grads);
      return;
    }
  }
  const auto sums = parallel_sum<1>(n, 8192, [&](std::int64_t b, std::int64_t e) {
    double acc = 0;
    for (std::int64_t i = b; i < e; ++i) {
      const A xi = static_cast<A>(x[i]), yi = static_cast<A>(y[i]);
      const A wi = weighted ? static_cast<A>(w[i]) : A(1);
      if (has_forward(pass)) {
        const A li = weighted ? wi * f_loss(xi, yi, i) : f_loss(xi, yi, i);
        if (out_none) o[i] = li;
        else acc += static_cast<double>(li);
      }
      if (has_backward(pass)) {
        const A up = (use_g_tensor ? g[i] : scale) * wi;
        gi[i] = static_cast<G>(up * f_dx(xi, yi, i));
        if (want_gt) gt[i] = static_cast<G>(up * f_dy(xi, yi, i));
      }
    }
    return Sums<1>{acc};
  });
  finish_pass(pass, r, a.out, sums[0], denom, [&] { os.flush(); }, flush_grads);
}

}  // namespace losskit::detail
