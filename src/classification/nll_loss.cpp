// nll_loss: validate -> canonical [N, C, D] layout -> kernel -> reduce.
#include "core/api.hpp"
#include "core/class_args.hpp"
#include "core/outputs.hpp"
#include "core/parallel.hpp"
#include "kernels/softmax.hpp"
#include "kernels/stream.hpp"
#include "losskit/classification.hpp"

namespace losskit {
namespace {

using detail::Pass;
constexpr std::string_view kFn = "nll_loss";

/// T: the input's dtype; G: the gradient's; A: weights, losses and upstream gradients (float for
/// 16-bit inputs, else T).
template <class T, class G = T, class A = T>
void run(Pass pass, ConstView<T> input, ConstView<std::int64_t> target, TensorView<A> out, ConstView<A> grad_output,
         TensorView<G> grad_input, const NLLLossOptions<A>& o, Tensor<A>* owned = nullptr) {
  using namespace detail;
  check_reduction(kFn, o.reduction);
  ClassArgs<T, A> a;
  prepare_class_args<T>(kFn, a, input, target, o.weight, o.ignore_index);
  const Reduction r = o.reduction;
  double g_scalar = 1.0;
  if (owned) out = detail::allocate(*owned, out_shape_of(r, a.loss_shape));
  if (has_forward(pass)) {
    check_output(kFn, "out", out, out_shape_of(r, a.loss_shape));
    check_no_overlap(kFn, "out", out, named("input", input), named("target", target));
  }
  if (pass == Pass::Backward) {
    g_scalar = scalar_grad_output<A>(kFn, r, grad_output, a.loss_shape);
    if (r == Reduction::None) {
      a.grad_out_stage = stage_loss_shaped(grad_output, false);
      a.g = nd_view_of_loss(a.grad_out_stage.view(), a.class_dim);
    }
  }
  if (has_backward(pass)) {
    check_output(kFn, "grad_input", grad_input, input.shape());
    check_no_overlap(kFn, "grad_input", grad_input, named("input", input), named("target", target),
                     named("grad_output", grad_output));
    if (has_forward(pass)) check_no_overlap(kFn, "grad_input", grad_input, named("out", out));
  }
  // ---- validation done: from here on outputs are written ----
  const std::int64_t C = a.x.C, D = a.x.D, rows = a.x.rows();
  const A* w = o.weight.empty() ? nullptr : o.weight.data();
  auto weight_of = [&](std::int64_t c) { return w ? static_cast<double>(w[c]) : 1.0; };

  ClassOutputs<A, G> io(has_forward(pass) && r == Reduction::None, out, has_backward(pass), grad_input,
                                a.class_dim);
  const ND<A>& out_nd = io.out;
  const NCD<G>& gi = io.grad;
  const bool use_g_tensor = pass == Pass::Backward && r == Reduction::None;
  const double scale = reduce_scale(r, g_scalar, a.total_weight);

  // A gradient of contiguous rows is zeroed block by block at memset speed (non-temporal stores
  // when it is much larger than the caches), then the kept entries are written.
  const bool dense_grad = has_backward(pass) && D == 1 && (gi.sC == 1 || C == 1) && (gi.sN == C || rows == 1);
  const bool stream = rows * C * static_cast<std::int64_t>(sizeof(G)) >= kernels::kStreamBytes;
  const auto sums = parallel_sum<1>(rows, 1024, [&](std::int64_t b, std::int64_t e) {
    double acc = 0;
    if (dense_grad) kernels::zero_bytes(&gi.at(b, 0, 0), (e - b) * C * static_cast<std::int64_t>(sizeof(G)), stream);
    for (std::int64_t i = b; i < e; ++i) {
      const std::int64_t n = i / D, d = i % D;
      const std::int64_t y = a.y.at(n, d);
      const bool kept = y != o.ignore_index;
      if (has_forward(pass)) {
        const double li = kept ? -weight_of(y) * kernels::to_f64(a.x.at(n, y, d)) : 0.0;
        if (r == Reduction::None) out_nd.at(n, d) = static_cast<A>(li);
        else acc += li;
      }
      if (has_backward(pass)) {
        if (!dense_grad)
          for (std::int64_t c = 0; c < C; ++c) gi.at(n, c, d) = G{};
        if (kept) {
          const double gs = use_g_tensor ? static_cast<double>(a.g.at(n, d)) : scale;
          gi.at(n, y, d) = kernels::from_f64<G>(-weight_of(y) * gs);
        }
      }
    }
    return Sums<1>{acc};
  });
  finish_pass(pass, r, out, sums[0], a.total_weight, [&] { io.flush_out(); }, [&] { io.flush_grad(); });
}

}  // namespace


LOSSKIT_DEFINE_LOSS(nll_loss, float, std::int64_t, NLLLossOptions<float>, run)
LOSSKIT_DEFINE_LOSS(nll_loss, double, std::int64_t, NLLLossOptions<double>, run)


LOSSKIT_DEFINE_LOSS_16(nll_loss, bfloat16, std::int64_t, NLLLossOptions<float>, run)
LOSSKIT_DEFINE_LOSS_16(nll_loss, float16, std::int64_t, NLLLossOptions<float>, run)

}  // namespace losskit
