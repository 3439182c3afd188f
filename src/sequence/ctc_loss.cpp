// ctc_loss: Connectionist Temporal Classification (torch.nn.functional.ctc_loss semantics).
//
// One sequence at a time, in parallel over the batch. For sequence n with T_n steps and the
// extended target l' (2L + 1 states: blanks around and between the labels):
//   alpha_0(0) = lp_0(blank), alpha_0(1) = lp_0(l'_1), -inf elsewhere;
//   alpha_t(s) = lp_t(l'_s) + log(e^alpha_{t-1}(s) + e^alpha_{t-1}(s-1) + [skip_s] e^alpha_{t-1}(s-2)),
//     skip_s: l'_s is a label that differs from l'_{s-2};
//   loss = -log(e^alpha_{T-1}(2L) + e^alpha_{T-1}(2L-1)).
// beta runs the same recursion backwards from the two final states, and the gradient row at t
// is exp(lp_t) - gamma_t with gamma_t(c) = sum_{l'_s = c} exp(alpha_t(s) + beta_t(s) + loss - lp_t(c)).
// Each three-term log-sum-exp is PyTorch's: m = the largest term (0 when all are -inf), then
// m + log(sum e^(x - m)).
//
// float32 runs the states as SIMD lanes (this file is compiled once per target; the emissions are
// gathered from the time step's row of class scores); float64 runs the scalar form below, which
// is also the reference of the SIMD form in the tests.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "sequence/ctc_loss.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include "kernels/simd-inl.h"

#ifndef LOSSKIT_SEQUENCE_CTC_ARGS_
#define LOSSKIT_SEQUENCE_CTC_ARGS_
namespace losskit::kernels {
/// One sequence for the float32 kernel. Rows of log-probabilities and gradients are contiguous
/// along the classes; `ext` and `skip` are padded with zeros to `width` + 2 vectors of lanes.
struct CtcSeqF {
  const float* lp = nullptr;     ///< row t at lp + t * lp_t
  std::int64_t lp_t = 0;
  std::int64_t steps = 0;        ///< T_n >= 1
  std::int64_t C = 0;
  const std::int32_t* ext = nullptr;  ///< the class id of each state
  const float* skip = nullptr;   ///< 1 where state s may come from s - 2
  std::int64_t S = 0;            ///< 2L + 1
  std::int64_t width = 0;        ///< S rounded up to whole vectors
  float* alpha = nullptr;        ///< steps * (width + 2) scratch
  float* beta = nullptr;         ///< 2 * (width + 2 + lanes) scratch
  float* gamma = nullptr;        ///< width + C scratch
  float* grad = nullptr;         ///< row t at grad + t * grad_t; null for the forward only
  std::int64_t grad_t = 0;
  float scale = 0;               ///< the upstream gradient of this sequence's loss
};
}  // namespace losskit::kernels
#endif

HWY_BEFORE_NAMESPACE();
namespace losskit::kernels {
namespace HWY_NAMESPACE {

namespace {
using DI = hn::RebindToSigned<DF>;

/// lp + log(e^(a-m) + e^(b-m) + e^(c-m)), m = max (0 when all are -inf), with PyTorch's special
/// values: NaN if a term is NaN or +inf.
HWY_INLINE VF Lse3(DF d, VF a, VF b, VF c, VF lp) {
  const VF m = hn::Max(hn::Max(a, b), c);
  const VF e = hn::Add(hn::Add(ExpNonPos(d, hn::Sub(a, m)), ExpNonPos(d, hn::Sub(b, m))), ExpNonPos(d, hn::Sub(c, m)));
  // m = -inf: e is 0 and LogNormal(0) finite, so r = -inf + lp (-inf, or NaN for lp NaN/+inf).
  const VF r = hn::Add(hn::Add(m, LogNormal(d, e)), lp);
  const VF inf = hn::Set(d, std::numeric_limits<float>::infinity());
  const auto bad = hn::Or(hn::IsNaN(hn::Add(hn::Add(a, b), c)), hn::Eq(m, inf));
  return hn::IfThenElse(bad, hn::Set(d, std::numeric_limits<float>::quiet_NaN()), r);
}
}  // namespace

/// The float32 lanes of this target: the padding unit of CtcSeqF's arrays.
std::int64_t CtcLanesF32() { return static_cast<std::int64_t>(hn::Lanes(DF())); }

/// The loss of one sequence (and its gradient rows t < steps when q.grad is set).
double CtcSequenceF32(const CtcSeqF& q) {
  const DF d;
  const DI di;
  const std::size_t L = hn::Lanes(d);
  const VF ninf = hn::Set(d, -std::numeric_limits<float>::infinity());
  const std::int64_t R = q.width + 2;  // alpha row: 2 leading -inf pads, then width states
  auto row = [&](std::int64_t t) { return q.lp + t * q.lp_t; };

  // alpha
  float* a0 = q.alpha + 2;
  a0[-2] = a0[-1] = -std::numeric_limits<float>::infinity();
  for (std::int64_t s = 0; s < q.width; ++s) a0[s] = -std::numeric_limits<float>::infinity();
  a0[0] = row(0)[q.ext[0]];
  if (q.S > 1) a0[1] = row(0)[q.ext[1]];
  for (std::int64_t t = 1; t < q.steps; ++t) {
    const float* prev = q.alpha + (t - 1) * R + 2;
    float* cur = q.alpha + t * R + 2;
    cur[-2] = cur[-1] = -std::numeric_limits<float>::infinity();
    const float* lpt = row(t);
    for (std::int64_t s = 0; s < q.width; s += static_cast<std::int64_t>(L)) {
      const VF a = hn::LoadU(d, prev + s), b = hn::LoadU(d, prev + s - 1);
      const VF c = hn::IfThenElse(hn::Ne(hn::LoadU(d, q.skip + s), hn::Zero(d)), hn::LoadU(d, prev + s - 2), ninf);
      const VF lp = hn::GatherIndex(d, lpt, hn::LoadU(di, q.ext + s));
      hn::StoreU(Lse3(d, a, b, c, lp), d, cur + s);
    }
  }
  const float* last = q.alpha + (q.steps - 1) * R + 2;
  const float l1 = last[q.S - 1], l2 = q.S > 1 ? last[q.S - 2] : -std::numeric_limits<float>::infinity();
  float m = std::max(l1, l2);
  if (m == -std::numeric_limits<float>::infinity()) m = 0;
  const float nll = -(std::log(std::exp(l1 - m) + std::exp(l2 - m)) + m);
  if (q.grad == nullptr || !std::isfinite(nll)) return nll;

  // beta, two rows with -inf from S on; gamma and the gradient row of each step
  const std::int64_t RB = q.width + 2 + static_cast<std::int64_t>(L);
  float* bn = q.beta;       // beta_{t+1}
  float* bc = q.beta + RB;  // beta_t
  for (std::int64_t s = 0; s < RB; ++s) bn[s] = bc[s] = -std::numeric_limits<float>::infinity();
  const VF vnll = hn::Set(d, nll);
  const VF vS = hn::Set(d, static_cast<float>(q.S));
  float* acc = q.gamma + q.width;
  auto finish_row = [&](std::int64_t t, const float* bt) {
    const float* at = q.alpha + t * R + 2;
    const float* lpt = row(t);
    for (std::int64_t s = 0; s < q.width; s += static_cast<std::int64_t>(L)) {
      const VF lp = hn::GatherIndex(d, lpt, hn::LoadU(di, q.ext + s));
      const VF v = hn::Sub(hn::Add(hn::Add(hn::LoadU(d, at + s), hn::LoadU(d, bt + s)), vnll), lp);
      hn::StoreU(hn::IfThenElse(hn::IsNaN(v), v, ExpNonPos(d, hn::Min(v, hn::Zero(d)))), d, q.gamma + s);
    }
    for (std::int64_t c = 0; c < q.C; ++c) acc[c] = 0;
    for (std::int64_t s = 0; s < q.S; ++s) acc[q.ext[s]] += q.gamma[s];
    float* g = q.grad + t * q.grad_t;
    const VF scale = hn::Set(d, q.scale);
    const VF nan = hn::Set(d, std::numeric_limits<float>::quiet_NaN());
    std::int64_t c = 0;
    for (; c + static_cast<std::int64_t>(L) <= q.C; c += static_cast<std::int64_t>(L)) {
      const VF lp = hn::LoadU(d, lpt + c);
      const VF occ = hn::IfThenElse(hn::Eq(lp, ninf), nan, hn::LoadU(d, acc + c));
      hn::StoreU(hn::Mul(hn::Sub(ExpFull(d, lp), occ), scale), d, g + c);
    }
    for (; c < q.C; ++c) {
      const float lp = lpt[c];
      const float occ = lp == -std::numeric_limits<float>::infinity() ? std::numeric_limits<float>::quiet_NaN() : acc[c];
      g[c] = (std::exp(lp) - occ) * q.scale;
    }
  };
  const float* lpl = row(q.steps - 1);
  bn[q.S - 1] = lpl[q.ext[q.S - 1]];
  if (q.S > 1) bn[q.S - 2] = lpl[q.ext[q.S - 2]];
  finish_row(q.steps - 1, bn);
  for (std::int64_t t = q.steps - 2; t >= 0; --t) {
    const float* lpt = row(t);
    for (std::int64_t s = 0; s < q.width; s += static_cast<std::int64_t>(L)) {
      const VF a = hn::LoadU(d, bn + s), b = hn::LoadU(d, bn + s + 1);
      const VF c = hn::IfThenElse(hn::Ne(hn::LoadU(d, q.skip + s + 2), hn::Zero(d)), hn::LoadU(d, bn + s + 2), ninf);
      const VF lp = hn::GatherIndex(d, lpt, hn::LoadU(di, q.ext + s));
      const VF idx = hn::Iota(d, static_cast<float>(s));
      hn::StoreU(hn::IfThenElse(hn::Lt(idx, vS), Lse3(d, a, b, c, lp), ninf), d, bc + s);
    }
    finish_row(t, bc);
    std::swap(bn, bc);
  }
  return nll;
}

}  // namespace HWY_NAMESPACE
}  // namespace losskit::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/check.hpp"
#include "core/class_args.hpp"
#include "core/outputs.hpp"
#include "core/parallel.hpp"
#include "losskit/sequence.hpp"

namespace losskit::kernels {
HWY_EXPORT(CtcSequenceF32);
HWY_EXPORT(CtcLanesF32);
}  // namespace losskit::kernels

namespace losskit {
namespace {
using detail::fail;
using detail::Pass;
constexpr std::string_view kFn = "ctc_loss";

/// Where each sequence's labels are, after validation.
struct CtcPlan {
  std::int64_t T = 0, N = 0, C = 0;
  bool batched = true;
  std::vector<std::int64_t> offset;  ///< element offset of sequence n's first label in targets
  std::int64_t step = 1;             ///< element stride between its labels
  Shape out_shape;                   ///< (N) for Reduction::None, 0-d otherwise and when unbatched
};

/// Checks targets and lengths against a batch of N sequences of at most T steps (T < 0: no
/// bound), and locates each sequence's labels. Writes nothing.
CtcPlan plan_targets(std::string_view fn, std::int64_t N, std::int64_t T, bool batched, const ConstView<std::int64_t>& tg,
                     std::span<const std::int64_t> il, std::span<const std::int64_t> tl) {
  detail::check_data(fn, "targets", tg);
  CtcPlan p;
  p.N = N;
  p.T = T;
  p.batched = batched;
  if (static_cast<std::int64_t>(il.size()) != N)
    fail(ErrorKind::Shape, fn, "input_lengths has ", il.size(), " values but the batch has ", N, " sequences");
  if (static_cast<std::int64_t>(tl.size()) != N)
    fail(ErrorKind::Shape, fn, "target_lengths has ", tl.size(), " values but the batch has ", N, " sequences");
  std::int64_t total = 0;
  for (std::int64_t n = 0; n < N; ++n) {
    const auto i = static_cast<std::size_t>(n);
    if (il[i] < 0) fail(ErrorKind::Shape, fn, "input_lengths[", n, "] = ", il[i], " is negative");
    if (T >= 0 && il[i] > T)
      fail(ErrorKind::Shape, fn, "input_lengths[", n, "] = ", il[i], " is longer than log_probs (", T, " steps)");
    if (tl[i] < 0) fail(ErrorKind::Shape, fn, "target_lengths[", n, "] = ", tl[i], " is negative");
    total += tl[i];
  }
  p.offset.resize(static_cast<std::size_t>(N));
  if (tg.ndim() == 1) {
    if (tg.size(0) != total)
      fail(ErrorKind::Shape, fn, "targets is 1-D (the sequences concatenated) with ", tg.size(0),
           " labels but target_lengths sum to ", total);
    p.step = tg.stride(0);
    std::int64_t at = 0;
    for (std::int64_t n = 0; n < N; ++n) {
      p.offset[static_cast<std::size_t>(n)] = at * tg.stride(0);
      at += tl[static_cast<std::size_t>(n)];
    }
  } else if (tg.ndim() == 2) {
    if (tg.size(0) != N)
      fail(ErrorKind::Shape, fn, "targets has shape ", tg.shape().str(), " but the batch has ", N, " sequences");
    for (std::int64_t n = 0; n < N; ++n)
      if (tl[static_cast<std::size_t>(n)] > tg.size(1))
        fail(ErrorKind::Shape, fn, "target_lengths[", n, "] = ", tl[static_cast<std::size_t>(n)],
             " is longer than the padded targets (", tg.size(1), " labels per sequence)");
    p.step = tg.stride(1);
    for (std::int64_t n = 0; n < N; ++n) p.offset[static_cast<std::size_t>(n)] = n * tg.stride(0);
  } else {
    fail(ErrorKind::Shape, fn, "targets must be 1-D (concatenated) or 2-D (padded), got shape ", tg.shape().str());
  }
  return p;
}

template <class F>
CtcPlan plan(const ConstView<F>& lp, const ConstView<std::int64_t>& tg, std::span<const std::int64_t> il,
             std::span<const std::int64_t> tl, const CtcLossOptions& o) {
  detail::check_data(kFn, "log_probs", lp);
  if (lp.ndim() != 2 && lp.ndim() != 3)
    fail(ErrorKind::Shape, kFn, "log_probs must be (T, N, C) or unbatched (T, C), got shape ", lp.shape().str());
  if (lp.numel() == 0) fail(ErrorKind::Shape, kFn, "log_probs has shape ", lp.shape().str(), " and no elements");
  const bool batched = lp.ndim() == 3;
  const std::int64_t steps = lp.size(0), N = batched ? lp.size(1) : 1, C = lp.size(lp.ndim() - 1);
  detail::check_reduction(kFn, o.reduction);
  if (o.blank < 0 || o.blank >= C)
    fail(ErrorKind::Runtime, kFn, "blank = ", o.blank, " is outside [0, ", C, ") (the classes of log_probs)");
  CtcPlan p = plan_targets(kFn, N, steps, batched, tg, il, tl);
  p.C = C;
  for (std::int64_t n = 0; n < N; ++n) {
    const std::int64_t* lab = tg.data() + p.offset[static_cast<std::size_t>(n)];
    for (std::int64_t k = 0; k < tl[static_cast<std::size_t>(n)]; ++k) {
      const std::int64_t v = lab[k * p.step];
      if (v < 0 || v >= C || v == o.blank) {
        const std::string at = tg.ndim() == 2 ? std::to_string(n) + ", " + std::to_string(k)
                                              : std::to_string(p.offset[static_cast<std::size_t>(n)] / std::max<std::int64_t>(p.step, 1) + k);
        if (v == o.blank) fail(ErrorKind::Index, kFn, "targets[", at, "] = ", v, " is the blank label");
        fail(ErrorKind::Index, kFn, "targets[", at, "] = ", v, " is outside [0, ", C, ")");
      }
    }
  }
  p.out_shape = (o.reduction == Reduction::None && batched) ? Shape{N} : Shape{};
  return p;
}

/// One sequence of a call: its rows of log-probabilities and gradients (any strides).
template <class T>
struct Sequence {
  const T* lp;
  std::int64_t lp_t, lp_c;  // strides of a step and a class
  std::int64_t steps;
  std::vector<std::int64_t> ext;  // class of each state
  T* grad;                        // null: forward only
  std::int64_t grad_t, grad_c;
  T scale;
};

/// The scalar form (float64, and the reference of the SIMD form): PyTorch's recursions.
template <class T>
double sequence_scalar(const Sequence<T>& q, std::int64_t C, std::vector<T>& alpha) {
  constexpr T ninf = -std::numeric_limits<T>::infinity();
  const std::int64_t S = static_cast<std::int64_t>(q.ext.size());
  auto lp = [&](std::int64_t t, std::int64_t c) { return q.lp[t * q.lp_t + c * q.lp_c]; };
  auto skip = [&](std::int64_t s) { return s > 1 && q.ext[static_cast<std::size_t>(s - 2)] != q.ext[static_cast<std::size_t>(s)]; };
  auto lse3 = [](T a, T b, T c, T e) {
    T m = std::max(a, std::max(b, c));
    if (std::isnan(a) || std::isnan(b) || std::isnan(c)) return std::numeric_limits<T>::quiet_NaN();
    if (m == ninf) m = 0;
    return std::log(std::exp(a - m) + std::exp(b - m) + std::exp(c - m)) + m + e;
  };
  alpha.assign(static_cast<std::size_t>(q.steps * S), ninf);
  auto A = [&](std::int64_t t, std::int64_t s) -> T& { return alpha[static_cast<std::size_t>(t * S + s)]; };
  A(0, 0) = lp(0, q.ext[0]);
  if (S > 1) A(0, 1) = lp(0, q.ext[1]);
  for (std::int64_t t = 1; t < q.steps; ++t)
    for (std::int64_t s = 0; s < S; ++s)
      A(t, s) = lse3(A(t - 1, s), s > 0 ? A(t - 1, s - 1) : ninf, skip(s) ? A(t - 1, s - 2) : ninf,
                     lp(t, q.ext[static_cast<std::size_t>(s)]));
  const T nll = -lse3(A(q.steps - 1, S - 1), S > 1 ? A(q.steps - 1, S - 2) : ninf, ninf, T(0));
  if (q.grad == nullptr || !std::isfinite(nll)) return static_cast<double>(nll);

  std::vector<T> bn(static_cast<std::size_t>(S + 2), ninf), bc(static_cast<std::size_t>(S + 2), ninf);
  std::vector<T> acc(static_cast<std::size_t>(C));
  auto finish_row = [&](std::int64_t t, const std::vector<T>& b) {
    std::fill(acc.begin(), acc.end(), T(0));
    for (std::int64_t s = 0; s < S; ++s) {
      const std::int64_t c = q.ext[static_cast<std::size_t>(s)];
      const T v = A(t, s) + b[static_cast<std::size_t>(s)] + nll - lp(t, c);
      acc[static_cast<std::size_t>(c)] += std::isnan(v) ? v : std::exp(std::min(v, T(0)));
    }
    for (std::int64_t c = 0; c < C; ++c) {
      const T x = lp(t, c);
      const T occ = x == ninf ? std::numeric_limits<T>::quiet_NaN() : acc[static_cast<std::size_t>(c)];
      q.grad[t * q.grad_t + c * q.grad_c] = (std::exp(x) - occ) * q.scale;
    }
  };
  bn[static_cast<std::size_t>(S - 1)] = lp(q.steps - 1, q.ext[static_cast<std::size_t>(S - 1)]);
  if (S > 1) bn[static_cast<std::size_t>(S - 2)] = lp(q.steps - 1, q.ext[static_cast<std::size_t>(S - 2)]);
  finish_row(q.steps - 1, bn);
  for (std::int64_t t = q.steps - 2; t >= 0; --t) {
    for (std::int64_t s = 0; s < S; ++s)
      bc[static_cast<std::size_t>(s)] =
          lse3(bn[static_cast<std::size_t>(s)], bn[static_cast<std::size_t>(s + 1)],
               s + 2 < S && skip(s + 2) ? bn[static_cast<std::size_t>(s + 2)] : ninf, lp(t, q.ext[static_cast<std::size_t>(s)]));
    finish_row(t, bc);
    std::swap(bn, bc);
  }
  return static_cast<double>(nll);
}

/// Per-thread buffers of the float32 kernel.
struct ScratchF {
  std::vector<float> alpha, beta, gamma, skip, lp, grad;
  std::vector<std::int32_t> ext;
};

/// Runs one sequence with the float32 SIMD kernel; rows are staged when the classes are strided.
double sequence_simd(const Sequence<float>& q, std::int64_t C, ScratchF& w) {
  const std::int64_t kPad = HWY_DYNAMIC_DISPATCH(kernels::CtcLanesF32)();  // lanes of the target in use
  const std::int64_t S = static_cast<std::int64_t>(q.ext.size());
  const std::int64_t width = (S + kPad - 1) / kPad * kPad;
  kernels::CtcSeqF a;
  a.lp = q.lp;
  a.lp_t = q.lp_t;
  if (q.lp_c != 1) {
    w.lp.resize(static_cast<std::size_t>(q.steps * C));
    for (std::int64_t t = 0; t < q.steps; ++t)
      for (std::int64_t c = 0; c < C; ++c) w.lp[static_cast<std::size_t>(t * C + c)] = q.lp[t * q.lp_t + c * q.lp_c];
    a.lp = w.lp.data();
    a.lp_t = C;
  }
  a.steps = q.steps;
  a.C = C;
  w.ext.assign(static_cast<std::size_t>(width + 2 * kPad), static_cast<std::int32_t>(q.ext[0]));
  w.skip.assign(static_cast<std::size_t>(width + 2 + 2 * kPad), 0.0f);
  for (std::int64_t s = 0; s < S; ++s) {
    w.ext[static_cast<std::size_t>(s)] = static_cast<std::int32_t>(q.ext[static_cast<std::size_t>(s)]);
    if (s > 1 && q.ext[static_cast<std::size_t>(s - 2)] != q.ext[static_cast<std::size_t>(s)]) w.skip[static_cast<std::size_t>(s)] = 1.0f;
  }
  a.ext = w.ext.data();
  a.skip = w.skip.data();
  a.S = S;
  a.width = width;
  w.alpha.resize(static_cast<std::size_t>(q.steps * (width + 2)));
  a.alpha = w.alpha.data();
  if (q.grad != nullptr) {
    w.beta.resize(static_cast<std::size_t>(2 * (width + 2 + kPad)));
    w.gamma.resize(static_cast<std::size_t>(width + C));
    a.beta = w.beta.data();
    a.gamma = w.gamma.data();
    a.scale = q.scale;
    a.grad = q.grad;
    a.grad_t = q.grad_t;
    if (q.grad_c != 1) {
      w.grad.resize(static_cast<std::size_t>(q.steps * C));
      a.grad = w.grad.data();
      a.grad_t = C;
    }
  }
  const double nll = HWY_DYNAMIC_DISPATCH(kernels::CtcSequenceF32)(a);
  if (q.grad != nullptr && q.grad_c != 1 && std::isfinite(nll))
    for (std::int64_t t = 0; t < q.steps; ++t)
      for (std::int64_t c = 0; c < C; ++c) q.grad[t * q.grad_t + c * q.grad_c] = w.grad[static_cast<std::size_t>(t * C + c)];
  return nll;
}

template <class T>
void run(Pass pass, ConstView<T> lp, ConstView<std::int64_t> tg, std::span<const std::int64_t> il,
         std::span<const std::int64_t> tl, TensorView<T> out, ConstView<T> grad_output, TensorView<T> grad,
         const CtcLossOptions& o, Tensor<T>* owned = nullptr) {
  const CtcPlan p = plan(lp, tg, il, tl, o);
  if (detail::has_backward(pass)) {
    if (pass == Pass::Backward) {
      detail::check_data(kFn, "grad_output", grad_output);
      detail::check_shape(kFn, "grad_output", grad_output.shape(), p.out_shape);
    }
    detail::check_output(kFn, "grad_log_probs", grad, lp.shape());
    detail::check_no_overlap(kFn, "grad_log_probs", grad, detail::named("log_probs", lp),
                             detail::named("grad_output", grad_output));
  }
  if (detail::has_forward(pass)) {
    if (owned != nullptr) out = detail::allocate(*owned, p.out_shape);
    detail::check_output(kFn, "out", out, p.out_shape);
    detail::check_no_overlap(kFn, "out", out, detail::named("log_probs", lp));
    if (detail::has_backward(pass)) detail::check_no_overlap(kFn, "out", out, detail::named("grad_log_probs", grad));
  }
  // Validation done: nothing was written before this line.
  const std::int64_t N = p.N, C = p.C;
  const bool want_grad = detail::has_backward(pass);
  const std::int64_t lt = lp.stride(0), ln = p.batched ? lp.stride(1) : 0, lc = lp.stride(lp.ndim() - 1);
  const std::int64_t gt = want_grad ? grad.stride(0) : 0, gn = want_grad && p.batched ? grad.stride(1) : 0,
                     gc = want_grad ? grad.stride(grad.ndim() - 1) : 0;
  const bool mean = o.reduction == Reduction::Mean;
  auto scale_of = [&](std::int64_t n) -> double {
    double g = 1.0;
    if (pass == Pass::Backward) g = static_cast<double>(o.reduction == Reduction::None && p.batched ? grad_output.flat(n) : grad_output.flat(0));
    if (mean) g = g / static_cast<double>(std::max<std::int64_t>(tl[static_cast<std::size_t>(n)], 1)) / static_cast<double>(N);
    return g;
  };
  std::vector<double> losses(static_cast<std::size_t>(N));
  detail::parallel_for(N, 1, [&](std::int64_t begin, std::int64_t end) {
    std::vector<T> alpha;
    ScratchF w;
    for (std::int64_t n = begin; n < end; ++n) {
      const auto ni = static_cast<std::size_t>(n);
      const std::int64_t steps = il[ni], L = tl[ni];
      T* g = want_grad ? grad.data() + n * gn : nullptr;
      auto fill_rows = [&](std::int64_t t0, std::int64_t t1, T v) {
        for (std::int64_t t = t0; t < t1; ++t)
          for (std::int64_t c = 0; c < C; ++c) g[t * gt + c * gc] = v;
      };
      double nll;
      if (steps == 0) {
        nll = L == 0 ? -0.0 : std::numeric_limits<double>::infinity();
      } else {
        Sequence<T> q{lp.data() + n * ln, lt, lc, steps, {}, g, gt, gc, static_cast<T>(scale_of(n))};
        q.ext.assign(static_cast<std::size_t>(2 * L + 1), o.blank);
        const std::int64_t* lab = tg.data() + p.offset[ni];
        for (std::int64_t k = 0; k < L; ++k) q.ext[static_cast<std::size_t>(2 * k + 1)] = lab[k * p.step];
        if constexpr (std::is_same_v<T, float>) {
          nll = sequence_simd(q, C, w);
        } else {
          nll = sequence_scalar(q, C, alpha);
        }
        if (want_grad && !std::isfinite(nll)) {
          const bool zero = o.zero_infinity && nll == std::numeric_limits<double>::infinity();
          fill_rows(0, steps, zero ? T(0) : std::numeric_limits<T>::quiet_NaN());
        }
      }
      if (want_grad) fill_rows(steps, p.T, T(0));
      if (o.zero_infinity && nll == std::numeric_limits<double>::infinity()) nll = 0;
      losses[ni] = nll;
    }
  });
  if (!detail::has_forward(pass)) return;
  if (o.reduction == Reduction::None) {
    for (std::int64_t n = 0; n < N; ++n) out.flat(n) = static_cast<T>(losses[static_cast<std::size_t>(n)]);
    return;
  }
  double sum = 0;
  for (std::int64_t n = 0; n < N; ++n) {
    const double v = losses[static_cast<std::size_t>(n)];
    sum += mean ? static_cast<double>(static_cast<T>(v) / static_cast<T>(std::max<std::int64_t>(tl[static_cast<std::size_t>(n)], 1))) : v;
  }
  out.flat(0) = static_cast<T>(mean ? sum / static_cast<double>(N) : sum);
}

}  // namespace

#define LOSSKIT_CTC_CALLS(T)                                                                                   \
  void ctc_loss(ConstView<T> log_probs, ConstView<std::int64_t> targets, std::span<const std::int64_t> il,     \
                std::span<const std::int64_t> tl, TensorView<T> out, const CtcLossOptions& opts) {             \
    run<T>(Pass::Forward, log_probs, targets, il, tl, out, {}, {}, opts);                                      \
  }                                                                                                            \
  Tensor<T> ctc_loss(ConstView<T> log_probs, ConstView<std::int64_t> targets, std::span<const std::int64_t> il, \
                     std::span<const std::int64_t> tl, const CtcLossOptions& opts) {                           \
    Tensor<T> out;                                                                                             \
    run<T>(Pass::Forward, log_probs, targets, il, tl, {}, {}, {}, opts, &out);                                 \
    return out;                                                                                                \
  }                                                                                                            \
  void ctc_loss_backward(ConstView<T> grad_output, ConstView<T> log_probs, ConstView<std::int64_t> targets,     \
                         std::span<const std::int64_t> il, std::span<const std::int64_t> tl,                  \
                         TensorView<T> grad_log_probs, const CtcLossOptions& opts) {                           \
    run<T>(Pass::Backward, log_probs, targets, il, tl, {}, grad_output, grad_log_probs, opts);                 \
  }                                                                                                            \
  void ctc_loss_forward_backward(ConstView<T> log_probs, ConstView<std::int64_t> targets,                      \
                                 std::span<const std::int64_t> il, std::span<const std::int64_t> tl,           \
                                 TensorView<T> out, TensorView<T> grad_log_probs, const CtcLossOptions& opts) { \
    run<T>(Pass::ForwardBackward, log_probs, targets, il, tl, out, {}, grad_log_probs, opts);                  \
  }
LOSSKIT_CTC_CALLS(float)
LOSSKIT_CTC_CALLS(double)
#undef LOSSKIT_CTC_CALLS

std::vector<std::int64_t> ctc_infeasible(ConstView<std::int64_t> targets, std::span<const std::int64_t> input_lengths,
                                         std::span<const std::int64_t> target_lengths) {
  constexpr std::string_view fn = "ctc_infeasible";
  const auto N = static_cast<std::int64_t>(input_lengths.size());
  const CtcPlan p = plan_targets(fn, N, -1, true, targets, input_lengths, target_lengths);
  std::vector<std::int64_t> bad;
  for (std::int64_t n = 0; n < N; ++n) {
    const auto ni = static_cast<std::size_t>(n);
    const std::int64_t* lab = targets.data() + p.offset[ni];
    std::int64_t need = target_lengths[ni];
    for (std::int64_t k = 1; k < target_lengths[ni]; ++k) need += lab[k * p.step] == lab[(k - 1) * p.step] ? 1 : 0;
    if (input_lengths[ni] < need) bad.push_back(n);
  }
  return bad;
}

}  // namespace losskit
#endif  // HWY_ONCE
