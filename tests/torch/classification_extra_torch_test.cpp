// Parity of the classification / margin losses with libtorch 2.13 (the torch wheel's; values and autograd
// gradients, float and double, every option, randomized shapes, strided inputs):
//   PyTorch's own: binary_cross_entropy, binary_cross_entropy_with_logits, soft_margin_loss,
//   multilabel_soft_margin_loss, multi_margin_loss, multilabel_margin_loss;
//   the references beyond PyTorch, written out with torch ops as those libraries write them:
//   torchvision.ops.sigmoid_focal_loss, Keras categorical_focal_crossentropy (on logits),
//   optax poly_loss_cross_entropy, Keras hinge / squared_hinge / categorical_hinge.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "losskit/losskit.hpp"

namespace {

using losskit::ConstView;
using losskit::Reduction;
using losskit::Shape;
using losskit::TensorView;
namespace F = torch::nn::functional;

template <class T>
torch::Dtype dtype_of() {
  return std::is_same_v<T, float> ? torch::kFloat : torch::kDouble;
}

Shape shape_of(const torch::Tensor& t) {
  Shape s;
  for (int64_t k = 0; k < t.dim(); ++k) s.push_back(t.size(k));
  return s;
}
Shape strides_of(const torch::Tensor& t) {
  Shape s;
  for (int64_t k = 0; k < t.dim(); ++k) s.push_back(t.stride(k));
  return s;
}
/// A losskit view of a torch tensor, strides included.
template <class T>
ConstView<T> cview(const torch::Tensor& t) {
  return ConstView<T>(t.data_ptr<T>(), shape_of(t), strides_of(t));
}

int64_t red(Reduction r) {
  return r == Reduction::None ? at::Reduction::None : r == Reduction::Sum ? at::Reduction::Sum : at::Reduction::Mean;
}
torch::Tensor reduce(const torch::Tensor& l, Reduction r) {
  if (r == Reduction::None) return l;
  return r == Reduction::Sum ? l.sum() : l.mean();
}

/// |a - b| <= atol + rtol |b| elementwise, with NaN == NaN and equal infinities.
::testing::AssertionResult close(const torch::Tensor& a_, const torch::Tensor& b_, double rtol, double atol) {
  const auto a = a_.detach().to(torch::kDouble).contiguous().reshape({-1});
  const auto b = b_.detach().to(torch::kDouble).contiguous().reshape({-1});
  if (a.numel() != b.numel()) return ::testing::AssertionFailure() << "sizes " << a.numel() << " vs " << b.numel();
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double x = a[i].item<double>(), y = b[i].item<double>();
    if (std::isnan(x) && std::isnan(y)) continue;
    if (std::isinf(x) || std::isinf(y)) {
      if (x == y) continue;
      return ::testing::AssertionFailure() << "at " << i << ": " << x << " vs " << y;
    }
    if (!(std::fabs(x - y) <= atol + rtol * std::fabs(y)))
      return ::testing::AssertionFailure() << "at " << i << ": losskit " << x << " vs torch " << y;
  }
  return ::testing::AssertionSuccess();
}

/// A loss under test: its three calls with target and options bound.
template <class T>
struct Ours {
  std::function<void(ConstView<T>, TensorView<T>, Reduction)> fwd;
  std::function<void(ConstView<T>, ConstView<T>, TensorView<T>, Reduction)> bwd;
  std::function<void(ConstView<T>, TensorView<T>, TensorView<T>, Reduction)> fb;
};
#define OURS(T, NAME, TARGET, OPTS)                                                                              \
  Ours<T> {                                                                                                      \
    [&](ConstView<T> x_, TensorView<T> o_, Reduction r_) { losskit::NAME(x_, TARGET, o_, OPTS(r_)); },           \
        [&](ConstView<T> g_, ConstView<T> x_, TensorView<T> gi_, Reduction r_) {                                 \
          losskit::NAME##_backward(g_, x_, TARGET, gi_, OPTS(r_));                                               \
        },                                                                                                       \
        [&](ConstView<T> x_, TensorView<T> o_, TensorView<T> gi_, Reduction r_) {                                \
          losskit::NAME##_forward_backward(x_, TARGET, o_, gi_, OPTS(r_));                                       \
        }                                                                                                        \
  }

/// Compares values and gradients (upstream: random for None, 0.7 for Mean/Sum) and the fused
/// call, for the three reductions. x may be strided; the reference sees a contiguous copy.
template <class T>
void compare(const std::string& what, const torch::Tensor& x, const std::function<torch::Tensor(torch::Tensor, Reduction)>& ref,
             const Ours<T>& ours) {
  const double rtol = std::is_same_v<T, float> ? 2e-4 : 1e-9, atol = std::is_same_v<T, float> ? 2e-5 : 1e-11;
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    SCOPED_TRACE(what + " reduction " + std::string(losskit::to_string(r)) + " input " + shape_of(x).str());
    auto xr = x.detach().clone().contiguous().requires_grad_(true);
    auto L = ref(xr, r);
    auto g = r == Reduction::None ? torch::randn(L.sizes(), torch::TensorOptions(dtype_of<T>()))
                                  : torch::full({}, 0.7, torch::TensorOptions(dtype_of<T>()));
    L.backward(g);
    const auto tgrad = xr.grad();
    auto out = torch::full(L.sizes(), -123.0, torch::TensorOptions(dtype_of<T>()));
    auto out2 = out.clone();
    auto gi = torch::full(x.sizes(), -123.0, torch::TensorOptions(dtype_of<T>())), gi2 = gi.clone();
    ours.fwd(cview<T>(x), TensorView<T>(out.data_ptr<T>(), shape_of(L)), r);
    EXPECT_TRUE(close(out, L, rtol, atol)) << "value";
    ours.bwd(cview<T>(g), cview<T>(x), TensorView<T>(gi.data_ptr<T>(), shape_of(x)), r);
    EXPECT_TRUE(close(gi, tgrad, rtol, atol)) << "gradient";
    if (r != Reduction::None) {
      ours.fb(cview<T>(x), TensorView<T>(out2.data_ptr<T>(), shape_of(L)), TensorView<T>(gi2.data_ptr<T>(), shape_of(x)), r);
      EXPECT_TRUE(close(out2, L, rtol, atol)) << "fused value";
      EXPECT_TRUE(close(gi2 * 0.7, tgrad, rtol, atol)) << "fused gradient";
    }
  }
}

std::mt19937 g_rng(2024);
int64_t rint(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(g_rng); }

/// A random (N, C) input, sometimes as a transposed (strided) view.
template <class T>
torch::Tensor matrix(int64_t N, int64_t C, double scale = 2.0) {
  auto o = torch::TensorOptions(dtype_of<T>());
  if (rint(0, 1)) return (torch::randn({C, N}, o) * scale).t();
  return torch::randn({N, C}, o) * scale;
}
/// A random shape with 1 to 3 dims, the last being C.
std::vector<int64_t> random_shape(int64_t C) {
  std::vector<int64_t> s;
  const int64_t nd = rint(0, 2);
  for (int64_t k = 0; k < nd; ++k) s.push_back(rint(1, 4));
  s.push_back(C);
  return s;
}

// ------------------------------------------------------------------------- PyTorch's losses -----
template <class T>
void bce_cases() {
  auto o = torch::TensorOptions(dtype_of<T>());
  for (int trial = 0; trial < 4; ++trial) {
    const int64_t N = rint(1, 5), C = rint(1, 5);
    auto x = torch::rand({N, C}, o) * 0.98 + 0.01;
    auto y = torch::rand({N, C}, o);
    if (trial == 0) {  // exact 0 and 1 probabilities against hard labels: the -100 clamp
      x.view({-1})[0] = 0;
      y.view({-1})[0] = 1;
      if (N * C > 1) {
        x.view({-1})[1] = 1;
        y.view({-1})[1] = 0;
      }
    }
    const auto w = torch::rand({C}, o) + 0.5, wcol = torch::rand({N, 1}, o) + 0.5;
    for (int variant = 0; variant < 3; ++variant) {
      const torch::Tensor wt = variant == 0 ? torch::Tensor() : variant == 1 ? w : wcol;
      auto opts = [&](Reduction r) {
        return losskit::BCEOptions<T>{.weight = wt.defined() ? cview<T>(wt) : ConstView<T>{}, .reduction = r};
      };
      auto ref = [&](torch::Tensor xr, Reduction r) {
        return torch::binary_cross_entropy(xr, y, wt.defined() ? wt.expand_as(xr) : torch::Tensor(), red(r));
      };
      compare<T>("bce w" + std::to_string(variant), x, ref, OURS(T, binary_cross_entropy, cview<T>(y), opts));
    }
  }
}

template <class T>
void bce_logits_cases() {
  auto o = torch::TensorOptions(dtype_of<T>());
  for (int trial = 0; trial < 3; ++trial) {
    const int64_t C = rint(1, 5);
    const auto shape = random_shape(C);
    auto x = torch::randn(shape, o) * 3;
    auto y = torch::rand(shape, o);
    const auto w = torch::rand({C}, o) + 0.5, pw = torch::rand({C}, o) * 3 + 0.2;
    for (int variant = 0; variant < 4; ++variant) {
      const torch::Tensor wt = (variant & 1) ? w : torch::Tensor(), pwt = (variant & 2) ? pw : torch::Tensor();
      auto opts = [&](Reduction r) {
        return losskit::BCEWithLogitsOptions<T>{.weight = wt.defined() ? cview<T>(wt) : ConstView<T>{},
                                                .pos_weight = pwt.defined() ? cview<T>(pwt) : ConstView<T>{},
                                                .reduction = r};
      };
      auto ref = [&](torch::Tensor xr, Reduction r) { return torch::binary_cross_entropy_with_logits(xr, y, wt, pwt, red(r)); };
      compare<T>("bce_with_logits v" + std::to_string(variant), x, ref,
                 OURS(T, binary_cross_entropy_with_logits, cview<T>(y), opts));
    }
  }
}

template <class T>
void soft_margin_cases() {
  auto o = torch::TensorOptions(dtype_of<T>());
  for (int trial = 0; trial < 3; ++trial) {
    const auto shape = random_shape(rint(1, 5));
    auto x = torch::randn(shape, o) * 3;
    auto y = torch::randint(0, 2, shape, o) * 2 - 1;
    auto opts = [&](Reduction r) { return losskit::SoftMarginOptions{.reduction = r}; };
    auto ref = [&](torch::Tensor xr, Reduction r) { return torch::soft_margin_loss(xr, y, red(r)); };
    compare<T>("soft_margin", x, ref, OURS(T, soft_margin_loss, cview<T>(y), opts));
  }
}

template <class T>
void multilabel_soft_margin_cases() {
  auto o = torch::TensorOptions(dtype_of<T>());
  for (int trial = 0; trial < 3; ++trial) {
    const int64_t C = rint(1, 6);
    const auto shape = random_shape(C);
    auto x = shape.size() == 2 ? matrix<T>(shape[0], C) : torch::randn(shape, o) * 2;
    auto y = torch::rand(shape, o);
    if (trial == 1) y = torch::randint(0, 2, shape, o);
    const auto w = torch::rand({C}, o) + 0.5;
    for (bool weighted : {false, true}) {
      const torch::Tensor wt = weighted ? w : torch::Tensor();
      auto opts = [&](Reduction r) {
        return losskit::MultilabelSoftMarginOptions<T>{.weight = weighted ? cview<T>(w) : ConstView<T>{}, .reduction = r};
      };
      auto ref = [&](torch::Tensor xr, Reduction r) {
        auto fo = F::MultilabelSoftMarginLossFuncOptions().weight(wt);
        if (r == Reduction::None) fo.reduction(torch::kNone);
        if (r == Reduction::Sum) fo.reduction(torch::kSum);
        return F::multilabel_soft_margin_loss(xr, y, fo);
      };
      compare<T>("multilabel_soft_margin", x, ref, OURS(T, multilabel_soft_margin_loss, cview<T>(y), opts));
    }
  }
}

template <class T>
void multi_margin_cases() {
  auto o = torch::TensorOptions(dtype_of<T>());
  for (int trial = 0; trial < 3; ++trial) {
    const int64_t C = rint(2, 6);
    const bool vec = trial == 2;
    const int64_t N = vec ? 1 : rint(1, 6);
    auto x = vec ? torch::randn({C}, o) : matrix<T>(N, C, 1.0);
    auto t = vec ? torch::randint(0, C, {}, torch::kLong) : torch::randint(0, C, {N}, torch::kLong);
    const auto w = torch::rand({C}, o) + 0.5;
    const std::vector<T> wv(w.data_ptr<T>(), w.data_ptr<T>() + C);
    for (int p : {1, 2})
      for (double margin : {1.0, 0.5})
        for (bool weighted : {false, true}) {
          auto opts = [&](Reduction r) {
            return losskit::MultiMarginOptions<T>{.p = p, .margin = margin,
                                                  .weight = weighted ? std::span<const T>(wv) : std::span<const T>{},
                                                  .reduction = r};
          };
          auto ref = [&](torch::Tensor xr, Reduction r) {
            return torch::multi_margin_loss(xr, t, p, margin, weighted ? w : torch::Tensor(), red(r));
          };
          compare<T>("multi_margin p" + std::to_string(p), x, ref, OURS(T, multi_margin_loss, cview<int64_t>(t), opts));
        }
  }
}

template <class T>
void multilabel_margin_cases() {
  auto o = torch::TensorOptions(dtype_of<T>());
  for (int trial = 0; trial < 4; ++trial) {
    const int64_t C = rint(2, 6);
    const bool vec = trial == 3;
    const int64_t N = vec ? 1 : rint(1, 6);
    auto x = vec ? torch::randn({C}, o) : matrix<T>(N, C, 1.0);
    // Each row: a random number of labels, then -1, then random ids (ignored).
    auto t = torch::randint(0, C, vec ? std::vector<int64_t>{C} : std::vector<int64_t>{N, C}, torch::kLong);
    auto t2 = t.view({-1, C});
    for (int64_t n = 0; n < t2.size(0); ++n) {
      const int64_t L = rint(0, C);
      if (L < C) t2[n][L] = -1;
    }
    auto opts = [&](Reduction r) { return losskit::MultilabelMarginOptions{.reduction = r}; };
    auto ref = [&](torch::Tensor xr, Reduction r) { return torch::multilabel_margin_loss(xr, t, red(r)); };
    compare<T>("multilabel_margin", x, ref, OURS(T, multilabel_margin_loss, cview<int64_t>(t), opts));
  }
}

// ------------------------------------------------------------------------ beyond PyTorch --------
/// torchvision.ops.sigmoid_focal_loss, as torchvision writes it.
torch::Tensor torchvision_sigmoid_focal(const torch::Tensor& inputs, const torch::Tensor& targets, double alpha,
                                        double gamma, Reduction r) {
  auto p = torch::sigmoid(inputs);
  auto ce_loss = torch::binary_cross_entropy_with_logits(inputs, targets, {}, {}, at::Reduction::None);
  auto p_t = p * targets + (1 - p) * (1 - targets);
  auto loss = ce_loss * torch::pow(1 - p_t, gamma);
  if (alpha >= 0) {
    auto alpha_t = alpha * targets + (1 - alpha) * (1 - targets);
    loss = alpha_t * loss;
  }
  return reduce(loss, r);
}

template <class T>
void sigmoid_focal_cases() {
  auto o = torch::TensorOptions(dtype_of<T>());
  for (int trial = 0; trial < 3; ++trial) {
    const auto shape = random_shape(rint(1, 5));
    auto x = torch::randn(shape, o) * 2;
    auto y = trial == 0 ? torch::rand(shape, o) : torch::randint(0, 2, shape, o);
    for (double gamma : {0.0, 0.5, 2.0})
      for (double alpha : {0.25, -1.0}) {
        auto opts = [&](Reduction r) { return losskit::SigmoidFocalOptions{.alpha = alpha, .gamma = gamma, .reduction = r}; };
        auto ref = [&](torch::Tensor xr, Reduction r) { return torchvision_sigmoid_focal(xr, y, alpha, gamma, r); };
        compare<T>("sigmoid_focal g" + std::to_string(gamma), x, ref, OURS(T, sigmoid_focal_loss, cview<T>(y), opts));
      }
  }
}

/// One-hot (N, C, d...) of class ids (N, d...), zero rows where ignored; and the kept mask.
torch::Tensor one_hot_dim1(const torch::Tensor& ids, int64_t C, int64_t ignore, torch::Dtype dt, torch::Tensor& kept) {
  kept = ids != ignore;
  auto safe = torch::where(kept, ids, torch::zeros_like(ids));
  auto oh = F::one_hot(safe, C).to(dt) * kept.unsqueeze(-1).to(dt);
  return oh.movedim(-1, ids.dim() == 0 ? 0 : 1);
}

/// Keras categorical_focal_crossentropy(from_logits=True) over dim 1 (0 for 1-D), per row,
/// with the log-probabilities from log_softmax (Keras clips p to [1e-7, 1 - 1e-7] instead).
torch::Tensor keras_focal(const torch::Tensor& x, const torch::Tensor& y, double alpha, const torch::Tensor& class_alpha,
                          double gamma, double ls) {
  const int64_t cd = x.dim() == 1 ? 0 : 1;
  const int64_t C = x.size(cd);
  auto yt = y * (1 - ls) + ls / static_cast<double>(C);
  auto logp = torch::log_softmax(x, cd);
  auto p = torch::exp(logp);
  auto cce = -yt * logp;
  auto modulating = torch::pow(1 - p, gamma);
  torch::Tensor a = torch::full({}, alpha, x.options());
  if (class_alpha.defined()) {
    std::vector<int64_t> s(x.dim(), 1);
    s[cd] = C;
    a = class_alpha.view(s);
  }
  return (a * modulating * cce).sum(cd);
}

template <class T>
void softmax_focal_cases() {
  auto o = torch::TensorOptions(dtype_of<T>());
  for (int trial = 0; trial < 3; ++trial) {
    const int64_t C = rint(2, 5), N = rint(1, 4);
    std::vector<int64_t> shape = {N, C};
    if (trial == 1) shape.push_back(rint(1, 3));
    if (trial == 2) shape = {C};
    auto x = torch::randn(shape, o) * 2;
    std::vector<int64_t> lshape = shape;
    lshape.erase(lshape.begin() + (shape.size() == 1 ? 0 : 1));
    auto ids = torch::randint(0, C, lshape, torch::kLong);
    if (ids.numel() > 1) ids.view({-1})[0] = -100;  // one ignored position (all ignored: unit tests)
    auto probs = torch::softmax(torch::randn(shape, o), shape.size() == 1 ? 0 : 1);
    const auto ca = torch::rand({C}, o) + 0.2;
    const std::vector<T> cav(ca.data_ptr<T>(), ca.data_ptr<T>() + C);
    for (double gamma : {0.0, 0.5, 2.0})
      for (double ls : {0.0, 0.1})
        for (bool per_class : {false, true}) {
          const std::string tag = "softmax_focal g" + std::to_string(gamma) + " ls" + std::to_string(ls) + (per_class ? " class_alpha" : "");
          auto opts = [&](Reduction r) {
            return losskit::SoftmaxFocalOptions<T>{.alpha = 0.25,
                                                   .class_alpha = per_class ? std::span<const T>(cav) : std::span<const T>{},
                                                   .gamma = gamma, .label_smoothing = ls, .reduction = r};
          };
          const torch::Tensor cat = per_class ? ca : torch::Tensor();
          auto ref_ids = [&](torch::Tensor xr, Reduction r) {
            torch::Tensor kept;
            auto y = one_hot_dim1(ids, C, -100, dtype_of<T>(), kept);
            auto l = keras_focal(xr, y, 0.25, cat, gamma, ls) * kept.to(dtype_of<T>());
            if (r == Reduction::Mean) return l.sum() / kept.sum();
            return reduce(l, r);
          };
          compare<T>(tag + " ids", x, ref_ids, OURS(T, softmax_focal_loss, cview<int64_t>(ids), opts));
          auto ref_probs = [&](torch::Tensor xr, Reduction r) { return reduce(keras_focal(xr, probs, 0.25, cat, gamma, ls), r); };
          compare<T>(tag + " probs", x, ref_probs, OURS(T, softmax_focal_loss, cview<T>(probs), opts));
        }
  }
}

/// optax poly_loss_cross_entropy over dim 1 (0 for 1-D).
torch::Tensor optax_poly1(const torch::Tensor& logits, const torch::Tensor& labels, double epsilon) {
  const int64_t cd = logits.dim() == 1 ? 0 : 1;
  auto p = torch::softmax(logits, cd);
  auto one_minus_pt = (labels * (1 - p)).sum(cd);
  auto cross_entropy = -(labels * torch::log_softmax(logits, cd)).sum(cd);
  return cross_entropy + epsilon * one_minus_pt;
}

template <class T>
void poly1_cases() {
  auto o = torch::TensorOptions(dtype_of<T>());
  for (int trial = 0; trial < 3; ++trial) {
    const int64_t C = rint(2, 6), N = rint(1, 5);
    std::vector<int64_t> shape = {N, C};
    if (trial == 1) shape.push_back(rint(1, 3));
    if (trial == 2) shape = {C};
    auto x = torch::randn(shape, o) * 2;
    std::vector<int64_t> lshape = shape;
    lshape.erase(lshape.begin() + (shape.size() == 1 ? 0 : 1));
    auto ids = torch::randint(0, C, lshape, torch::kLong);
    if (ids.numel() > 1) ids.view({-1})[0] = -100;
    auto labels = torch::rand(shape, o);  // optax allows any non-negative labels
    for (double eps : {2.0, -1.0, 0.5}) {
      auto opts = [&](Reduction r) { return losskit::Poly1Options{.epsilon = eps, .reduction = r}; };
      auto ref_ids = [&](torch::Tensor xr, Reduction r) {
        torch::Tensor kept;
        auto y = one_hot_dim1(ids, C, -100, dtype_of<T>(), kept);
        auto l = optax_poly1(xr, y, eps) * kept.to(dtype_of<T>());
        if (r == Reduction::Mean) return l.sum() / kept.sum();
        return reduce(l, r);
      };
      compare<T>("poly1 ids eps" + std::to_string(eps), x, ref_ids, OURS(T, poly1_cross_entropy, cview<int64_t>(ids), opts));
      auto ref_probs = [&](torch::Tensor xr, Reduction r) { return reduce(optax_poly1(xr, labels, eps), r); };
      compare<T>("poly1 probs eps" + std::to_string(eps), x, ref_probs, OURS(T, poly1_cross_entropy, cview<T>(labels), opts));
    }
  }
}

/// Keras hinge / squared_hinge (with convert_binary_labels_to_hinge) and categorical_hinge.
torch::Tensor keras_convert(const torch::Tensor& y) {
  auto is_binary = torch::logical_or(y == 0, y == 1).all();
  return is_binary.item<bool>() ? 2.0 * y - 1.0 : y;
}
torch::Tensor keras_hinge(const torch::Tensor& x, const torch::Tensor& y) {
  return torch::clamp_min(1.0 - keras_convert(y) * x, 0.0).mean(-1);
}
torch::Tensor keras_squared_hinge(const torch::Tensor& x, const torch::Tensor& y) {
  return torch::square(torch::clamp_min(1.0 - keras_convert(y) * x, 0.0)).mean(-1);
}
torch::Tensor keras_categorical_hinge(const torch::Tensor& x, const torch::Tensor& y) {
  auto pos = (y * x).sum(-1);
  auto neg = ((1.0 - y) * x).amax(-1);
  return torch::clamp_min(neg - pos + 1.0, 0.0);
}

template <class T>
void hinge_cases() {
  auto o = torch::TensorOptions(dtype_of<T>());
  for (int trial = 0; trial < 4; ++trial) {
    const int64_t C = rint(2, 5);
    const auto shape = random_shape(C);
    auto x = torch::randn(shape, o) * 1.5;
    torch::Tensor y;
    if (trial == 0) y = torch::randint(0, 2, shape, o);               // {0, 1}: converted
    else if (trial == 1) y = torch::randint(0, 2, shape, o) * 2 - 1;  // {-1, 1}
    else y = torch::rand(shape, o);                                   // soft: not converted
    auto opts = [&](Reduction r) { return losskit::HingeOptions{.reduction = r}; };
    auto ref_h = [&](torch::Tensor xr, Reduction r) { return reduce(keras_hinge(xr, y), r); };
    compare<T>("hinge", x, ref_h, OURS(T, hinge_loss, cview<T>(y), opts));
    auto ref_s = [&](torch::Tensor xr, Reduction r) { return reduce(keras_squared_hinge(xr, y), r); };
    compare<T>("squared_hinge", x, ref_s, OURS(T, squared_hinge_loss, cview<T>(y), opts));
    auto yc = trial == 3 ? y : F::one_hot(torch::randint(0, C, torch::IntArrayRef(shape).slice(0, shape.size() - 1), torch::kLong), C).to(dtype_of<T>());
    auto ref_c = [&](torch::Tensor xr, Reduction r) { return reduce(keras_categorical_hinge(xr, yc), r); };
    compare<T>("categorical_hinge", x, ref_c, OURS(T, categorical_hinge_loss, cview<T>(yc), opts));
  }
}

}  // namespace

#define LOSSKIT_PARITY(NAME, FN)   \
  TEST(ClassificationExtraTorch, NAME##Float) { \
    torch::manual_seed(1);         \
    FN<float>();                   \
  }                                \
  TEST(ClassificationExtraTorch, NAME##Double) { \
    torch::manual_seed(2);         \
    FN<double>();                  \
  }

LOSSKIT_PARITY(BinaryCrossEntropy, bce_cases)
LOSSKIT_PARITY(BinaryCrossEntropyWithLogits, bce_logits_cases)
LOSSKIT_PARITY(SoftMargin, soft_margin_cases)
LOSSKIT_PARITY(MultilabelSoftMargin, multilabel_soft_margin_cases)
LOSSKIT_PARITY(MultiMargin, multi_margin_cases)
LOSSKIT_PARITY(MultilabelMargin, multilabel_margin_cases)
LOSSKIT_PARITY(SigmoidFocal, sigmoid_focal_cases)
LOSSKIT_PARITY(SoftmaxFocal, softmax_focal_cases)
LOSSKIT_PARITY(Poly1CrossEntropy, poly1_cases)
LOSSKIT_PARITY(Hinges, hinge_cases)

// Where PyTorch gives NaN (pytorch#102894, 1.13 and 2.13) losskit gives the limits; elsewhere it agrees.
TEST(ClassificationExtraTorch, BceWithLogitsInfiniteLogits) {
  const double inf = std::numeric_limits<double>::infinity();
  auto x = torch::tensor({inf, -inf, 3.0}, torch::kDouble), y = torch::tensor({1.0, 0.0, 0.3}, torch::kDouble);
  auto t = torch::binary_cross_entropy_with_logits(x, y, {}, {}, at::Reduction::None);
  EXPECT_TRUE(std::isnan(t[0].item<double>()));  // the PyTorch bug this works around
  auto l = losskit::binary_cross_entropy_with_logits(cview<double>(x), cview<double>(y), {.reduction = Reduction::None});
  EXPECT_EQ(l[0], 0);
  EXPECT_EQ(l[1], 0);
  EXPECT_NEAR(l[2], t[2].item<double>(), 1e-14);
}
