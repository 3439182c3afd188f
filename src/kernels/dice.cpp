// SIMD dice loss passes (interface: kernels/dice.hpp), one Highway target per compile of this
// file (foreach_target) and the best one picked at run time.
//
// Lanes run along the positions of one batch item; channel c of a vector of positions is one
// (masked at the tail) load at x + c * x_sC. The activation is elementwise per lane:
//   none:    p = x;
//   sigmoid: e = exp(-|x|), p = (x >= 0 ? 1 : e) / (1 + e)  (the scalar code's two branches);
//   softmax: m = max_c x_c, e_c = exp(x_c - m), s = sum_c e_c (float32, channel order),
//            p_c = e_c * (1 / s).
// Pass 1 (dice_sums) accumulates the three per-channel sums in float32 lanes over one chunk
// (at most 128 positions, i.e. 32 / 16 / 8 vector adds per lane for SSE4 / AVX2 / AVX-512),
// then promotes the lanes and adds them to float64 lane accumulators; the block's lanes are
// added in lane order at the end. Pass 2 (dice_grad) recomputes p exactly as pass 1 did and
// writes the gradient chained through the activation in float32:
//   u_c = ca_c tp'_c + cb_c P'_c (zero below c0);  none: g = u;  sigmoid: g = u p (1 - p);
//   softmax: g_c = p_c (u_c - sum_k p_k u_k).
// The softmax is computed for a whole chunk at a time, channel by channel (SoftmaxChunk), except
// in pass 2 with 2 to 4 channels, which keeps every channel in registers, one vector of positions
// at a time (GradSmallSoftmax, faster there); each lane's operations and their order are the
// same either way, so both passes compute the same p, bit for bit.
//
// Accuracy relative to the float64 formula (the scalar path with the inputs cast to double):
// exp is ExpNonPos (kernels/simd-inl.h; every argument here is <= 0: x - max, -|x|), under
// 1 ULP, and 0 below -87.33 where the scalar exp would give a subnormal (an absolute error
// under 1.2e-38); p is within about 4 float32 ULP (softmax: the exp, the
// float32 x - m, the float32 channel sum of C terms adds up to C ULP of s, the reciprocal and
// the multiply; sigmoid: exp, add and divide). Each chunk's float32 lane sums (at most 32
// adds) are within 32 * 2^-24 (2e-6) relative of the sum of the absolute terms at worst, far
// less in practice (random rounding), so the sums and the loss are typically within a few 1e-7
// relative of the float64 formula (tests/unit/dice_simd_test.cpp checks 1e-6). Gradient
// entries: u is float32 (ca, cb rounded to float32), so an entry is within a few float32 ULP
// of p_c * max_k |u_k| for softmax (the difference u_c - sum p u cancels), of |u| otherwise.
// Chunks holding values that are not finite or exceed kDiceBig in magnitude go to the scalar
// callback, so NaN / inf results are exactly the scalar reference's.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/dice.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/highway.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/dice.hpp"
#include "kernels/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace losskit::kernels {
namespace HWY_NAMESPACE {

using DI = hn::RebindToSigned<DF>;

/// k >= 1 values at p (a full vector when k >= Lanes), the other lanes 0.
HWY_INLINE VF LoadPad(DF d, const float* HWY_RESTRICT p, std::size_t k) {
  return k >= hn::Lanes(d) ? hn::LoadU(d, p) : LoadTailF(d, p, k, 0.0f);
}

/// The first k lanes of v at p.
HWY_INLINE void StorePad(DF d, VF v, float* HWY_RESTRICT p, std::size_t k) {
  if (k >= hn::Lanes(d)) hn::StoreU(v, d, p);
  else StoreTailF(d, v, p, k);
}

HWY_INLINE VF Sigmoid(DF d, VF x) {
  const VF one = hn::Set(d, 1.0f);
  const VF e = ExpNonPos(d, hn::Neg(hn::Abs(x)));
  return hn::Div(hn::IfThenElse(hn::Ge(x, hn::Zero(d)), one, e), hn::Add(one, e));
}

/// +1, -1 or 0 by the sign of v.
HWY_INLINE VF Sign(DF d, VF v) {
  return hn::IfThenElse(hn::Gt(v, hn::Zero(d)), hn::Set(d, 1.0f),
                        hn::IfThenElseZero(hn::Lt(v, hn::Zero(d)), hn::Set(d, -1.0f)));
}

/// Whether every input (all channels) and dense target value (channels c0..) of the chunk is
/// finite with magnitude <= kDiceBig.
HWY_INLINE bool ChunkOk(DF d, const DiceArgs& a, std::int64_t j0, std::int64_t len) {
  const std::size_t N = hn::Lanes(d);
  const VF big = hn::Set(d, static_cast<float>(kDiceBig));
  VF ok = hn::VecFromMask(d, hn::Eq(big, big));
  for (std::int64_t c = 0; c < a.C; ++c) {
    const float* x = a.x + c * a.x_sC + j0;
    for (std::int64_t v = 0; v < len; v += static_cast<std::int64_t>(N))
      ok = hn::And(ok, hn::VecFromMask(d, hn::Le(hn::Abs(LoadPad(d, x + v, static_cast<std::size_t>(len - v))), big)));
  }
  if (a.t)
    for (std::int64_t c = a.c0; c < a.C; ++c) {
      const float* t = a.t + c * a.t_sC + j0;
      for (std::int64_t v = 0; v < len; v += static_cast<std::int64_t>(N))
        ok = hn::And(ok, hn::VecFromMask(d, hn::Le(hn::Abs(LoadPad(d, t + v, static_cast<std::size_t>(len - v))), big)));
    }
  return hn::AllTrue(d, hn::MaskFromVec(ok));
}

/// The chunk's class ids as int32 in ib[0, len), -1 up to the next multiple of the lanes.
HWY_INLINE void LoadIds(DF d, const DiceArgs& a, std::int64_t j0, std::int64_t len, std::int32_t* ib) {
  const std::int64_t N = static_cast<std::int64_t>(hn::Lanes(d));
  if (a.ids) {
    for (std::int64_t j = 0; j < len; ++j) ib[j] = static_cast<std::int32_t>(a.ids[(j0 + j) * a.ids_s]);
  } else {
    for (std::int64_t j = 0; j < len; ++j) ib[j] = static_cast<std::int32_t>(a.fids[(j0 + j) * a.ids_s]);
  }
  for (std::int64_t j = len; j < (len + N - 1) / N * N; ++j) ib[j] = -1;
}

/// t_c for the vector of positions at `off` in the block (dense) / at ib (class ids).
template <bool kIds>
HWY_INLINE VF Target(DF d, const DiceArgs& a, std::int64_t c, std::int64_t off, const std::int32_t* ib,
                     std::size_t k) {
  if constexpr (kIds) {
    const DI di;
    const auto eq = hn::Eq(hn::LoadU(di, ib), hn::Set(di, static_cast<std::int32_t>(c + a.id_off)));
    return hn::IfThenElseZero(hn::RebindMask(d, eq), hn::Set(d, 1.0f));
  } else {
    return LoadPad(d, a.t + c * a.t_sC + off, k);
  }
}

/// Softmax of a chunk's len positions at `off`, channel by channel over the whole chunk (long
/// loops of independent vectors rather than one dependent max-exp-sum-divide chain per vector):
/// p_c at pe + c * ps, padded lanes included. Each lane's operations and their order depend only
/// on its own position, so both passes compute the same bits. mb, rb: scratch of at least len
/// rounded up to the lanes.
HWY_INLINE void SoftmaxChunk(DF d, const DiceArgs& a, std::int64_t off, std::int64_t len, float* HWY_RESTRICT pe,
                             std::int64_t ps, float* HWY_RESTRICT mb, float* HWY_RESTRICT rb) {
  const std::int64_t NL = static_cast<std::int64_t>(hn::Lanes(d));
  const float* x = a.x + off;
  auto k_at = [&](std::int64_t v) { return static_cast<std::size_t>(std::min(NL, len - v)); };
  for (std::int64_t v = 0; v < len; v += NL) hn::StoreU(LoadPad(d, x + v, k_at(v)), d, mb + v);
  for (std::int64_t c = 1; c < a.C; ++c)
    for (std::int64_t v = 0; v < len; v += NL)
      hn::StoreU(hn::Max(hn::LoadU(d, mb + v), LoadPad(d, x + c * a.x_sC + v, k_at(v))), d, mb + v);
  for (std::int64_t v = 0; v < len; v += NL) hn::StoreU(hn::Zero(d), d, rb + v);
  for (std::int64_t c = 0; c < a.C; ++c)
    for (std::int64_t v = 0; v < len; v += NL) {
      const VF e = ExpNonPos(d, hn::Sub(LoadPad(d, x + c * a.x_sC + v, k_at(v)), hn::LoadU(d, mb + v)));
      hn::StoreU(e, d, pe + c * ps + v);
      hn::StoreU(hn::Add(hn::LoadU(d, rb + v), e), d, rb + v);
    }
  for (std::int64_t v = 0; v < len; v += NL) hn::StoreU(hn::Div(hn::Set(d, 1.0f), hn::LoadU(d, rb + v)), d, rb + v);
  for (std::int64_t c = 0; c < a.C; ++c)
    for (std::int64_t v = 0; v < len; v += NL)
      hn::StoreU(hn::Mul(hn::LoadU(d, pe + c * ps + v), hn::LoadU(d, rb + v)), d, pe + c * ps + v);
}

/// p for a non-softmax activation.
template <DiceAct A>
HWY_INLINE VF Activate(DF d, VF x) {
  if constexpr (A == DiceAct::Sigmoid) return Sigmoid(d, x);
  else return x;
}

/// v's lanes promoted to float64 and added to the 2 * Lanes / 2 doubles at p.
HWY_INLINE void AddD(DF d, VF v, double* HWY_RESTRICT p) {
#if HWY_TARGET == HWY_SCALAR
  (void)d;
  hn::StoreU(hn::Add(hn::LoadU(DD(), p), hn::PromoteTo(DD(), v)), DD(), p);
#else
  const hn::Half<DF> dh;
  const DD dd;
  const std::size_t H = hn::Lanes(dd);
  hn::StoreU(hn::Add(hn::LoadU(dd, p), hn::PromoteTo(dd, hn::LowerHalf(dh, v))), dd, p);
  hn::StoreU(hn::Add(hn::LoadU(dd, p + H), hn::PromoteTo(dd, hn::UpperHalf(dh, v))), dd, p + H);
  (void)d;
#endif
}

template <DiceAct A, DiceForm F, bool kIds>
void SumsT(const DiceArgs& a, double* sums) {
  const DF d;
  const std::size_t N = hn::Lanes(d);
  const std::int64_t NL = static_cast<std::int64_t>(N);
  const std::int64_t C = a.C, c0 = a.c0, Cp = C - c0, chunk = dice_chunk(C);
  std::vector<float> eb(A == DiceAct::Softmax ? static_cast<std::size_t>(C * chunk) : 0);
  std::vector<std::int32_t> ib(kIds ? static_cast<std::size_t>(chunk) : 0);
  std::vector<double> acc(static_cast<std::size_t>(Cp * 3) * N, 0.0);
  float mb[128], rb[128];
  for (std::int64_t j0 = 0; j0 < a.n; j0 += chunk) {
    const std::int64_t len = std::min(chunk, a.n - j0);
    if (!ChunkOk(d, a, j0, len)) {
      a.scalar(a.ctx, j0, len, sums);
      continue;
    }
    if constexpr (kIds) LoadIds(d, a, j0, len, ib.data());
    if constexpr (A == DiceAct::Softmax) SoftmaxChunk(d, a, j0, len, eb.data(), chunk, mb, rb);
    for (std::int64_t c = c0; c < C; ++c) {
      VF s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d);
      for (std::int64_t v = 0; v < len; v += NL) {
        const std::size_t k = static_cast<std::size_t>(std::min(NL, len - v));
        VF p;
        if constexpr (A == DiceAct::Softmax) p = hn::LoadU(d, eb.data() + c * chunk + v);
        else p = Activate<A>(d, LoadPad(d, a.x + c * a.x_sC + j0 + v, k));
        if (k < N) p = hn::IfThenElseZero(hn::FirstN(d, k), p);
        const VF t = Target<kIds>(d, a, c, j0 + v, kIds ? ib.data() + v : nullptr, k);
        if constexpr (F == DiceForm::Product) {
          s0 = hn::MulAdd(p, t, s0);
          s1 = hn::Add(s1, p);
          s2 = hn::Add(s2, t);
        } else if constexpr (F == DiceForm::Norm1) {
          s0 = hn::Add(s0, hn::Abs(hn::Sub(p, t)));
          s1 = hn::Add(s1, hn::Abs(p));
          s2 = hn::Add(s2, hn::Abs(t));
        } else {
          const VF df = hn::Sub(p, t);
          s0 = hn::MulAdd(df, df, s0);
          s1 = hn::MulAdd(p, p, s1);
          s2 = hn::MulAdd(t, t, s2);
        }
      }
      double* ac = acc.data() + static_cast<std::size_t>((c - c0) * 3) * N;
      AddD(d, s0, ac);
      AddD(d, s1, ac + N);
      AddD(d, s2, ac + 2 * N);
    }
  }
  for (std::int64_t i = 0; i < Cp * 3; ++i) {
    double s = 0;
    for (std::size_t l = 0; l < N; ++l) s += acc[static_cast<std::size_t>(i) * N + l];
    sums[i] += s;
  }
}

/// dL/dp_c before the activation's chain rule.
template <DiceForm F>
HWY_INLINE VF Upstream(DF d, VF ca, VF cb, VF p, VF t) {
  if constexpr (F == DiceForm::Product) {
    return hn::MulAdd(ca, t, cb);
  } else if constexpr (F == DiceForm::Norm1) {
    const VF dtp = hn::Mul(hn::Sub(Sign(d, p), Sign(d, hn::Sub(p, t))), hn::Set(d, 0.5f));
    return hn::MulAdd(ca, dtp, hn::Mul(cb, Sign(d, p)));
  } else {
    return hn::MulAdd(ca, t, hn::Mul(cb, hn::Add(p, p)));
  }
}

template <DiceAct A, DiceForm F, bool kIds>
void GradT(const DiceArgs& a) {
  const DF d;
  const std::size_t N = hn::Lanes(d);
  const std::int64_t NL = static_cast<std::int64_t>(N);
  const std::int64_t C = a.C, c0 = a.c0, chunk = dice_chunk(C);
  std::vector<float> pb(A == DiceAct::Softmax ? static_cast<std::size_t>(C * chunk) : 0);
  std::vector<float> ub(A == DiceAct::Softmax ? static_cast<std::size_t>(C) * N : 0);
  std::vector<std::int32_t> ib(kIds ? static_cast<std::size_t>(chunk) : 0);
  float mb[128], rb[128];
  for (std::int64_t j0 = 0; j0 < a.n; j0 += chunk) {
    const std::int64_t len = std::min(chunk, a.n - j0);
    if (!ChunkOk(d, a, j0, len)) {
      a.scalar(a.ctx, j0, len, nullptr);
      continue;
    }
    if constexpr (kIds) LoadIds(d, a, j0, len, ib.data());
    if constexpr (A == DiceAct::Softmax) SoftmaxChunk(d, a, j0, len, pb.data(), chunk, mb, rb);
    for (std::int64_t v = 0; v < len; v += NL) {
      const std::size_t k = static_cast<std::size_t>(std::min(NL, len - v));
      const std::int64_t off = j0 + v;
      const std::int32_t* iv = kIds ? ib.data() + v : nullptr;
      if constexpr (A == DiceAct::Softmax) {
        VF pu = hn::Zero(d);
        for (std::int64_t c = c0; c < C; ++c) {
          const VF p = hn::LoadU(d, pb.data() + c * chunk + v);
          const VF u = Upstream<F>(d, hn::Set(d, a.ca[c]), hn::Set(d, a.cb[c]), p, Target<kIds>(d, a, c, off, iv, k));
          hn::StoreU(u, d, ub.data() + c * NL);
          pu = hn::MulAdd(p, u, pu);
        }
        for (std::int64_t c = 0; c < C; ++c) {
          const VF p = hn::LoadU(d, pb.data() + c * chunk + v);
          const VF u = c < c0 ? hn::Zero(d) : hn::LoadU(d, ub.data() + c * NL);
          StorePad(d, hn::Mul(p, hn::Sub(u, pu)), a.g + c * a.g_sC + off, k);
        }
      } else {
        for (std::int64_t c = 0; c < c0; ++c) StorePad(d, hn::Zero(d), a.g + c * a.g_sC + off, k);
        for (std::int64_t c = c0; c < C; ++c) {
          const VF p = Activate<A>(d, LoadPad(d, a.x + c * a.x_sC + off, k));
          const VF u = Upstream<F>(d, hn::Set(d, a.ca[c]), hn::Set(d, a.cb[c]), p, Target<kIds>(d, a, c, off, iv, k));
          VF g = u;
          if constexpr (A == DiceAct::Sigmoid) g = hn::Mul(hn::Mul(u, p), hn::Sub(hn::Set(d, 1.0f), p));
          StorePad(d, g, a.g + c * a.g_sC + off, k);
        }
      }
    }
  }
}

/// GradT's softmax for kC (2 to 4) channels, in registers (same operations, same bits).
template <DiceForm F, bool kIds, std::int64_t kC>
void GradSmallSoftmax(const DiceArgs& a) {
  constexpr std::int64_t kSmallC = kC;
  const DF d;
  const std::size_t N = hn::Lanes(d);
  const std::int64_t NL = static_cast<std::int64_t>(N);
  const std::int64_t C = a.C, c0 = a.c0, chunk = dice_chunk(C);
  std::int32_t ib[128];
  for (std::int64_t j0 = 0; j0 < a.n; j0 += chunk) {
    const std::int64_t len = std::min(chunk, a.n - j0);
    if (!ChunkOk(d, a, j0, len)) {
      a.scalar(a.ctx, j0, len, nullptr);
      continue;
    }
    if constexpr (kIds) LoadIds(d, a, j0, len, ib);
    for (std::int64_t v = 0; v < len; v += NL) {
      const std::size_t k = static_cast<std::size_t>(std::min(NL, len - v));
      const std::int64_t off = j0 + v;
      const float* x = a.x + off;
      VF e[kSmallC], u[kSmallC];
      HWY_UNROLL(8)
      for (std::int64_t c = 0; c < kSmallC; ++c) e[c] = u[c] = hn::Zero(d);
      VF m = LoadPad(d, x, k);
      e[0] = m;
      HWY_UNROLL(8)
      for (std::int64_t c = 1; c < kSmallC; ++c)
        if (c < kC) {
          e[c] = LoadPad(d, x + c * a.x_sC, k);
          m = hn::Max(m, e[c]);
        }
      VF s = hn::Zero(d);
      HWY_UNROLL(8)
      for (std::int64_t c = 0; c < kSmallC; ++c)
        if (c < kC) {
          e[c] = ExpNonPos(d, hn::Sub(e[c], m));
          s = hn::Add(s, e[c]);
        }
      const VF r = hn::Div(hn::Set(d, 1.0f), s);
      VF pu = hn::Zero(d);
      HWY_UNROLL(8)
      for (std::int64_t c = 0; c < kSmallC; ++c)
        if (c < kC) {
          e[c] = hn::Mul(e[c], r);
          u[c] = hn::Zero(d);
          if (c >= c0) {
            u[c] = Upstream<F>(d, hn::Set(d, a.ca[c]), hn::Set(d, a.cb[c]), e[c],
                               Target<kIds>(d, a, c, off, kIds ? ib + v : nullptr, k));
            pu = hn::MulAdd(e[c], u[c], pu);
          }
        }
      HWY_UNROLL(8)
      for (std::int64_t c = 0; c < kSmallC; ++c)
        StorePad(d, hn::Mul(e[c], hn::Sub(u[c], pu)), a.g + c * a.g_sC + off, k);
    }
  }
}

// Run-time (act, form, target kind) -> the template instance.
template <DiceAct A, DiceForm F>
void SumsAF(const DiceArgs& a, double* s) {
  if (a.t) SumsT<A, F, false>(a, s);
  else SumsT<A, F, true>(a, s);
}
template <DiceAct A>
void SumsA(const DiceArgs& a, double* s) {
  switch (a.form) {
    case DiceForm::Product: SumsAF<A, DiceForm::Product>(a, s); break;
    case DiceForm::Norm1: SumsAF<A, DiceForm::Norm1>(a, s); break;
    case DiceForm::Norm2: SumsAF<A, DiceForm::Norm2>(a, s); break;
  }
}
void DiceSums(const DiceArgs& a, double* s) {
  switch (a.act) {
    case DiceAct::None: SumsA<DiceAct::None>(a, s); break;
    case DiceAct::Sigmoid: SumsA<DiceAct::Sigmoid>(a, s); break;
    case DiceAct::Softmax: SumsA<DiceAct::Softmax>(a, s); break;
  }
}

template <DiceAct A, DiceForm F>
void GradAF(const DiceArgs& a) {
  if constexpr (A == DiceAct::Softmax) {
    switch (a.C) {
      case 2: return a.t ? GradSmallSoftmax<F, false, 2>(a) : GradSmallSoftmax<F, true, 2>(a);
      case 3: return a.t ? GradSmallSoftmax<F, false, 3>(a) : GradSmallSoftmax<F, true, 3>(a);
      case 4: return a.t ? GradSmallSoftmax<F, false, 4>(a) : GradSmallSoftmax<F, true, 4>(a);
      default: break;
    }
  }
  if (a.t) GradT<A, F, false>(a);
  else GradT<A, F, true>(a);
}
template <DiceAct A>
void GradA(const DiceArgs& a) {
  switch (a.form) {
    case DiceForm::Product: GradAF<A, DiceForm::Product>(a); break;
    case DiceForm::Norm1: GradAF<A, DiceForm::Norm1>(a); break;
    case DiceForm::Norm2: GradAF<A, DiceForm::Norm2>(a); break;
  }
}
void DiceGrad(const DiceArgs& a) {
  switch (a.act) {
    case DiceAct::None: GradA<DiceAct::None>(a); break;
    case DiceAct::Sigmoid: GradA<DiceAct::Sigmoid>(a); break;
    case DiceAct::Softmax: GradA<DiceAct::Softmax>(a); break;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace losskit::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace losskit::kernels {

HWY_EXPORT(DiceSums);
HWY_EXPORT(DiceGrad);

void dice_sums(const DiceArgs& a, double* sums) { HWY_DYNAMIC_DISPATCH(DiceSums)(a, sums); }
void dice_grad(const DiceArgs& a) { HWY_DYNAMIC_DISPATCH(DiceGrad)(a); }

}  // namespace losskit::kernels
#endif  // HWY_ONCE
