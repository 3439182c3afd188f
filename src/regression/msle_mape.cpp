// msle_loss and mape_loss: the Keras relative-error losses, pointwise losses on the shared driver.
// The vector Ops (float32 lanes) below are compiled once per SIMD target (foreach_target) and the
// best one is picked at run time; the scalar Ops further down serve other dtypes and strides.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "regression/msle_mape.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include "kernels/pointwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace losskit::kernels {
namespace HWY_NAMESPACE {

// msle_loss, as the scalar MSLEOp (regression/msle_mape.cpp): c(v) = (v < eps ? eps : v) (NaN
// kept), r = log1p(c(x)) - log1p(c(y)), loss = r r, dx = (x >= eps ? 2 r / (c(x) + 1) : 0),
// dy = (y >= eps ? -2 r / (c(y) + 1) : 0); the same float32 operations except log1p:
// log1p(v) = log(u) + c / u with u = 1 + v rounded and c = v - (u - 1) its exact rounding
// error (0 for v = inf), log by LogPos (under 1 ULP). r cancels where x and y are close, in
// both forms alike.
struct MSLEV {
  float eps;
  HWY_INLINE VF C(DF d, VF v) const {
    const VF e = hn::Set(d, eps);
    return hn::IfThenElse(hn::Lt(v, e), e, v);  // NaN kept
  }
  static HWY_INLINE VF Log1p(DF d, VF v) {
    const VF one = hn::Set(d, 1.0f);
    const VF u = hn::Add(v, one);
    const VF c = hn::IfThenZeroElse(hn::IsInf(v), hn::Sub(v, hn::Sub(u, one)));
    return hn::Add(LogPos(d, u), hn::Div(c, u));
  }
  HWY_INLINE VF R(DF d, VF x, VF y) const { return hn::Sub(Log1p(d, C(d, x)), Log1p(d, C(d, y))); }
  HWY_INLINE void LossDx(DF d, VF x, VF y, VF& l, VF& g) const {
    const VF r = R(d, x, y);
    l = hn::Mul(r, r);
    g = Grad(d, x, r, 2.0f);
  }
  HWY_INLINE VF Grad(DF d, VF v, VF r, float two) const {
    const VF g = hn::Div(hn::Mul(hn::Set(d, two), r), hn::Add(C(d, v), hn::Set(d, 1.0f)));
    return hn::IfThenElseZero(hn::Ge(v, hn::Set(d, eps)), g);
  }
  HWY_INLINE VF Loss(DF d, VF x, VF y) const {
    const VF r = R(d, x, y);
    return hn::Mul(r, r);
  }
  HWY_INLINE VF Dx(DF d, VF x, VF y) const { return Grad(d, x, R(d, x, y), 2.0f); }
  HWY_INLINE VF Dy(DF d, VF x, VF y) const { return Grad(d, y, R(d, x, y), -2.0f); }
};

// mape_loss, as the scalar MAPEOp (regression/msle_mape.cpp), operation by operation (the same
// bits): m = max(|y|, eps) (NaN y kept), loss = 100 |y - x| / m, dx = 100 sign(x - y) / m,
// dy = 100 sign(q) dq with q = (y - x) / m, dq = (|y| >= eps ? (1 - q sign(y)) / m : 1 / m);
// sign(0) = sign(NaN) = 0.
struct MAPEV {
  float eps;
  static HWY_INLINE VF Sign(DF d, VF v) {
    const VF zero = hn::Zero(d);
    return hn::IfThenElse(hn::Gt(v, zero), hn::Set(d, 1.0f), hn::IfThenElseZero(hn::Lt(v, zero), hn::Set(d, -1.0f)));
  }
  static HWY_INLINE VF AbsLt(DF d, VF v) { return hn::IfThenElse(hn::Lt(v, hn::Zero(d)), hn::Neg(v), v); }
  HWY_INLINE VF M(DF d, VF ay) const {
    const VF e = hn::Set(d, eps);
    return hn::IfThenElse(hn::Lt(ay, e), e, ay);  // NaN kept
  }
  HWY_INLINE VF Loss(DF d, VF x, VF y) const {
    return hn::Div(hn::Mul(hn::Set(d, 100.0f), AbsLt(d, hn::Sub(y, x))), M(d, AbsLt(d, y)));
  }
  HWY_INLINE VF Dx(DF d, VF x, VF y) const {
    return hn::Div(hn::Mul(hn::Set(d, 100.0f), Sign(d, hn::Sub(x, y))), M(d, AbsLt(d, y)));
  }
  HWY_INLINE VF Dy(DF d, VF x, VF y) const {
    const VF ay = AbsLt(d, y), m = M(d, ay);
    const VF one = hn::Set(d, 1.0f);
    const VF q = hn::Div(hn::Sub(y, x), m);
    const VF dq = hn::IfThenElse(hn::Ge(ay, hn::Set(d, eps)), hn::Div(hn::Sub(one, hn::Mul(q, Sign(d, y))), m),
                                 hn::Div(one, m));
    return hn::Mul(hn::Mul(hn::Set(d, 100.0f), Sign(d, q)), dq);
  }
};

double MSLEBlock(const PwParams& p, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  return PointwiseBlock(MSLEV{p.a}, a, begin, end);
}

double MAPEBlock(const PwParams& p, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  return PointwiseBlock(MAPEV{p.a}, a, begin, end);
}

}  // namespace HWY_NAMESPACE
}  // namespace losskit::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>

#include "core/check.hpp"
#include "losskit/regression.hpp"
#include "core/api.hpp"
#include "core/elementwise.hpp"

namespace losskit::kernels {
LOSSKIT_POINTWISE_KERNEL(MSLEBlock, "msle_loss")
LOSSKIT_POINTWISE_KERNEL(MAPEBlock, "mape_loss")
}  // namespace losskit::kernels

namespace losskit {
namespace {

/// (log(max(x, eps) + 1) - log(max(y, eps) + 1))^2; the clamp stops the gradient below eps
/// (at x == eps the gradient goes through, as TF's maximum) and keeps a NaN (as TF's, JAX's and
/// torch's maximum; its gradient there is 0, as TF's and torch.clamp's).
template <class T>
struct MSLEOp {
  T eps;
  static constexpr kernels::PwBlockFn kSimd = &kernels::MSLEBlock_dispatch;  // contiguous float32
  kernels::PwParams simd_params() const { return {.a = static_cast<float>(eps)}; }
  template <class V>
  V loss(V x, V y) const {
    const V r = std::log1p(x < eps ? eps : x) - std::log1p(y < eps ? eps : y);
    return r * r;
  }
  template <class V>
  V dx(V x, V y) const {
    const V xc = x < eps ? eps : x;
    const V r = std::log1p(xc) - std::log1p(y < eps ? eps : y);
    return x >= eps ? V(2) * r / (xc + V(1)) : V(0);
  }
  template <class V>
  V dy(V x, V y) const {
    const V yc = y < eps ? eps : y;
    const V r = std::log1p(x < eps ? eps : x) - std::log1p(yc);
    return y >= eps ? V(-2) * r / (yc + V(1)) : V(0);
  }
};

/// 100 |y - x| / max(|y|, eps); the max keeps a NaN target (as TF's, JAX's and torch's maximum).
template <class T>
struct MAPEOp {
  T eps;
  static constexpr kernels::PwBlockFn kSimd = &kernels::MAPEBlock_dispatch;  // contiguous float32
  kernels::PwParams simd_params() const { return {.a = static_cast<float>(eps)}; }
  template <class V>
  static V sign(V v) { return v > V(0) ? V(1) : (v < V(0) ? V(-1) : V(0)); }
  template <class V>
  V loss(V x, V y) const {
    const V ay = y < V(0) ? -y : y;
    const V d = y - x;
    return V(100) * (d < V(0) ? -d : d) / (ay < eps ? eps : ay);
  }
  template <class V>
  V dx(V x, V y) const {
    const V ay = y < V(0) ? -y : y;
    return V(100) * sign(x - y) / (ay < eps ? eps : ay);
  }
  template <class V>
  V dy(V x, V y) const {
    // q = (y - x) / m, m = max(|y|, eps); dq/dy = 1/m - q sign(y)/m where |y| >= eps.
    const V ay = y < V(0) ? -y : y;
    const V m = ay < eps ? eps : ay;
    const V q = (y - x) / m;
    const V dq = ay >= eps ? (V(1) - q * sign(y)) / m : V(1) / m;
    return V(100) * sign(q) * dq;
  }
};

template <class T>
void run(detail::Pass pass, detail::PointwiseArgs<T> a, const MSLELossOptions& o) {
  constexpr std::string_view fn = "msle_loss";
  if (!(o.eps > 0)) detail::fail(ErrorKind::Value, fn, "eps = ", o.eps, " must be > 0");
  detail::run_pointwise({.fn = fn, .reduction = o.reduction}, pass, a, MSLEOp<T>{static_cast<T>(o.eps)});
}

template <class T>
void run(detail::Pass pass, detail::PointwiseArgs<T> a, const MAPELossOptions& o) {
  constexpr std::string_view fn = "mape_loss";
  if (!(o.eps > 0)) detail::fail(ErrorKind::Value, fn, "eps = ", o.eps, " must be > 0");
  detail::run_pointwise({.fn = fn, .reduction = o.reduction}, pass, a, MAPEOp<T>{static_cast<T>(o.eps)});
}

}  // namespace

LOSSKIT_DEFINE_POINTWISE_LOSS(msle_loss, float, MSLELossOptions, run)
LOSSKIT_DEFINE_POINTWISE_LOSS(msle_loss, double, MSLELossOptions, run)
LOSSKIT_DEFINE_POINTWISE_LOSS(mape_loss, float, MAPELossOptions, run)
LOSSKIT_DEFINE_POINTWISE_LOSS(mape_loss, double, MAPELossOptions, run)

}  // namespace losskit
#endif  // HWY_ONCE
