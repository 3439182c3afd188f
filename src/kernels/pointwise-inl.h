// The vector pointwise block, per SIMD target: runs any vector Op over one block [begin, end) of
// flat contiguous float32 operands (kernels/pointwise.hpp: PwArgs), for the shared pointwise
// driver (core/elementwise.hpp) and the losses that call it directly.
//
// A loss's vector Op lives beside its scalar Op, in the loss's own file, which is compiled once
// per Highway target (foreach_target) and exports its block with LOSSKIT_POINTWISE_KERNEL
// (kernels/pointwise.hpp). A vector Op has, on float32 vectors (DF d, VF x, y[, p]):
//   VF Loss(d, x, y[, p]), VF Dx(d, x, y[, p]), VF Dy(d, x, y[, p])   the value and gradients
//   VF Da(d, x, y, p)                      optional: d/d aux (the aux operand p: kAux below)
//   void LossDx(d, x, y[, p], VF& l, VF& g)  optional: value and d/dx sharing their exp/log
//   static void Finite(d, x, y, p, VF& l, VF& g)  optional: a short form valid for finite lanes
//   static constexpr bool kAux = true;     optional: reads the aux operand (pos_weight, variance)
//   static constexpr bool kFiniteFlagsValue = true;  optional: a NaN/inf input makes Finite's value NaN/inf
// and reproduces its scalar Op's special-value behaviour.
//
// Each block is one sweep: load x, y (and w), compute value and gradients in registers, store.
// Loss sums accumulate in float64 (lanes promoted, fixed-order horizontal sum), so a block's
// result depends only on its range, never on the thread count.
//
// Included once per Highway target (no include guard; the toggle keeps one copy per target).
#if defined(LOSSKIT_KERNELS_POINTWISE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LOSSKIT_KERNELS_POINTWISE_INL_H_
#undef LOSSKIT_KERNELS_POINTWISE_INL_H_
#else
#define LOSSKIT_KERNELS_POINTWISE_INL_H_
#endif

#include <hwy/cache_control.h>
#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/pointwise.hpp"
#include "kernels/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace losskit::kernels {
namespace HWY_NAMESPACE {

// Calls of an op's functions with the aux operand p (pos_weight) where it takes one.
template <class Op>
constexpr bool kOpAux = requires { requires Op::kAux; };
template <class Op>
HWY_INLINE VF OpLoss(const Op& op, DF d, VF x, VF y, VF p) {
  if constexpr (requires { op.Loss(d, x, y, p); }) return op.Loss(d, x, y, p);
  else return (void)p, op.Loss(d, x, y);
}
template <class Op>
HWY_INLINE VF OpDx(const Op& op, DF d, VF x, VF y, VF p) {
  if constexpr (requires { op.Dx(d, x, y, p); }) return op.Dx(d, x, y, p);
  else return (void)p, op.Dx(d, x, y);
}
template <class Op>
HWY_INLINE VF OpDy(const Op& op, DF d, VF x, VF y, VF p) {
  if constexpr (requires { op.Dy(d, x, y, p); }) return op.Dy(d, x, y, p);
  else return (void)p, op.Dy(d, x, y);
}
template <class Op>
HWY_INLINE VF OpDa(const Op& op, DF d, VF x, VF y, VF p) {
  if constexpr (requires { op.Da(d, x, y, p); }) return op.Da(d, x, y, p);
  else return (void)op, (void)x, (void)y, (void)p, hn::Zero(d);
}
// The value and d/dx, from one fused call when the op has one (shared exp/log).
template <class Op>
HWY_INLINE void OpLossDx(const Op& op, DF d, VF x, VF y, VF p, VF& l, VF& g) {
  if constexpr (requires { op.LossDx(d, x, y, p, l, g); }) op.LossDx(d, x, y, p, l, g);
  else if constexpr (requires { op.LossDx(d, x, y, l, g); }) op.LossDx(d, x, y, l, g);
  else l = OpLoss(op, d, x, y, p), g = OpDx(op, d, x, y, p);
}

// The main loop of the common calls (no weight, no per-element upstream gradient, no target
// gradient): kLoss 0 = no value, 1 = the value sum into acc, 2 = per-element values into
// a.out; kGi: d/d input times a.scale into a.gi; kSt: the one output is streamed (aligned).
// Everything is known at compile time, so the body is straight-line code. The values of four
// vectors are added in float32 (a pairwise tree, error under 2 ULP of the sum of their
// magnitudes, the size of the values' own rounding) before they go to the float64 lanes.
// aux[i - ab]: the op's aux operand of element i (kOpAux ops). Returns the end of the full
// vectors.
template <int kLoss, bool kGi, bool kSt, class Op>
HWY_INLINE std::size_t PlainLoop(const Op& op, const PwArgs& a, const float* HWY_RESTRICT aux, std::size_t ab,
                                 std::size_t i, std::size_t end, AccD& acc) {
  static_assert(kLoss != 0 || kGi);
  static_assert(kLoss != 2 || !kGi);
  const DF d;
  const std::size_t N = hn::Lanes(d);
  const float* HWY_RESTRICT x = a.x;
  const float* HWY_RESTRICT y = a.y;
  float* HWY_RESTRICT o = kGi ? a.gi : a.out;
  const VF up = hn::Set(d, a.scale);
  constexpr bool kAux = kOpAux<Op>;
  constexpr std::size_t kAhead = 4096 / sizeof(float);
  // Stores a vector's output; returns its value (for kLoss == 1).
  auto finish = [&](std::size_t j, VF l, VF g) LOSSKIT_ALWAYS_INLINE {
    if constexpr (kLoss == 2 || kGi) {
      const VF v = kGi ? hn::Mul(up, g) : l;
      if constexpr (kSt) hn::Stream(v, d, o + j);
      else hn::StoreU(v, d, o + j);
    }
    return l;
  };
  auto general = [&](std::size_t j, VF xv, VF yv, VF pv) LOSSKIT_ALWAYS_INLINE {
    VF l = hn::Zero(d), g = hn::Zero(d);
    if constexpr (kLoss != 0 && kGi) OpLossDx(op, d, xv, yv, pv, l, g);
    else if constexpr (kGi) g = OpDx(op, d, xv, yv, pv);
    else l = OpLoss(op, d, xv, yv, pv);
    return finish(j, l, g);
  };
  auto load_aux = [&](std::size_t j) LOSSKIT_ALWAYS_INLINE {
    if constexpr (kAux) return hn::LoadU(d, aux + (j - ab));
    else return (void)j, hn::Set(d, 1.0f);
  };
  // Ops with a short form for finite lanes (Finite) take it for four vectors at once when
  // their inputs are all finite. Where the values are computed and the op declares that a NaN
  // or inf input makes Finite's value NaN or inf (kFiniteFlagsValue), the check is on the sum
  // of the four values, after the fact (the general form then redoes the four vectors and
  // overwrites their outputs); else on one sum of the inputs (a NaN or inf anywhere makes it
  // NaN or inf). An overflow only sends finite vectors the long way, with the same result.
  constexpr bool kFinite = requires(VF v, VF& r) { Op::Finite(d, v, v, v, r, r); };
  constexpr bool kAfter = kFinite && kLoss != 0 && requires { requires Op::kFiniteFlagsValue; };
  constexpr std::size_t G = 4;
  for (; i + G * N <= end; i += G * N) {
    VF xs[G], ys[G], ps[G], ls[G];
    for (std::size_t k = 0; k < G; ++k) {
      __builtin_prefetch(x + i + k * N + kAhead, 0, 3);
      __builtin_prefetch(y + i + k * N + kAhead, 0, 3);
      if constexpr (kAux) __builtin_prefetch(aux + (i - ab) + k * N + kAhead, 0, 3);
      xs[k] = hn::LoadU(d, x + i + k * N);
      ys[k] = hn::LoadU(d, y + i + k * N);
      ps[k] = load_aux(i + k * N);
    }
    auto sum4 = [&](const VF* v) LOSSKIT_ALWAYS_INLINE {
      return hn::Add(hn::Add(v[0], v[1]), hn::Add(v[2], v[3]));
    };
    bool fast = false;
    if constexpr (kFinite && !kAfter) {
      VF s[G];
      for (std::size_t k = 0; k < G; ++k) s[k] = kAux ? hn::Add(hn::Add(xs[k], ys[k]), ps[k]) : hn::Add(xs[k], ys[k]);
      fast = hn::AllTrue(d, hn::IsFinite(sum4(s)));
    }
    VF t = hn::Zero(d);  // the sum of the four values (kLoss == 1)
    auto short_form = [&]() LOSSKIT_ALWAYS_INLINE {
      if constexpr (kFinite) {
        for (std::size_t k = 0; k < G; ++k) {
          VF l, g;
          Op::Finite(d, xs[k], ys[k], ps[k], l, g);
          ls[k] = finish(i + k * N, l, g);
        }
      }
    };
    if constexpr (kAfter) {
      short_form();
      t = sum4(ls);
      fast = hn::AllTrue(d, hn::IsFinite(t));
    } else if constexpr (kFinite) {
      if (HWY_LIKELY(fast)) {
        short_form();
        if constexpr (kLoss == 1) t = sum4(ls);
      }
    }
    if (HWY_UNLIKELY(!fast)) {
      for (std::size_t k = 0; k < G; ++k) ls[k] = general(i + k * N, xs[k], ys[k], ps[k]);
      if constexpr (kLoss == 1) t = sum4(ls);
    }
    if constexpr (kLoss == 1) acc.add(t);
  }
  for (; i + N <= end; i += N) {
    __builtin_prefetch(x + i + kAhead, 0, 3);
    __builtin_prefetch(y + i + kAhead, 0, 3);
    const VF l = general(i, hn::LoadU(d, x + i), hn::LoadU(d, y + i), load_aux(i));
    if constexpr (kLoss == 1) acc.add(l);
  }
  return i;
}

// One block [begin, end) of a call. aux[i - ab]: the op's aux operand of element i (a periodic
// one is run in segments, see BlockAux).
template <class Op>
HWY_INLINE double Block(const Op& op, const PwArgs& a, const float* aux, std::size_t ab, std::size_t begin,
                        std::size_t end) {
  const DF d;
  const std::size_t N = hn::Lanes(d);
  constexpr bool kAux = kOpAux<Op>;
  AccD acc;
  const bool sum = a.forward && !a.out;
  // st: stream the full-vector stores of (gi, gt, out); only set where they are aligned.
  auto put = [&](VF v, float* p, std::size_t n, bool st) LOSSKIT_ALWAYS_INLINE {
    if (n != N) StoreTailF(d, v, p, n);
    else if (st) hn::Stream(v, d, p);
    else hn::StoreU(v, d, p);
  };
  bool st_gi = false, st_gt = false, st_out = false;
  auto step = [&](std::size_t i, std::size_t n) LOSSKIT_ALWAYS_INLINE {
    const bool full = n == N;
    const VF x = full ? hn::LoadU(d, a.x + i) : LoadTailF(d, a.x + i, n, 0.0f);
    const VF y = full ? hn::LoadU(d, a.y + i) : LoadTailF(d, a.y + i, n, 0.0f);
    VF p = hn::Set(d, 1.0f);
    if constexpr (kAux) p = full ? hn::LoadU(d, aux + (i - ab)) : LoadTailF(d, aux + (i - ab), n, 1.0f);
    VF w = hn::Set(d, 1.0f);
    if (a.w) w = full ? hn::LoadU(d, a.w + i) : LoadTailF(d, a.w + i, n, 0.0f);
    VF l = hn::Zero(d), gx = hn::Zero(d);
    if (a.forward && a.gi) OpLossDx(op, d, x, y, p, l, gx);
    else if (a.forward) l = OpLoss(op, d, x, y, p);
    else if (a.gi) gx = OpDx(op, d, x, y, p);
    if (a.forward) {
      if (a.w) l = hn::Mul(w, l);
      if (a.out) {
        put(l, a.out + i, n, st_out);
      } else if (sum) {
        acc.add(full ? l : hn::IfThenElseZero(hn::FirstN(d, n), l));
      }
    }
    if (a.gi) {
      VF up = a.gvec ? (full ? hn::LoadU(d, a.gvec + i) : LoadTailF(d, a.gvec + i, n, 0.0f)) : hn::Set(d, a.scale);
      if (a.w) up = hn::Mul(up, w);
      put(hn::Mul(up, gx), a.gi + i, n, st_gi);
      if (a.gt) put(hn::Mul(up, OpDy(op, d, x, y, p)), a.gt + i, n, st_gt);
      if (a.ga) put(hn::Mul(up, OpDa(op, d, x, y, p)), a.ga + i, n, false);
    }
  };
  std::size_t i = begin;
  float* first = a.gi ? a.gi : a.out;  // the output whose alignment the main loop follows
  if (a.stream && first) {
    const std::size_t head = StreamHead(d, first + begin, end - begin);
    if (head) step(i, head);
    i += head;
    auto aligned = [&](const float* p) {
      return p && reinterpret_cast<std::uintptr_t>(p + i) % (N * sizeof(float)) == 0;
    };
    st_gi = aligned(a.gi), st_gt = aligned(a.gt), st_out = aligned(a.out);
  }
  // Inputs are fetched ahead (one line per stream per vector on AVX-512): loads that miss
  // would otherwise fill the reorder window and stall the arithmetic behind them.
  auto general_loop = [&] {
    constexpr std::size_t kAhead = 4096 / sizeof(float);
    for (; i + N <= end; i += N) {
      __builtin_prefetch(a.x + i + kAhead, 0, 3);
      __builtin_prefetch(a.y + i + kAhead, 0, 3);
      if (a.w) __builtin_prefetch(a.w + i + kAhead, 0, 3);
      step(i, N);
    }
  };
#if defined(__SANITIZE_ADDRESS__)
  // Sanitizer builds run the general loop only: the plain loops' instantiations under
  // instrumentation take GCC half an hour on 2 cores (the Release tests cover them).
  constexpr bool kPlainLoops = false;
#else
  constexpr bool kPlainLoops = true;
#endif
  if constexpr (kPlainLoops) {
    const bool plain = !a.w && !a.gvec && !a.gt && !a.ga && !(a.out && a.gi);
    const bool st = a.gi ? st_gi : st_out;
    if (plain && a.forward && a.gi) {
      i = st ? PlainLoop<1, true, true>(op, a, aux, ab, i, end, acc) : PlainLoop<1, true, false>(op, a, aux, ab, i, end, acc);
    } else if (plain && a.gi) {
      i = st ? PlainLoop<0, true, true>(op, a, aux, ab, i, end, acc) : PlainLoop<0, true, false>(op, a, aux, ab, i, end, acc);
    } else if (plain && a.out) {
      i = st ? PlainLoop<2, false, true>(op, a, aux, ab, i, end, acc)
             : PlainLoop<2, false, false>(op, a, aux, ab, i, end, acc);
    } else if (plain && a.forward) {
      i = PlainLoop<1, false, false>(op, a, aux, ab, i, end, acc);
    } else {
      general_loop();
    }
  } else {
    general_loop();
  }
  if (i < end) step(i, end - i);
  if (st_gi || st_gt || st_out) hwy::FlushStream();
  return sum ? acc.sum() : 0.0;
}

// A block of an op with an aux operand: a per-element array (aux_period 0), or one repeating
// every aux_period elements (pos_weight [C] against [..., C]), run in segments that do not
// wrap; a short period is first repeated into a per-thread buffer of at least kRep elements.
template <class Op>
HWY_INLINE double BlockAux(const Op& op, const PwArgs& a, std::size_t begin, std::size_t end) {
  if (a.aux_period <= 0) return Block(op, a, a.aux, 0, begin, end);
  constexpr std::size_t kRep = 4096;
  std::size_t P = static_cast<std::size_t>(a.aux_period);
  const float* rep = a.aux;
  thread_local std::vector<float> buf;
  if (P < kRep) {
    const std::size_t k = (kRep + P - 1) / P;
    buf.resize(k * P);
    for (std::size_t j = 0; j < k; ++j) std::memcpy(buf.data() + j * P, a.aux, P * sizeof(float));
    rep = buf.data();
    P *= k;
  }
  double s = 0;
  for (std::size_t i = begin; i < end;) {
    const std::size_t j = i % P, stop = std::min(end, i + (P - j));
    s += Block(op, a, rep + j, i, i, stop);  // element i' of [i, stop) takes rep[j + i' - i]
    i = stop;
  }
  return s;
}


/// One block [begin, end) of a pointwise call with the vector Op `op`: the entry point of a
/// loss's exported kernel (LOSSKIT_POINTWISE_KERNEL).
template <class Op>
HWY_INLINE double PointwiseBlock(const Op& op, const PwArgs& a, std::int64_t begin, std::int64_t end) {
  const auto b = static_cast<std::size_t>(begin), e = static_cast<std::size_t>(end);
  if constexpr (kOpAux<Op>) return BlockAux(op, a, b, e);
  else return Block(op, a, nullptr, 0, b, e);
}

}  // namespace HWY_NAMESPACE
}  // namespace losskit::kernels
HWY_AFTER_NAMESPACE();

#endif  // LOSSKIT_KERNELS_POINTWISE_INL_H_
