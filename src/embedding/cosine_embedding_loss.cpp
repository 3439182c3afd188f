// cosine_embedding_loss: rows of D values (embedding/rows.hpp), one loss per row.
#include <cmath>

#include "core/math.hpp"
#include "core/parallel.hpp"
#include "embedding/rows.hpp"
#include "losskit/embedding.hpp"

namespace losskit {
namespace {

using detail::Pass;
constexpr std::string_view kFn = "cosine_embedding_loss";
constexpr double kEpsilon = 1e-12;  // PyTorch's EPSILON under the root

template <class T>
void run(Pass pass, ConstView<T> x1, ConstView<T> x2, ConstView<T> target, TensorView<T> out,
         ConstView<T> grad_output, TensorView<T> g1, TensorView<T> g2, const CosineEmbeddingLossOptions& o,
         Tensor<T>* owned) {
  using namespace detail;
  // PyTorch: a 1-D target needs 2-D inputs, a 0-d target 1-D inputs.
  check_data(kFn, "target", target);
  if (target.ndim() > 1)
    fail(ErrorKind::Shape, kFn, "target must be 0-d or 1-D (one label per pair), got shape ", target.shape().str());
  const int want_nd = target.ndim() + 1;
  if (x1.ndim() != want_nd || x2.ndim() != want_nd)
    fail(ErrorKind::Shape, kFn, "a ", target.ndim(), "-D target expects ", want_nd, "-D inputs, got input1 of shape ",
         x1.shape().str(), " and input2 of shape ", x2.shape().str());
  EmbeddingRows<T, 2> a;
  a.prepare(kFn, pass, o.reduction, {"input1", "input2"}, {x1, x2}, &target, want_nd - 1, out, owned, grad_output,
            {g1, g2}, {"grad_input1", "grad_input2"});
  const double margin = o.margin;
  const T scale = static_cast<T>(reduce_scale(o.reduction, a.g_scalar, static_cast<double>(a.R)));
  const auto& A = a.in[0];
  const auto& B = a.in[1];
  const bool simd = simd_rows<T>(a.D, {A.sD, B.sD, a.want[0] ? a.gr[0].sD : 1, a.want[1] ? a.gr[1].sD : 1});
  const auto sums = parallel_sum<1>(a.R, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(a.D, 1)),
                                    [&](std::int64_t b, std::int64_t e) {
    double acc = 0;
    for (std::int64_t i = b; i < e; ++i) {
      // Row statistics in double (float inputs gain accuracy; the result is cast back).
      const auto st = row_sums(kernels::RowSum::Dot3, A, B, i, 0.0, simd);
      const double s1 = st.s1 + kEpsilon, s2 = st.s2 + kEpsilon;
      const double denom = std::sqrt(s1 * s2);
      const double cos = st.s0 / denom;
      const T y = a.tgt.at(i, 0);
      if (has_forward(pass)) {
        const double neg = clamp_min0(cos - margin);  // NaN kept, as torch's clamp_min
        const T li = static_cast<T>(y == T(1) ? 1 - cos : (y == T(-1) ? neg : 0.0));
        if (a.out_none) a.out.at(i, 0) = li;
        else acc += static_cast<double>(li);
      }
      if (has_backward(pass)) {
        // d l / d cos: -1 for y = 1, [cos - margin >= 0] for y = -1 (clamp_min passes the tie).
        const double dcos = y == T(1) ? -1.0 : (y == T(-1) && cos - margin >= 0 ? 1.0 : 0.0);
        const double g = dcos * static_cast<double>(a.upstream(i, scale));
        // d cos / d u = v / denom - cos u / s1 (and symmetrically): linear in the row's values.
        if (a.want[0]) lin_row<T>(a.gr[0], i, {LinTerm<T>{&A, -g * cos / s1}, LinTerm<T>{&B, g / denom}}, 0.0, simd);
        if (a.want[1]) lin_row<T>(a.gr[1], i, {LinTerm<T>{&A, g / denom}, LinTerm<T>{&B, -g * cos / s2}}, 0.0, simd);
      }
    }
    return Sums<1>{acc};
  });
  a.finish(pass, o.reduction, out, sums[0]);
}

}  // namespace

LOSSKIT_DEFINE_PAIR_TARGET_LOSS(cosine_embedding_loss, CosineEmbeddingLossOptions, float)
LOSSKIT_DEFINE_PAIR_TARGET_LOSS(cosine_embedding_loss, CosineEmbeddingLossOptions, double)

}  // namespace losskit
