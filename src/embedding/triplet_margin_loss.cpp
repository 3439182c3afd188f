// triplet_margin_loss and triplet_margin_with_distance_loss (built-in distances): one family.
// Rows of D values (embedding/rows.hpp); per row, three distances and one hinge.
#include <cmath>
#include <limits>

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
  Stats eval(const ND<const T>& U, const ND<const T>& W, std::int64_t i, std::int64_t D) const {
    Stats s;
    if (std::isinf(p)) {
      double m = 0, c = 0;
      for (std::int64_t d = 0; d < D; ++d) m = std::max(m, std::fabs(static_cast<double>(U.at(i, d)) - W.at(i, d) + eps));
      for (std::int64_t d = 0; d < D; ++d) c += std::fabs(static_cast<double>(U.at(i, d)) - W.at(i, d) + eps) == m;
      s.norm = m;
      s.count = c;
    } else if (p == 0) {
      for (std::int64_t d = 0; d < D; ++d) s.norm += (static_cast<double>(U.at(i, d)) - W.at(i, d) + eps) != 0;
    } else if (p == 1) {
      for (std::int64_t d = 0; d < D; ++d) s.norm += std::fabs(static_cast<double>(U.at(i, d)) - W.at(i, d) + eps);
    } else if (p == 2) {
      for (std::int64_t d = 0; d < D; ++d) {
        const double v = static_cast<double>(U.at(i, d)) - W.at(i, d) + eps;
        s.norm += v * v;
      }
      s.norm = std::sqrt(s.norm);
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

/// 1 - <u, w> / (max(|u|, eps) max(|w|, eps)) over a row (PyTorch's cosine_similarity, whose
/// clamp is not differentiated).
struct CosineDist {
  double eps;
  struct Stats {
    double n1 = 0, n2 = 0, cos = 0;
  };
  template <class T>
  Stats eval(const ND<const T>& U, const ND<const T>& W, std::int64_t i, std::int64_t D) const {
    double uw = 0, uu = 0, ww = 0;
    for (std::int64_t d = 0; d < D; ++d) {
      const double u = U.at(i, d), w = W.at(i, d);
      uw += u * w;
      uu += u * u;
      ww += w * w;
    }
    Stats s;
    s.n1 = std::max(std::sqrt(uu), eps);
    s.n2 = std::max(std::sqrt(ww), eps);
    s.cos = uw / (s.n1 * s.n2);
    return s;
  }
  double du(double u, double w, const Stats& s) const { return -(w / (s.n1 * s.n2) - s.cos * u / (s.n1 * s.n1)); }
  double dw(double u, double w, const Stats& s) const { return -(u / (s.n1 * s.n2) - s.cos * w / (s.n2 * s.n2)); }
  static double value(const Stats& s) { return 1.0 - s.cos; }
  static bool linear() { return true; }
  static Lin lin(const Stats& s) {
    const double k = 1.0 / (s.n1 * s.n2);
    return {s.cos / (s.n1 * s.n1), -k, 0.0, -k, s.cos / (s.n2 * s.n2), 0.0};
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
  RowArgs<T, 3> a;
  a.prepare(fn, pass, reduction, {"anchor", "positive", "negative"}, {anchor, positive, negative}, nullptr,
            anchor.ndim() - 1, out, owned, grad_output, {ga, gp, gn},
            {"grad_anchor", "grad_positive", "grad_negative"});
  const T scale = static_cast<T>(reduce_scale(reduction, a.g_scalar, static_cast<double>(a.R)));
  const std::int64_t D = a.D;
  const auto& A = a.in[0];
  const auto& P = a.in[1];
  const auto& N = a.in[2];
  const auto sums = parallel_sum<1>(a.R, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(D, 1)),
                                    [&](std::int64_t b, std::int64_t e) {
    double acc = 0;
    for (std::int64_t i = b; i < e; ++i) {
      const auto s_ap = dist.eval(A, P, i, D);
      const auto s_an = dist.eval(A, N, i, D);
      const double d_ap = Dist::value(s_ap), d_an = Dist::value(s_an);
      double d_neg = d_an;
      typename Dist::Stats s_pn{};
      double d_pn = std::numeric_limits<double>::infinity();
      if (swap) {
        s_pn = dist.eval(P, N, i, D);
        d_pn = Dist::value(s_pn);
        d_neg = std::min(d_an, d_pn);
      }
      const double h = margin + d_ap - d_neg;
      if (has_forward(pass)) {
        const T li = static_cast<T>(h > 0 ? h : 0.0);
        if (a.out_none) a.out.at(i, 0) = li;
        else acc += static_cast<double>(li);
      }
      if (has_backward(pass)) {
        // clamp_min passes the tie h == 0; minimum splits a tie evenly (PyTorch's min backward).
        const double G = h >= 0 ? static_cast<double>(a.upstream(i, scale)) : 0.0;
        const double c_an = swap ? (d_an < d_pn ? 1.0 : (d_an == d_pn ? 0.5 : 0.0)) : 1.0;
        const double c_pn = swap ? (d_pn < d_an ? 1.0 : (d_an == d_pn ? 0.5 : 0.0)) : 0.0;
        if (dist.linear()) {
          // The same terms as below with each pair's coefficients scaled by G (and c) once.
          const Lin l_ap = dist.lin(s_ap).scaled(G);
          const bool an = c_an != 0, pn = c_pn != 0;  // a pair with c = 0 adds no term (not even NaN)
          const Lin l_an = an ? dist.lin(s_an).scaled(G * c_an) : Lin{};
          const Lin l_pn = pn ? dist.lin(s_pn).scaled(G * c_pn) : Lin{};
          for (std::int64_t d = 0; d < D; ++d) {
            const double av = A.at(i, d), pv = P.at(i, d), nv = N.at(i, d);
            if (a.want[0]) a.gr[0].at(i, d) = static_cast<T>(l_ap.du(av, pv) - (an ? l_an.du(av, nv) : 0.0));
            if (a.want[1]) a.gr[1].at(i, d) = static_cast<T>(l_ap.dw(av, pv) - (pn ? l_pn.du(pv, nv) : 0.0));
            if (a.want[2])
              a.gr[2].at(i, d) = static_cast<T>(0.0 - (an ? l_an.dw(av, nv) : 0.0) - (pn ? l_pn.dw(pv, nv) : 0.0));
          }
          continue;
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

void check_p(std::string_view fn, double p) {
  if (!(p >= 0)) detail::fail(ErrorKind::Value, fn, "p = ", p, " must be >= 0 (or infinity)");
}

template <class T>
void run(Pass pass, ConstView<T> a, ConstView<T> p, ConstView<T> n, TensorView<T> out, ConstView<T> g,
         TensorView<T> ga, TensorView<T> gp, TensorView<T> gn, const TripletMarginLossOptions& o, Tensor<T>* owned) {
  constexpr std::string_view fn = "triplet_margin_loss";
  check_p(fn, o.p);
  run_triplet<T>(fn, pass, a, p, n, out, g, ga, gp, gn, o.margin, o.swap, o.reduction, PairwiseDist{o.p, o.eps}, owned);
}

template <class T>
void run(Pass pass, ConstView<T> a, ConstView<T> p, ConstView<T> n, TensorView<T> out, ConstView<T> g,
         TensorView<T> ga, TensorView<T> gp, TensorView<T> gn, const TripletMarginWithDistanceLossOptions& o,
         Tensor<T>* owned) {
  constexpr std::string_view fn = "triplet_margin_with_distance_loss";
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
