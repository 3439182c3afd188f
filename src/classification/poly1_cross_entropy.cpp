// poly1_cross_entropy: softmax cross-entropy + epsilon * (1 - p_t), one loss per row of class
// scores on the shared row driver (core/rowwise.hpp) and the softmax row kernels.
#include <cmath>

#include "core/api.hpp"
#include "core/rowwise.hpp"
#include "kernels/softmax.hpp"
#include "kernels/softmax_row.hpp"
#include "losskit/classification.hpp"

namespace losskit {
namespace {

using detail::Pass;

/// l = sum_c t_c (lse - x_c) + eps sum_c t_c (1 - p_c); t one-hot for class ids.
template <class T, class TT>
struct Poly1Kernel {
  double eps;
  double t_of(const detail::RowIn<T, TT>& r, std::int64_t c) const {
    if constexpr (std::is_same_v<TT, std::int64_t>) return (*r.t == c) ? 1.0 : 0.0;
    else return static_cast<double>(r.t[c * r.st]);
  }
  double operator()(const detail::RowIn<T, TT>& r, T* g, std::int64_t sg, double gs) const {
    if constexpr (std::is_same_v<T, float> && std::is_same_v<TT, std::int64_t>) {
      if (r.sx == 1 && (!g || sg == 1)) return simd_ids(r, g, gs);
    }
    const kernels::RowStats rs = kernels::row_stats<T>(r.x, r.sx, r.C, nullptr, false);
    double ce = 0, one_minus_pt = 0, A = 0, S = 0;
    auto visit = [&](std::int64_t c) {
      const double t = t_of(r, c);
      if (t == 0) return;  // 0 * log 0 = 0: masked (-inf) classes stay finite
      const double lp = rs.logp(static_cast<double>(r.x[c * r.sx]));
      ce -= t * lp;
      one_minus_pt += t * -std::expm1(lp);
      A += t;
      S += t * std::exp(lp);
    };
    if constexpr (std::is_same_v<TT, std::int64_t>) visit(*r.t);
    else
      for (std::int64_t c = 0; c < r.C; ++c) visit(c);
    if (g) {
      // d l / d x_k = p_k (A + eps S) - t_k (1 + eps p_k)
      for (std::int64_t c = 0; c < r.C; ++c) {
        const double p = std::exp(rs.logp(static_cast<double>(r.x[c * r.sx])));
        g[c * sg] = static_cast<T>(gs * (p * (A + eps * S) - t_of(r, c) * (1.0 + eps * p)));
      }
    }
    return ce + eps * one_minus_pt;
  }
  /// float32 rows with contiguous classes and a class id: the gradient is cross-entropy's times
  /// (1 + eps p_y), so the SIMD cross-entropy row kernel (kernels/softmax.hpp) runs twice: once
  /// for ce = lse - x_y (float64, lse within about 2e-7), then with the upstream gradient
  /// gs (1 + eps p_y), p_y = exp(-ce). loss = ce + eps (1 - p_y) = ce - eps expm1(-ce).
  double simd_ids(const detail::RowIn<T, TT>& r, T* g, double gs) const {
    const double ce =
        kernels::ce_id_row_scaled(r.x, r.C, r.t, g, [&](double v) { return gs * (1.0 + eps * std::exp(-v)); });
    return ce - eps * std::expm1(-ce);
  }
};

template <class T, class TT>
void run_poly1(Pass pass, ConstView<T> input, ConstView<TT> target, TensorView<T> out, ConstView<T> grad_output,
               TensorView<T> grad_input, const Poly1Options& o, Tensor<T>* owned = nullptr) {
  using namespace detail;
  constexpr std::string_view fn = "poly1_cross_entropy";
  constexpr bool ids = std::is_same_v<TT, std::int64_t>;
  if (!std::isfinite(o.epsilon)) fail(ErrorKind::Value, fn, "epsilon = ", o.epsilon, " must be finite");
  if (!ids && o.ignore_index >= 0)
    fail(ErrorKind::Value, fn, "ignore_index = ", o.ignore_index,
         " is not supported with probability targets (it must be negative)");
  const RowConfig cfg{.fn = fn,
                      .reduction = o.reduction,
                      .target = ids ? RowTarget::ClassIds : RowTarget::SameShape,
                      .ignore_index = o.ignore_index};
  run_rows(cfg, pass,
           RowArgs<T, TT>{.input = input, .target = target, .out = out, .grad_output = grad_output,
                          .grad_input = grad_input, .owned = owned},
           Poly1Kernel<T, TT>{o.epsilon});
}
template <class T>
void run_poly1_ids(Pass pass, ConstView<T> input, ConstView<std::int64_t> target, TensorView<T> out,
                   ConstView<T> grad_output, TensorView<T> grad_input, const Poly1Options& o,
                   Tensor<T>* owned = nullptr) {
  run_poly1<T, std::int64_t>(pass, input, target, out, grad_output, grad_input, o, owned);
}
template <class T>
void run_poly1_probs(Pass pass, ConstView<T> input, ConstView<T> target, TensorView<T> out, ConstView<T> grad_output,
                     TensorView<T> grad_input, const Poly1Options& o, Tensor<T>* owned = nullptr) {
  run_poly1<T, T>(pass, input, target, out, grad_output, grad_input, o, owned);
}

}  // namespace

LOSSKIT_DEFINE_LOSS(poly1_cross_entropy, float, std::int64_t, Poly1Options, run_poly1_ids)
LOSSKIT_DEFINE_LOSS(poly1_cross_entropy, double, std::int64_t, Poly1Options, run_poly1_ids)
LOSSKIT_DEFINE_LOSS(poly1_cross_entropy, float, float, Poly1Options, run_poly1_probs)
LOSSKIT_DEFINE_LOSS(poly1_cross_entropy, double, double, Poly1Options, run_poly1_probs)

}  // namespace losskit
