// sparsemax_loss and multiclass_sparsemax_loss (optax.losses): the binary loss is pointwise on
// the shared driver (core/elementwise.hpp), with its vector Op below compiled once per SIMD
// target; the multiclass loss is one value per row of the last dim on the row driver
// (core/rowwise.hpp), its class ids validated there.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "classification/sparsemax.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include "kernels/pointwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace losskit::kernels {
namespace HWY_NAMESPACE {

// z = -x where the label is nonzero (NaN included, as jnp.where), else x;
// sparse_plus(z) = 0 (z <= -1), z (z >= 1), (z + 1)^2 / 4 between; d/dx = sparse_plus'(z) dz/dx
// with sparse_plus' = 0, 1, (z + 1) / 2 on the same branches (NaN stays NaN: no branch holds).
struct SparsemaxV {
  static HWY_INLINE void Parts(DF d, VF x, VF y, VF& z, VF& sgn) {
    const auto pos = hn::Not(hn::Eq(y, hn::Zero(d)));  // NaN != 0 (Highway's Ne is ordered)
    z = hn::IfThenElse(pos, hn::Neg(x), x);
    sgn = hn::IfThenElse(pos, hn::Set(d, -1.0f), hn::Set(d, 1.0f));
  }
  HWY_INLINE VF Loss(DF d, VF x, VF y) const {
    VF z, sgn;
    Parts(d, x, y, z, sgn);
    const VF zp1 = hn::Add(z, hn::Set(d, 1.0f));
    const VF mid = hn::Mul(hn::Mul(zp1, zp1), hn::Set(d, 0.25f));
    return hn::IfThenZeroElse(hn::Le(z, hn::Set(d, -1.0f)), hn::IfThenElse(hn::Ge(z, hn::Set(d, 1.0f)), z, mid));
  }
  HWY_INLINE VF Dx(DF d, VF x, VF y) const {
    VF z, sgn;
    Parts(d, x, y, z, sgn);
    const VF mid = hn::Mul(hn::Add(z, hn::Set(d, 1.0f)), hn::Set(d, 0.5f));
    const VF s = hn::IfThenZeroElse(hn::Le(z, hn::Set(d, -1.0f)), hn::IfThenElse(hn::Ge(z, hn::Set(d, 1.0f)), hn::Set(d, 1.0f), mid));
    return hn::Mul(s, sgn);
  }
  HWY_INLINE VF Dy(DF d, VF, VF) const { return hn::Zero(d); }
};

double SparsemaxBlock(const PwParams&, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  return PointwiseBlock(SparsemaxV{}, a, begin, end);
}

}  // namespace HWY_NAMESPACE
}  // namespace losskit::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "core/api.hpp"
#include "core/elementwise.hpp"
#include "core/rowwise.hpp"
#include "losskit/classification.hpp"

namespace losskit::kernels {
LOSSKIT_POINTWISE_KERNEL(SparsemaxBlock, "sparsemax_loss")
}  // namespace losskit::kernels

namespace losskit {
namespace {

/// optax's sparsemax_loss: jax.nn.sparse_plus(jnp.where(labels, -logits, logits)).
struct SparsemaxOp {
  static constexpr kernels::PwBlockFn kSimd = &kernels::SparsemaxBlock_dispatch;
  template <class V>
  V loss(V x, V y) const {
    const V z = y != V(0) ? -x : x;
    if (z <= V(-1)) return V(0);
    if (z >= V(1)) return z;
    return (z + V(1)) * (z + V(1)) * V(0.25);
  }
  template <class V>
  V dx(V x, V y) const {
    const V z = y != V(0) ? -x : x;
    const V s = z <= V(-1) ? V(0) : z >= V(1) ? V(1) : (z + V(1)) * V(0.5);
    return y != V(0) ? -s : s;
  }
  template <class V>
  V dy(V, V) const { return V(0); }
};

template <class T>
void run_binary(detail::Pass pass, detail::PointwiseArgs<T> a, const SparsemaxLossOptions& o) {
  detail::run_pointwise({.fn = "sparsemax_loss", .reduction = o.reduction}, pass, a, SparsemaxOp{});
}

/// optax's multiclass_sparsemax_loss of one row: p = sparsemax(x) (the sort-based projection of
/// optax.projections.projection_simplex: the support size k counts the sorted u_j with
/// 1/j + u_j - cumsum_j/j > 0, p_c = relu(1/k + x_c - cumsum_k/k)), then
/// l = sum_c p_c [p_c != 0] (x_c - x_y, 0 at y) + (1 - sum_c p_c^2) / 2; d l / d x = p - onehot(y)
/// (JAX's gradient through the projection's custom JVP, up to its rounding). Computed in float64; a
/// NaN score (or a row without finite support, +inf scores) makes the row's loss and gradient NaN.
template <class T>
struct MulticlassSparsemaxKernel {
  double operator()(const detail::RowIn<T, std::int64_t>& r, T* g, std::int64_t sg, double gs) const {
    constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
    const std::int64_t C = r.C, y = *r.t;
    thread_local std::vector<double> u;
    u.resize(static_cast<std::size_t>(C));
    bool nan = false;
    for (std::int64_t c = 0; c < C; ++c) {
      u[static_cast<std::size_t>(c)] = static_cast<double>(r.x[c * r.sx]);
      nan = nan || std::isnan(u[static_cast<std::size_t>(c)]);
    }
    if (nan) {
      if (g)
        for (std::int64_t c = 0; c < C; ++c) g[c * sg] = static_cast<T>(kNaN);
      return kNaN;
    }
    std::sort(u.begin(), u.end(), std::greater<>());
    // k = count_nonzero(1/j + u_j - cumsum_j/j > 0); u[j] becomes cumsum_j once read.
    double cs = 0;
    std::int64_t k = 0;
    for (std::int64_t j = 0; j < C; ++j) {
      const double uj = u[static_cast<std::size_t>(j)];
      cs += uj;
      const double ind = static_cast<double>(j + 1);
      if (1.0 / ind + (uj - cs / ind) > 0) ++k;
      u[static_cast<std::size_t>(j)] = cs;
    }
    if (k == 0) {  // no finite support (+inf scores): optax's value is not defined either
      if (g)
        for (std::int64_t c = 0; c < C; ++c) g[c * sg] = static_cast<T>(kNaN);
      return kNaN;
    }
    const double cs_k = u[static_cast<std::size_t>(k - 1)];
    const double kd = static_cast<double>(k), xy = static_cast<double>(r.x[y * r.sx]);
    double dot = 0, sq = 0;
    for (std::int64_t c = 0; c < C; ++c) {
      const double xc = static_cast<double>(r.x[c * r.sx]);
      const double v = 1.0 / kd + (xc - cs_k / kd);
      const double p = v > 0 ? v : 0.0;  // relu; v is not NaN here
      if (p != 0) dot += p * (c == y ? 0.0 : xc - xy);
      sq += p * p;
      if (g) g[c * sg] = static_cast<T>(gs * (p - (c == y ? 1.0 : 0.0)));
    }
    return dot + 0.5 * (1.0 - sq);
  }
};

template <class T>
void run_multiclass(detail::Pass pass, ConstView<T> input, ConstView<std::int64_t> target, TensorView<T> out,
                    ConstView<T> grad_output, TensorView<T> grad_input, const SparsemaxLossOptions& o,
                    Tensor<T>* owned = nullptr) {
  const detail::RowConfig cfg{.fn = "multiclass_sparsemax_loss", .reduction = o.reduction, .class_last = true,
                              .target = detail::RowTarget::ClassIds};
  detail::run_rows(cfg, pass,
                   detail::RowArgs<T, std::int64_t>{.input = input, .target = target, .out = out,
                                                    .grad_output = grad_output, .grad_input = grad_input,
                                                    .owned = owned},
                   MulticlassSparsemaxKernel<T>{});
}

}  // namespace

LOSSKIT_DEFINE_POINTWISE_LOSS(sparsemax_loss, float, SparsemaxLossOptions, run_binary)
LOSSKIT_DEFINE_POINTWISE_LOSS(sparsemax_loss, double, SparsemaxLossOptions, run_binary)
LOSSKIT_DEFINE_LOSS(multiclass_sparsemax_loss, float, std::int64_t, SparsemaxLossOptions, run_multiclass)
LOSSKIT_DEFINE_LOSS(multiclass_sparsemax_loss, double, std::int64_t, SparsemaxLossOptions, run_multiclass)

}  // namespace losskit
#endif  // HWY_ONCE
