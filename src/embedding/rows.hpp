// Validation and [R, D] row layout shared by the embedding losses of two or three same-shaped
// inputs (margin_ranking_loss, cosine_embedding_loss, the triplet losses): each input is seen as
// R rows of D values (D = 1 for element-wise losses), the per-row losses, the target and the
// upstream gradient as R values. Views whose strides do not fit are staged (copied), outputs
// staged and scattered back. prepare() runs every check before anything is written.
#pragma once

#include <array>
#include <cmath>
#include <initializer_list>
#include <iterator>
#include <string_view>
#include <type_traits>

#include "core/check.hpp"
#include "core/class_args.hpp"
#include "core/layout.hpp"
#include "core/outputs.hpp"
#include "kernels/rows.hpp"
#include "losskit/reduction.hpp"
#include "losskit/tensor.hpp"

namespace losskit::detail {

template <class T, int K>
struct EmbeddingRows {
  std::array<Staged<const T>, K> in_st;
  std::array<ND<const T>, K> in{};   ///< the inputs, [R, D]
  Staged<const T> tgt_st;
  ND<const T> tgt{};                 ///< the target, [R, 1] (when the loss has one)
  Staged<const T> g_st;
  ND<const T> g{};                   ///< per-row upstream gradient (Backward with None)
  Staged<T> out_st;
  ND<T> out{};                       ///< per-row losses (forward with None)
  std::array<Staged<T>, K> gr_st;
  std::array<ND<T>, K> gr{};         ///< gradients, [R, D]
  std::array<bool, K> want{};        ///< which gradients were asked for
  std::int64_t R = 0, D = 1;
  Shape loss_shape;
  double g_scalar = 1.0;
  bool out_none = false, use_g_tensor = false;

  /// Validates and lays out everything. `lead` dims of the inputs form the rows (the rest, D);
  /// the target (if given) and the losses have the shape `loss_shape` (the leading dims).
  /// `out` receives the reduced value or, for None, is laid out as out[R].
  void prepare(std::string_view fn, Pass pass, Reduction r, const std::array<std::string_view, K>& names,
               const std::array<ConstView<T>, K>& inputs, const ConstView<T>* target, int lead,
               TensorView<T>& out_view, Tensor<T>* owned, ConstView<T> grad_output,
               const std::array<TensorView<T>, K>& grads, const std::array<std::string_view, K>& grad_names) {
    check_reduction(fn, r);
    for (int k = 0; k < K; ++k) check_data(fn, names[k], inputs[k]);
    for (int k = 1; k < K; ++k) check_same_shape(fn, names[0], inputs[0].shape(), names[k], inputs[k].shape());
    const Shape& shape = inputs[0].shape();
    loss_shape = Shape(shape.dims().subspan(0, static_cast<std::size_t>(lead)));
    if (target) {
      check_data(fn, "target", *target);
      if (!(target->shape() == loss_shape))
        fail(ErrorKind::Shape, fn, "expected target of shape ", loss_shape.str(), " for ", names[0], " of shape ",
             shape.str(), ", got ", target->shape().str());
    }
    if (owned) out_view = allocate(*owned, out_shape_of(r, loss_shape));
    const bool fwd = has_forward(pass), bwd = has_backward(pass);
    auto not_over_inputs = [&](std::string_view oname, const TensorView<T>& o) {
      for (int k = 0; k < K; ++k) check_no_overlap(fn, oname, o, named(names[k], inputs[k]));
      if (target) check_no_overlap(fn, oname, o, named("target", *target));
    };
    if (fwd) {
      check_output(fn, "out", out_view, out_shape_of(r, loss_shape));
      not_over_inputs("out", out_view);
    }
    if (pass == Pass::Backward) g_scalar = scalar_grad_output<T>(fn, r, grad_output, loss_shape);
    for (int k = 0; k < K; ++k) {
      want[static_cast<std::size_t>(k)] = bwd && !grads[k].is_null();
      if (!want[k]) continue;
      check_output(fn, grad_names[k], grads[k], shape);
      not_over_inputs(grad_names[k], grads[k]);
      check_no_overlap(fn, grad_names[k], grads[k], named("grad_output", grad_output),
                       named("out", ConstView<T>(out_view)));
      for (int j = 0; j < k; ++j)
        if (want[j]) check_no_overlap(fn, grad_names[k], grads[k], named(grad_names[j], ConstView<T>(grads[j])));
    }
    // ---- validation done ----
    for (int k = 0; k < K; ++k) {
      in_st[k] = stage_for_nd(inputs[k], lead, false);
      in[k] = nd_of(in_st[k].view(), lead);
    }
    R = in[0].N;
    D = in[0].D;
    const int ll = loss_shape.ndim();
    if (target) {
      tgt_st = stage_for_nd(*target, ll, false);
      tgt = nd_of(tgt_st.view(), ll);
    }
    use_g_tensor = pass == Pass::Backward && r == Reduction::None;
    if (use_g_tensor) {
      g_st = stage_for_nd(grad_output, ll, false);
      g = nd_of(g_st.view(), ll);
    }
    out_none = fwd && r == Reduction::None;
    if (out_none) {
      out_st = stage_for_nd(out_view, ll, true);
      out = nd_of(out_st.view(), ll);
    }
    for (int k = 0; k < K; ++k) {
      if (!want[k]) continue;
      gr_st[k] = stage_for_nd(grads[k], lead, true);
      gr[k] = nd_of(gr_st[k].view(), lead);
    }
  }

  /// Writes the reduced value (or scatters the staged per-row losses) and the gradients back.
  void finish(Pass pass, Reduction r, TensorView<T>& out_view, double sum) {
    finish_pass(pass, r, out_view, sum, static_cast<double>(loss_shape.numel()), [&] { out_st.flush(); }, [&] {
      for (int k = 0; k < K; ++k)
        if (want[k]) gr_st[k].flush();
    });
  }

  /// The upstream gradient of row i (the scaled scalar for Mean/Sum).
  T upstream(std::int64_t i, T scale) const { return use_g_tensor ? g.at(i, 0) : scale; }
};

/// Whether row i of these [R, D] float32 arrays can go to the SIMD row kernels (kernels/rows.hpp):
/// contiguous rows, long enough to pay for the dispatch.
template <class T>
bool simd_rows(std::int64_t D, std::initializer_list<std::int64_t> strides) {
  if (!std::is_same_v<T, float> || D < kernels::kRowSimdMin) return false;
  for (std::int64_t s : strides)
    if (s != 1) return false;
  return true;
}

/// The sums `kind` of kernels::row_sums over row i of U and W, in float64: the SIMD kernel when
/// `simd`, else the same terms in element order.
template <class T>
kernels::RowSums row_sums(kernels::RowSum kind, const ND<const T>& U, const ND<const T>& W, std::int64_t i,
                          double eps, bool simd) {
  const std::int64_t D = U.D;
  if constexpr (std::is_same_v<T, float>)
    if (simd) return kernels::row_sums(kind, &U.at(i, 0), &W.at(i, 0), eps, D);
  kernels::RowSums s;
  for (std::int64_t d = 0; d < D; ++d) {
    const double u = U.at(i, d), w = W.at(i, d);
    if (kind == kernels::RowSum::Dot3) {
      s.s0 = std::fma(u, w, s.s0);
      s.s1 = std::fma(u, u, s.s1);
      s.s2 = std::fma(w, w, s.s2);
    } else if (kind == kernels::RowSum::SqDiff) {
      const double v = u - w + eps;
      s.s0 = std::fma(v, v, s.s0);
    } else {
      s.s0 += std::fabs(u - w + eps);
    }
  }
  return s;
}

/// One term of a row's linear combination: coef * row i of `in`.
template <class T>
struct LinTerm {
  const ND<const T>* in;
  double coef;
};

/// Row i of `out` = sum of the terms + d, formed in float64 and rounded once (kernels::row_lin
/// when `simd`, else the same fma chain in element order). Absent terms are not read at all,
/// so an inf or NaN there does not leak through a zero coefficient.
template <class T>
void lin_row(const ND<T>& out, std::int64_t i, std::initializer_list<LinTerm<T>> terms, double d, bool simd) {
  const std::int64_t D = out.D;
  if constexpr (std::is_same_v<T, float>) {
    if (simd) {
      kernels::RowLin f;
      for (const auto& t : terms) f.add(&t.in->at(i, 0), t.coef);
      f.d = d;
      kernels::row_lin(&out.at(i, 0), f, D);
      return;
    }
  }
  for (std::int64_t j = 0; j < D; ++j) {
    double v = d;
    for (auto t = std::rbegin(terms); t != std::rend(terms); ++t) v = std::fma(t->coef, double{t->in->at(i, j)}, v);
    out.at(i, j) = static_cast<T>(v);
  }
}

}  // namespace losskit::detail

// Defines the four public calls of a loss of two inputs and a target, forwarding to
// run<T>(pass, input1, input2, target, out, grad_output, grad_input1, grad_input2, opts, owned).
#define LOSSKIT_DEFINE_PAIR_TARGET_LOSS(name, OptsT, T)                                                       \
  void name(ConstView<T> input1, ConstView<T> input2, ConstView<T> target, TensorView<T> out,               \
            const OptsT& opts) {                                                                             \
    run<T>(detail::Pass::Forward, input1, input2, target, out, {}, {}, {}, opts, nullptr);                   \
  }                                                                                                          \
  Tensor<T> name(ConstView<T> input1, ConstView<T> input2, ConstView<T> target, const OptsT& opts) {        \
    Tensor<T> out;                                                                                           \
    run<T>(detail::Pass::Forward, input1, input2, target, {}, {}, {}, {}, opts, &out);                       \
    return out;                                                                                              \
  }                                                                                                          \
  void name##_backward(ConstView<T> grad_output, ConstView<T> input1, ConstView<T> input2,                   \
                       ConstView<T> target, TensorView<T> grad_input1, TensorView<T> grad_input2,            \
                       const OptsT& opts) {                                                                  \
    run<T>(detail::Pass::Backward, input1, input2, target, {}, grad_output, grad_input1, grad_input2, opts,  \
           nullptr);                                                                                         \
  }                                                                                                          \
  void name##_forward_backward(ConstView<T> input1, ConstView<T> input2, ConstView<T> target,               \
                               TensorView<T> out, TensorView<T> grad_input1, TensorView<T> grad_input2,      \
                               const OptsT& opts) {                                                          \
    run<T>(detail::Pass::ForwardBackward, input1, input2, target, out, {}, grad_input1, grad_input2, opts,   \
           nullptr);                                                                                         \
  }
