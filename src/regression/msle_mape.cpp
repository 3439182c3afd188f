// msle_loss and mape_loss: the Keras relative-error losses, pointwise losses on the shared driver.
#include <cmath>

#include "core/check.hpp"
#include "losskit/regression.hpp"
#include "core/api.hpp"
#include "core/elementwise.hpp"

namespace losskit {
namespace {

/// (log(max(x, eps) + 1) - log(max(y, eps) + 1))^2; the clamp stops the gradient below eps
/// (at x == eps the gradient goes through, as TF's maximum) and keeps a NaN (as TF's, JAX's and
/// torch's maximum; its gradient there is 0, as TF's and torch.clamp's).
template <class T>
struct MSLEOp {
  T eps;
  static constexpr kernels::PwKind kSimd = kernels::PwKind::MSLE;  // contiguous float32
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
  static constexpr kernels::PwKind kSimd = kernels::PwKind::MAPE;  // contiguous float32
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
