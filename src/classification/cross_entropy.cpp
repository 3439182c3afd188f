// cross_entropy: validate -> canonical [N, C, D] layout -> one fused pass per row -> reduce.
//
// Each row (one position of one batch item) is read once for its log-sum-exp; the loss and,
// when asked, the gradient softmax - target are written from the same (cached) row.
#include <cmath>
#include <limits>
#include <vector>

#include "core/api.hpp"
#include "core/class_args.hpp"
#include "core/outputs.hpp"
#include "core/parallel.hpp"
#include "kernels/softmax.hpp"
#include "kernels/softmax_probs.hpp"
#include "kernels/softmax_row.hpp"
#include "kernels/softmax_spatial.hpp"
#include "losskit/classification.hpp"

namespace losskit {
namespace {

using detail::Pass;
constexpr std::string_view kFn = "cross_entropy";
/// Class counts up to this run float32 contiguous rows on class-major tiles (spatial kernel).
constexpr std::int64_t kSmallClasses = 16;

template <class T>
void check_options(const CrossEntropyOptions<T>& o) {
  detail::check_reduction(kFn, o.reduction);
  detail::check_range(kFn, "label_smoothing", o.label_smoothing, 0.0, 1.0);
}

/// Output checks common to both target kinds.
template <class T, class TT, class A, class G>
void check_outputs(Pass pass, const CrossEntropyOptions<A>& o, const Shape& loss_shape, ConstView<T> input,
                   ConstView<TT> target, TensorView<A> out, ConstView<A> grad_output, TensorView<G> grad_input) {
  using namespace detail;
  if (has_forward(pass)) {
    check_output(kFn, "out", out, out_shape_of(o.reduction, loss_shape));
    check_no_overlap(kFn, "out", out, named("input", input), named("target", target));
  }
  if (has_backward(pass)) {
    check_output(kFn, "grad_input", grad_input, input.shape());
    check_no_overlap(kFn, "grad_input", grad_input, named("target", target), named("grad_output", grad_output));
    if (has_forward(pass)) check_no_overlap(kFn, "grad_input", grad_input, named("out", out));
    const bool inplace =
        std::is_same_v<T, G> && o.inplace_grad && pass == Pass::ForwardBackward && same_view(grad_input, input);
    if (!inplace) {
      if (same_view(grad_input, input) && o.inplace_grad)
        fail(ErrorKind::Runtime, kFn, "inplace_grad is only supported by cross_entropy_forward_backward");
      check_no_overlap(kFn, "grad_input", grad_input, named("input", input));
    }
  }
}

// ----------------------------------------------------------------------------- class ids -----
/// T: the logits' dtype; G: the gradient's; A: weights, losses and upstream gradients (float
/// for 16-bit logits, else T).
template <class T, class G = T, class A = T>
void run_ids(Pass pass, ConstView<T> input, ConstView<std::int64_t> target, TensorView<A> out,
             ConstView<A> grad_output, TensorView<G> grad_input, const CrossEntropyOptions<A>& o,
             Tensor<A>* owned = nullptr) {
  using namespace detail;
  check_options(o);
  ClassArgs<T, A> a;
  prepare_class_args<T>(kFn, a, input, target, o.weight, o.ignore_index);
  const Reduction r = o.reduction;
  if (owned) out = allocate(*owned, out_shape_of(r, a.loss_shape));
  check_outputs(pass, o, a.loss_shape, input, target, out, grad_output, grad_input);
  double g_scalar = 1.0;
  if (pass == Pass::Backward) {
    g_scalar = scalar_grad_output<A>(kFn, r, grad_output, a.loss_shape);
    if (r == Reduction::None) {
      a.grad_out_stage = stage_loss_shaped(grad_output, false);
      a.g = nd_view_of_loss(a.grad_out_stage.view(), a.class_dim);
    }
  }
  // ---- validation done: from here on outputs are written ----
  const std::int64_t C = a.x.C, D = a.x.D, rows = a.x.rows();
  const A* w = o.weight.empty() ? nullptr : o.weight.data();
  double w_total = static_cast<double>(C);
  if (w) {
    w_total = 0;
    for (std::int64_t c = 0; c < C; ++c) w_total += static_cast<double>(w[c]);
  }
  const double e = o.label_smoothing;
  const double eC = C > 0 ? e / static_cast<double>(C) : 0.0;

  ClassOutputs<A, G> io(has_forward(pass) && r == Reduction::None, out, has_backward(pass), grad_input,
                                a.class_dim);
  const ND<A>& out_nd = io.out;
  const NCD<G>& gi = io.grad;
  const bool use_g_tensor = pass == Pass::Backward && r == Reduction::None;
  const double scale = reduce_scale(r, g_scalar, a.total_weight);

  // W only enters times eC: without smoothing it is left out, so a NaN or inf class weight
  // reaches only the rows of its class (as in PyTorch), not every row through 0 * W.
  const kernels::CeConsts k{.e = e, .eC = eC, .W = e > 0 ? w_total : 0.0};
  const std::int64_t grain = std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(C, 1));
  detail::Sums<1> sums{};
  // Fast path: rows of contiguous float32/bfloat16/float16 logits (and gradient) -> SIMD kernels.
  bool done = false;
  // (float32 rows of 2..kSmallClasses classes take the class-major tiles below instead.)
  constexpr bool kF32 = std::is_same_v<T, float> && std::is_same_v<G, float> && std::is_same_v<A, float>;
  const bool small_tiles = kF32 && C > 1 && C <= kSmallClasses;
  if constexpr (std::is_same_v<A, float>) {
    if (D == 1 && !small_tiles && (a.x.sC == 1 || C == 1) && (!has_backward(pass) || gi.sC == 1 || C == 1)) {
      kernels::CeIdsRows<T, G> rows_args{
          .x = a.x.data, .sx = a.x.sN, .C = C, .y = a.y.data, .sy = a.y.sN, .ignore_index = o.ignore_index,
          .w = w, .k = k, .g = has_backward(pass) ? gi.data : nullptr, .sg = gi.sN, .gs = scale,
          .gvec = use_g_tensor ? a.g.data : nullptr, .sgv = a.g.sN,
          .out = has_forward(pass) && r == Reduction::None ? out_nd.data : nullptr, .so = out_nd.sN,
          .stream = rows * C * static_cast<std::int64_t>(sizeof(G)) >= kernels::kStreamBytes};
      // Spans of whole blocks per thread: the kernel pipelines rows across its span.
      sums = detail::parallel_sum_spans<1>(rows, grain, [&](std::int64_t b, std::int64_t end, std::int64_t bs,
                                                            Sums<1>* part) {
        kernels::ce_ids_rows(rows_args, b, end, bs, &part[0][0], 1);
      });
      done = true;
    }
  }
  // float32 rows that the rows kernel serves badly run on tiles of rows copied to a per-thread
  // buffer (in cache), each tile's losses added to its block's sum, tiles in order: the same sums
  // whatever the thread count (blocks depend on rows and grain only).
  auto tiled = [&](std::int64_t tile_rows, auto&& run_tile) {
    return detail::parallel_sum_spans<1>(rows, grain, [&](std::int64_t b, std::int64_t end, std::int64_t bs,
                                                          Sums<1>* part) {
      for (std::int64_t bb = b; bb < end; bb += bs) {  // the span's blocks of bs rows, in order
        const std::int64_t be = std::min(end, bb + bs);
        for (std::int64_t i0 = bb; i0 < be; i0 += tile_rows)
          part[(bb - b) / bs][0] += run_tile(i0, std::min(tile_rows, be - i0));
      }
    });
  };
  if constexpr (kF32) {
    const bool none_out = has_forward(pass) && r == Reduction::None;
    const bool g_rows = !has_backward(pass) || gi.sC == 1;
    if (!done && D == 1 && a.x.sC != 1 && C > 1 && g_rows) {
      // Strided classes (a transposed (N, C) tensor, a sliced view): 16 rows (one 64-byte line
      // along a unit-stride batch dim) copied row-major, a cache-sized transpose, then the rows
      // kernel; the gradient rows are written in place.
      constexpr std::int64_t kTile = 16;
      sums = tiled(kTile, [&](std::int64_t i0, std::int64_t n) {
        thread_local std::vector<float> tile;
        tile.resize(static_cast<std::size_t>(kTile * C));
        for (std::int64_t c = 0; c < C; ++c) {
          const float* src = a.x.data + i0 * a.x.sN + c * a.x.sC;
          for (std::int64_t j = 0; j < n; ++j) tile[static_cast<std::size_t>(j * C + c)] = src[j * a.x.sN];
        }
        const kernels::CeIdsRows<float, float> t{
            .x = tile.data(), .sx = C, .C = C, .y = a.y.data + i0 * a.y.sN, .sy = a.y.sN,
            .ignore_index = o.ignore_index, .w = w, .k = k,
            .g = has_backward(pass) ? gi.data + i0 * gi.sN : nullptr, .sg = gi.sN, .gs = scale,
            .gvec = use_g_tensor ? a.g.data + i0 * a.g.sN : nullptr, .sgv = a.g.sN,
            .out = none_out ? out_nd.data + i0 * out_nd.sN : nullptr, .so = out_nd.sN,
            .stream = rows * C * static_cast<std::int64_t>(sizeof(G)) >= kernels::kStreamBytes};
        return kernels::ce_ids_rows(t, 0, n);
      });
      done = true;
    } else if (!done && D == 1 && a.x.sC == 1 && small_tiles && g_rows) {
      // Few classes (C <= 16): a row fills at most two vectors, and the rows kernel's horizontal
      // max and sums dominate. 64 rows are copied class-major (a transpose in L1) and run by the
      // spatial kernel, lanes along the rows (no horizontal operations); its gradient tile is
      // transposed back into the gradient rows.
      constexpr std::int64_t kTile = 64;
      sums = tiled(kTile, [&](std::int64_t i0, std::int64_t n) {
        thread_local std::vector<float> xt, gt;
        xt.resize(static_cast<std::size_t>(kTile * C));
        if (has_backward(pass)) gt.resize(static_cast<std::size_t>(kTile * C));
        for (std::int64_t j = 0; j < n; ++j) {
          const float* src = a.x.data + (i0 + j) * a.x.sN;
          for (std::int64_t c = 0; c < C; ++c) xt[static_cast<std::size_t>(c * kTile + j)] = src[c];
        }
        const kernels::CeIdsSpatial sa{
            .x = xt.data(), .sxN = 0, .sxC = kTile, .C = C, .D = n, .y = a.y.data + i0 * a.y.sN, .syN = 0,
            .syD = a.y.sN, .ignore_index = o.ignore_index, .w = w, .k = k,
            .g = has_backward(pass) ? gt.data() : nullptr, .sgN = 0, .sgC = kTile, .gs = scale,
            .gvec = use_g_tensor ? a.g.data + i0 * a.g.sN : nullptr, .sgvN = 0, .sgvD = a.g.sN,
            .out = none_out ? out_nd.data + i0 * out_nd.sN : nullptr, .soN = 0, .soD = out_nd.sN};
        const double sum = kernels::ce_ids_spatial(sa, 0, n);
        if (has_backward(pass))
          for (std::int64_t j = 0; j < n; ++j) {
            float* dst = gi.data + (i0 + j) * gi.sN;
            for (std::int64_t c = 0; c < C; ++c) dst[c] = gt[static_cast<std::size_t>(c * kTile + j)];
          }
        return sum;
      });
      done = true;
    }
  }
  // Spatial float32 inputs (N, C, d1..dk) with unit stride along the positions: SIMD kernel with
  // lanes along the positions (kernels/softmax_spatial.hpp).
  if constexpr (kF32) {
    if (!done && D > 1 && a.x.sD == 1 && (!has_backward(pass) || gi.sD == 1)) {
      const kernels::CeIdsSpatial sa{
          .x = a.x.data, .sxN = a.x.sN, .sxC = a.x.sC, .C = C, .D = D, .y = a.y.data, .syN = a.y.sN,
          .syD = a.y.sD, .ignore_index = o.ignore_index, .w = w, .k = k,
          .g = has_backward(pass) ? gi.data : nullptr, .sgN = gi.sN, .sgC = gi.sC, .gs = scale,
          .gvec = use_g_tensor ? a.g.data : nullptr, .sgvN = a.g.sN, .sgvD = a.g.sD,
          .out = has_forward(pass) && r == Reduction::None ? out_nd.data : nullptr, .soN = out_nd.sN,
          .soD = out_nd.sD, .stream = rows * C * static_cast<std::int64_t>(sizeof(G)) >= kernels::kStreamBytes};
      sums = parallel_sum<1>(rows, grain, [&](std::int64_t b, std::int64_t end) {
        return Sums<1>{kernels::ce_ids_spatial(sa, b, end)};
      });
      done = true;
    }
  }
  if (!done) {
    sums = parallel_sum<1>(rows, grain, [&](std::int64_t b, std::int64_t end) {
      double acc = 0;
      for (std::int64_t i = b; i < end; ++i) {
        const std::int64_t n = i / D, d = i % D;
        const std::int64_t y = a.y.at(n, d);
        const T* x = &a.x.at(n, 0, d);
        G* g = has_backward(pass) ? &gi.at(n, 0, d) : nullptr;
        if (y == o.ignore_index) {
          if (g) kernels::fill_row(g, gi.sC, C, G{});
          if (has_forward(pass) && r == Reduction::None) out_nd.at(n, d) = A(0);
          continue;
        }
        const double gs = use_g_tensor ? static_cast<double>(a.g.at(n, d)) : scale;
        const double li = kernels::ce_ids_row_ref(x, a.x.sC, C, y, w, k, g, gi.sC, gs);
        if (has_forward(pass)) {
          if (r == Reduction::None) out_nd.at(n, d) = static_cast<A>(li);
          else acc += li;
        }
      }
      return Sums<1>{acc};
    });
  }
  finish_pass(pass, r, out, sums[0], a.total_weight, [&] { io.flush_out(); }, [&] { io.flush_grad(); });
}

// ------------------------------------------------------------------------ probabilities -----
/// grad_target (optional): d loss / d t_c = -(1 - e) w_c logp_c times the upstream gradient, as
/// torch differentiates a probability target; a second, scalar float64 pass over the rows.
template <class T>
void run_probs(Pass pass, ConstView<T> input, ConstView<T> target, TensorView<T> out, ConstView<T> grad_output,
               TensorView<T> grad_input, const CrossEntropyOptions<T>& o, Tensor<T>* owned = nullptr,
               TensorView<T> grad_target = {}) {
  using namespace detail;
  check_options(o);
  check_data(kFn, "input", input);
  check_data(kFn, "target", target);
  const int cd = class_dim_of(kFn, input.ndim());
  check_same_shape(kFn, "input", input.shape(), "target (probabilities)", target.shape());
  if (o.ignore_index >= 0)
    fail(ErrorKind::Value, kFn, "ignore_index = ", o.ignore_index,
         " is not supported with probability targets (it must be negative)");
  const std::int64_t C = input.size(cd);
  check_weight(kFn, o.weight.size(), C);
  const Shape loss_shape = loss_shape_of(input.shape(), cd);
  const Reduction r = o.reduction;
  if (owned) out = allocate(*owned, out_shape_of(r, loss_shape));
  check_outputs(pass, o, loss_shape, input, target, out, grad_output, grad_input);
  const bool want_gt = has_backward(pass) && !grad_target.is_null();
  if (want_gt) {
    check_output(kFn, "grad_target", grad_target, target.shape());
    check_no_overlap(kFn, "grad_target", grad_target, named("input", input), named("target", target),
                     named("grad_output", grad_output), named("out", ConstView<T>(out)),
                     named("grad_input", ConstView<T>(grad_input)));
  }
  double g_scalar = 1.0;
  Staged<const T> g_stage;
  ND<const T> gnd{};
  if (pass == Pass::Backward) {
    g_scalar = scalar_grad_output<T>(kFn, r, grad_output, loss_shape);
    if (r == Reduction::None) {
      g_stage = stage_loss_shaped(grad_output, false);
      gnd = nd_view_of_loss(g_stage.view(), cd);
    }
  }
  // ---- validation done ----
  Staged<const T> in_stage(input, !ncd_ok(input, cd), false);
  Staged<const T> tg_stage(target, !ncd_ok(target, cd), false);
  const NCD<const T> x = ncd_of(in_stage.view(), cd);
  const NCD<const T> t = ncd_of(tg_stage.view(), cd);
  const std::int64_t D = x.D, rows = x.rows();
  const T* w = o.weight.empty() ? nullptr : o.weight.data();
  const double e = o.label_smoothing;
  const double eC = C > 0 ? e / static_cast<double>(C) : 0.0;
  const double denom = static_cast<double>(loss_shape.numel());

  ClassOutputs<T, T> io(has_forward(pass) && r == Reduction::None, out, has_backward(pass), grad_input,
                                cd);
  const ND<T>& out_nd = io.out;
  const NCD<T>& gi = io.grad;
  const bool use_g_tensor = pass == Pass::Backward && r == Reduction::None;
  const double scale = reduce_scale(r, g_scalar, denom);

  const std::int64_t grain = std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(C, 1));
  detail::Sums<1> sums{};
  bool done = false;
  // Fast path: float32 rows with contiguous classes (logits, targets, gradient) -> SIMD kernel.
  if constexpr (std::is_same_v<T, float>) {
    if (D == 1 && (C == 1 || (x.sC == 1 && t.sC == 1 && (!has_backward(pass) || gi.sC == 1)))) {
      const kernels::CeProbsRows rows_args{
          .x = x.data, .sx = x.sN, .C = C, .t = t.data, .st = t.sN, .w = w, .e = e, .eC = eC,
          .g = has_backward(pass) ? gi.data : nullptr, .sg = gi.sN, .gs = scale,
          .gvec = use_g_tensor ? gnd.data : nullptr, .sgv = gnd.sN,
          .out = has_forward(pass) && r == Reduction::None ? out_nd.data : nullptr, .so = out_nd.sN,
          .stream = has_backward(pass) && rows * C * static_cast<std::int64_t>(sizeof(T)) >= kernels::kStreamBytes};
      sums = parallel_sum_spans<1>(rows, grain, [&](std::int64_t b, std::int64_t end, std::int64_t bs, Sums<1>* part) {
        kernels::ce_probs_rows(rows_args, b, end, bs, &part[0][0]);
      });
      done = true;
    }
  }
  if (!done) {
    sums = parallel_sum<1>(rows, grain, [&](std::int64_t b, std::int64_t end) {
      double acc = 0;
      for (std::int64_t i = b; i < end; ++i) {
        const std::int64_t n = i / D, d = i % D;
        const double gs = use_g_tensor ? static_cast<double>(gnd.at(n, d)) : scale;
        T* g = has_backward(pass) ? &gi.at(n, 0, d) : nullptr;
        const double li = kernels::ce_probs_row_ref<T>(&x.at(n, 0, d), x.sC, &t.at(n, 0, d), t.sC, C, w, e, eC, g,
                                                      gi.sC, gs);
        if (has_forward(pass)) {
          if (r == Reduction::None) out_nd.at(n, d) = static_cast<T>(li);
          else acc += li;
        }
      }
      return Sums<1>{acc};
    });
  }
  Staged<T> gt_stage;
  if (want_gt) {
    gt_stage = Staged<T>(grad_target, !ncd_ok(grad_target, cd), true);
    const NCD<T> gt = ncd_of(gt_stage.view(), cd);
    parallel_for(rows, grain, [&](std::int64_t b, std::int64_t end) {
      for (std::int64_t i = b; i < end; ++i) {
        const std::int64_t n = i / D, d = i % D;
        const double gs = (use_g_tensor ? static_cast<double>(gnd.at(n, d)) : scale) * (1.0 - e);
        const kernels::RowStats rs = kernels::row_stats<T>(&x.at(n, 0, d), x.sC, C, nullptr, false);
        for (std::int64_t c = 0; c < C; ++c) {
          const double wc = w ? static_cast<double>(w[c]) : 1.0;
          gt.at(n, c, d) = static_cast<T>(-gs * wc * rs.logp(static_cast<double>(x.at(n, c, d))));
        }
      }
    });
  }
  finish_pass(pass, r, out, sums[0], denom, [&] { io.flush_out(); }, [&] {
    io.flush_grad();
    gt_stage.flush();
  });
}

}  // namespace

LOSSKIT_DEFINE_LOSS(cross_entropy, float, std::int64_t, CrossEntropyOptions<float>, run_ids)
LOSSKIT_DEFINE_LOSS(cross_entropy, double, std::int64_t, CrossEntropyOptions<double>, run_ids)
LOSSKIT_DEFINE_LOSS(cross_entropy, float, float, CrossEntropyOptions<float>, run_probs)
LOSSKIT_DEFINE_LOSS(cross_entropy, double, double, CrossEntropyOptions<double>, run_probs)
LOSSKIT_DEFINE_TARGET_GRAD(cross_entropy, float, CrossEntropyOptions<float>, run_probs)
LOSSKIT_DEFINE_TARGET_GRAD(cross_entropy, double, CrossEntropyOptions<double>, run_probs)

// 16-bit logits (class ids): float32 weights, loss and upstream gradient; the gradient in the
// logits' dtype or in float32.

LOSSKIT_DEFINE_LOSS_16(cross_entropy, bfloat16, std::int64_t, CrossEntropyOptions<float>, run_ids)
LOSSKIT_DEFINE_LOSS_16(cross_entropy, float16, std::int64_t, CrossEntropyOptions<float>, run_ids)

}  // namespace losskit
