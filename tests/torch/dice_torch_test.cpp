// Parity of dice_loss with MONAI's DiceLoss, reproduced step by step with libtorch ops (MONAI is
// not installed): monai/losses/dice.py DiceLoss.forward and monai/losses/utils.py
// compute_tp_fp_fn, including the single-channel quirks (softmax, to_onehot_y and
// include_background ignored, weight ignored with one class left) and the 'none' shape.
// Gradients come from torch autograd through that composition.
#include <gtest/gtest.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "losskit/losskit.hpp"
#include "support/testing.hpp"

namespace {

using losskit::ConstView;
using losskit::Reduction;
using losskit::Shape;
using losskit::TensorView;

struct Cfg {
  bool include_background = true, to_onehot_y = false, sigmoid = false, softmax = false, squared_pred = false,
       jaccard = false, batch = false, soft_label = false;
  double smooth_nr = 1e-5, smooth_dr = 1e-5;
  std::vector<double> weight;  // empty: none
  Reduction reduction = Reduction::Mean;
};

/// monai.networks.one_hot(labels, num_classes) with its defaults: dtype float32, dim 1.
torch::Tensor monai_one_hot(const torch::Tensor& labels, std::int64_t n) {
  auto sh = labels.sizes().vec();
  if (sh[1] != 1) throw std::runtime_error("labels should have a channel with length equal to one.");
  sh[1] = n;
  return torch::zeros(sh, torch::kFloat).scatter_(1, labels.to(torch::kLong), 1);
}

/// monai.losses.utils.compute_tp_fp_fn (decoupled = True).
void compute_tp_fp_fn(const torch::Tensor& input, const torch::Tensor& target, const std::vector<std::int64_t>& axes,
                      int ord, bool soft_label, torch::Tensor& tp, torch::Tensor& fp, torch::Tensor& fn) {
  if (ord == 1 && !soft_label) {
    tp = torch::sum(input * target, axes);
    fp = torch::sum(input, axes) - tp;
    fn = torch::sum(target, axes) - tp;
  } else {
    auto pred_o = at::linalg_vector_norm(input, ord, axes, false, std::nullopt);
    auto ground_o = at::linalg_vector_norm(target, ord, axes, false, std::nullopt);
    auto difference = at::linalg_vector_norm(input - target, ord, axes, false, std::nullopt);
    if (ord > 1) {
      pred_o = torch::pow(pred_o, ord);
      ground_o = torch::pow(ground_o, ord);
      difference = torch::pow(difference, ord);
    }
    tp = (pred_o + ground_o - difference) / 2;
    fp = pred_o - tp;
    fn = ground_o - tp;
  }
}

/// monai.losses.DiceLoss(...).forward(input, target).
torch::Tensor monai_dice(torch::Tensor input, torch::Tensor target, const Cfg& c) {
  if (c.sigmoid) input = torch::sigmoid(input);
  const std::int64_t n_pred_ch = input.size(1);
  if (c.softmax && n_pred_ch != 1) input = torch::softmax(input, 1);
  if (c.to_onehot_y && n_pred_ch != 1) target = monai_one_hot(target, n_pred_ch);
  if (!c.include_background && n_pred_ch != 1) {
    target = target.slice(1, 1);
    input = input.slice(1, 1);
  }
  if (target.sizes() != input.sizes()) throw std::runtime_error("ground truth has different shape");
  std::vector<std::int64_t> axes;
  if (c.batch) axes.push_back(0);
  for (std::int64_t k = 2; k < input.dim(); ++k) axes.push_back(k);
  const int ord = c.squared_pred ? 2 : 1;
  torch::Tensor tp, fp, fn;
  compute_tp_fp_fn(input, target, axes, ord, c.soft_label, tp, fp, fn);
  if (!c.jaccard) {
    fp = fp * 0.5;
    fn = fn * 0.5;
  }
  auto numerator = 2 * tp + c.smooth_nr;
  auto denominator = 2 * (tp + fp + fn) + c.smooth_dr;
  auto f = 1 - numerator / denominator;
  const std::int64_t num_of_classes = target.size(1);
  if (!c.weight.empty() && num_of_classes != 1)
    f = f * torch::tensor(c.weight, torch::kDouble).to(f.scalar_type());
  switch (c.reduction) {
    case Reduction::Mean: return torch::mean(f);
    case Reduction::Sum: return torch::sum(f);
    default: {
      std::vector<std::int64_t> sh(f.sizes().begin(), f.sizes().begin() + std::min<std::int64_t>(2, f.dim()));
      for (std::int64_t k = 2; k < input.dim(); ++k) sh.push_back(1);
      return f.view(sh);
    }
  }
}

template <class T>
constexpr torch::ScalarType dtype_of() {
  return std::is_same_v<T, float> ? torch::kFloat : torch::kDouble;
}

Shape shape_of(const torch::Tensor& t) {
  Shape s;
  for (auto v : t.sizes()) s.push_back(v);
  return s;
}

enum class TMode { Dense, FloatIds, Int64WithChannel, Int64NoChannel };

::testing::AssertionResult close(const torch::Tensor& got, const torch::Tensor& want, double rtol, double atol) {
  if (got.sizes() != want.sizes()) return ::testing::AssertionFailure() << "shape " << got.sizes() << " vs " << want.sizes();
  auto g = got.to(torch::kDouble).contiguous(), w = want.to(torch::kDouble).contiguous();
  const double* gp = g.data_ptr<double>();
  const double* wp = w.data_ptr<double>();
  const double scale = w.numel() ? w.abs().max().item<double>() : 0.0;
  for (std::int64_t i = 0; i < g.numel(); ++i) {
    if (std::isnan(wp[i]) && std::isnan(gp[i])) continue;
    if (!(std::fabs(gp[i] - wp[i]) <= atol * std::max(1.0, scale) + rtol * std::fabs(wp[i])))
      return ::testing::AssertionFailure() << "element " << i << ": losskit " << gp[i] << " vs torch " << wp[i];
  }
  return ::testing::AssertionSuccess();
}

/// One randomized case: losskit's forward / backward / fused calls against the composition.
template <class T>
void parity_case(const Cfg& c, TMode tm, std::vector<std::int64_t> spatial, std::int64_t B, std::int64_t C,
                 torch::Generator& gen, int idx) {
  const auto dt = dtype_of<T>();
  std::vector<std::int64_t> xs = {B, C};
  xs.insert(xs.end(), spatial.begin(), spatial.end());
  std::vector<std::int64_t> ids_shape = {B, 1}, ids_nc = {B};
  ids_shape.insert(ids_shape.end(), spatial.begin(), spatial.end());
  ids_nc.insert(ids_nc.end(), spatial.begin(), spatial.end());
  const bool logits = c.sigmoid || c.softmax;
  auto x = logits ? torch::randn(xs, gen, dt) * 2 : torch::rand(xs, gen, dt) * 0.9 + 0.05;
  // Class ids (two values for a single channel: a binary mask).
  auto ids = torch::randint(0, C == 1 ? 2 : C, ids_shape, gen, torch::kLong);
  torch::Tensor t_ref;  // the target MONAI sees
  torch::Tensor t_float;
  bool onehot_in_ref = false;
  switch (tm) {
    case TMode::Dense:
      if (idx % 2 == 0) t_float = torch::rand(xs, gen, dt);  // soft
      else t_float = (C == 1 ? ids.to(dt) : torch::zeros(xs, dt).scatter_(1, ids, 1));
      t_ref = t_float;
      break;
    case TMode::FloatIds:
      t_float = ids.to(dt);
      t_ref = t_float;
      onehot_in_ref = true;
      break;
    case TMode::Int64WithChannel:
    case TMode::Int64NoChannel:
      t_ref = ids.to(dt);
      onehot_in_ref = true;
      break;
  }
  Cfg rc = c;
  rc.to_onehot_y = onehot_in_ref;
  const std::string what = "case " + std::to_string(idx) + " B=" + std::to_string(B) + " C=" + std::to_string(C) +
                           " spatial=" + std::to_string(spatial.size()) + " tm=" + std::to_string(static_cast<int>(tm)) +
                           " sig=" + std::to_string(c.sigmoid) + " smax=" + std::to_string(c.softmax) +
                           " sq=" + std::to_string(c.squared_pred) + " jac=" + std::to_string(c.jaccard) +
                           " batch=" + std::to_string(c.batch) + " bg=" + std::to_string(c.include_background) +
                           " soft=" + std::to_string(c.soft_label) + " w=" + std::to_string(!c.weight.empty()) +
                           " red=" + std::string(losskit::to_string(c.reduction));
  SCOPED_TRACE(what);
  // Reference value and gradient.
  auto xr = x.clone().requires_grad_(true);
  auto ref = monai_dice(xr, t_ref, rc);
  auto gout = c.reduction == Reduction::None ? torch::rand(ref.sizes(), gen, dt) * 2 - 1 : torch::full({}, 0.75, dt);
  ref.backward(gout);
  auto ref_grad = xr.grad();
  // losskit.
  std::vector<T> w(c.weight.begin(), c.weight.end());
  losskit::DiceLossOptions<T> o{.include_background = c.include_background,
                                .to_onehot_y = tm == TMode::FloatIds,
                                .sigmoid = c.sigmoid,
                                .softmax = c.softmax,
                                .squared_pred = c.squared_pred,
                                .jaccard = c.jaccard,
                                .reduction = c.reduction,
                                .smooth_nr = c.smooth_nr,
                                .smooth_dr = c.smooth_dr,
                                .batch = c.batch,
                                .weight = std::span<const T>(w),
                                .soft_label = c.soft_label};
  const ConstView<T> X(x.template data_ptr<T>(), shape_of(x));
  const auto out_shape = shape_of(ref);
  auto out = torch::empty(ref.sizes(), dt), out_fb = torch::empty(ref.sizes(), dt);
  auto g = torch::empty(xs, dt), g_fb = torch::empty(xs, dt);
  const TensorView<T> O(out.template data_ptr<T>(), out_shape), OF(out_fb.template data_ptr<T>(), out_shape);
  const TensorView<T> G(g.template data_ptr<T>(), shape_of(x)), GF(g_fb.template data_ptr<T>(), shape_of(x));
  const ConstView<T> GO(gout.template data_ptr<T>(), out_shape);
  if (tm == TMode::Dense || tm == TMode::FloatIds) {
    const ConstView<T> Y(t_float.template data_ptr<T>(), shape_of(t_float));
    losskit::dice_loss(X, Y, O, o);
    losskit::dice_loss_backward(GO, X, Y, G, o);
    losskit::dice_loss_forward_backward(X, Y, OF, GF, o);
  } else {
    auto idv = tm == TMode::Int64WithChannel ? ids : ids.reshape(ids_nc);
    const ConstView<std::int64_t> Y(idv.data_ptr<std::int64_t>(), shape_of(idv));
    losskit::dice_loss(X, Y, O, o);
    losskit::dice_loss_backward(GO, X, Y, G, o);
    losskit::dice_loss_forward_backward(X, Y, OF, GF, o);
  }
  // MONAI's one_hot is float32 whatever the input dtype, and with squared_pred its
  // vector_norm(target, 2)^2 is then computed in float32 (sqrt(n)^2 != n by ~1e-7): float64
  // cases that go through it carry float32 rounding in G.
  const bool f32_norm_in_ref = std::is_same_v<T, double> && onehot_in_ref && c.squared_pred && C > 1;
  const double rtol = std::is_same_v<T, float> ? 2e-4 : (f32_norm_in_ref ? 1e-6 : 1e-10);
  const double atol = std::is_same_v<T, float> ? 2e-5 : (f32_norm_in_ref ? 1e-7 : 1e-12);
  EXPECT_TRUE(close(out, ref.detach(), rtol, atol));
  EXPECT_TRUE(close(out_fb, ref.detach(), rtol, atol));
  EXPECT_TRUE(close(g, ref_grad, rtol, atol));
  // The fused gradient is the backward's with a unit upstream gradient.
  auto xr1 = x.clone().requires_grad_(true);
  monai_dice(xr1, t_ref, rc).backward(torch::ones(ref.sizes(), dt));
  EXPECT_TRUE(close(g_fb, xr1.grad(), rtol, atol));
}

template <class T>
void parity_all(std::uint64_t seed) {
  torch::manual_seed(0);
  auto gen = at::detail::createCPUGenerator(seed);
  lktest::Rng rng(seed);
  int idx = 0;
  for (int act = 0; act < 3; ++act)
    for (const bool sq : {false, true})
      for (const bool jac : {false, true})
        for (const bool batch : {false, true})
          for (const bool bg : {true, false})
            for (const bool soft : {false, true})
              for (const bool weighted : {false, true})
                for (const Reduction red : {Reduction::Mean, Reduction::Sum, Reduction::None})
                  for (const TMode tm : {TMode::Dense, TMode::FloatIds, TMode::Int64WithChannel, TMode::Int64NoChannel}) {
                    const std::int64_t B = rng.integer(1, 3), C = rng.integer(1, 4);
                    std::vector<std::int64_t> spatial;
                    if (idx % 2 == 0) spatial = {rng.integer(1, 5), rng.integer(1, 5)};
                    else spatial = {rng.integer(1, 3), rng.integer(1, 4), rng.integer(1, 3)};
                    Cfg c;
                    c.sigmoid = act == 1;
                    c.softmax = act == 2;
                    c.squared_pred = sq;
                    c.jaccard = jac;
                    c.batch = batch;
                    c.include_background = bg;
                    c.soft_label = soft;
                    c.reduction = red;
                    if (idx % 5 == 0) {
                      c.smooth_nr = 0.3;
                      c.smooth_dr = 0.1;
                    }
                    if (weighted) {
                      const std::int64_t Cp = (!bg && C > 1) ? C - 1 : C;
                      c.weight = rng.uniform(static_cast<std::size_t>(Cp), 0.0, 2.0);
                    }
                    parity_case<T>(c, tm, spatial, B, C, gen, idx);
                    ++idx;
                    if (::testing::Test::HasFailure()) return;
                  }
}

TEST(DiceTorch, EveryOptionFloat64) { parity_all<double>(101); }
TEST(DiceTorch, EveryOptionFloat32) { parity_all<float>(202); }

TEST(DiceTorch, ExtremeLogits) {
  // +-1e4 logits (saturated sigmoid / softmax) and -inf logits of masked classes with softmax.
  for (const int act : {1, 2})
    for (const bool soft : {false, true})
      for (const bool sq : {false, true}) {
        auto x = torch::tensor({1e4, -1e4, 3.0, -1e4, 1e4, -2.0, 0.5, 1e4, -1e4, 0.0, -1e4, 1e4}, torch::kDouble)
                     .view({1, 3, 4});
        if (act == 2) x.index_put_({0, 1, 3}, -std::numeric_limits<double>::infinity());
        auto ids = torch::tensor({0, 2, 1, 0}, torch::kLong).view({1, 1, 4});
        Cfg c;
        c.sigmoid = act == 1;
        c.softmax = act == 2;
        c.soft_label = soft;
        c.squared_pred = sq;
        c.to_onehot_y = true;
        auto xr = x.clone().requires_grad_(true);
        auto ref = monai_dice(xr, ids.to(torch::kDouble), c);
        ref.backward();
        double out = 0;
        auto g = torch::empty({1, 3, 4}, torch::kDouble);
        losskit::dice_loss_forward_backward(ConstView<double>(x.data_ptr<double>(), {1, 3, 4}),
                                            ConstView<std::int64_t>(ids.data_ptr<std::int64_t>(), {1, 1, 4}),
                                            TensorView<double>(&out, {}), TensorView<double>(g.data_ptr<double>(), {1, 3, 4}),
                                            {.sigmoid = c.sigmoid, .softmax = c.softmax, .squared_pred = sq, .soft_label = soft});
        // float32 one-hot in MONAI: see f32_norm_in_ref above.
        const double tol = sq ? 1e-6 : 1e-12;
        EXPECT_NEAR(out, ref.item<double>(), tol);
        EXPECT_TRUE(close(g, xr.grad(), sq ? 1e-6 : 1e-10, sq ? 1e-7 : 1e-12));
        EXPECT_TRUE(torch::isfinite(g).all().item<bool>());
      }
}

}  // namespace
