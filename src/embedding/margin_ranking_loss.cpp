// margin_ranking_loss: three same-shaped operands, element-wise (rows of D = 1, embedding/rows.hpp).
#include "core/parallel.hpp"
#include "embedding/rows.hpp"
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
  const auto sums = parallel_sum<1>(a.R, 8192, [&](std::int64_t b, std::int64_t e) {
    double acc = 0;
    for (std::int64_t i = b; i < e; ++i) {
      const T y = a.tgt.at(i, 0);
      const T h = -y * (a.in[0].at(i, 0) - a.in[1].at(i, 0)) + margin;
      if (has_forward(pass)) {
        const T li = h > T(0) ? h : T(0);
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
