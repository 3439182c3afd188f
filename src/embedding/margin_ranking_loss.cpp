// margin_ranking_loss: three same-shaped operands, element-wise (rows of D = 1, embedding/rows.hpp);
// flat float32 operands run the pointwise SIMD kind MarginRanking.
// The vector Ops (float32 lanes) below are compiled once per SIMD target (foreach_target) and the
// best one is picked at run time; the scalar Ops further down serve other dtypes and strides.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "embedding/margin_ranking_loss.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include "kernels/pointwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace losskit::kernels {
namespace HWY_NAMESPACE {

// margin_ranking_loss with input2 as the aux operand p, as the scalar loop of
// embedding/margin_ranking_loss.cpp, operation for operation (the same bits):
// h = -y (x - p) + margin, loss = (h < 0 ? 0 : h) (NaN kept, as clamp_min), dx = (h >= 0 ? -y : 0),
// dp = -dx (the upstream factor is applied by the driver: up (-y) and up y, the scalar values).
struct MarginRankingV {
  static constexpr bool kAux = true;
  float margin;
  HWY_INLINE VF H(DF d, VF x, VF y, VF p) const { return hn::Add(hn::Mul(hn::Neg(y), hn::Sub(x, p)), hn::Set(d, margin)); }
  HWY_INLINE VF Loss(DF d, VF x, VF y, VF p) const {
    const VF h = H(d, x, y, p);
    return hn::IfThenZeroElse(hn::Lt(h, hn::Zero(d)), h);
  }
  HWY_INLINE VF Dx(DF d, VF x, VF y, VF p) const {
    return hn::IfThenElseZero(hn::Ge(H(d, x, y, p), hn::Zero(d)), hn::Neg(y));
  }
  HWY_INLINE VF Dy(DF d, VF, VF, VF) const { return hn::Set(d, std::numeric_limits<float>::quiet_NaN()); }
  HWY_INLINE VF Da(DF d, VF x, VF y, VF p) const { return hn::Neg(Dx(d, x, y, p)); }
};

double MarginRankingBlock(const PwParams& p, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  return PointwiseBlock(MarginRankingV{p.a}, a, begin, end);
}

}  // namespace HWY_NAMESPACE
}  // namespace losskit::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "core/math.hpp"
#include "core/parallel.hpp"
#include "embedding/rows.hpp"
#include "losskit/embedding.hpp"

namespace losskit::kernels {
LOSSKIT_POINTWISE_KERNEL(MarginRankingBlock, "margin_ranking_loss")
}  // namespace losskit::kernels

namespace losskit {
namespace {

using detail::Pass;
constexpr std::string_view kFn = "margin_ranking_loss";

/// grad_target (optional): PyTorch differentiates the target, d l / d y = -(x1 - x2) where
/// the hinge passes (h >= 0), times the upstream gradient (the scalar loop writes it).
template <class T>
void run(Pass pass, ConstView<T> x1, ConstView<T> x2, ConstView<T> target, TensorView<T> out,
         ConstView<T> grad_output, TensorView<T> g1, TensorView<T> g2, const MarginRankingLossOptions& o,
         Tensor<T>* owned, TensorView<T> grad_target = {}) {
  using namespace detail;
  EmbeddingRows<T, 2> a;
  a.prepare(kFn, pass, o.reduction, {"input1", "input2"}, {x1, x2}, &target, x1.ndim(), out, owned, grad_output,
            {g1, g2}, {"grad_input1", "grad_input2"});
  // prepare() has written nothing (it stages); the target's gradient is checked before any write.
  const bool want_gt = has_backward(pass) && !grad_target.is_null();
  Staged<T> gt_st;
  ND<T> gt{};
  if (want_gt) {
    check_output(kFn, "grad_target", grad_target, target.shape());
    check_no_overlap(kFn, "grad_target", grad_target, named("input1", x1), named("input2", x2),
                     named("target", target), named("grad_output", grad_output), named("out", ConstView<T>(out)),
                     named("grad_input1", ConstView<T>(g1)), named("grad_input2", ConstView<T>(g2)));
    gt_st = stage_for_nd(grad_target, x1.ndim(), true);
    gt = nd_of(gt_st.view(), x1.ndim());
  }
  const T margin = static_cast<T>(o.margin);
  const T scale = static_cast<T>(reduce_scale(o.reduction, a.g_scalar, static_cast<double>(a.R)));
  // Float32 with every operand flat: the SIMD kind (kernels/pointwise.hpp), input2 as its aux
  // operand; it writes d/d input2 only beside d/d input1.
  if constexpr (std::is_same_v<T, float>) {
    auto flat = [](const auto& m) { return m.data == nullptr || m.N <= 1 || m.sN == 1; };
    const bool simd = flat(a.in[0]) && flat(a.in[1]) && flat(a.tgt) && flat(a.g) && flat(a.out) && flat(a.gr[0]) &&
                      flat(a.gr[1]) && (a.want[0] || !a.want[1]) && !want_gt;
    if (simd) {
      const kernels::PwArgs pa{.x = a.in[0].data, .y = a.tgt.data, .out = a.out_none ? a.out.data : nullptr,
                               .forward = has_forward(pass), .gi = a.want[0] ? a.gr[0].data : nullptr,
                               .ga = a.want[1] ? a.gr[1].data : nullptr, .gvec = a.use_g_tensor ? a.g.data : nullptr,
                               .scale = scale, .aux = a.in[1].data};
      const kernels::PwParams params{.a = margin};
      const auto sums = parallel_sum<1>(a.R, 8192, [&](std::int64_t b, std::int64_t e) {
        return Sums<1>{kernels::MarginRankingBlock_dispatch(params, pa, b, e)};
      });
      a.finish(pass, o.reduction, out, sums[0]);
      return;
    }
  }
  const auto sums = parallel_sum<1>(a.R, 8192, [&](std::int64_t b, std::int64_t e) {
    double acc = 0;
    for (std::int64_t i = b; i < e; ++i) {
      const T y = a.tgt.at(i, 0);
      const T h = -y * (a.in[0].at(i, 0) - a.in[1].at(i, 0)) + margin;
      if (has_forward(pass)) {
        const T li = clamp_min0(h);  // NaN kept, as torch's clamp_min
        if (a.out_none) a.out.at(i, 0) = li;
        else acc += static_cast<double>(li);
      }
      if (has_backward(pass)) {
        // clamp_min's gradient passes at the tie h == 0, as in PyTorch.
        const T up = a.upstream(i, scale);
        const T g = h >= T(0) ? -y * up : T(0);
        if (a.want[0]) a.gr[0].at(i, 0) = g;
        if (a.want[1]) a.gr[1].at(i, 0) = -g;
        if (want_gt) gt.at(i, 0) = h >= T(0) ? -(a.in[0].at(i, 0) - a.in[1].at(i, 0)) * up : T(0);
      }
    }
    return Sums<1>{acc};
  });
  a.finish(pass, o.reduction, out, sums[0]);
  gt_st.flush();
}

}  // namespace

LOSSKIT_DEFINE_PAIR_TARGET_LOSS(margin_ranking_loss, MarginRankingLossOptions, float)
LOSSKIT_DEFINE_PAIR_TARGET_LOSS(margin_ranking_loss, MarginRankingLossOptions, double)

#define LOSSKIT_MARGIN_RANKING_TARGET_GRAD(T)                                                                    \
  void margin_ranking_loss_backward(ConstView<T> grad_output, ConstView<T> input1, ConstView<T> input2,         \
                                    ConstView<T> target, TensorView<T> grad_input1, TensorView<T> grad_input2,  \
                                    TensorView<T> grad_target, const MarginRankingLossOptions& opts) {          \
    run<T>(Pass::Backward, input1, input2, target, {}, grad_output, grad_input1, grad_input2, opts, nullptr,     \
           grad_target);                                                                                         \
  }                                                                                                              \
  void margin_ranking_loss_forward_backward(ConstView<T> input1, ConstView<T> input2, ConstView<T> target,      \
                                            TensorView<T> out, TensorView<T> grad_input1,                       \
                                            TensorView<T> grad_input2, TensorView<T> grad_target,               \
                                            const MarginRankingLossOptions& opts) {                             \
    run<T>(Pass::ForwardBackward, input1, input2, target, out, {}, grad_input1, grad_input2, opts, nullptr,      \
           grad_target);                                                                                         \
  }
LOSSKIT_MARGIN_RANKING_TARGET_GRAD(float)
LOSSKIT_MARGIN_RANKING_TARGET_GRAD(double)
#undef LOSSKIT_MARGIN_RANKING_TARGET_GRAD

}  // namespace losskit
#endif  // HWY_ONCE
