// soft_margin_loss (pointwise, core/elementwise.hpp) and multilabel_soft_margin_loss (one loss
// per row of the last dim, core/rowwise.hpp). Both computed with a stable softplus.
// The vector Ops (float32 lanes) below are compiled once per SIMD target (foreach_target) and the
// best one is picked at run time; the scalar Ops further down serve other dtypes and strides.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "margin/soft_margin.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include "kernels/pointwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace losskit::kernels {
namespace HWY_NAMESPACE {

// soft_margin_loss, as the scalar SoftMarginOp (margin/soft_margin.cpp), one form for every lane:
//   z = (y == 0 ? 0 : -y x),  loss = sp(z) = max(z, 0) + log1p(e),  e = exp(-|z|),
//   s = sigmoid(z) = (z >= 0 ? 1 : e) / (1 + e),  dx = (y == 0 ? 0 : -y s),  dy = (x == 0 ? 0 : -x s).
// ExpNonPos gives e = 0 at z = +-inf (so sp and s take their limits exactly) and flushes e below
// 2^-126 (sp(z) is then 0 where the scalar form keeps a subnormal); a NaN z gives NaN value and s.
// Accuracy as the bce_with_logits short form (ExpNonPos, Log1pUnit, RecipUnit: a few ULP).
struct SoftMarginV {
  static HWY_INLINE VF Z(DF d, VF x, VF y) { return hn::IfThenZeroElse(hn::Eq(y, hn::Zero(d)), hn::Mul(hn::Neg(y), x)); }
  static HWY_INLINE VF E(DF d, VF z) { return ExpNonPos(d, hn::Neg(hn::Abs(z))); }
  static HWY_INLINE VF Sig(DF d, VF z, VF e) {
    const VF one = hn::Set(d, 1.0f);
    const VF s = hn::Mul(hn::IfThenElse(hn::Ge(z, hn::Zero(d)), one, e), RecipUnit(d, hn::Add(one, e)));
    return hn::IfThenElse(hn::IsNaN(z), z, s);
  }
  static HWY_INLINE VF Sp(DF d, VF z, VF e) {
    return hn::IfThenElse(hn::IsNaN(z), z, hn::Add(hn::Max(z, hn::Zero(d)), Log1pUnit(d, e)));
  }
  HWY_INLINE void LossDx(DF d, VF x, VF y, VF& l, VF& g) const {
    const VF z = Z(d, x, y), e = E(d, z);
    l = Sp(d, z, e);
    g = hn::IfThenZeroElse(hn::Eq(y, hn::Zero(d)), hn::Mul(hn::Neg(y), Sig(d, z, e)));
  }
  HWY_INLINE VF Loss(DF d, VF x, VF y) const {
    const VF z = Z(d, x, y);
    return Sp(d, z, E(d, z));
  }
  HWY_INLINE VF Dx(DF d, VF x, VF y) const {
    const VF z = Z(d, x, y);
    return hn::IfThenZeroElse(hn::Eq(y, hn::Zero(d)), hn::Mul(hn::Neg(y), Sig(d, z, E(d, z))));
  }
  HWY_INLINE VF Dy(DF d, VF x, VF y) const {
    const VF z = Z(d, x, y);
    return hn::IfThenZeroElse(hn::Eq(x, hn::Zero(d)), hn::Mul(hn::Neg(x), Sig(d, z, E(d, z))));
  }
};

double SoftMarginBlock(const PwParams&, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  return PointwiseBlock(SoftMarginV{}, a, begin, end);
}

}  // namespace HWY_NAMESPACE
}  // namespace losskit::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>
#include <type_traits>

#include "core/api.hpp"
#include "core/elementwise.hpp"
#include "core/parallel.hpp"
#include "core/rowwise.hpp"
#include "kernels/logistic.hpp"
#include "losskit/margin.hpp"

namespace losskit::kernels {
LOSSKIT_POINTWISE_KERNEL(SoftMarginBlock, "soft_margin_loss")
}  // namespace losskit::kernels

namespace losskit {
namespace {

using detail::Pass;

/// log(1 + exp(-y x)); a label of 0 gives log 2 and no gradient, also at infinite x.
struct SoftMarginOp {
  static constexpr kernels::PwBlockFn kSimd = &kernels::SoftMarginBlock_dispatch;  // contiguous float32
  template <class V>
  static V z(V x, V y) { return y == V(0) ? V(0) : -y * x; }
  template <class V>
  V loss(V x, V y) const { return kernels::softplus(z(x, y)); }
  template <class V>
  V dx(V x, V y) const { return y == V(0) ? V(0) : -y * kernels::sigmoid(z(x, y)); }
  template <class V>
  V dy(V x, V y) const { return x == V(0) ? V(0) : -x * kernels::sigmoid(z(x, y)); }
};

template <class T>
void run_soft_margin(Pass pass, ConstView<T> input, ConstView<T> target, TensorView<T> out, ConstView<T> grad_output,
                     TensorView<T> grad_input, const SoftMarginOptions& o, Tensor<T>* owned = nullptr) {
  const detail::PointwiseConfig cfg{.fn = "soft_margin_loss", .reduction = o.reduction};
  detail::run_pointwise(cfg, pass,
                        detail::PointwiseArgs<T>{.input = input, .target = target, .out = out,
                                                 .grad_output = grad_output, .grad_input = grad_input, .owned = owned},
                        SoftMarginOp{});
}

/// (1/C) sum_c w_c (y_c sp(-x_c) + (1 - y_c) sp(x_c)): bce_with_logits' terms, so contiguous
/// float32 rows run its SIMD kind (kernels/pointwise.hpp), the rest the float64 loop below.
template <class T>
struct MultilabelSoftMarginKernel {
  double operator()(const detail::RowIn<T, T>& r, T* g, std::int64_t sg, double gs) const {
    const double invC = 1.0 / static_cast<double>(r.C);
    if constexpr (std::is_same_v<T, float>) {
      if (r.sx == 1 && r.st == 1 && (!r.w || r.sw == 1) && (!g || sg == 1)) {
        kernels::PwArgs pa{.x = r.x, .y = r.t, .w = r.w, .forward = true, .gi = g,
                           .scale = static_cast<float>(gs * invC)};
        return kernels::bce_with_logits_block({}, pa, 0, r.C) * invC;
      }
    }
    double s = 0;
    for (std::int64_t c = 0; c < r.C; ++c) {
      const double x = static_cast<double>(r.x[c * r.sx]), y = static_cast<double>(r.t[c * r.st]);
      const double w = r.w ? static_cast<double>(r.w[c * r.sw]) : 1.0;
      const double l = kernels::coef_mul(y, kernels::softplus(-x)) + kernels::coef_mul(1.0 - y, kernels::softplus(x));
      s += w * l;
      if (g) g[c * sg] = static_cast<T>(gs * w * (kernels::sigmoid(x) - y) * invC);
    }
    return s * invC;
  }
};

/// grad_target (optional): PyTorch differentiates the target, d l_n / d y_c = -w_c x_c / C
/// (its -(logsigmoid(x) - logsigmoid(-x)) w / C), times the row's upstream gradient; a second
/// pass over the elements after the row driver.
template <class T>
void run_multilabel_soft_margin(Pass pass, ConstView<T> input, ConstView<T> target, TensorView<T> out,
                                ConstView<T> grad_output, TensorView<T> grad_input,
                                const MultilabelSoftMarginOptions<T>& o, Tensor<T>* owned = nullptr,
                                TensorView<T> grad_target = {}) {
  using namespace detail;
  constexpr std::string_view fn = "multilabel_soft_margin_loss";
  ConstView<T> w = o.weight;
  if (!w.is_null()) {
    check_data(fn, "weight", w);
    check_data(fn, "input", input);
    w = broadcast_to(fn, "weight", w, input.shape());
  }
  const bool want_gt = has_backward(pass) && !grad_target.is_null();
  if (want_gt) {  // checked first: the row driver writes once its own checks pass
    check_data(fn, "input", input);
    check_data(fn, "target", target);
    check_same_shape(fn, "input", input.shape(), "target", target.shape());
    check_output(fn, "grad_target", grad_target, input.shape());
    check_no_overlap(fn, "grad_target", grad_target, named("input", input), named("target", target),
                     named("weight", w), named("grad_output", grad_output), named("out", ConstView<T>(out)),
                     named("grad_input", ConstView<T>(grad_input)));
  }
  const RowConfig cfg{.fn = fn, .reduction = o.reduction, .class_last = true};
  run_rows(cfg, pass,
           RowArgs<T, T>{.input = input, .target = target, .out = out, .grad_output = grad_output,
                         .grad_input = grad_input, .owned = owned, .weight = w},
           MultilabelSoftMarginKernel<T>{});
  if (!want_gt) return;
  const std::int64_t C = input.ndim() == 0 ? 1 : input.size(input.ndim() - 1);
  const std::int64_t rows = C == 0 ? 0 : input.numel() / C;
  const Shape loss_shape = input.ndim() == 0 ? Shape{} : drop_dim(input.shape(), input.ndim() - 1);
  const bool g_tensor = pass == Pass::Backward && o.reduction == Reduction::None;
  const double g = pass == Pass::Backward && !g_tensor
                       ? scalar_grad_output<T>(fn, o.reduction, grad_output, loss_shape)
                       : 1.0;
  const double scale = reduce_scale(o.reduction, g, static_cast<double>(rows)) / static_cast<double>(C);
  parallel_for(rows, std::max<std::int64_t>(1, 8192 / std::max<std::int64_t>(C, 1)), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t n = b; n < e; ++n) {
      const double up = g_tensor ? static_cast<double>(grad_output.flat(n)) / static_cast<double>(C) : scale;
      for (std::int64_t c = 0; c < C; ++c) {
        const std::int64_t i = n * C + c;
        const double wi = w.is_null() ? 1.0 : static_cast<double>(w.flat(i));
        grad_target.flat(i) = static_cast<T>(-up * wi * static_cast<double>(input.flat(i)));
      }
    }
  });
}

}  // namespace

LOSSKIT_DEFINE_LOSS(soft_margin_loss, float, float, SoftMarginOptions, run_soft_margin)
LOSSKIT_DEFINE_LOSS(soft_margin_loss, double, double, SoftMarginOptions, run_soft_margin)
LOSSKIT_DEFINE_LOSS(multilabel_soft_margin_loss, float, float, MultilabelSoftMarginOptions<float>,
                    run_multilabel_soft_margin)
LOSSKIT_DEFINE_LOSS(multilabel_soft_margin_loss, double, double, MultilabelSoftMarginOptions<double>,
                    run_multilabel_soft_margin)

LOSSKIT_DEFINE_TARGET_GRAD(multilabel_soft_margin_loss, float, MultilabelSoftMarginOptions<float>,
                           run_multilabel_soft_margin)
LOSSKIT_DEFINE_TARGET_GRAD(multilabel_soft_margin_loss, double, MultilabelSoftMarginOptions<double>,
                           run_multilabel_soft_margin)

}  // namespace losskit
#endif  // HWY_ONCE
