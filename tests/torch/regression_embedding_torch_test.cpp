// Parity of the regression and embedding losses with libtorch (the torch 2.13 wheel's): values and
// gradients (w.r.t. every differentiable input), float and double, every reduction and option,
// randomized shapes, non-contiguous inputs. Where the form is written in Python in
// torch.nn.functional (the per-element `weight` of mse/l1/huber, gaussian_nll_loss), the
// reference is that formula composed with libtorch ops, as torch.nn.functional writes it.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include "losskit/losskit.hpp"

namespace {

using losskit::ConstView;
using losskit::Reduction;
using losskit::Shape;
using losskit::TensorView;

template <class T>
constexpr torch::Dtype dtype_of() {
  return std::is_same_v<T, float> ? torch::kFloat32 : torch::kFloat64;
}

Shape shape_of(const torch::Tensor& t) { return Shape(std::span<const std::int64_t>(t.sizes().data(), t.sizes().size())); }
Shape strides_of(const torch::Tensor& t) {
  return Shape(std::span<const std::int64_t>(t.strides().data(), t.strides().size()));
}
template <class T>
ConstView<T> cv(const torch::Tensor& t) {
  return ConstView<T>(t.data_ptr<T>(), shape_of(t), strides_of(t));
}
template <class T>
TensorView<T> mv(const torch::Tensor& t) {
  return TensorView<T>(t.data_ptr<T>(), shape_of(t), strides_of(t));
}

int64_t torch_reduction(Reduction r) {
  return r == Reduction::None ? at::Reduction::None : (r == Reduction::Mean ? at::Reduction::Mean : at::Reduction::Sum);
}

template <class T>
::testing::AssertionResult close(const torch::Tensor& got, const torch::Tensor& want, const std::string& what) {
  const double rtol = std::is_same_v<T, float> ? 2e-4 : 1e-9;
  const double atol = std::is_same_v<T, float> ? 2e-5 : 1e-11;
  if (got.sizes() != want.sizes())
    return ::testing::AssertionFailure() << what << ": shape " << got.sizes() << " vs " << want.sizes();
  const auto g = got.to(torch::kFloat64), w = want.detach().to(torch::kFloat64);
  // The absolute tolerance scales with the tensor's magnitude (cancellation noise of size
  // eps * max|want| is rounding, not a difference).
  const double scale = w.numel() ? std::max(1.0, w.abs().nan_to_num(0, 0, 0).max().item<double>()) : 1.0;
  if (torch::allclose(g, w, rtol, atol * scale, /*equal_nan=*/true)) return ::testing::AssertionSuccess();
  const auto diff = (g - w).abs();
  const auto idx = diff.argmax().item<int64_t>();
  return ::testing::AssertionFailure() << what << ": max |diff| " << diff.max().item<double>() << " at flat " << idx
                                       << " (got " << g.flatten()[idx].item<double>() << ", want "
                                       << w.flatten()[idx].item<double>() << ")";
}

/// The gradient autograd accumulated, zeros when none reached the tensor (e.g. p = 0 norms).
torch::Tensor grad_of(const torch::Tensor& t) { return t.grad().defined() ? t.grad() : torch::zeros_like(t); }

/// One loss of K inputs: the torch reference and losskit's three calls. `diff[k]` says whether
/// input k is differentiable; the losskit gradient views come in that order.
template <class T>
struct Case {
  std::function<torch::Tensor(const std::vector<torch::Tensor>&, int64_t)> ref;
  std::function<void(const std::vector<ConstView<T>>&, TensorView<T>, Reduction)> fwd;
  std::function<void(ConstView<T>, const std::vector<ConstView<T>>&, const std::vector<TensorView<T>>&, Reduction)> bwd;
  std::function<void(const std::vector<ConstView<T>>&, TensorView<T>, const std::vector<TensorView<T>>&, Reduction)> fb;
  std::vector<bool> diff;
};

/// Compares values and gradients for every reduction. `in` may be non-contiguous: losskit reads
/// the views as they are; torch gets contiguous clones.
template <class T>
void compare(const Case<T>& c, const std::vector<torch::Tensor>& in, const std::string& label) {
  SCOPED_TRACE(label);
  std::vector<ConstView<T>> views;
  for (const auto& t : in) views.push_back(cv<T>(t));
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    SCOPED_TRACE(std::string(losskit::to_string(r)));
    std::vector<torch::Tensor> refs;
    for (std::size_t k = 0; k < in.size(); ++k) {
      auto t = in[k].detach().clone().contiguous();
      if (c.diff[k]) t.requires_grad_(true);
      refs.push_back(t);
    }
    const auto L = c.ref(refs, torch_reduction(r));
    const auto u = r == Reduction::None ? torch::rand_like(L) + 0.5 : torch::ones_like(L);
    L.backward(u);
    // forward (buffer)
    auto out = torch::empty(L.sizes(), torch::TensorOptions().dtype(dtype_of<T>()));
    c.fwd(views, mv<T>(out), r);
    EXPECT_TRUE(close<T>(out, L, "value"));
    // backward with the upstream u
    std::vector<torch::Tensor> grads;
    std::vector<TensorView<T>> gviews;
    for (std::size_t k = 0; k < in.size(); ++k)
      if (c.diff[k]) {
        grads.push_back(torch::full(in[k].sizes(), -7.0, torch::TensorOptions().dtype(dtype_of<T>())));
        gviews.push_back(mv<T>(grads.back()));
      }
    const auto ut = u.to(dtype_of<T>()).contiguous();
    c.bwd(cv<T>(ut), views, gviews, r);
    std::size_t j = 0;
    for (std::size_t k = 0; k < in.size(); ++k)
      if (c.diff[k]) {
        EXPECT_TRUE(close<T>(grads[j], grad_of(refs[k]), "grad of input " + std::to_string(k) + " (backward)"));
        ++j;
      }
    // fused: the upstream gradient is 1 (ones for None)
    if (r != Reduction::None) {
      auto out2 = torch::empty(L.sizes(), torch::TensorOptions().dtype(dtype_of<T>()));
      for (auto& g : grads) g.fill_(-7.0);
      c.fb(views, mv<T>(out2), gviews, r);
      EXPECT_TRUE(close<T>(out2, L, "fused value"));
      j = 0;
      for (std::size_t k = 0; k < in.size(); ++k)
        if (c.diff[k]) {
          EXPECT_TRUE(close<T>(grads[j], grad_of(refs[k]), "grad of input " + std::to_string(k) + " (fused)"));
          ++j;
        }
    }
  }
}

std::mt19937& gen() {
  static std::mt19937 g(31337);
  return g;
}
int rint(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen()); }

/// A random shape with 0..3 dims of extent 1..6.
std::vector<int64_t> random_shape(int min_dims = 0, int max_dims = 3) {
  std::vector<int64_t> s(static_cast<std::size_t>(rint(min_dims, max_dims)));
  for (auto& e : s) e = rint(1, 6);
  return s;
}

/// A tensor of `shape` (dtype T) from `make`, non-contiguous (a transposed copy) when asked and
/// the shape has >= 2 dims.
template <class T>
torch::Tensor make(std::vector<int64_t> shape, bool noncontig, const std::function<torch::Tensor(at::IntArrayRef)>& fill) {
  const auto opt = torch::TensorOptions().dtype(dtype_of<T>());
  if (noncontig && shape.size() >= 2) {
    std::swap(shape[shape.size() - 1], shape[shape.size() - 2]);
    auto t = fill(shape).to(opt);
    return t.transpose(-1, -2);
  }
  return fill(shape).to(opt).contiguous();
}
auto randn_fill(double sd = 1.0) {
  return [sd](at::IntArrayRef s) { return torch::randn(s, torch::kFloat64) * sd; };
}
auto uniform_fill(double lo, double hi) {
  return [lo, hi](at::IntArrayRef s) { return torch::rand(s, torch::kFloat64) * (hi - lo) + lo; };
}
auto sign_fill(bool with_zero = false) {
  return [with_zero](at::IntArrayRef s) {
    auto t = torch::randint(0, with_zero ? 3 : 2, s, torch::kFloat64);
    return with_zero ? t - 1 : t * 2 - 1;  // {-1, 1} or {-1, 0, 1}
  };
}

/// Sets the per-element weight of options that have one, when a third input is given.
template <class O, class T>
void maybe_weight(O& op, const std::vector<ConstView<T>>& v) {
  if constexpr (requires { op.weight; }) {
    if (v.size() > 2) op.weight = v[2];
  }
}

// Pair losses: losskit's calls bound to options, the upstream/fused views in argument order.
#define PAIR_CASE(T, name, opts_expr, ref_expr, weighted)                                                        \
  Case<T> {                                                                                                     \
    [=](const std::vector<torch::Tensor>& t, int64_t r) { return ref_expr; },                                   \
        [=](const std::vector<ConstView<T>>& v, TensorView<T> o, Reduction r) {                                 \
          auto op = opts_expr;                                                                                   \
          op.reduction = r;                                                                                      \
          maybe_weight(op, v);                                                                                   \
          losskit::name(v[0], v[1], o, op);                                                                      \
        },                                                                                                       \
        [=](ConstView<T> g, const std::vector<ConstView<T>>& v, const std::vector<TensorView<T>>& gr, Reduction r) { \
          auto op = opts_expr;                                                                                   \
          op.reduction = r;                                                                                      \
          maybe_weight(op, v);                                                                                   \
          losskit::name##_backward(g, v[0], v[1], gr[0], gr[1], op);                                             \
        },                                                                                                       \
        [=](const std::vector<ConstView<T>>& v, TensorView<T> o, const std::vector<TensorView<T>>& gr, Reduction r) { \
          auto op = opts_expr;                                                                                   \
          op.reduction = r;                                                                                      \
          maybe_weight(op, v);                                                                                   \
          losskit::name##_forward_backward(v[0], v[1], o, gr[0], gr[1], op);                                     \
        },                                                                                                       \
        weighted ? std::vector<bool>{true, true, false} : std::vector<bool>{true, true},                         \
  }

/// The weighted reductions of newer torch.nn.functional: mse/l1 divide by sum(w), huber by numel.
torch::Tensor weighted_reduce(const torch::Tensor& l, const torch::Tensor& w, int64_t r, bool by_weights) {
  const auto wl = l * w;
  if (r == at::Reduction::None) return wl;
  if (r == at::Reduction::Sum) return wl.sum();
  return by_weights ? wl.sum() / w.sum() : wl.mean();
}

template <class T>
void pointwise_parity() {
  for (int trial = 0; trial < 6; ++trial) {
    const auto shape = random_shape();
    const bool nc = trial % 2 == 1;
    const auto x = make<T>(shape, nc, randn_fill(2.0)), y = make<T>(shape, nc, randn_fill());
    const auto w = make<T>(shape, nc, uniform_fill(0.1, 2.0));
    const std::string lab = "shape " + c10::str(at::IntArrayRef(shape)) + (nc ? " non-contiguous" : "");
    using namespace losskit;
    compare<T>(PAIR_CASE(T, mse_loss, MSELossOptions<T>{}, torch::mse_loss(t[0], t[1], r), false), {x, y}, "mse " + lab);
    compare<T>(PAIR_CASE(T, mse_loss, MSELossOptions<T>{},
                         weighted_reduce(torch::mse_loss(t[0], t[1], at::Reduction::None), t[2], r, true), true),
               {x, y, w}, "weighted mse " + lab);
    compare<T>(PAIR_CASE(T, l1_loss, L1LossOptions<T>{}, torch::l1_loss(t[0], t[1], r), false), {x, y}, "l1 " + lab);
    compare<T>(PAIR_CASE(T, l1_loss, L1LossOptions<T>{},
                         weighted_reduce(torch::l1_loss(t[0], t[1], at::Reduction::None), t[2], r, true), true),
               {x, y, w}, "weighted l1 " + lab);
    for (double delta : {1.0, 0.3, 2.5}) {
      compare<T>(PAIR_CASE(T, huber_loss, HuberLossOptions<T>{.delta = delta}, torch::huber_loss(t[0], t[1], r, delta),
                           false),
                 {x, y}, "huber " + std::to_string(delta) + " " + lab);
      compare<T>(PAIR_CASE(T, huber_loss, HuberLossOptions<T>{.delta = delta},
                           weighted_reduce(torch::huber_loss(t[0], t[1], at::Reduction::None, delta), t[2], r, false),
                           true),
                 {x, y, w}, "weighted huber " + std::to_string(delta) + " " + lab);
    }
    for (double beta : {1.0, 0.0, 0.4, 3.0})
      compare<T>(PAIR_CASE(T, smooth_l1_loss, SmoothL1LossOptions{.beta = beta},
                           torch::smooth_l1_loss(t[0], t[1], r, beta), false),
                 {x, y}, "smooth_l1 " + std::to_string(beta) + " " + lab);
    // poisson_nll_loss: every option; targets > 0 (PyTorch's target gradient of the Stirling
    // term is NaN at y == 0, losskit's is 0).
    const auto yc = make<T>(shape, nc, uniform_fill(0.05, 5.0));
    const auto xr = make<T>(shape, nc, uniform_fill(0.1, 3.0));
    const auto xl = make<T>(shape, nc, randn_fill());
    for (bool log_input : {true, false})
      for (bool full : {false, true})
        for (double eps : {1e-8, 0.2})
          compare<T>(PAIR_CASE(T, poisson_nll_loss, (PoissonNLLLossOptions{.log_input = log_input, .full = full, .eps = eps}),
                               torch::poisson_nll_loss(t[0], t[1], log_input, full, eps, r), false),
                     {log_input ? xl : xr, yc},
                     "poisson log_input " + std::to_string(log_input) + " full " + std::to_string(full) + " eps " +
                         std::to_string(eps) + " " + lab);
  }
}
TEST(RegressionTorchParity, PointwiseFloat) { pointwise_parity<float>(); }
TEST(RegressionTorchParity, PointwiseDouble) { pointwise_parity<double>(); }

/// PyTorch's gaussian_nll_loss (torch/nn/functional.py, Python-only), composed of torch ops.
torch::Tensor gaussian_ref(torch::Tensor input, torch::Tensor target, torch::Tensor var, bool full, double eps,
                           int64_t r) {
  if (var.sizes() != input.sizes() && var.dim() == input.dim() - 1) var = var.unsqueeze(-1);
  var = var.clone();
  {
    torch::NoGradGuard no_grad;
    var.clamp_(eps);
  }
  auto loss = 0.5 * (torch::log(var) + (input - target).pow(2) / var);
  if (full) loss = loss + 0.5 * std::log(2 * M_PI);
  if (r == at::Reduction::Mean) return loss.mean();
  if (r == at::Reduction::Sum) return loss.sum();
  return loss;
}

template <class T>
void gaussian_parity() {
  for (int trial = 0; trial < 6; ++trial) {
    auto shape = random_shape(1, 3);
    const bool nc = trial % 2 == 1;
    for (int mode = 0; mode < 3; ++mode) {  // same shape, last dim 1, one dim fewer
      auto vshape = shape;
      if (mode == 1) vshape.back() = 1;
      if (mode == 2) vshape.pop_back();
      for (bool full : {false, true})
        for (double eps : {1e-6, 0.5}) {
          const auto x = make<T>(shape, nc, randn_fill()), y = make<T>(shape, nc, randn_fill());
          const auto v = make<T>(vshape, nc, uniform_fill(0.05, 2.0));  // some below eps = 0.5: clamped
          Case<T> c{[=](const std::vector<torch::Tensor>& t, int64_t r) { return gaussian_ref(t[0], t[1], t[2], full, eps, r); },
                    [=](const std::vector<ConstView<T>>& a, TensorView<T> o, Reduction r) {
                      losskit::gaussian_nll_loss(a[0], a[1], a[2], o, {.full = full, .eps = eps, .reduction = r});
                    },
                    [=](ConstView<T> g, const std::vector<ConstView<T>>& a, const std::vector<TensorView<T>>& gr, Reduction r) {
                      losskit::gaussian_nll_loss_backward(g, a[0], a[1], a[2], gr[0], gr[1], gr[2],
                                                          {.full = full, .eps = eps, .reduction = r});
                    },
                    [=](const std::vector<ConstView<T>>& a, TensorView<T> o, const std::vector<TensorView<T>>& gr, Reduction r) {
                      losskit::gaussian_nll_loss_forward_backward(a[0], a[1], a[2], o, gr[0], gr[1], gr[2],
                                                                  {.full = full, .eps = eps, .reduction = r});
                    },
                    {true, true, true}};
          compare<T>(c, {x, y, v},
                     "gaussian input " + c10::str(at::IntArrayRef(shape)) + " var " + c10::str(at::IntArrayRef(vshape)) +
                         " full " + std::to_string(full) + " eps " + std::to_string(eps) + (nc ? " nc" : ""));
        }
    }
  }
}
TEST(RegressionTorchParity, GaussianNLLFloat) { gaussian_parity<float>(); }
TEST(RegressionTorchParity, GaussianNLLDouble) { gaussian_parity<double>(); }

template <class T>
void margin_parity() {
  for (int trial = 0; trial < 6; ++trial) {
    const auto shape = random_shape();
    const bool nc = trial % 2 == 1;
    const std::string lab = c10::str(at::IntArrayRef(shape)) + (nc ? " nc" : "");
    const auto x = make<T>(shape, nc, randn_fill()), x2 = make<T>(shape, nc, randn_fill());
    for (double margin : {1.0, 0.3, -0.4}) {
      const auto y = make<T>(shape, nc, sign_fill(/*with_zero=*/true));
      Case<T> hinge{[=](const std::vector<torch::Tensor>& t, int64_t r) { return torch::hinge_embedding_loss(t[0], t[1], margin, r); },
                    [=](const std::vector<ConstView<T>>& a, TensorView<T> o, Reduction r) {
                      losskit::hinge_embedding_loss(a[0], a[1], o, {.margin = margin, .reduction = r});
                    },
                    [=](ConstView<T> g, const std::vector<ConstView<T>>& a, const std::vector<TensorView<T>>& gr, Reduction r) {
                      losskit::hinge_embedding_loss_backward(g, a[0], a[1], gr[0], {.margin = margin, .reduction = r});
                    },
                    [=](const std::vector<ConstView<T>>& a, TensorView<T> o, const std::vector<TensorView<T>>& gr, Reduction r) {
                      losskit::hinge_embedding_loss_forward_backward(a[0], a[1], o, gr[0], {.margin = margin, .reduction = r});
                    },
                    {true, false}};
      compare<T>(hinge, {x, y}, "hinge_embedding margin " + std::to_string(margin) + " " + lab);
      const auto ys = make<T>(shape, nc, sign_fill());
      Case<T> rank{[=](const std::vector<torch::Tensor>& t, int64_t r) { return torch::margin_ranking_loss(t[0], t[1], t[2], margin, r); },
                   [=](const std::vector<ConstView<T>>& a, TensorView<T> o, Reduction r) {
                     losskit::margin_ranking_loss(a[0], a[1], a[2], o, {.margin = margin, .reduction = r});
                   },
                   [=](ConstView<T> g, const std::vector<ConstView<T>>& a, const std::vector<TensorView<T>>& gr, Reduction r) {
                     losskit::margin_ranking_loss_backward(g, a[0], a[1], a[2], gr[0], gr[1], {.margin = margin, .reduction = r});
                   },
                   [=](const std::vector<ConstView<T>>& a, TensorView<T> o, const std::vector<TensorView<T>>& gr, Reduction r) {
                     losskit::margin_ranking_loss_forward_backward(a[0], a[1], a[2], o, gr[0], gr[1],
                                                                   {.margin = margin, .reduction = r});
                   },
                   {true, true, false}};
      compare<T>(rank, {x, x2, ys}, "margin_ranking margin " + std::to_string(margin) + " " + lab);
    }
  }
  // The clamp_min tie passes the gradient in both libraries.
  const auto a = torch::tensor({1.0, 2.0}, dtype_of<T>()), b = torch::tensor({0.0, 2.5}, dtype_of<T>()),
             y = torch::tensor({-1.0, 1.0}, dtype_of<T>());
  Case<T> rank{[=](const std::vector<torch::Tensor>& t, int64_t r) { return torch::margin_ranking_loss(t[0], t[1], t[2], -1.0, r); },
               [=](const std::vector<ConstView<T>>& v, TensorView<T> o, Reduction r) {
                 losskit::margin_ranking_loss(v[0], v[1], v[2], o, {.margin = -1.0, .reduction = r});
               },
               [=](ConstView<T> g, const std::vector<ConstView<T>>& v, const std::vector<TensorView<T>>& gr, Reduction r) {
                 losskit::margin_ranking_loss_backward(g, v[0], v[1], v[2], gr[0], gr[1], {.margin = -1.0, .reduction = r});
               },
               [=](const std::vector<ConstView<T>>& v, TensorView<T> o, const std::vector<TensorView<T>>& gr, Reduction r) {
                 losskit::margin_ranking_loss_forward_backward(v[0], v[1], v[2], o, gr[0], gr[1], {.margin = -1.0, .reduction = r});
               },
               {true, true, false}};
  compare<T>(rank, {a, b, y}, "margin_ranking tie");
}
TEST(EmbeddingTorchParity, HingeAndRankingFloat) { margin_parity<float>(); }
TEST(EmbeddingTorchParity, HingeAndRankingDouble) { margin_parity<double>(); }

template <class T>
void cosine_parity() {
  for (int trial = 0; trial < 8; ++trial) {
    const bool one_d = trial % 4 == 3;
    const bool nc = trial % 2 == 1 && !one_d;
    const int64_t N = rint(1, 8), D = rint(1, 7);
    const std::vector<int64_t> s = one_d ? std::vector<int64_t>{D} : std::vector<int64_t>{N, D};
    const std::vector<int64_t> ts = one_d ? std::vector<int64_t>{} : std::vector<int64_t>{N};
    const auto a = make<T>(s, nc, randn_fill()), b = make<T>(s, nc, randn_fill());
    const auto y = make<T>(ts, false, sign_fill(/*with_zero=*/true));
    for (double margin : {0.0, 0.4, -0.5}) {
      Case<T> c{[=](const std::vector<torch::Tensor>& t, int64_t r) { return torch::cosine_embedding_loss(t[0], t[1], t[2], margin, r); },
                [=](const std::vector<ConstView<T>>& v, TensorView<T> o, Reduction r) {
                  losskit::cosine_embedding_loss(v[0], v[1], v[2], o, {.margin = margin, .reduction = r});
                },
                [=](ConstView<T> g, const std::vector<ConstView<T>>& v, const std::vector<TensorView<T>>& gr, Reduction r) {
                  losskit::cosine_embedding_loss_backward(g, v[0], v[1], v[2], gr[0], gr[1], {.margin = margin, .reduction = r});
                },
                [=](const std::vector<ConstView<T>>& v, TensorView<T> o, const std::vector<TensorView<T>>& gr, Reduction r) {
                  losskit::cosine_embedding_loss_forward_backward(v[0], v[1], v[2], o, gr[0], gr[1],
                                                                  {.margin = margin, .reduction = r});
                },
                {true, true, false}};
      compare<T>(c, {a, b, y}, "cosine_embedding " + c10::str(at::IntArrayRef(s)) + " margin " + std::to_string(margin) +
                                   (nc ? " nc" : ""));
    }
  }
}
TEST(EmbeddingTorchParity, CosineEmbeddingFloat) { cosine_parity<float>(); }
TEST(EmbeddingTorchParity, CosineEmbeddingDouble) { cosine_parity<double>(); }

template <class T, class Opts>
Case<T> triplet_case(std::function<torch::Tensor(const std::vector<torch::Tensor>&, int64_t)> ref, Opts opts) {
  return Case<T>{ref,
                 [=](const std::vector<ConstView<T>>& v, TensorView<T> o, Reduction r) {
                   auto op = opts;
                   op.reduction = r;
                   if constexpr (std::is_same_v<Opts, losskit::TripletMarginLossOptions>) losskit::triplet_margin_loss(v[0], v[1], v[2], o, op);
                   else losskit::triplet_margin_with_distance_loss(v[0], v[1], v[2], o, op);
                 },
                 [=](ConstView<T> g, const std::vector<ConstView<T>>& v, const std::vector<TensorView<T>>& gr, Reduction r) {
                   auto op = opts;
                   op.reduction = r;
                   if constexpr (std::is_same_v<Opts, losskit::TripletMarginLossOptions>)
                     losskit::triplet_margin_loss_backward(g, v[0], v[1], v[2], gr[0], gr[1], gr[2], op);
                   else losskit::triplet_margin_with_distance_loss_backward(g, v[0], v[1], v[2], gr[0], gr[1], gr[2], op);
                 },
                 [=](const std::vector<ConstView<T>>& v, TensorView<T> o, const std::vector<TensorView<T>>& gr, Reduction r) {
                   auto op = opts;
                   op.reduction = r;
                   if constexpr (std::is_same_v<Opts, losskit::TripletMarginLossOptions>)
                     losskit::triplet_margin_loss_forward_backward(v[0], v[1], v[2], o, gr[0], gr[1], gr[2], op);
                   else losskit::triplet_margin_with_distance_loss_forward_backward(v[0], v[1], v[2], o, gr[0], gr[1], gr[2], op);
                 },
                 {true, true, true}};
}

torch::nn::functional::TripletMarginWithDistanceLossFuncOptions::reduction_t torch_enum(int64_t r) {
  if (r == at::Reduction::None) return torch::kNone;
  if (r == at::Reduction::Sum) return torch::kSum;
  return torch::kMean;
}

template <class T>
void triplet_parity() {
  const double inf = std::numeric_limits<double>::infinity();
  for (int trial = 0; trial < 6; ++trial) {
    std::vector<int64_t> s = trial % 3 == 2 ? std::vector<int64_t>{rint(1, 6)} : std::vector<int64_t>{rint(1, 6), rint(1, 6)};
    if (trial == 4) s = {2, rint(1, 4), rint(2, 5)};
    const bool nc = trial % 2 == 1;
    const auto a = make<T>(s, nc, randn_fill()), p = make<T>(s, nc, randn_fill()), n = make<T>(s, nc, randn_fill());
    const std::string lab = c10::str(at::IntArrayRef(s)) + (nc ? " nc" : "");
    for (double pn : {2.0, 1.0, 3.0, 1.5, inf, 0.0})
      for (double eps : {1e-6, 0.3})
        for (bool swap : {false, true})
          for (double margin : {1.0, 0.2}) {
            auto ref = [=](const std::vector<torch::Tensor>& t, int64_t r) {
              return torch::triplet_margin_loss(t[0], t[1], t[2], margin, pn, eps, swap, r);
            };
            compare<T>(triplet_case<T>(ref, losskit::TripletMarginLossOptions{.margin = margin, .p = pn, .eps = eps, .swap = swap}),
                       {a, p, n},
                       "triplet p " + std::to_string(pn) + " eps " + std::to_string(eps) + " swap " + std::to_string(swap) +
                           " margin " + std::to_string(margin) + " " + lab);
          }
    namespace F = torch::nn::functional;
    for (bool swap : {false, true})
      for (double margin : {1.0, 0.3}) {
        // Default distance (pairwise_distance, p = 2, eps = 1e-6).
        auto ref_default = [=](const std::vector<torch::Tensor>& t, int64_t r) {
          return F::triplet_margin_with_distance_loss(
              t[0], t[1], t[2], F::TripletMarginWithDistanceLossFuncOptions().margin(margin).swap(swap).reduction(torch_enum(r)));
        };
        compare<T>(triplet_case<T>(ref_default, losskit::TripletMarginWithDistanceLossOptions{.margin = margin, .swap = swap}),
                   {a, p, n}, "with_distance default swap " + std::to_string(swap) + " " + lab);
        // Pairwise with p = 1, eps = 0.
        auto ref_l1 = [=](const std::vector<torch::Tensor>& t, int64_t r) {
          return F::triplet_margin_with_distance_loss(
              t[0], t[1], t[2],
              F::TripletMarginWithDistanceLossFuncOptions()
                  .distance_function([](const torch::Tensor& u, const torch::Tensor& v) { return torch::pairwise_distance(u, v, 1.0, 0.0); })
                  .margin(margin)
                  .swap(swap)
                  .reduction(torch_enum(r)));
        };
        compare<T>(triplet_case<T>(ref_l1, losskit::TripletMarginWithDistanceLossOptions{.margin = margin, .swap = swap, .p = 1.0, .eps = 0.0}),
                   {a, p, n}, "with_distance l1 swap " + std::to_string(swap) + " " + lab);
        // Cosine distance 1 - cosine_similarity (eps = 1e-8).
        auto ref_cos = [=](const std::vector<torch::Tensor>& t, int64_t r) {
          return F::triplet_margin_with_distance_loss(
              t[0], t[1], t[2],
              F::TripletMarginWithDistanceLossFuncOptions()
                  .distance_function([](const torch::Tensor& u, const torch::Tensor& v) { return 1.0 - torch::cosine_similarity(u, v, -1, 1e-8); })
                  .margin(margin)
                  .swap(swap)
                  .reduction(torch_enum(r)));
        };
        compare<T>(triplet_case<T>(ref_cos, losskit::TripletMarginWithDistanceLossOptions{
                                                .distance = losskit::TripletDistance::Cosine, .margin = margin, .swap = swap}),
                   {a, p, n}, "with_distance cosine swap " + std::to_string(swap) + " " + lab);
      }
  }
  // Swap tie (anchor == positive): both libraries split the minimum's gradient evenly.
  const auto a = torch::tensor({{1.0, 2.0}, {0.5, -1.0}}, dtype_of<T>()), n = torch::zeros({2, 2}, dtype_of<T>());
  auto ref = [](const std::vector<torch::Tensor>& t, int64_t r) { return torch::triplet_margin_loss(t[0], t[1], t[2], 5.0, 2.0, 0.0, true, r); };
  compare<T>(triplet_case<T>(ref, losskit::TripletMarginLossOptions{.margin = 5.0, .eps = 0.0, .swap = true}), {a, a.clone(), n},
             "triplet swap tie");
  // Cosine similarity of tiny vectors (norms clamped at 1e-8).
  const auto tiny = torch::tensor({{1e-9, 0.0}, {1e-5, 3e-6}}, dtype_of<T>()), t2 = torch::tensor({{1e-9, 0.0}, {1e-5, 0.0}}, dtype_of<T>());
  if (std::is_same_v<T, double>) {
    namespace F = torch::nn::functional;
    auto ref_cos = [](const std::vector<torch::Tensor>& t, int64_t r) {
      return F::triplet_margin_with_distance_loss(
          t[0], t[1], t[2],
          F::TripletMarginWithDistanceLossFuncOptions()
              .distance_function([](const torch::Tensor& u, const torch::Tensor& v) { return 1.0 - torch::cosine_similarity(u, v, -1, 1e-8); })
              .margin(1.5)
              .reduction(torch_enum(r)));
    };
    compare<T>(triplet_case<T>(ref_cos, losskit::TripletMarginWithDistanceLossOptions{.distance = losskit::TripletDistance::Cosine, .margin = 1.5}),
               {tiny, t2, t2.flip(0)}, "cosine tiny norms");
  }
}
TEST(EmbeddingTorchParity, TripletFloat) { triplet_parity<float>(); }
TEST(EmbeddingTorchParity, TripletDouble) { triplet_parity<double>(); }

}  // namespace
