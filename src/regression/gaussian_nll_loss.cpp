// gaussian_nll_loss: validate -> rows [R, L] (L = the input's last dim) -> kernel -> reduce.
// The variance is either per element or one per row (broadcast along the last dim).
// The vector Ops (float32 lanes) below are compiled once per SIMD target (foreach_target) and the
// best one is picked at run time; the scalar Ops further down serve other dtypes and strides.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "regression/gaussian_nll_loss.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include "kernels/pointwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace losskit::kernels {
namespace HWY_NAMESPACE {

// gaussian_nll_loss with a per-element variance (the aux operand), as the scalar loop of
// regression/gaussian_nll_loss.cpp: v = (p < eps ? eps : p) (NaN kept), d = x - y,
//   loss = 0.5 (log v + d d / v) + c,  dx = d / v,  dy = -dx,  dv = 0.5 (1 / v - d d / (v v)),
// the same float32 operations except log (LogPos, under 1 ULP) and the upstream factor, which
// the driver applies after the division (one rounding more than the scalar (up d) / v).
struct GaussianNLLV {
  static constexpr bool kAux = true;
  float eps, c;
  HWY_INLINE VF V(DF d, VF p) const {
    const VF e = hn::Set(d, eps);
    return hn::IfThenElse(hn::Lt(p, e), e, p);
  }
  HWY_INLINE VF Loss(DF d, VF x, VF y, VF p) const {
    const VF v = V(d, p), df = hn::Sub(x, y);
    return hn::MulAdd(hn::Set(d, 0.5f), hn::Add(LogPos(d, v), hn::Div(hn::Mul(df, df), v)), hn::Set(d, c));
  }
  HWY_INLINE VF Dx(DF d, VF x, VF y, VF p) const { return hn::Div(hn::Sub(x, y), V(d, p)); }
  HWY_INLINE VF Dy(DF d, VF x, VF y, VF p) const { return hn::Neg(Dx(d, x, y, p)); }
  HWY_INLINE VF Da(DF d, VF x, VF y, VF p) const {
    const VF v = V(d, p), df = hn::Sub(x, y);
    const VF one = hn::Set(d, 1.0f);
    return hn::Mul(hn::Set(d, 0.5f), hn::Sub(hn::Div(one, v), hn::Div(hn::Mul(df, df), hn::Mul(v, v))));
  }
};

double GaussianNLLBlock(const PwParams& p, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  return PointwiseBlock(GaussianNLLV{p.a, p.b}, a, begin, end);
}

}  // namespace HWY_NAMESPACE
}  // namespace losskit::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <cmath>
#include <numbers>
#include <type_traits>
#include <vector>

#include "core/check.hpp"
#include "core/class_args.hpp"
#include "core/layout.hpp"
#include "core/outputs.hpp"
#include "core/parallel.hpp"
#include "losskit/regression.hpp"

namespace losskit::kernels {
LOSSKIT_POINTWISE_KERNEL(GaussianNLLBlock, "gaussian_nll_loss")
}  // namespace losskit::kernels

namespace losskit {
namespace {

using detail::Pass;
constexpr std::string_view kFn = "gaussian_nll_loss";

template <class T>
void run(Pass pass, ConstView<T> input, ConstView<T> target, ConstView<T> var, TensorView<T> out,
         ConstView<T> grad_output, TensorView<T> grad_input, TensorView<T> grad_target, TensorView<T> grad_var,
         const GaussianNLLLossOptions& o, Tensor<T>* owned = nullptr);

/// The output checks of both paths (nothing is written): `out` (allocated into `owned` when
/// given) of the loss shape or 0-d, and each wanted gradient of its operand's shape, none of
/// them overlapping an input or each other. Returns the scalar upstream gradient (1 unless a
/// Mean/Sum backward).
template <class T>
double check_outputs(Pass pass, Reduction r, const Shape& loss_shape, ConstView<T> input, ConstView<T> target,
                     ConstView<T> var, TensorView<T>& out, Tensor<T>* owned, ConstView<T> grad_output,
                     TensorView<T> grad_input, TensorView<T> grad_target, TensorView<T> grad_var) {
  using namespace detail;
  if (owned) out = allocate(*owned, out_shape_of(r, loss_shape));
  if (has_forward(pass)) {
    check_output(kFn, "out", out, out_shape_of(r, loss_shape));
    check_no_overlap(kFn, "out", out, named("input", input), named("target", target), named("var", var));
  }
  double g_scalar = 1.0;
  if (pass == Pass::Backward) g_scalar = scalar_grad_output<T>(kFn, r, grad_output, loss_shape);
  auto check_grad = [&](std::string_view name, const TensorView<T>& g, const Shape& expected) {
    check_output(kFn, name, g, expected);
    check_no_overlap(kFn, name, g, named("input", input), named("target", target), named("var", var),
                     named("grad_output", grad_output), named("out", ConstView<T>(out)));
  };
  if (!has_backward(pass)) return g_scalar;
  check_grad("grad_input", grad_input, input.shape());
  if (!grad_target.is_null()) {
    check_grad("grad_target", grad_target, target.shape());
    check_no_overlap(kFn, "grad_target", grad_target, named("grad_input", grad_input));
  }
  if (!grad_var.is_null()) {
    check_grad("grad_var", grad_var, var.shape());
    check_no_overlap(kFn, "grad_var", grad_var, named("grad_input", grad_input), named("grad_target", grad_target));
  }
  return g_scalar;
}

/// `full` (of the loss shape) summed over the dims along which an operand of shape `to` was
/// broadcast, written into `dst` (of shape `to`): the gradient of a broadcast operand. In
/// float64, in flat order (deterministic).
template <class T>
void sum_to(const Tensor<T>& full, TensorView<T> dst) {
  std::vector<double> acc(static_cast<std::size_t>(dst.numel()), 0.0);
  const auto b = detail::broadcast_to(kFn, "gradient", TensorView<double>(acc.data(), dst.shape()), full.shape());
  for (std::int64_t i = 0; i < full.numel(); ++i) b.flat(i) += static_cast<double>(full[i]);
  for (std::int64_t i = 0; i < dst.numel(); ++i) dst.flat(i) = static_cast<T>(acc[static_cast<std::size_t>(i)]);
}

/// A view of `v` broadcast to `shape`, copied contiguous.
template <class T>
Tensor<T> expanded(ConstView<T> v, const Shape& shape, std::string_view name) {
  const auto b = detail::broadcast_to(kFn, name, v, shape);
  Tensor<T> t(shape);
  for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = b.flat(i);
  return t;
}

/// The general broadcast of PyTorch 2.x: target broadcasts against the input (the loss takes the
/// broadcast shape S, NumPy rules), and var against S (a per-row var is unsqueezed first). Each
/// operand is expanded to S, the same-shape loss runs on the copies, and each gradient is summed
/// back over its operand's broadcast dims. Validation first, as everywhere.
template <class T>
void run_broadcast(Pass pass, ConstView<T> input, ConstView<T> target, ConstView<T> var, TensorView<T> out,
                   ConstView<T> grad_output, TensorView<T> grad_input, TensorView<T> grad_target,
                   TensorView<T> grad_var, const GaussianNLLLossOptions& o, Tensor<T>* owned) {
  using namespace detail;
  const Shape& xs = input.shape();
  const int nd = xs.ndim();
  // S = broadcast(input, target).
  const int sd = std::max(nd, target.ndim());
  Shape S;
  for (int k = 0; k < sd; ++k) {
    const int i = k - (sd - nd), j = k - (sd - target.ndim());
    const std::int64_t a = i >= 0 ? xs[i] : 1, b = j >= 0 ? target.size(j) : 1;
    if (a != b && a != 1 && b != 1)
      fail(ErrorKind::Shape, kFn, "input of shape ", xs.str(), " and target of shape ", target.shape().str(),
           " do not broadcast");
    S.push_back(a == 1 ? b : a);
  }
  // var as PyTorch unsqueezes it (one variance per row: a trailing dim of 1), then broadcast to S.
  const bool unsqueeze = !(var.shape() == xs) && var.ndim() == nd - 1;
  auto unsqueezed = [&](auto view) {  // a trailing dim of extent 1
    if (!unsqueeze || view.is_null()) return view;
    Shape vs = view.shape(), st = view.strides();
    vs.push_back(1);
    st.push_back(0);
    return decltype(view)(view.data(), vs, st);
  };
  const ConstView<T> v = unsqueezed(var);
  (void)broadcast_to(kFn, "var", v, S);
  (void)check_outputs<T>(pass, o.reduction, S, input, target, var, out, owned, grad_output, grad_input, grad_target,
                         grad_var);
  const bool want_gt = has_backward(pass) && !grad_target.is_null();
  const bool want_gv = has_backward(pass) && !grad_var.is_null();
  for (std::int64_t i = 0; i < var.numel(); ++i)
    if (var.flat(i) < T(0))
      fail(ErrorKind::Value, kFn, "var[", position_of(var.shape(), i), "] = ", var.flat(i),
           " is negative; variances must be >= 0");
  // ---- validation done: from here on outputs are written ----
  const Tensor<T> X = expanded(input, S, "input"), Y = expanded(target, S, "target"), V = expanded(v, S, "var");
  Tensor<T> gx, gy, gv;
  if (has_backward(pass)) gx = Tensor<T>(S);
  if (want_gt) gy = Tensor<T>(S);
  if (want_gv) gv = Tensor<T>(S);
  run<T>(pass, X, Y, V, out, grad_output, has_backward(pass) ? gx.view() : TensorView<T>{},
         want_gt ? gy.view() : TensorView<T>{}, want_gv ? gv.view() : TensorView<T>{}, o);
  if (has_backward(pass)) sum_to(gx, grad_input);
  if (want_gt) sum_to(gy, grad_target);
  if (want_gv) sum_to(gv, unsqueezed(grad_var));
}

template <class T>
void run(Pass pass, ConstView<T> input, ConstView<T> target, ConstView<T> var, TensorView<T> out,
         ConstView<T> grad_output, TensorView<T> grad_input, TensorView<T> grad_target, TensorView<T> grad_var,
         const GaussianNLLLossOptions& o, Tensor<T>* owned) {
  using namespace detail;
  const Reduction r = o.reduction;
  check_reduction(kFn, r);
  check_data(kFn, "input", input);
  check_data(kFn, "target", target);
  check_data(kFn, "var", var);
  if (!(o.eps >= 0)) fail(ErrorKind::Value, kFn, "eps = ", o.eps, " must be >= 0");
  const Shape& shape = input.shape();
  const int nd = shape.ndim();
  const int lead = nd > 0 ? nd - 1 : 0;
  bool per_row = false;  // one variance per row (homoscedastic)
  bool general = !(target.shape() == shape);  // a broadcast other than var's per-row form
  if (!(var.shape() == shape)) {
    const bool fewer = nd > 0 && var.shape() == drop_dim(shape, nd - 1);
    // PyTorch 2.x: the input's ndim, and the extents of var where they differ sum to 1 (one
    // differing dim, where var has extent 1).
    std::int64_t differing = 0;
    if (var.ndim() == nd)
      for (int k = 0; k < nd; ++k)
        if (var.size(k) != shape[k]) differing += var.size(k);
    const bool one1 = var.ndim() == nd && differing == 1;
    if (!fewer && !one1)  // ValueError in PyTorch ("var is of incorrect size"): ErrorKind::Value
      fail(ErrorKind::Value, kFn, "var has shape ", var.shape().str(), "; for input of shape ", shape.str(),
           " it must have the input's shape, that shape without its last dim, or that shape with one dim of "
           "extent 1");
    per_row = fewer || (one1 && var.size(nd - 1) == 1 && shape[nd - 1] != 1);
    if (!per_row) general = true;
  }
  if (general) {
    run_broadcast<T>(pass, input, target, var, out, grad_output, grad_input, grad_target, grad_var, o, owned);
    return;
  }
  const double g_scalar = check_outputs<T>(pass, r, shape, input, target, var, out, owned, grad_output, grad_input,
                                           grad_target, grad_var);
  const bool want_gt = has_backward(pass) && !grad_target.is_null();
  const bool want_gv = has_backward(pass) && !grad_var.is_null();
  // Every input in [R, L] form (copied first when its strides do not allow it).
  Staged<const T> xs = stage_for_nd(input, lead, false), ys = stage_for_nd(target, lead, false);
  Staged<const T> vs = stage_for_nd(var, per_row ? var.ndim() : lead, false);
  const ND<const T> X = nd_of(xs.view(), lead), Y = nd_of(ys.view(), lead);
  ND<const T> Vr = nd_of(vs.view(), per_row ? var.ndim() : lead);
  if (per_row) Vr.sD = 0;
  const std::int64_t R = X.N, L = X.D;
  // Every variance must be >= 0 (NaN passes, as in PyTorch's torch.any(var < 0)).
  {
    const std::int64_t nv = per_row ? R : R * L;
    std::int64_t bad = -1;
    parallel_for(nv, 8192, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) {
        const T v = per_row ? Vr.at(i, 0) : Vr.at(i / L, i % L);
        if (v < T(0)) {
#pragma omp critical(losskit_gaussian_bad_var)
          if (bad < 0 || i < bad) bad = i;
          break;
        }
      }
    });
    if (bad >= 0) {
      const T v = per_row ? Vr.at(bad, 0) : Vr.at(bad / L, bad % L);
      // Position in var's own shape: per-row var has one entry per row.
      fail(ErrorKind::Value, kFn, "var[", detail::position_of(var.shape(), bad), "] = ", v,
           " is negative; variances must be >= 0");
    }
  }
  // ---- validation done: from here on outputs are written ----
  const bool use_g_tensor = pass == Pass::Backward && r == Reduction::None;
  Staged<const T> gs = use_g_tensor ? stage_for_nd(grad_output, lead, false) : Staged<const T>();
  const ND<const T> G = use_g_tensor ? nd_of(gs.view(), lead) : ND<const T>{};
  const bool out_none = has_forward(pass) && r == Reduction::None;
  Staged<T> os = out_none ? stage_for_nd(out, lead, true) : Staged<T>();
  const ND<T> O = out_none ? nd_of(os.view(), lead) : ND<T>{};
  Staged<T> gis = has_backward(pass) ? stage_for_nd(grad_input, lead, true) : Staged<T>();
  const ND<T> GI = has_backward(pass) ? nd_of(gis.view(), lead) : ND<T>{};
  Staged<T> gts = want_gt ? stage_for_nd(grad_target, lead, true) : Staged<T>();
  const ND<T> GT = want_gt ? nd_of(gts.view(), lead) : ND<T>{};
  const int vlead = per_row ? var.ndim() : lead;
  Staged<T> gvs = want_gv ? stage_for_nd(grad_var, vlead, true) : Staged<T>();
  ND<T> GV = want_gv ? nd_of(gvs.view(), vlead) : ND<T>{};
  if (per_row) GV.sD = 0;

  const double n = static_cast<double>(shape.numel());
  const T scale = static_cast<T>(reduce_scale(r, g_scalar, n));
  const T eps = static_cast<T>(o.eps);
  const T c = o.full ? static_cast<T>(0.5 * std::log(2 * std::numbers::pi)) : T(0);
  // Float32 with every array flat: the SIMD kind (kernels/pointwise.hpp). A per-element variance
  // is its aux operand; one variance per row (rows of at least 64) is repeated into a per-thread
  // row buffer, and its gradient summed over the row in float64, in order.
  bool simd = false;
  double total = 0;
  if constexpr (std::is_same_v<T, float>) {
    auto flat = [](const auto& m) { return m.data == nullptr || (m.sD == 1 && (m.N <= 1 || m.sN == m.D)); };
    simd = flat(X) && flat(Y) && flat(O) && flat(GI) && flat(GT) && flat(G) &&
           (per_row ? L >= 64 : flat(Vr) && flat(GV));
    const kernels::PwArgs pa{.x = X.data, .y = Y.data, .out = out_none ? O.data : nullptr,
                             .forward = has_forward(pass), .gi = has_backward(pass) ? GI.data : nullptr,
                             .gt = want_gt ? GT.data : nullptr, .ga = want_gv ? GV.data : nullptr,
                             .gvec = use_g_tensor ? G.data : nullptr, .scale = scale, .aux = Vr.data};
    const kernels::PwParams params{.a = eps, .b = c};
    if (simd && !per_row) {
      total = parallel_sum<1>(R * L, 8192, [&](std::int64_t b, std::int64_t e) {
        return Sums<1>{kernels::GaussianNLLBlock_dispatch(params, pa, b, e)};
      })[0];
    } else if (simd) {
      total = parallel_sum<1>(R, std::max<std::int64_t>(1, 8192 / L), [&](std::int64_t b, std::int64_t e) {
        thread_local std::vector<float> vrow, garow;
        vrow.resize(static_cast<std::size_t>(L));
        if (want_gv) garow.resize(static_cast<std::size_t>(L));
        double acc = 0;
        for (std::int64_t i = b; i < e; ++i) {
          auto at = [&](auto* p) { return p ? p + i * L : nullptr; };
          std::fill(vrow.begin(), vrow.end(), Vr.at(i, 0));
          kernels::PwArgs row = pa;
          row.x = at(pa.x), row.y = at(pa.y), row.out = at(pa.out), row.gi = at(pa.gi), row.gt = at(pa.gt);
          row.gvec = at(pa.gvec), row.aux = vrow.data(), row.ga = want_gv ? garow.data() : nullptr;
          acc += kernels::GaussianNLLBlock_dispatch(params, row, 0, L);
          if (want_gv) {
            double sv = 0;
            for (const float gv : garow) sv += static_cast<double>(gv);
            GV.at(i, 0) = static_cast<float>(sv);
          }
        }
        return Sums<1>{acc};
      })[0];
    }
  }
  if (!simd) {
    total = parallel_sum<1>(R, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(L, 1)),
                            [&](std::int64_t b, std::int64_t e) {
      double acc = 0;
      for (std::int64_t i = b; i < e; ++i) {
        double row_gv = 0;
        for (std::int64_t l = 0; l < L; ++l) {
          const T v0 = Vr.at(i, l);
          const T v = v0 < eps ? eps : v0;  // NaN stays NaN
          const T d = X.at(i, l) - Y.at(i, l);
          if (has_forward(pass)) {
            const T li = T(0.5) * (std::log(v) + d * d / v) + c;
            if (out_none) O.at(i, l) = li;
            else acc += static_cast<double>(li);
          }
          if (has_backward(pass)) {
            const T up = use_g_tensor ? G.at(i, l) : scale;
            const T gx = up * d / v;
            GI.at(i, l) = gx;
            if (want_gt) GT.at(i, l) = -gx;
            if (want_gv) {
              const T gv = up * T(0.5) * (T(1) / v - d * d / (v * v));
              if (per_row) row_gv += static_cast<double>(gv);
              else GV.at(i, l) = gv;
            }
          }
        }
        if (want_gv && per_row) GV.at(i, 0) = static_cast<T>(row_gv);
      }
      return Sums<1>{acc};
    })[0];
  }
  finish_pass(pass, r, out, total, n, [&] { os.flush(); }, [&] {
    gis.flush();
    if (want_gt) gts.flush();
    if (want_gv) gvs.flush();
  });
}

}  // namespace

#define LOSSKIT_GAUSSIAN_NLL_API(T)                                                                          \
  void gaussian_nll_loss(ConstView<T> input, ConstView<T> target, ConstView<T> var, TensorView<T> out,      \
                         const GaussianNLLLossOptions& opts) {                                              \
    run<T>(Pass::Forward, input, target, var, out, {}, {}, {}, {}, opts);                                    \
  }                                                                                                          \
  Tensor<T> gaussian_nll_loss(ConstView<T> input, ConstView<T> target, ConstView<T> var,                   \
                              const GaussianNLLLossOptions& opts) {                                         \
    Tensor<T> out;                                                                                           \
    run<T>(Pass::Forward, input, target, var, {}, {}, {}, {}, {}, opts, &out);                               \
    return out;                                                                                              \
  }                                                                                                          \
  void gaussian_nll_loss_backward(ConstView<T> grad_output, ConstView<T> input, ConstView<T> target,         \
                                  ConstView<T> var, TensorView<T> grad_input, TensorView<T> grad_target,    \
                                  TensorView<T> grad_var, const GaussianNLLLossOptions& opts) {             \
    run<T>(Pass::Backward, input, target, var, {}, grad_output, grad_input, grad_target, grad_var, opts);    \
  }                                                                                                          \
  void gaussian_nll_loss_forward_backward(ConstView<T> input, ConstView<T> target, ConstView<T> var,       \
                                          TensorView<T> out, TensorView<T> grad_input,                      \
                                          TensorView<T> grad_target, TensorView<T> grad_var,                \
                                          const GaussianNLLLossOptions& opts) {                             \
    run<T>(Pass::ForwardBackward, input, target, var, out, {}, grad_input, grad_target, grad_var, opts);     \
  }

LOSSKIT_GAUSSIAN_NLL_API(float)
LOSSKIT_GAUSSIAN_NLL_API(double)

}  // namespace losskit
#endif  // HWY_ONCE
