// triplet_margin_loss and triplet_margin_with_distance_loss (built-in distances): one family.
// Rows of D values (embedding/rows.hpp); per row, three distances and one hinge.
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/math.hpp"
#include "core/parallel.hpp"
#include "embedding/rows.hpp"
#include "losskit/embedding.hpp"

namespace losskit {
namespace {

using detail::ND;
using detail::Pass;

/// A distance's row gradients when they are linear in the row's values: d dist / d u_d =
/// au u_d + bu w_d + cu and d dist / d w_d = aw u_d + bw w_d + cw, the coefficients fixed per row
/// (the backward loop is then a few multiply-adds per element, no divisions or branches).
struct Lin {
  double au, bu, cu, aw, bw, cw;
  Lin scaled(double k) const { return {k * au, k * bu, k * cu, k * aw, k * bw, k * cw}; }
  double du(double u, double w) const { return au * u + bu * w + cu; }
  double dw(double u, double w) const { return aw * u + bw * w + cw; }
};

/// |u - w + eps|_p over a row (PyTorch's pairwise_distance), in double.
struct PairwiseDist {
  double p, eps;
  struct Stats {
    double norm = 0, count = 1;  // count: ties of the max for p = inf
  };
  template <class T>
  Stats eval(const ND<const T>& U, const ND<const T>& W, std::int64_t i, std::int64_t D, bool simd) const {
    Stats s;
    if (p == 1 || p == 2) {
      const auto kind = p == 1 ? kernels::RowSum::AbsDiff : kernels::RowSum::SqDiff;
      const auto r = detail::row_sums(kind, U, W, i, eps, simd);
      s.norm = p == 1 ? r.s0 : std::sqrt(r.s0);
    } else if (std::isinf(p)) {
      double m = 0, c = 0;
      for (std::int64_t d = 0; d < D; ++d) {
        const double v = std::fabs(static_cast<double>(U.at(i, d)) - W.at(i, d) + eps);
        if (v > m || std::isnan(v)) m = v;  // a NaN stays (torch's max norm is NaN then)
      }
      for (std::int64_t d = 0; d < D; ++d) c += std::fabs(static_cast<double>(U.at(i, d)) - W.at(i, d) + eps) == m;
      s.norm = m;
      s.count = c;
    } else if (p == 0) {
      for (std::int64_t d = 0; d < D; ++d) s.norm += (static_cast<double>(U.at(i, d)) - W.at(i, d) + eps) != 0;
    } else {
      for (std::int64_t d = 0; d < D; ++d) s.norm += std::pow(std::fabs(static_cast<double>(U.at(i, d)) - W.at(i, d) + eps), p);
      s.norm = std::pow(s.norm, 1.0 / p);
    }
    return s;
  }
  /// d norm / d v_d for v = u - w + eps (as PyTorch's norm backward; 0 for a zero norm).
  double dv(double v, const Stats& s) const {
    const double sg = v > 0 ? 1.0 : (v < 0 ? -1.0 : 0.0);
    if (std::isinf(p)) return std::fabs(v) == s.norm ? sg / s.count : 0.0;
    if (p == 0) return 0.0;
    if (p == 1) return sg;
    if (s.norm == 0) return 0.0;
    if (p == 2) return v / s.norm;
    if (v == 0) return 0.0;
    return sg * std::pow(std::fabs(v) / s.norm, p - 1);
  }
  double du(double u, double w, const Stats& s) const { return dv(u - w + eps, s); }
  double dw(double u, double w, const Stats& s) const { return -dv(u - w + eps, s); }
  static double value(const Stats& s) { return s.norm; }
  /// p = 2: du = (u - w + eps) / norm (0 for a zero norm) and dw = -du, linear in u and w.
  bool linear() const { return p == 2; }
  Lin lin(const Stats& s) const {
    const double k = s.norm == 0 ? 0.0 : 1.0 / s.norm;
    return {k, -k, k * eps, -k, k, -k * eps};
  }
};

/// 1 - <u, w> / (max(|u|, eps) max(|w|, eps)) over a row (PyTorch's cosine_similarity). As in
/// PyTorch 2.x, the clamp passes gradients straight through: d max(|u|, eps) / du = u / |u| even
/// where the clamp is active (0 for u = 0), so cos's derivative is
///   w / (N_u N_w) - cos * u / (N_u |u|),   N = max(|.|, eps).
struct CosineDist {
  double eps;
  struct Stats {
    double n1 = 0, n2 = 0, cos = 0;
    double k1 = 0, k2 = 0;  ///< cos / (N_u |u|), cos / (N_w |w|): the norm terms of the gradient
  };
  template <class T>
  Stats eval(const ND<const T>& U, const ND<const T>& W, std::int64_t i, std::int64_t /*D*/, bool simd) const {
    const auto r = detail::row_sums(kernels::RowSum::Dot3, U, W, i, 0.0, simd);
    Stats s;
    const double r1 = std::sqrt(r.s1), r2 = std::sqrt(r.s2);
    s.n1 = std::max(r1, eps);
    s.n2 = std::max(r2, eps);
    s.cos = r.s0 / (s.n1 * s.n2);
    s.k1 = r1 == 0 ? 0.0 : s.cos / (s.n1 * r1);
    s.k2 = r2 == 0 ? 0.0 : s.cos / (s.n2 * r2);
    return s;
  }
  double du(double u, double w, const Stats& s) const { return -(w / (s.n1 * s.n2) - s.k1 * u); }
  double dw(double u, double w, const Stats& s) const { return -(u / (s.n1 * s.n2) - s.k2 * w); }
  static double value(const Stats& s) { return 1.0 - s.cos; }
  static bool linear() { return true; }
  static Lin lin(const Stats& s) {
    const double k = 1.0 / (s.n1 * s.n2);
    return {s.k1, -k, 0.0, -k, s.k2, 0.0};
  }
};

template <class T, class Dist>
void run_triplet(std::string_view fn, Pass pass, ConstView<T> anchor, ConstView<T> positive, ConstView<T> negative,
                 TensorView<T> out, ConstView<T> grad_output, TensorView<T> ga, TensorView<T> gp, TensorView<T> gn,
                 double margin, bool swap, Reduction reduction, const Dist& dist, Tensor<T>* owned) {
  using namespace detail;
  for (auto [name, v] : {std::pair{"anchor", anchor}, {"positive", positive}, {"negative", negative}}) {
    check_data(fn, name, v);
    if (v.ndim() == 0) fail(ErrorKind::Shape, fn, name, " must have at least 1 dim (the embedding), got a 0-d tensor");
  }
  EmbeddingRows<T, 3> a;
  a.prepare(fn, pass, reduction, {"anchor", "positive", "negative"}, {anchor, positive, negative}, nullptr,
            anchor.ndim() - 1, out, owned, grad_output, {ga, gp, gn},
            {"grad_anchor", "grad_positive", "grad_negative"});
  const T scale = static_cast<T>(reduce_scale(reduction, a.g_scalar, static_cast<double>(a.R)));
  const std::int64_t D = a.D;
  const auto& A = a.in[0];
  const auto& P = a.in[1];
  const auto& N = a.in[2];
  const bool simd = simd_rows<T>(D, {A.sD, P.sD, N.sD, a.want[0] ? a.gr[0].sD : 1, a.want[1] ? a.gr[1].sD : 1,
                                     a.want[2] ? a.gr[2].sD : 1});
  const auto sums = parallel_sum<1>(a.R, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(D, 1)),
                                    [&](std::int64_t b, std::int64_t e) {
    double acc = 0;
    for (std::int64_t i = b; i < e; ++i) {
      const auto s_ap = dist.eval(A, P, i, D, simd);
      const auto s_an = dist.eval(A, N, i, D, simd);
      const double d_ap = Dist::value(s_ap), d_an = Dist::value(s_an);
      double d_neg = d_an;
      typename Dist::Stats s_pn{};
      double d_pn = std::numeric_limits<double>::infinity();
      if (swap) {
        s_pn = dist.eval(P, N, i, D, simd);
        d_pn = Dist::value(s_pn);
        d_neg = detail::nan_min(d_an, d_pn);
      }
      const double h = margin + d_ap - d_neg;
      if (has_forward(pass)) {
        const T li = static_cast<T>(clamp_min0(h));  // NaN kept, as torch's clamp_min
        if (a.out_none) a.out.at(i, 0) = li;
        else acc += static_cast<double>(li);
      }
      if (has_backward(pass)) {
        // clamp_min passes the tie h == 0; minimum splits a tie evenly and, with a NaN
        // distance, passes the gradient to both (torch's minimum backward).
        const double G = h >= 0 ? static_cast<double>(a.upstream(i, scale)) : 0.0;
        double c_an = 1.0, c_pn = 0.0;
        if (swap) detail::nan_min_shares(d_an, d_pn, c_an, c_pn);
        if (dist.linear()) {
          // The same terms as below with each pair's coefficients scaled by G (and c) once.
          const Lin l_ap = dist.lin(s_ap).scaled(G);
          const bool an = c_an != 0, pn = c_pn != 0;  // a pair with c = 0 adds no term (not even NaN)
          const Lin l_an = an ? dist.lin(s_an).scaled(G * c_an) : Lin{};
          const Lin l_pn = pn ? dist.lin(s_pn).scaled(G * c_pn) : Lin{};
          // Each gradient row is then one linear combination of the rows of A, P and N (a pair's
          // rows only when it has a term).
          using LT = detail::LinTerm<T>;
          if (a.want[0]) {
            if (an)
              lin_row<T>(a.gr[0], i, {LT{&A, l_ap.au - l_an.au}, LT{&P, l_ap.bu}, LT{&N, -l_an.bu}},
                         l_ap.cu - l_an.cu, simd);
            else
              lin_row<T>(a.gr[0], i, {LT{&A, l_ap.au}, LT{&P, l_ap.bu}}, l_ap.cu, simd);
          }
          if (a.want[1]) {
            if (pn)
              lin_row<T>(a.gr[1], i, {LT{&A, l_ap.aw}, LT{&P, l_ap.bw - l_pn.au}, LT{&N, -l_pn.bu}},
                         l_ap.cw - l_pn.cu, simd);
            else
              lin_row<T>(a.gr[1], i, {LT{&A, l_ap.aw}, LT{&P, l_ap.bw}}, l_ap.cw, simd);
          }
          if (a.want[2]) {
            if (an && pn)
              lin_row<T>(a.gr[2], i, {LT{&A, -l_an.aw}, LT{&P, -l_pn.aw}, LT{&N, -(l_an.bw + l_pn.bw)}},
                         -(l_an.cw + l_pn.cw), simd);
            else if (an)
              lin_row<T>(a.gr[2], i, {LT{&A, -l_an.aw}, LT{&N, -l_an.bw}}, -l_an.cw, simd);
            else if (pn)
              lin_row<T>(a.gr[2], i, {LT{&P, -l_pn.aw}, LT{&N, -l_pn.bw}}, -l_pn.cw, simd);
            else
              lin_row<T>(a.gr[2], i, {}, 0.0, simd);
          }
          continue;
        }
        if constexpr (std::is_same_v<Dist, PairwiseDist> && std::is_same_v<T, float>) {
          if (simd && dist.p == 1) {
            // p = 1: every gradient entry is a combination of the pairs' signs (kernels/rows.hpp).
            kernels::SignGrads f;
            f.eps = dist.eps;
            auto pair = [&](const ND<const T>& U, const ND<const T>& W) {
              f.u[f.pairs] = &U.at(i, 0), f.w[f.pairs] = &W.at(i, 0);
              return f.pairs++;
            };
            const int ap = pair(A, P);
            f.c[0][ap] = G, f.c[1][ap] = -G;
            if (c_an != 0) {
              const int an = pair(A, N);
              f.c[0][an] = -(G * c_an), f.c[2][an] = G * c_an;
            }
            if (c_pn != 0) {
              const int pn = pair(P, N);
              f.c[1][pn] = -(G * c_pn), f.c[2][pn] = G * c_pn;
            }
            for (int k = 0; k < 3; ++k) f.out[k] = a.want[k] ? &a.gr[k].at(i, 0) : nullptr;
            kernels::row_sign_grads(f, D);
            continue;
          }
        }
        for (std::int64_t d = 0; d < D; ++d) {
          const double av = A.at(i, d), pv = P.at(i, d), nv = N.at(i, d);
          double g_a = G * dist.du(av, pv, s_ap), g_p = G * dist.dw(av, pv, s_ap), g_n = 0;
          if (c_an != 0) {
            g_a -= G * c_an * dist.du(av, nv, s_an);
            g_n -= G * c_an * dist.dw(av, nv, s_an);
          }
          if (c_pn != 0) {
            g_p -= G * c_pn * dist.du(pv, nv, s_pn);
            g_n -= G * c_pn * dist.dw(pv, nv, s_pn);
          }
          if (a.want[0]) a.gr[0].at(i, d) = static_cast<T>(g_a);
          if (a.want[1]) a.gr[1].at(i, d) = static_cast<T>(g_p);
          if (a.want[2]) a.gr[2].at(i, d) = static_cast<T>(g_n);
        }
      }
    }
    return Sums<1>{acc};
  });
  a.finish(pass, reduction, out, sums[0]);
}

/// PyTorch 2.x's functionals refuse margin <= 0 (a NaN margin passes, as there).
void check_margin(std::string_view fn, double margin) {
  if (margin <= 0) detail::fail(ErrorKind::Value, fn, "margin = ", margin, " must be > 0");
}

void check_p(std::string_view fn, double p) {
  if (!(p >= 0)) detail::fail(ErrorKind::Value, fn, "p = ", p, " must be >= 0 (or infinity)");
}

template <class T>
void run(Pass pass, ConstView<T> a, ConstView<T> p, ConstView<T> n, TensorView<T> out, ConstView<T> g,
         TensorView<T> ga, TensorView<T> gp, TensorView<T> gn, const TripletMarginLossOptions& o, Tensor<T>* owned) {
  constexpr std::string_view fn = "triplet_margin_loss";
  check_margin(fn, o.margin);
  check_p(fn, o.p);
  run_triplet<T>(fn, pass, a, p, n, out, g, ga, gp, gn, o.margin, o.swap, o.reduction, PairwiseDist{o.p, o.eps}, owned);
}

template <class T>
void run(Pass pass, ConstView<T> a, ConstView<T> p, ConstView<T> n, TensorView<T> out, ConstView<T> g,
         TensorView<T> ga, TensorView<T> gp, TensorView<T> gn, const TripletMarginWithDistanceLossOptions& o,
         Tensor<T>* owned) {
  constexpr std::string_view fn = "triplet_margin_with_distance_loss";
  check_margin(fn, o.margin);
  if (o.distance == TripletDistance::Pairwise) {
    check_p(fn, o.p);
    run_triplet<T>(fn, pass, a, p, n, out, g, ga, gp, gn, o.margin, o.swap, o.reduction, PairwiseDist{o.p, o.eps},
                   owned);
  } else if (o.distance == TripletDistance::Cosine) {
    if (!(o.cosine_eps >= 0)) detail::fail(ErrorKind::Value, fn, "cosine_eps = ", o.cosine_eps, " must be >= 0");
    run_triplet<T>(fn, pass, a, p, n, out, g, ga, gp, gn, o.margin, o.swap, o.reduction, CosineDist{o.cosine_eps},
                   owned);
  } else {
    detail::fail(ErrorKind::Value, fn, "distance = ", static_cast<int>(o.distance), " is not a TripletDistance");
  }
}

}  // namespace

#define LOSSKIT_DEFINE_TRIPLET_LOSS(name, OptsT, T)                                                           \
  void name(ConstView<T> anchor, ConstView<T> positive, ConstView<T> negative, TensorView<T> out,           \
            const OptsT& opts) {                                                                             \
    run<T>(Pass::Forward, anchor, positive, negative, out, {}, {}, {}, {}, opts, nullptr);                   \
  }                                                                                                          \
  Tensor<T> name(ConstView<T> anchor, ConstView<T> positive, ConstView<T> negative, const OptsT& opts) {    \
    Tensor<T> out;                                                                                           \
    run<T>(Pass::Forward, anchor, positive, negative, {}, {}, {}, {}, {}, opts, &out);                       \
    return out;                                                                                              \
  }                                                                                                          \
  void name##_backward(ConstView<T> grad_output, ConstView<T> anchor, ConstView<T> positive,                 \
                       ConstView<T> negative, TensorView<T> grad_anchor, TensorView<T> grad_positive,        \
                       TensorView<T> grad_negative, const OptsT& opts) {                                     \
    run<T>(Pass::Backward, anchor, positive, negative, {}, grad_output, grad_anchor, grad_positive,          \
           grad_negative, opts, nullptr);                                                                    \
  }                                                                                                          \
  void name##_forward_backward(ConstView<T> anchor, ConstView<T> positive, ConstView<T> negative,            \
                               TensorView<T> out, TensorView<T> grad_anchor, TensorView<T> grad_positive,    \
                               TensorView<T> grad_negative, const OptsT& opts) {                             \
    run<T>(Pass::ForwardBackward, anchor, positive, negative, out, {}, grad_anchor, grad_positive,           \
           grad_negative, opts, nullptr);                                                                    \
  }

LOSSKIT_DEFINE_TRIPLET_LOSS(triplet_margin_loss, TripletMarginLossOptions, float)
LOSSKIT_DEFINE_TRIPLET_LOSS(triplet_margin_loss, TripletMarginLossOptions, double)
LOSSKIT_DEFINE_TRIPLET_LOSS(triplet_margin_with_distance_loss, TripletMarginWithDistanceLossOptions, float)
LOSSKIT_DEFINE_TRIPLET_LOSS(triplet_margin_with_distance_loss, TripletMarginWithDistanceLossOptions, double)

}  // namespace losskit
