// The shared driver of row losses: one loss per row of C class scores (multi_margin_loss,
// multilabel_margin_loss, multilabel_soft_margin_loss, the Keras hinges, softmax focal, poly-1).
//
// The input is seen as [N, C, D] (core/layout.hpp) with the class dim either PyTorch's (1, or 0
// for a 1-D input) or the last dim (Keras, and PyTorch's multilabel losses). A row is one (n, d).
// The target is either shaped like the input (its row read alongside) or holds one class id per
// row (validated by core/class_args.hpp). The driver validates everything, stages odd strides,
// reduces deterministically, and hands each row to the loss's kernel:
//
//   double kernel(const RowIn<T, TT>& row, T* g, std::int64_t sg, double gs) const;
//
// It returns the row's loss and, when g is not null, writes gs * d loss / d x_c to g[c * sg] for
// every class c. Mean divides by the number of rows (kept rows for class ids with ignore_index).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/check.hpp"
#include "core/class_args.hpp"
#include "core/layout.hpp"
#include "core/outputs.hpp"
#include "core/parallel.hpp"
#include "losskit/reduction.hpp"
#include "losskit/tensor.hpp"

namespace losskit::detail {

/// What the target holds.
enum class RowTarget {
  SameShape,  ///< a tensor shaped like the input (probabilities, labels, padded label lists)
  ClassIds,   ///< one int64 class id per row, in [0, C) or ignore_index
};

struct RowConfig {
  std::string_view fn;
  Reduction reduction = Reduction::Mean;
  bool class_last = false;                 ///< the class dim is the last dim (else 1, or 0 for 1-D)
  RowTarget target = RowTarget::SameShape;
  std::int64_t ignore_index = kNoIgnore;   ///< class-id targets equal to this are skipped
  int max_ndim = kMaxDims;                 ///< largest input rank the loss accepts
  std::string_view weight_name = "weight";  ///< the per-element weight's name in messages
};

/// The tensors of one row-loss call. Absent ones are empty views.
template <class T, class TT>
struct RowArgs {
  TensorView<const T> input;
  TensorView<const TT> target;
  TensorView<T> out{};
  TensorView<const T> grad_output{};
  TensorView<T> grad_input{};
  Tensor<T>* owned = nullptr;
  TensorView<const T> weight{};  ///< optional per-element weight, already broadcast to the input's shape
};

/// One row as a kernel sees it. For class ids, t points at the row's id and st is 0. w is null
/// when no weight was given.
template <class T, class TT>
struct RowIn {
  const T* x;
  std::int64_t sx;
  const TT* t;
  std::int64_t st;
  const T* w;
  std::int64_t sw;
  std::int64_t C;
};

/// Loss-shaped views (the input's shape without its class dim) as [N, D] matching ncd_of(., cd).
template <class T>
ND<T> rows_nd(const TensorView<T>& v, int cd) {
  if (v.ndim() == 0) return ND<T>{v.data(), 1, 1, 0, 0};
  return nd_of(v, cd);
}
template <class T>
bool rows_nd_ok(const TensorView<T>& v, int cd) {
  return v.ndim() == 0 || (collapsible(v, 0, cd) && collapsible(v, cd, v.ndim()));
}

template <class T, class TT, class K>
void run_rows(const RowConfig& cfg, Pass pass, RowArgs<T, TT> a, const K& kernel) {
  const std::string_view fn = cfg.fn;
  const Reduction r = cfg.reduction;
  check_reduction(fn, r);
  check_data(fn, "input", a.input);
  check_data(fn, "target", a.target);
  if (a.input.ndim() == 0) fail(ErrorKind::Shape, fn, "input must have at least 1 dim (the classes), got a 0-d input");
  if (a.input.ndim() > cfg.max_ndim)
    fail(ErrorKind::Shape, fn, "input must have at most ", cfg.max_ndim, " dims, got shape ", a.input.shape().str());
  const int cd = cfg.class_last ? a.input.ndim() - 1 : class_dim_of(fn, a.input.ndim());
  const Shape loss_shape = loss_shape_of(a.input.shape(), cd);
  const std::int64_t C = a.input.size(cd);
  const bool weighted = !a.weight.is_null();
  if (weighted) {
    check_data(fn, cfg.weight_name, a.weight);
    check_same_shape(fn, "input", a.input.shape(), cfg.weight_name, a.weight.shape());
  }
  Staged<const T> xs(a.input, !ncd_ok(a.input, cd), false);
  const NCD<const T> x = ncd_of(xs.view(), cd);
  Staged<const TT> ts;
  NCD<const TT> t{};
  ND<const TT> ty{};
  double denom = static_cast<double>(loss_shape.numel());
  if (cfg.target == RowTarget::SameShape) {
    check_same_shape(fn, "input", a.input.shape(), "target", a.target.shape());
  } else {
    if (!(a.target.shape() == loss_shape))
      fail(ErrorKind::Shape, fn, "expected target of shape ", loss_shape.str(), " for input of shape ",
           a.input.shape().str(), ", got ", a.target.shape().str());
    if (C == 0 && loss_shape.numel() > 0)
      fail(ErrorKind::Shape, fn, "input of shape ", a.input.shape().str(), " has no classes");
  }
  if (a.owned) a.out = allocate(*a.owned, out_shape_of(r, loss_shape));
  if (has_forward(pass)) {
    check_output(fn, "out", a.out, out_shape_of(r, loss_shape));
    check_no_overlap(fn, "out", a.out, named("input", a.input), named("target", a.target),
                     named(cfg.weight_name, a.weight));
  }
  double g_scalar = 1.0;
  if (pass == Pass::Backward) g_scalar = scalar_grad_output<T>(fn, r, a.grad_output, loss_shape);
  if (has_backward(pass)) {
    check_output(fn, "grad_input", a.grad_input, a.input.shape());
    check_no_overlap(fn, "grad_input", a.grad_input, named("input", a.input), named("target", a.target),
                     named(cfg.weight_name, a.weight), named("grad_output", a.grad_output),
                     named("out", TensorView<const T>(a.out)));
  }
  if (cfg.target == RowTarget::SameShape) {
    ts = Staged<const TT>(a.target, !ncd_ok(a.target, cd), false);
    t = ncd_of(ts.view(), cd);
  } else {
    ts = Staged<const TT>(a.target, !rows_nd_ok(a.target, cd), false);
    ty = rows_nd(ts.view(), cd);
    if constexpr (std::is_same_v<TT, std::int64_t>)
      denom = check_class_targets<T>(fn, ty, a.target.shape(), C, cfg.ignore_index, {});
  }
  // ---- validation done: from here on outputs are written ----
  Staged<const T> ws(a.weight, weighted && !ncd_ok(a.weight, cd), false);
  const NCD<const T> w = weighted ? ncd_of(ws.view(), cd) : NCD<const T>{};
  const bool use_g_tensor = pass == Pass::Backward && r == Reduction::None;
  Staged<const T> gs(a.grad_output, use_g_tensor && !rows_nd_ok(a.grad_output, cd), false);
  const ND<const T> gnd = use_g_tensor ? rows_nd(gs.view(), cd) : ND<const T>{};
  const bool out_none = has_forward(pass) && r == Reduction::None;
  Staged<T> os(a.out, out_none && !rows_nd_ok(a.out, cd), true);
  const ND<T> ond = out_none ? rows_nd(os.view(), cd) : ND<T>{};
  Staged<T> gis(a.grad_input, has_backward(pass) && !ncd_ok(a.grad_input, cd), true);
  const NCD<T> gi = has_backward(pass) ? ncd_of(gis.view(), cd) : NCD<T>{};
  const double scale = reduce_scale(r, g_scalar, denom);
  const std::int64_t D = x.D, rows = x.rows();

  const auto sums = parallel_sum<1>(rows, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(C, 1)),
                                    [&](std::int64_t b, std::int64_t e) {
    double acc = 0;
    for (std::int64_t i = b; i < e; ++i) {
      const std::int64_t n = i / D, d = i % D;
      RowIn<T, TT> row{&x.at(n, 0, d), x.sC, nullptr, 0, weighted ? &w.at(n, 0, d) : nullptr, w.sC, C};
      if (cfg.target == RowTarget::SameShape) {
        row.t = &t.at(n, 0, d);
        row.st = t.sC;
      } else {
        row.t = &ty.at(n, d);
        if (*row.t == static_cast<TT>(cfg.ignore_index)) {
          if (out_none) ond.at(n, d) = T(0);
          if (has_backward(pass))
            for (std::int64_t c = 0; c < C; ++c) gi.at(n, c, d) = T(0);
          continue;
        }
      }
      T* g = has_backward(pass) ? &gi.at(n, 0, d) : nullptr;
      const double gsc = use_g_tensor ? static_cast<double>(gnd.at(n, d)) : scale;
      const double li = kernel(row, g, gi.sC, gsc);
      if (out_none) ond.at(n, d) = static_cast<T>(li);
      else acc += li;
    }
    return Sums<1>{acc};
  });
  finish_pass(pass, r, a.out, sums[0], denom, [&] { os.flush(); }, [&] { gis.flush(); });
}

}  // namespace losskit::detail
