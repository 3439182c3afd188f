// dice_loss: validate -> canonical [B, C, D] layout -> pass 1 (per-(b, c) sums, deterministic)
// -> f per group -> reduce; the backward adds pass 2 (the gradient, position by position,
// chained through the activation).
//
// Pass 1 cuts each batch item's D positions into blocks whose size depends only on the shape;
// each block adds its per-channel sums in position order into its own slot, and the slots are
// then added in (b, block) order by one thread: bitwise identical results for any thread count.
// Class-id targets are never expanded to one-hot tensors: t_c = [c == id] is computed inline.
//
// float32 calls whose positions are contiguous run both passes in the SIMD kernels of
// kernels/dice.cpp (accuracy stated there); chunks holding non-finite or huge values, and
// everything else (float64, odd strides), run the scalar tile kernels below (float64 sums,
// the activation computed in T as PyTorch does).
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "core/api.hpp"
#include "core/check.hpp"
#include "core/class_args.hpp"
#include "core/layout.hpp"
#include "core/outputs.hpp"
#include "core/parallel.hpp"
#include "kernels/dice.hpp"
#include "losskit/segmentation.hpp"

namespace losskit {
namespace {

using detail::Pass;
/// Which overlap score the engine finishes with (the sums and the gradient passes are shared):
/// MONAI's DiceLoss (Dice or Jaccard) or TverskyLoss, and the loss's name for messages.
struct Score {
  std::string_view fn = "dice_loss";
  bool tversky = false;
  double alpha = 0.5, beta = 0.5;  ///< Tversky's weights of the false positives and negatives
  bool keep_spatial = true;        ///< reduction None: (B, C, 1, .., 1) (DiceLoss) or (B, C) (TverskyLoss)
  /// GeneralizedDiceLoss: one score per batch item (or one with batch) over the channels, each
  /// channel weighted by w(sum t): 0 square (1 / G^2), 1 simple (1 / G), 2 uniform (1).
  bool generalized = false;
  int w_type = 0;
};

enum class Act { None, Sigmoid, Softmax };
/// How tp, P and G are formed (MONAI compute_tp_fp_fn): Product is ord 1 without soft_label
/// (tp = sum p t); Norm1 / Norm2 are the norm forms with ord 1 / 2 (tp = (P + G - |p - t|^k) / 2).
enum class Form { Product, Norm1, Norm2 };
/// What the target holds: Dense values t[b, c, d]; OneHot class ids (one per position) to
/// encode as t_c = [c == id]; Binary ids of a single-channel input used as values (0 or 1).
enum class TKind { Dense, OneHot, Binary };

inline double sgn(double v) { return static_cast<double>((v > 0) - (v < 0)); }

/// "[1, 0, 2]": the multi-index of flat position `pos` in `shape`.
std::string index_str(const Shape& shape, std::int64_t pos) {
  std::int64_t sub[kMaxDims] = {};
  for (int k = shape.ndim() - 1; k >= 0; --k) {
    sub[k] = shape[k] > 0 ? pos % shape[k] : 0;
    pos = shape[k] > 0 ? pos / shape[k] : 0;
  }
  std::ostringstream os;
  for (int k = 0; k < shape.ndim(); ++k) os << (k ? ", " : "") << sub[k];
  return os.str();
}

/// The validated call, in canonical form.
template <class T, class TT>
struct Plan {
  detail::NCD<const T> x;
  detail::NCD<const TT> tdense;  ///< TKind::Dense
  detail::ND<const TT> tids;     ///< TKind::OneHot / Binary
  TKind tkind = TKind::Dense;
  Act act = Act::None;
  Form form = Form::Product;
  std::int64_t B = 0, C = 0, D = 0, c0 = 0, Cp = 0;
  bool batch = false;
};

/// True when a class-id value is valid for this plan.
template <class TT>
bool id_ok(TT v, TKind k, std::int64_t C) {
  if (k == TKind::Binary) return v == TT(0) || v == TT(1);
  if constexpr (std::is_integral_v<TT>) {
    return v >= 0 && v < C;
  } else {
    return v >= TT(0) && v < static_cast<TT>(C) && std::floor(v) == v;
  }
}

template <class TT>
[[noreturn]] void fail_id(std::string_view kFn, const Shape& tshape, std::int64_t pos, TT v, TKind k, std::int64_t C) {
  using detail::fail;
  const std::string at = index_str(tshape, pos);
  if (k == TKind::Binary)
    fail(ErrorKind::Index, kFn, "target[", at, "] = ", v,
         " is not 0 or 1 (a single-channel input takes a binary mask as class ids)");
  if constexpr (!std::is_integral_v<TT>) {
    if (!(std::floor(v) == v))
      fail(ErrorKind::Value, kFn, "target[", at, "] = ", v, " is not an integer class id in [0, ", C,
           ") (to_onehot_y)");
  }
  fail(ErrorKind::Index, kFn, "target[", at, "] = ", v, " is outside [0, ", C, ")");
}

/// Checks every class id (TKind OneHot / Binary): the flat (b * D + d) position of the first
/// invalid one, or -1.
template <class T, class TT>
std::int64_t first_bad_id(const Plan<T, TT>& pl) {
  using namespace detail;
  const std::int64_t n = pl.B * pl.D;
  if (pl.tkind == TKind::Dense || n == 0) return -1;
  const std::int64_t bs = block_size(n, 16384);
  const std::int64_t nb = (n + bs - 1) / bs;
  std::vector<std::int64_t> bad(static_cast<std::size_t>(nb), -1);
  parallel_for(nb, 1, [&](std::int64_t kb, std::int64_t ke) {
    for (std::int64_t k = kb; k < ke; ++k)
      for (std::int64_t i = k * bs, e = std::min(n, (k + 1) * bs); i < e; ++i)
        if (!id_ok(pl.tids.at(i / pl.D, i % pl.D), pl.tkind, pl.C)) {
          bad[static_cast<std::size_t>(k)] = i;
          break;
        }
  });
  for (const std::int64_t v : bad)
    if (v >= 0) return v;
  return -1;
}

/// Positions per tile: the kernels work on a tile of positions channel by channel, so that the
/// inner loops run along the (usually contiguous) spatial dim.
constexpr std::int64_t kTile = 128;

/// One tile [d0, d0 + n) of batch item b: the activation p[c * kTile + j] (computed in T, as
/// PyTorch does) and the class ids.
template <Act A, TKind K, class T, class TT>
void load_tile(const Plan<T, TT>& pl, std::int64_t b, std::int64_t d0, std::int64_t n, T* p, double* s,
               std::int64_t* ids) {
  const std::int64_t C = pl.C, sC = pl.x.sC, sD = pl.x.sD;
  const T* x0 = &pl.x.at(b, 0, d0);
  if constexpr (K != TKind::Dense)
    for (std::int64_t j = 0; j < n; ++j) ids[j] = static_cast<std::int64_t>(pl.tids.at(b, d0 + j));
  if constexpr (A == Act::None) {
    for (std::int64_t c = 0; c < C; ++c)
      for (std::int64_t j = 0; j < n; ++j) p[c * kTile + j] = x0[c * sC + j * sD];
  } else if constexpr (A == Act::Sigmoid) {
    for (std::int64_t c = 0; c < C; ++c)
      for (std::int64_t j = 0; j < n; ++j) {
        const T v = x0[c * sC + j * sD];
        if (v >= T(0)) {
          p[c * kTile + j] = T(1) / (T(1) + std::exp(-v));
        } else {
          const T e = std::exp(v);
          p[c * kTile + j] = e / (T(1) + e);
        }
      }
  } else {
    // softmax over channels: m = max_c x, e_c = exp(x_c - m) (NaN for a row of -inf, as torch),
    // p_c = e_c / sum_c e_c with the sum in double, in channel order.
    T m[kTile];
    for (std::int64_t j = 0; j < n; ++j) {
      m[j] = -std::numeric_limits<T>::infinity();
      s[j] = 0;
    }
    for (std::int64_t c = 0; c < C; ++c)
      for (std::int64_t j = 0; j < n; ++j) m[j] = std::max(m[j], x0[c * sC + j * sD]);
    for (std::int64_t c = 0; c < C; ++c)
      for (std::int64_t j = 0; j < n; ++j) {
        const T e = std::exp(x0[c * sC + j * sD] - m[j]);
        p[c * kTile + j] = e;
        s[j] += static_cast<double>(e);
      }
    for (std::int64_t c = 0; c < C; ++c)
      for (std::int64_t j = 0; j < n; ++j)
        p[c * kTile + j] = static_cast<T>(static_cast<double>(p[c * kTile + j]) / s[j]);
  }
}

/// t_c at tile position j: the dense value, [c == id], or the binary id itself.
template <TKind K, class T, class TT>
inline double target_at(const Plan<T, TT>& pl, std::int64_t b, std::int64_t c, std::int64_t d,
                        const std::int64_t* ids, std::int64_t j) {
  if constexpr (K == TKind::Dense) return static_cast<double>(pl.tdense.at(b, c, d));
  else if constexpr (K == TKind::OneHot) return c == ids[j] ? 1.0 : 0.0;
  else return static_cast<double>(ids[j]);
}

/// Scratch of the scalar tile kernels.
template <class T>
struct TileBuf {
  std::vector<T> p;       ///< [C][kTile] activation
  std::vector<double> u;  ///< [C][kTile] dL/dp
  double s[kTile], pu[kTile];
  std::int64_t ids[kTile];
  explicit TileBuf(std::int64_t C) : p(static_cast<std::size_t>(C * kTile)), u(static_cast<std::size_t>(C * kTile)) {}
};

/// Scalar pass 1 of positions [d0, d0 + n) of batch item b (n <= kTile): adds each channel's
/// sums {s0, P-part, G-part} over the positions in order into acc[3 (c - c0) + k].
template <Act A, Form F, TKind K, class T, class TT>
void tile_sums(const Plan<T, TT>& pl, std::int64_t b, std::int64_t d0, std::int64_t n, TileBuf<T>& buf,
               double* acc) {
  load_tile<A, K>(pl, b, d0, n, buf.p.data(), buf.s, buf.ids);
  const T* p = buf.p.data();
  for (std::int64_t c = pl.c0; c < pl.C; ++c) {
    double* a = acc + 3 * (c - pl.c0);
    double a0 = a[0], a1 = a[1], a2 = a[2];
    for (std::int64_t j = 0; j < n; ++j) {
      const double t = target_at<K>(pl, b, c, d0 + j, buf.ids, j);
      const double pc = static_cast<double>(p[c * kTile + j]);
      if constexpr (F == Form::Product) {
        a0 += pc * t;
        a1 += pc;
        a2 += t;
      } else if constexpr (F == Form::Norm1) {
        a0 += std::fabs(pc - t);
        a1 += std::fabs(pc);
        a2 += std::fabs(t);
      } else {
        a0 += (pc - t) * (pc - t);
        a1 += pc * pc;
        a2 += t * t;
      }
    }
    a[0] = a0;
    a[1] = a1;
    a[2] = a2;
  }
}

/// Scalar pass 2 of positions [d0, d0 + n) of batch item b (n <= kTile): recomputes p and
/// writes the gradient; ag / bg hold the Cp coefficients of b's groups.
template <Act A, Form F, TKind K, class T, class TT>
void tile_grad(const Plan<T, TT>& pl, std::int64_t b, std::int64_t d0, std::int64_t n, const double* ag,
               const double* bg, const detail::NCD<T>& gi, TileBuf<T>& buf) {
  const std::int64_t C = pl.C, c0 = pl.c0;
  load_tile<A, K>(pl, b, d0, n, buf.p.data(), buf.s, buf.ids);
  const T* p = buf.p.data();
  double* u = buf.u.data();
  T* g0 = &gi.at(b, 0, d0);
  const std::int64_t sC = gi.sC, sD = gi.sD;
  for (std::int64_t c = 0; c < c0; ++c)
    for (std::int64_t j = 0; j < n; ++j) u[c * kTile + j] = 0;
  for (std::int64_t c = c0; c < C; ++c) {
    const double a = ag[c - c0], bb = bg[c - c0];
    for (std::int64_t j = 0; j < n; ++j) {
      const double t = target_at<K>(pl, b, c, d0 + j, buf.ids, j);
      const double pc = static_cast<double>(p[c * kTile + j]);
      double dtp, dP;
      if constexpr (F == Form::Product) {
        dtp = t;
        dP = 1.0;
      } else if constexpr (F == Form::Norm1) {
        dtp = (sgn(pc) - sgn(pc - t)) / 2;
        dP = sgn(pc);
      } else {
        dtp = t;  // (2p - 2(p - t)) / 2
        dP = 2.0 * pc;
      }
      u[c * kTile + j] = a * dtp + bb * dP;
    }
  }
  if constexpr (A == Act::None) {
    for (std::int64_t c = 0; c < C; ++c)
      for (std::int64_t j = 0; j < n; ++j) g0[c * sC + j * sD] = static_cast<T>(u[c * kTile + j]);
  } else if constexpr (A == Act::Sigmoid) {
    for (std::int64_t c = 0; c < C; ++c)
      for (std::int64_t j = 0; j < n; ++j) {
        const double pc = static_cast<double>(p[c * kTile + j]);
        g0[c * sC + j * sD] = static_cast<T>(u[c * kTile + j] * pc * (1.0 - pc));
      }
  } else {
    double* pu = buf.pu;
    for (std::int64_t j = 0; j < n; ++j) pu[j] = 0;
    for (std::int64_t c = 0; c < C; ++c)
      for (std::int64_t j = 0; j < n; ++j) pu[j] += static_cast<double>(p[c * kTile + j]) * u[c * kTile + j];
    for (std::int64_t c = 0; c < C; ++c)
      for (std::int64_t j = 0; j < n; ++j) {
        const double pc = static_cast<double>(p[c * kTile + j]);
        g0[c * sC + j * sD] = static_cast<T>(pc * (u[c * kTile + j] - pu[j]));
      }
  }
}

// ---- the SIMD path (float32; kernels/dice.cpp) ----

/// Whether the SIMD kernels take this call: float32 with the positions contiguous in the input,
/// a dense target and the gradient (D == 1: any stride).
template <class T, class TT>
bool simd_ok(const Plan<T, TT>& pl, const detail::NCD<T>* gi) {
  if constexpr (!std::is_same_v<T, float>) {
    return false;
  } else {
    if (pl.D == 1) return true;
    if (pl.x.sD != 1) return false;
    if (pl.tkind == TKind::Dense && pl.tdense.sD != 1) return false;
    return gi == nullptr || gi->sD == 1;
  }
}

/// The scalar tile kernels for the SIMD kernels' fallback chunks (values that are not finite
/// or too large): block [d0, ...) of batch item b; chunk [d0 + j0, d0 + j0 + len).
template <class T, class TT>
struct Fallback {
  const Plan<T, TT>* pl = nullptr;
  std::int64_t b = 0, d0 = 0;
  const double* ag = nullptr;  ///< pass 2: b's Cp coefficients
  const double* bg = nullptr;
  const detail::NCD<T>* gi = nullptr;
};
template <Act A, Form F, TKind K, class T, class TT>
void fallback_chunk(void* ctx, std::int64_t j0, std::int64_t len, double* sums) {
  const auto& f = *static_cast<const Fallback<T, TT>*>(ctx);
  TileBuf<T> buf(f.pl->C);
  for (std::int64_t o = 0; o < len; o += kTile) {
    const std::int64_t n = std::min(kTile, len - o);
    if (sums) tile_sums<A, F, K>(*f.pl, f.b, f.d0 + j0 + o, n, buf, sums);
    else tile_grad<A, F, K>(*f.pl, f.b, f.d0 + j0 + o, n, f.ag, f.bg, *f.gi, buf);
  }
}

/// Kernel arguments for block [d0, d0 + n) of batch item b (float32 plans only).
template <Act A, Form F, TKind K, class T, class TT>
kernels::DiceArgs simd_args(const Plan<T, TT>& pl, std::int64_t b, std::int64_t d0, std::int64_t n,
                            Fallback<T, TT>& fb) {
  kernels::DiceArgs a;
  a.act = A == Act::None ? kernels::DiceAct::None
                         : (A == Act::Sigmoid ? kernels::DiceAct::Sigmoid : kernels::DiceAct::Softmax);
  a.form = F == Form::Product ? kernels::DiceForm::Product
                              : (F == Form::Norm1 ? kernels::DiceForm::Norm1 : kernels::DiceForm::Norm2);
  a.C = pl.C;
  a.c0 = pl.c0;
  a.n = n;
  if constexpr (std::is_same_v<T, float>) {
    a.x = &pl.x.at(b, 0, d0);
    a.x_sC = pl.x.sC;
    if constexpr (K == TKind::Dense) {
      if constexpr (std::is_same_v<TT, float>) {
        a.t = &pl.tdense.at(b, 0, d0);
        a.t_sC = pl.tdense.sC;
      }
    } else {
      if constexpr (std::is_same_v<TT, std::int64_t>) a.ids = &pl.tids.at(b, d0);
      else if constexpr (std::is_same_v<TT, float>) a.fids = &pl.tids.at(b, d0);
      a.ids_s = pl.tids.sD;
      a.id_off = K == TKind::Binary ? 1 : 0;
    }
  }
  fb.pl = &pl;
  fb.b = b;
  fb.d0 = d0;
  a.scalar = &fallback_chunk<A, F, K, T, TT>;
  a.ctx = &fb;
  return a;
}

/// Pass 1 block size (positions): depends only on the shape; a multiple of the SIMD chunk on
/// the SIMD path, so that pass 2's blocks see the same chunks.
inline std::int64_t pass_block(std::int64_t C, std::int64_t D, bool simd) {
  std::int64_t bs = detail::block_size(D, std::max<std::int64_t>(kTile, 8192 / C));
  if (simd) {
    const std::int64_t ch = kernels::dice_chunk(C);
    bs = (bs + ch - 1) / ch * ch;
  }
  return bs;
}

/// Pass 1: per-(b, c') sums {s0, P-part, G-part}, c' = c - c0, laid out [B][Cp][3]. Each block
/// of positions adds into its own slot (in position order); the slots are then added in
/// (b, block) order.
template <Act A, Form F, TKind K, class T, class TT>
void sum_pass(const Plan<T, TT>& pl, std::vector<double>& S, bool simd) {
  using namespace detail;
  const std::int64_t B = pl.B, C = pl.C, D = pl.D, Cp = pl.Cp;
  const std::int64_t K3 = 3 * Cp;
  S.assign(static_cast<std::size_t>(B * K3), 0.0);
  if (B == 0 || D == 0) return;
  const std::int64_t bs = pass_block(C, D, simd);
  const std::int64_t nblk = (D + bs - 1) / bs;
  const std::int64_t ntask = B * nblk;
  std::vector<double> partial(static_cast<std::size_t>(ntask * K3), 0.0);
  // Threads only pay off from a few thousand elements per thread; the grain changes which
  // thread adds a block, never the order of the sums.
  const std::int64_t task_work = std::min(bs, D) * C;
  parallel_for(ntask, std::max<std::int64_t>(1, 16384 / task_work), [&](std::int64_t tb, std::int64_t te) {
    TileBuf<T> buf(simd ? 0 : C);
    for (std::int64_t task = tb; task < te; ++task) {
      const std::int64_t b = task / nblk, blk = task % nblk;
      const std::int64_t d_begin = blk * bs, d_end = std::min(D, (blk + 1) * bs);
      double* acc = &partial[static_cast<std::size_t>(task * K3)];
      if (simd) {
        Fallback<T, TT> fb;
        kernels::dice_sums(simd_args<A, F, K>(pl, b, d_begin, d_end - d_begin, fb), acc);
      } else {
        for (std::int64_t d0 = d_begin; d0 < d_end; d0 += kTile)
          tile_sums<A, F, K>(pl, b, d0, std::min(kTile, d_end - d0), buf, acc);
      }
    }
  });
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t blk = 0; blk < nblk; ++blk) {
      const double* src = &partial[static_cast<std::size_t>((b * nblk + blk) * K3)];
      double* dst = &S[static_cast<std::size_t>(b * K3)];
      for (std::int64_t k = 0; k < K3; ++k) dst[k] += src[k];
    }
}

/// Pass 2: recomputes the activation and writes the gradient w.r.t. the input (logits) into gi.
/// Ag / Bg: the coefficients of each group (batch: Cp of them, else B * Cp).
template <Act A, Form F, TKind K, class T, class TT>
void grad_pass(const Plan<T, TT>& pl, const std::vector<double>& Ag, const std::vector<double>& Bg,
               const detail::NCD<T>& gi, bool simd) {
  using namespace detail;
  const std::int64_t B = pl.B, C = pl.C, D = pl.D, Cp = pl.Cp, c0 = pl.c0;
  if (B == 0 || D == 0) return;
  auto coef = [&](const std::vector<double>& v, std::int64_t b) { return v.data() + (pl.batch ? 0 : b * Cp); };
  // The SIMD kernels take float32 coefficients, per batch item and channel (0 below c0); too
  // large, too small (near float32's subnormals) or non-finite ones send the whole pass to the
  // scalar code.
  std::vector<float> fa, fb;
  if (simd) {
    fa.assign(static_cast<std::size_t>(B * C), 0.0f);
    fb.assign(static_cast<std::size_t>(B * C), 0.0f);
    for (std::int64_t b = 0; b < B && simd; ++b)
      for (std::int64_t c = c0; c < C; ++c) {
        const double a = coef(Ag, b)[c - c0], bb = coef(Bg, b)[c - c0];
        auto fits = [](double v) { return v == 0 || (std::fabs(v) <= kernels::kDiceBig && std::fabs(v) >= 1e-30); };
        if (!(fits(a) && fits(bb))) {
          simd = false;
          break;
        }
        fa[static_cast<std::size_t>(b * C + c)] = static_cast<float>(a);
        fb[static_cast<std::size_t>(b * C + c)] = static_cast<float>(bb);
      }
  }
  if (simd) {
    const std::int64_t bs = pass_block(C, D, true);
    const std::int64_t nblk = (D + bs - 1) / bs;
    const std::int64_t task_work = std::min(bs, D) * C;
    parallel_for(B * nblk, std::max<std::int64_t>(1, 16384 / task_work), [&](std::int64_t tb, std::int64_t te) {
      for (std::int64_t task = tb; task < te; ++task) {
        const std::int64_t b = task / nblk, blk = task % nblk;
        const std::int64_t d_begin = blk * bs, d_end = std::min(D, (blk + 1) * bs);
        Fallback<T, TT> fbk;
        fbk.ag = coef(Ag, b);
        fbk.bg = coef(Bg, b);
        fbk.gi = &gi;
        kernels::DiceArgs a = simd_args<A, F, K>(pl, b, d_begin, d_end - d_begin, fbk);
        if constexpr (std::is_same_v<T, float>) {
          a.g = &gi.at(b, 0, d_begin);
          a.g_sC = gi.sC;
        }
        a.ca = fa.data() + b * C;
        a.cb = fb.data() + b * C;
        kernels::dice_grad(a);
      }
    });
    return;
  }
  const std::int64_t ntiles = (D + kTile - 1) / kTile;
  parallel_for(B * ntiles, std::max<std::int64_t>(1, 8192 / (C * kTile)), [&](std::int64_t tb, std::int64_t te) {
    TileBuf<T> buf(C);
    for (std::int64_t tile = tb; tile < te; ++tile) {
      const std::int64_t b = tile / ntiles, d0 = (tile % ntiles) * kTile;
      tile_grad<A, F, K>(pl, b, d0, std::min(kTile, D - d0), coef(Ag, b), coef(Bg, b), gi, buf);
    }
  });
}

/// Calls fn.template operator()<A, F, K>() for the plan's activation, form and target kind.
template <class T, class TT, class Fn>
void dispatch(const Plan<T, TT>& pl, Fn&& fn) {
  auto by_kind = [&]<Act A, Form F>() {
    switch (pl.tkind) {
      case TKind::Dense: fn.template operator()<A, F, TKind::Dense>(); break;
      case TKind::OneHot: fn.template operator()<A, F, TKind::OneHot>(); break;
      case TKind::Binary: fn.template operator()<A, F, TKind::Binary>(); break;
    }
  };
  auto by_form = [&]<Act A>() {
    switch (pl.form) {
      case Form::Product: by_kind.template operator()<A, Form::Product>(); break;
      case Form::Norm1: by_kind.template operator()<A, Form::Norm1>(); break;
      case Form::Norm2: by_kind.template operator()<A, Form::Norm2>(); break;
    }
  };
  switch (pl.act) {
    case Act::None: by_form.template operator()<Act::None>(); break;
    case Act::Sigmoid: by_form.template operator()<Act::Sigmoid>(); break;
    case Act::Softmax: by_form.template operator()<Act::Softmax>(); break;
  }
}

/// f of one group and the two coefficients of its gradient: df/dp_i = alpha tp'_i + beta P'_i.
struct GroupResult {
  double f = 0, alpha = 0, beta = 0;
};
GroupResult group_result(Form form, const double* s, double snr, double sdr, bool jaccard, const Score& sc) {
  const double P = s[1], G = s[2];
  const double tp = form == Form::Product ? s[0] : (P + G - s[0]) / 2;
  GroupResult r;
  if (sc.tversky) {
    // 1 - (tp + snr) / (tp + alpha fp + beta fn + sdr), fp = P - tp, fn = G - tp (MONAI's
    // sum p (1 - t) and sum (1 - p) t, the same sums)
    const double Nn = tp + snr;
    const double Dd = tp + sc.alpha * (P - tp) + sc.beta * (G - tp) + sdr;
    r.f = 1.0 - Nn / Dd;
    r.alpha = -1.0 / Dd + Nn * (1.0 - sc.alpha - sc.beta) / (Dd * Dd);
    r.beta = sc.alpha * Nn / (Dd * Dd);
    return r;
  }
  const double N = 2 * tp + snr;
  if (!jaccard) {
    const double Dd = P + G + sdr;
    r.f = 1.0 - N / Dd;
    r.alpha = -2.0 / Dd;
    r.beta = N / (Dd * Dd);
  } else {
    const double Dd = 2 * (P + G - tp) + sdr;
    r.f = 1.0 - N / Dd;
    r.alpha = -2.0 / Dd - 2.0 * N / (Dd * Dd);
    r.beta = 2.0 * N / (Dd * Dd);
  }
  return r;
}

/// GeneralizedDiceLoss (MONAI): per item (Cp consecutive groups holding {tp, P + G, G} in
/// res), w_c = w(G_c) in float32 as MONAI (its ground_o.float()), infinite weights (empty
/// classes) replaced by the item's largest finite weight, f = 1 - (2 sum w tp + snr) /
/// (sum w (P + G) + sdr); then res holds each group's gradient coefficients (of tp and P).
void generalized_scores(std::vector<GroupResult>& res, std::vector<double>& f, std::int64_t Cp, int w_type, double snr,
                        double sdr) {
  std::vector<double> w(static_cast<std::size_t>(Cp));
  std::vector<char> inf(static_cast<std::size_t>(Cp));
  for (std::size_t i = 0; i < f.size(); ++i) {
    GroupResult* g = res.data() + i * static_cast<std::size_t>(Cp);
    double wmax = -std::numeric_limits<double>::infinity();
    for (std::int64_t c = 0; c < Cp; ++c) {
      const float G = static_cast<float>(g[c].beta);
      const float wc = w_type == 0 ? 1.0f / (G * G) : (w_type == 1 ? 1.0f / G : 1.0f);
      inf[static_cast<std::size_t>(c)] = std::isinf(wc);
      w[static_cast<std::size_t>(c)] = std::isinf(wc) ? 0.0 : static_cast<double>(wc);
      wmax = std::max(wmax, w[static_cast<std::size_t>(c)]);
    }
    for (std::int64_t c = 0; c < Cp; ++c)
      if (inf[static_cast<std::size_t>(c)]) w[static_cast<std::size_t>(c)] = wmax;
    double numer = snr, den = sdr;
    for (std::int64_t c = 0; c < Cp; ++c) {
      numer += 2.0 * w[static_cast<std::size_t>(c)] * g[c].f;
      den += w[static_cast<std::size_t>(c)] * g[c].alpha;
    }
    f[i] = 1.0 - numer / den;
    for (std::int64_t c = 0; c < Cp; ++c) {
      const double wc = w[static_cast<std::size_t>(c)];
      g[c] = GroupResult{0, -2.0 * wc / den, numer * wc / (den * den)};
    }
  }
}

template <class T, class TT>
void run(Pass pass, ConstView<T> input, ConstView<TT> target, TensorView<T> out, ConstView<T> grad_output,
         TensorView<T> grad_input, const DiceLossOptions<T>& o, Tensor<T>* owned = nullptr, const Score& sc = {}) {
  using namespace detail;
  const std::string_view kFn = sc.fn;
  constexpr bool kIntTarget = std::is_integral_v<TT>;
  const Reduction r = o.reduction;
  // ---- options ----
  check_reduction(kFn, r);
  if (o.sigmoid && o.softmax)
    fail(ErrorKind::Value, kFn, "sigmoid = true and softmax = true are not compatible; set at most one");
  // ---- shapes ----
  check_data(kFn, "input", input);
  check_data(kFn, "target", target);
  const int nd = input.ndim();
  if (nd < 3)
    fail(ErrorKind::Shape, kFn, "input must have shape (B, C, d1, ..., dK) with at least one spatial dim, got ",
         input.shape().str());
  Plan<T, TT> pl;
  pl.B = input.size(0);
  pl.C = input.size(1);
  if (pl.C == 0) fail(ErrorKind::Shape, kFn, "input of shape ", input.shape().str(), " has no channels");
  const bool multi = pl.C > 1;  // MONAI ignores softmax, to_onehot_y and include_background for C == 1
  pl.act = o.sigmoid ? Act::Sigmoid : (o.softmax && multi ? Act::Softmax : Act::None);
  pl.c0 = (!o.include_background && multi) ? 1 : 0;
  pl.Cp = pl.C - pl.c0;
  pl.form = o.squared_pred ? Form::Norm2 : (o.soft_label ? Form::Norm1 : Form::Product);
  pl.batch = o.batch;
  Shape ids_shape = input.shape();  // (B, 1, d1..dK)
  ids_shape[1] = 1;
  int ids_nb = 2;  // dims of the ids' batch group: (B, 1) or (B)
  if constexpr (kIntTarget) {
    const Shape no_ch = drop_dim(input.shape(), 1);
    if (target.shape() == no_ch) {
      ids_nb = 1;
    } else if (!(target.shape() == ids_shape)) {
      fail(ErrorKind::Shape, kFn, "target has shape ", target.shape().str(), " but input has shape ",
           input.shape().str(), "; class ids must have shape ", ids_shape.str(), " or ", no_ch.str());
    }
    pl.tkind = multi ? TKind::OneHot : TKind::Binary;
  } else {
    if (o.to_onehot_y && multi) {
      if (!(target.shape() == ids_shape))
        fail(ErrorKind::Shape, kFn, "target has shape ", target.shape().str(), " but input has shape ",
             input.shape().str(), "; with to_onehot_y the target holds class ids of shape ", ids_shape.str());
      pl.tkind = TKind::OneHot;
    } else {
      if (!(target.shape() == input.shape())) {
        Shape ti = input.shape(), tt = target.shape();
        if (pl.c0 == 1 && tt.ndim() >= 2) {
          ti[1] -= 1;
          tt[1] = std::max<std::int64_t>(tt[1] - 1, 0);
        }
        fail(ErrorKind::Shape, kFn, "target has shape ", target.shape().str(), " but input has shape ",
             input.shape().str(), "; they must match (after background removal: target ", tt.str(), ", input ",
             ti.str(), ")", (o.to_onehot_y ? " (to_onehot_y is ignored for a single-channel input)" : ""));
      }
      pl.tkind = TKind::Dense;
    }
  }
  // ---- weight ----
  const bool has_w = !o.weight.empty();
  if (has_w) {
    if (static_cast<std::int64_t>(o.weight.size()) != pl.Cp)
      fail(ErrorKind::Shape, kFn, "weight has ", o.weight.size(), " entries but there are ", pl.Cp,
           " classes after background removal (input has ", pl.C, " channels, include_background = ",
           (o.include_background ? "true" : "false"), ")");
    for (std::size_t i = 0; i < o.weight.size(); ++i)
      if (!(o.weight[i] >= T(0)))
        fail(ErrorKind::Value, kFn, "weight[", i, "] = ", static_cast<double>(o.weight[i]), " must be >= 0");
  }
  const bool use_w = has_w && pl.Cp != 1;  // MONAI applies weight only with more than one class
  // ---- outputs ----
  // groups: the (b, c) sums (c only with batch); items: the losses (= groups, or one per batch
  // item for the generalized score)
  const std::int64_t groups = (pl.batch ? 1 : pl.B) * pl.Cp;
  Shape none_shape;
  if (sc.generalized) {
    none_shape.push_back(pl.batch ? 1 : pl.B);  // MONAI: f.shape[0:2] + [1] * (ndim - 2)
    if (!pl.batch) none_shape.push_back(1);
    for (int k = 2; k < nd; ++k) none_shape.push_back(1);
  } else {
    if (!pl.batch) none_shape.push_back(pl.B);
    none_shape.push_back(pl.Cp);
    if (sc.keep_spatial)
      for (int k = 2; k < nd; ++k) none_shape.push_back(1);
  }
  const std::int64_t items = none_shape.numel();
  if (owned) out = allocate(*owned, out_shape_of(r, none_shape));
  if (has_forward(pass)) {
    check_output(kFn, "out", out, out_shape_of(r, none_shape));
    check_no_overlap(kFn, "out", out, named("input", input), named("target", target));
  }
  double g_scalar = 1.0;
  if (pass == Pass::Backward) g_scalar = scalar_grad_output<T>(kFn, r, grad_output, none_shape);
  if (has_backward(pass)) {
    check_output(kFn, "grad_input", grad_input, input.shape());
    check_no_overlap(kFn, "grad_input", grad_input, named("input", input), named("target", target),
                     named("grad_output", grad_output), named("out", ConstView<T>(out)));
  }
  // ---- canonical layouts ----
  // float32 takes the SIMD kernels, which want the positions contiguous: other layouts
  // (channels-last, ...) are staged as contiguous copies, so every layout gives the same bits.
  auto need_copy = [&](const auto& v) {
    if (!ncd_ok(v, 1)) return true;
    if constexpr (!std::is_same_v<T, float>) return false;
    const auto n = ncd_of(v, 1);
    return n.D > 1 && n.sD != 1;
  };
  Staged<const T> in_stage(input, need_copy(input), false);
  pl.x = ncd_of(in_stage.view(), 1);
  pl.D = pl.x.D;
  Staged<const TT> tg_stage;
  if (pl.tkind == TKind::Dense) {
    tg_stage = Staged<const TT>(target, need_copy(target), false);
    pl.tdense = ncd_of(tg_stage.view(), 1);
  } else {
    const bool ok = collapsible(target, 0, ids_nb) && collapsible(target, ids_nb, target.ndim());
    tg_stage = Staged<const TT>(target, !ok, false);
    pl.tids = nd_of(tg_stage.view(), ids_nb);
  }
  // ---- the last check: every class id ----
  const std::int64_t bad = first_bad_id(pl);
  if (bad >= 0) fail_id(kFn, target.shape(), bad, pl.tids.at(bad / pl.D, bad % pl.D), pl.tkind, pl.C);
  // ---- validation done: from here on outputs are written ----
  // Pass 1 (sums); pass 2 recomputes the activation rather than storing it (less memory traffic).
  Staged<T> grad_stage;
  NCD<T> gi{};
  if (has_backward(pass)) {
    grad_stage = Staged<T>(grad_input, need_copy(grad_input), true);
    gi = ncd_of(grad_stage.view(), 1);
  }
  const bool simd = simd_ok(pl, has_backward(pass) ? &gi : nullptr);
  std::vector<double> S;
  dispatch(pl, [&]<Act A, Form F, TKind K>() { sum_pass<A, F, K>(pl, S, simd); });
  const std::int64_t Cp = pl.Cp;
  std::vector<GroupResult> res(static_cast<std::size_t>(groups));
  std::vector<double> f(static_cast<std::size_t>(items));
  for (std::int64_t g = 0; g < groups; ++g) {
    double s[3] = {0, 0, 0};
    if (pl.batch) {
      for (std::int64_t b = 0; b < pl.B; ++b)
        for (int k = 0; k < 3; ++k) s[k] += S[static_cast<std::size_t>((b * Cp + g) * 3 + k)];
    } else {
      for (int k = 0; k < 3; ++k) s[k] = S[static_cast<std::size_t>(g * 3 + k)];
    }
    if (sc.generalized) {  // keep tp, P + G and G; the score is formed per item below
      const double tp = pl.form == Form::Product ? s[0] : (s[1] + s[2] - s[0]) / 2;
      res[static_cast<std::size_t>(g)] = GroupResult{tp, s[1] + s[2], s[2]};
      continue;
    }
    GroupResult gr = group_result(pl.form, s, o.smooth_nr, o.smooth_dr, o.jaccard, sc);
    if (use_w) {
      const double w = static_cast<double>(o.weight[static_cast<std::size_t>(g % Cp)]);
      gr.f *= w;
      gr.alpha *= w;
      gr.beta *= w;
    }
    res[static_cast<std::size_t>(g)] = gr;
    f[static_cast<std::size_t>(g)] = gr.f;
  }
  if (sc.generalized) generalized_scores(res, f, Cp, sc.w_type, o.smooth_nr, o.smooth_dr);
  const double denom = static_cast<double>(items);
  if (has_forward(pass)) {
    if (r == Reduction::None) {
      for (std::int64_t i = 0; i < items; ++i) out.flat(i) = static_cast<T>(f[static_cast<std::size_t>(i)]);
    } else {
      double sum = 0;
      for (const double v : f) sum += v;
      out.flat(0) = static_cast<T>(reduce_value(r, sum, denom));
    }
  }
  if (!has_backward(pass)) return;
  // Per-group gradient coefficients, times the reduction's factor and its item's upstream gradient.
  std::vector<double> coef_a(static_cast<std::size_t>(groups)), coef_b(static_cast<std::size_t>(groups));
  for (std::int64_t g = 0; g < groups; ++g) {
    const std::int64_t item = sc.generalized ? g / Cp : g;
    double scale = reduce_scale(r, g_scalar, denom);
    if (r == Reduction::None && pass == Pass::Backward) scale = static_cast<double>(grad_output.flat(item));
    coef_a[static_cast<std::size_t>(g)] = scale * res[static_cast<std::size_t>(g)].alpha;
    coef_b[static_cast<std::size_t>(g)] = scale * res[static_cast<std::size_t>(g)].beta;
  }
  dispatch(pl, [&]<Act A, Form F, TKind K>() { grad_pass<A, F, K>(pl, coef_a, coef_b, gi, simd); });
  grad_stage.flush();
}

}  // namespace


/// tversky_loss runs the dice engine with MONAI TverskyLoss's score and output shape.
template <class T, class TT, class A = T>
void run_tversky(Pass pass, ConstView<T> input, ConstView<TT> target, TensorView<A> out, ConstView<A> grad_output,
                 TensorView<T> grad_input, const TverskyLossOptions& o, Tensor<A>* owned = nullptr) {
  constexpr std::string_view fn = "tversky_loss";
  for (const auto& [name, v] : {std::pair{"alpha", o.alpha}, std::pair{"beta", o.beta}})
    if (!std::isfinite(v)) detail::fail(ErrorKind::Value, fn, name, " = ", v, " must be finite");
  const DiceLossOptions<T> d{.include_background = o.include_background, .to_onehot_y = o.to_onehot_y,
                             .sigmoid = o.sigmoid, .softmax = o.softmax, .reduction = o.reduction,
                             .smooth_nr = o.smooth_nr, .smooth_dr = o.smooth_dr, .batch = o.batch,
                             .soft_label = o.soft_label};
  run<T, TT>(pass, input, target, out, grad_output, grad_input, d, owned,
             Score{.fn = fn, .tversky = true, .alpha = o.alpha, .beta = o.beta, .keep_spatial = false});
}

/// generalized_dice_loss runs the dice engine with MONAI GeneralizedDiceLoss's score and shape.
template <class T, class TT, class A = T>
void run_gdl(Pass pass, ConstView<T> input, ConstView<TT> target, TensorView<A> out, ConstView<A> grad_output,
             TensorView<T> grad_input, const GeneralizedDiceLossOptions& o, Tensor<A>* owned = nullptr) {
  const DiceLossOptions<T> d{.include_background = o.include_background, .to_onehot_y = o.to_onehot_y,
                             .sigmoid = o.sigmoid, .softmax = o.softmax, .reduction = o.reduction,
                             .smooth_nr = o.smooth_nr, .smooth_dr = o.smooth_dr, .batch = o.batch,
                             .soft_label = o.soft_label};
  run<T, TT>(pass, input, target, out, grad_output, grad_input, d, owned,
             Score{.fn = "generalized_dice_loss", .generalized = true, .w_type = static_cast<int>(o.w_type)});
}

LOSSKIT_DEFINE_LOSS(dice_loss, float, float, DiceLossOptions<float>, run)
LOSSKIT_DEFINE_LOSS(dice_loss, double, double, DiceLossOptions<double>, run)
LOSSKIT_DEFINE_LOSS(dice_loss, float, std::int64_t, DiceLossOptions<float>, run)
LOSSKIT_DEFINE_LOSS(dice_loss, double, std::int64_t, DiceLossOptions<double>, run)
LOSSKIT_DEFINE_LOSS(tversky_loss, float, float, TverskyLossOptions, run_tversky)
LOSSKIT_DEFINE_LOSS(tversky_loss, double, double, TverskyLossOptions, run_tversky)
LOSSKIT_DEFINE_LOSS(tversky_loss, float, std::int64_t, TverskyLossOptions, run_tversky)
LOSSKIT_DEFINE_LOSS(tversky_loss, double, std::int64_t, TverskyLossOptions, run_tversky)
LOSSKIT_DEFINE_LOSS(generalized_dice_loss, float, float, GeneralizedDiceLossOptions, run_gdl)
LOSSKIT_DEFINE_LOSS(generalized_dice_loss, double, double, GeneralizedDiceLossOptions, run_gdl)
LOSSKIT_DEFINE_LOSS(generalized_dice_loss, float, std::int64_t, GeneralizedDiceLossOptions, run_gdl)
LOSSKIT_DEFINE_LOSS(generalized_dice_loss, double, std::int64_t, GeneralizedDiceLossOptions, run_gdl)

}  // namespace losskit
