// margin_ranking_loss: three same-shaped operands, element-wise (rows of D = 1, embedding/rows.hpp);
// flat float32 operands run the pointwise SIMD kind MarginRanking.
#include "core/math.hpp"
#include "core/parallel.hpp"
#include "embedding/rows.hpp"
#include "kernels/pointwise.hpp"
#include "losskit/embedding.hpp"

namespace losskit {
namespace {

using detail::Pass;
constexpr std::string_view kFn = "margin_ranking_loss";

template <class T>
void run(Pass pass, ConstView<T> x1, ConstView<T> x2, ConstView<T> target, TensorView<T> out,
         ConstView<T> grad_output, TensorView<T> g1, TensorView<T> g2, const MarginRankingLossOptions& o,
         Tensor<T>* owned) {
  using namespace detail;
  RowArgs<T, 2> a;
  a.prepare(kFn, pass, o.reduction, {"input1", "input2"}, {x1, x2}, &target, x1.ndim(), out, owned, grad_output,
            {g1, g2}, {"grad_input1", "grad_input2"});
  const T margin = static_cast<T>(o.margin);
  const T scale = static_cast<T>(reduce_scale(o.reduction, a.g_scalar, static_cast<double>(a.R)));
  // Float32 with every operand flat: the SIMD kind (kernels/pointwise.hpp), input2 as its aux
  // operand; it writes d/d input2 only beside d/d input1.
  if constexpr (std::is_same_v<T, float>) {
    auto flat = [](const auto& m) { return m.data == nullptr || m.N <= 1 || m.sN == 1; };
    const bool simd = flat(a.in[0]) && flat(a.in[1]) && flat(a.tgt) && flat(a.g) && flat(a.out) && flat(a.gr[0]) &&
                      flat(a.gr[1]) && (a.want[0] || !a.want[1]);
    if (simd) {
      const kernels::PwArgs pa{.x = a.in[0].data, .y = a.tgt.data, .out = a.out_none ? a.out.data : nullptr,
                               .forward = has_forward(pass), .gi = a.want[0] ? a.gr[0].data : nullptr,
                               .ga = a.want[1] ? a.gr[1].data : nullptr, .gvec = a.use_g_tensor ? a.g.data : nullptr,
                               .scale = scale, .aux = a.in[1].data};
      const kernels::PwParams params{.a = margin};
      const auto sums = parallel_sum<1>(a.R, 8192, [&](std::int64_t b, std::int64_t e) {
        return Sums<1>{kernels::pointwise_block(kernels::PwKind::MarginRanking, params, pa, b, e)};
      });
      a.finish(pass, o.reduction, out, sums[0]);
      return;
    }
  }
  const auto sums = parallel_sum<1>(a.R, 8192, [&](std::int64_t b, std::int64_t e) {
    double acc = 0;
    for (std::int64_t i = b; i < e; ++i) {
      const T y = a.tgt.at(i, 0);
      const T h = -y * (a.in[0].at(i, 0) - a.in[1].at(i, 0)) + margin;
      if (has_forward(pass)) {
        const T li = clamp_min0(h);  // NaN kept, as torch's clamp_min
        if (a.out_none) a.out.at(i, 0) = li;
        else acc += static_cast<double>(li);
      }
      if (has_backward(pass)) {
        // clamp_min's gradient passes at the tie h == 0, as in PyTorch.
        const T g = h >= T(0) ? -y * a.upstream(i, scale) : T(0);
        if (a.want[0]) a.gr[0].at(i, 0) = g;
        if (a.want[1]) a.gr[1].at(i, 0) = -g;
      }
    }
    return Sums<1>{acc};
  });
  a.finish(pass, o.reduction, out, sums[0]);
}

}  // namespace

LOSSKIT_DEFINE_PAIR_TARGET_LOSS(margin_ranking_loss, MarginRankingLossOptions, float)
LOSSKIT_DEFINE_PAIR_TARGET_LOSS(margin_ranking_loss, MarginRankingLossOptions, double)

}  // namespace losskit
