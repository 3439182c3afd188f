// Parity with libtorch (the torch 2.13 wheel's) for the seed losses: nll_loss, cross_entropy
// (class ids and probabilities) and kl_div. References are torch's own ops; reference gradients
// come from torch autograd with the same random upstream gradient.
//
// Every case runs losskit's four calls (forward into a buffer, the Tensor overload, backward with
// a random upstream gradient, fused) in float32 and float64, on randomized shapes (C), (N, C) and
// (N, C, d1..dK) with K up to 3, over every option combination, and with losskit views built
// from torch's strides: transposed (N, C), channels-last (N, C, H, W) and step-2 slices, for the
// inputs and for the outputs.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <losskit/losskit.hpp>

using losskit::ConstView;
using losskit::Reduction;
using losskit::Shape;
using losskit::TensorView;

namespace {

// ---------------------------------------------------------------------- tensors, views -----

template <class T>
torch::Dtype dtype_of() {
  if constexpr (std::is_same_v<T, float>) return torch::kFloat32;
  else if constexpr (std::is_same_v<T, double>) return torch::kFloat64;
  else return torch::kLong;
}

Shape shape_of(c10::IntArrayRef a) { return Shape(std::span<const std::int64_t>(a.data(), a.size())); }
std::vector<std::int64_t> dims_of(const Shape& s) { return {s.dims().begin(), s.dims().end()}; }

/// A losskit view of a torch tensor, with torch's strides.
template <class T>
ConstView<T> cview(const torch::Tensor& t) {
  return ConstView<T>(t.data_ptr<T>(), shape_of(t.sizes()), shape_of(t.strides()));
}
template <class T>
TensorView<T> mview(const torch::Tensor& t) {
  return TensorView<T>(t.data_ptr<T>(), shape_of(t.sizes()), shape_of(t.strides()));
}
/// A torch copy of a losskit Tensor.
template <class T>
torch::Tensor to_torch(losskit::Tensor<T>& t) {
  return torch::from_blob(t.data(), dims_of(t.shape()), torch::TensorOptions().dtype(dtype_of<T>())).clone();
}

enum class Layout { Contiguous, Transposed, ChannelsLast, Step2 };
const char* name_of(Layout l) {
  switch (l) {
    case Layout::Contiguous: return "contiguous";
    case Layout::Transposed: return "transposed";
    case Layout::ChannelsLast: return "channels-last";
    case Layout::Step2: return "step-2 slice";
  }
  return "?";
}

/// The layouts that apply to a tensor of `ndim` dims.
std::vector<Layout> layouts_for(std::int64_t ndim) {
  if (ndim == 2) return {Layout::Contiguous, Layout::Transposed, Layout::Step2};
  if (ndim == 4) return {Layout::Contiguous, Layout::ChannelsLast, Layout::Step2};
  if (ndim == 0) return {Layout::Contiguous};
  return {Layout::Contiguous, Layout::Step2};
}

/// The values of v in memory laid out as `l` (falls back to contiguous where l does not apply).
torch::Tensor relayout(const torch::Tensor& v, Layout l) {
  if (l == Layout::Transposed && v.dim() == 2) return v.t().contiguous().t();
  if (l == Layout::ChannelsLast && v.dim() == 4) return v.contiguous(torch::MemoryFormat::ChannelsLast);
  if (l == Layout::Step2 && v.dim() > 0) {
    auto sizes = v.sizes().vec();
    sizes.back() *= 2;
    auto buf = torch::full(sizes, 777, v.options());
    auto s = buf.slice(v.dim() - 1, 0, sizes.back(), 2);
    s.copy_(v);
    return s;
  }
  return v.contiguous().clone();
}

/// An output buffer of `sizes` filled with a sentinel, laid out as `l`.
torch::Tensor out_buffer(c10::IntArrayRef sizes, torch::Dtype dt, Layout l) {
  return relayout(torch::full(sizes, -7.0, torch::TensorOptions().dtype(dt)), l);
}

int64_t torch_reduction(Reduction r) {
  switch (r) {
    case Reduction::None: return at::Reduction::None;
    case Reduction::Sum: return at::Reduction::Sum;
    default: return at::Reduction::Mean;
  }
}

template <class T>
struct Tol {
  static constexpr double rtol = std::is_same_v<T, float> ? 1e-4 : 1e-9;
  static constexpr double atol = std::is_same_v<T, float> ? 2e-6 : 1e-12;
};

/// allclose with NaN == NaN, reporting the worst element.
::testing::AssertionResult close(const torch::Tensor& got, const torch::Tensor& want, double rtol, double atol) {
  if (got.sizes() != want.sizes())
    return ::testing::AssertionFailure() << "shape " << got.sizes() << " vs " << want.sizes();
  const auto a = got.to(torch::kFloat64).contiguous(), b = want.to(torch::kFloat64).contiguous();
  if (torch::allclose(a, b, rtol, atol, /*equal_nan=*/true)) return ::testing::AssertionSuccess();
  const auto diff = (a - b).abs().nan_to_num(1e300).flatten();
  const auto i = diff.argmax().item<std::int64_t>();
  return ::testing::AssertionFailure() << "worst element " << i << ": " << a.flatten()[i].item<double>() << " vs "
                                       << b.flatten()[i].item<double>() << " (max |diff| "
                                       << diff[i].item<double>() << ")";
}

// ------------------------------------------------------------------- the parity harness -----

/// losskit's calls for one loss and one target, with everything but the input bound.
template <class T>
struct Calls {
  std::function<void(ConstView<T>, TensorView<T>)> forward;
  std::function<losskit::Tensor<T>(ConstView<T>)> forward_tensor;
  std::function<void(ConstView<T>, ConstView<T>, TensorView<T>)> backward;  // (grad_output, input, grad_input)
  std::function<void(ConstView<T>, TensorView<T>, TensorView<T>)> fused;    // (input, out, grad_input)
};

/// Checks forward, Tensor forward, backward with a random upstream gradient and fused against
/// torch: `ref(x)` is the torch loss of an input that requires grad.
template <class T>
void check_parity(const torch::Tensor& x_values, const std::function<torch::Tensor(const torch::Tensor&)>& ref,
                  const Calls<T>& calls, Layout layout, const std::string& ctx) {
  SCOPED_TRACE(ctx + " layout " + name_of(layout));
  const torch::Dtype dt = dtype_of<T>();
  const double rtol = Tol<T>::rtol, atol = Tol<T>::atol;
  // Reference value and gradients (random upstream, and ones for the fused call).
  auto xr = x_values.detach().clone().requires_grad_(true);
  const auto loss = ref(xr);
  const auto up = torch::rand(loss.sizes(), torch::TensorOptions().dtype(dt)) * 4 - 2;
  const auto g_up = torch::autograd::grad({loss}, {xr}, {up}, /*retain_graph=*/true)[0];
  const auto g_one = torch::autograd::grad({loss}, {xr}, {torch::ones_like(loss)})[0];
  const auto want = loss.detach();
  // losskit, with the input (and per-element outputs) in `layout`.
  const auto x = relayout(x_values, layout);
  const Layout out_layout = loss.dim() > 0 ? layout : Layout::Contiguous;
  auto out = out_buffer(loss.sizes(), dt, out_layout);
  calls.forward(cview<T>(x), mview<T>(out));
  EXPECT_TRUE(close(out, want, rtol, atol)) << "forward";
  auto tensor = calls.forward_tensor(cview<T>(x));
  EXPECT_TRUE(close(to_torch(tensor), want, rtol, atol)) << "Tensor overload";
  auto gi = out_buffer(x_values.sizes(), dt, layout);
  const auto up_l = relayout(up, out_layout);
  calls.backward(cview<T>(up_l), cview<T>(x), mview<T>(gi));
  EXPECT_TRUE(close(gi, g_up, rtol, atol)) << "backward";
  auto fo = out_buffer(loss.sizes(), dt, out_layout);
  auto fgi = out_buffer(x_values.sizes(), dt, layout);
  calls.fused(cview<T>(x), mview<T>(fo), mview<T>(fgi));
  EXPECT_TRUE(close(fo, want, rtol, atol)) << "fused value";
  EXPECT_TRUE(close(fgi, g_one, rtol, atol)) << "fused gradient";
  // The inputs are not modified.
  EXPECT_TRUE(torch::equal(x, x_values));
}

// ------------------------------------------------------------------------ random shapes -----

/// Two random shapes of each kind: (C), (N, C), (N, C, d1), (N, C, d1, d2), (N, C, d1, d2, d3).
std::vector<std::vector<std::int64_t>> random_shapes(std::mt19937& gen) {
  std::uniform_int_distribution<std::int64_t> n(1, 4), c(1, 6), d(1, 3);
  std::vector<std::vector<std::int64_t>> all;
  for (int rep = 0; rep < 2; ++rep) {
    all.push_back({c(gen) + 1});
    for (int k = 0; k <= 3; ++k) {
      std::vector<std::int64_t> s{n(gen), rep == 0 && k == 0 ? 1 : c(gen)};  // one shape with C = 1
      for (int j = 0; j < k; ++j) s.push_back(d(gen));
      all.push_back(s);
    }
  }
  return all;
}

struct ClassShape {
  std::vector<std::int64_t> input, target;
  std::int64_t C = 0;
};
ClassShape class_shape(const std::vector<std::int64_t>& s) {
  ClassShape r{s, {}, 0};
  const std::size_t cd = s.size() == 1 ? 0 : 1;
  r.C = s[cd];
  for (std::size_t k = 0; k < s.size(); ++k)
    if (k != cd) r.target.push_back(s[k]);
  return r;
}

std::string describe(const std::vector<std::int64_t>& s, const std::string& rest) {
  std::ostringstream os;
  os << "shape " << c10::IntArrayRef(s) << " " << rest;
  return os.str();
}

/// Class-id targets: none ignored (mode 0), some -100 (1), some of class 1 with ignore_index 1
/// (2), every one ignored (3).
std::pair<torch::Tensor, std::int64_t> class_targets(const ClassShape& cs, int mode) {
  auto y = torch::randint(0, cs.C, cs.target, torch::kLong);
  std::int64_t ignore = mode == 2 ? 1 : -100;
  if (mode == 1) {
    y.masked_fill_(torch::rand(cs.target) < 0.3, ignore);
    if (y.numel() > 1) y.view(-1)[0] = ignore;
  }
  if (mode == 3) y.fill_(ignore);
  return {y, ignore};
}

const std::vector<Reduction> kNMS{Reduction::None, Reduction::Mean, Reduction::Sum};

// ------------------------------------------------------------------------ cross_entropy -----

template <class T>
void cross_entropy_class_ids() {
  torch::manual_seed(1);
  std::mt19937 gen(1);
  const torch::Dtype dt = dtype_of<T>();
  int counter = 0;
  for (const auto& s : random_shapes(gen)) {
    const ClassShape cs = class_shape(s);
    const auto layouts = layouts_for(static_cast<std::int64_t>(s.size()));
    for (bool weighted : {false, true})
      for (int mode = 0; mode < 4; ++mode)
        for (double e : {0.0, 0.15, 1.0})
          for (Reduction r : kNMS) {
            const Layout layout = layouts[static_cast<std::size_t>(counter++) % layouts.size()];
            const auto x = (torch::randn(s, torch::kFloat64) * 2).to(dt);
            const auto yi = class_targets(cs, mode);
            const torch::Tensor y = yi.first;
            const std::int64_t ignore = yi.second;
            const torch::Tensor w = weighted ? (torch::rand({cs.C}, torch::kFloat64) * 2 + 0.2).to(dt) : torch::Tensor();
            std::vector<T> wv;
            if (weighted) wv.assign(w.data_ptr<T>(), w.data_ptr<T>() + cs.C);
            const losskit::CrossEntropyOptions<T> o{.weight = wv, .ignore_index = ignore, .reduction = r,
                                                    .label_smoothing = e};
            // Targets in the step-2 layout when the input is sliced too.
            const auto yl = relayout(y, layout == Layout::Step2 ? Layout::Step2 : Layout::Contiguous);
            const auto yv = cview<std::int64_t>(yl);
            const Calls<T> calls{
                [&](ConstView<T> in, TensorView<T> out) { losskit::cross_entropy(in, yv, out, o); },
                [&](ConstView<T> in) { return losskit::cross_entropy(in, yv, o); },
                [&](ConstView<T> g, ConstView<T> in, TensorView<T> gi) { losskit::cross_entropy_backward(g, in, yv, gi, o); },
                [&](ConstView<T> in, TensorView<T> out, TensorView<T> gi) {
                  losskit::cross_entropy_forward_backward(in, yv, out, gi, o);
                }};
            check_parity<T>(
                x, [&](const torch::Tensor& xr) { return torch::cross_entropy_loss(xr, y, w, torch_reduction(r), ignore, e); },
                calls, layout,
                describe(s, std::string(weighted ? "weighted " : "") + "ignore mode " + std::to_string(mode) +
                                " smoothing " + std::to_string(e) + " " + std::string(losskit::to_string(r))));
          }
  }
}

template <class T>
void cross_entropy_probabilities() {
  torch::manual_seed(2);
  std::mt19937 gen(2);
  const torch::Dtype dt = dtype_of<T>();
  int counter = 0;
  for (const auto& s : random_shapes(gen)) {
    const ClassShape cs = class_shape(s);
    const std::int64_t cd = s.size() == 1 ? 0 : 1;
    const auto layouts = layouts_for(static_cast<std::int64_t>(s.size()));
    for (bool weighted : {false, true})
      for (double e : {0.0, 0.2, 1.0})
        for (Reduction r : kNMS) {
          const Layout layout = layouts[static_cast<std::size_t>(counter++) % layouts.size()];
          const auto x = (torch::randn(s, torch::kFloat64) * 2).to(dt);
          // Probabilities along the class dim, with some exact zeros.
          auto t = torch::softmax(torch::randn(s, torch::kFloat64) * 2, cd);
          t = torch::where(t < 0.05, torch::zeros_like(t), t).to(dt);
          const torch::Tensor w = weighted ? (torch::rand({cs.C}, torch::kFloat64) * 2 + 0.2).to(dt) : torch::Tensor();
          std::vector<T> wv;
          if (weighted) wv.assign(w.data_ptr<T>(), w.data_ptr<T>() + cs.C);
          const losskit::CrossEntropyOptions<T> o{.weight = wv, .reduction = r, .label_smoothing = e};
          const auto tl = relayout(t, layout);  // the target in the input's layout
          const auto tv = cview<T>(tl);
          const Calls<T> calls{
              [&](ConstView<T> in, TensorView<T> out) { losskit::cross_entropy(in, tv, out, o); },
              [&](ConstView<T> in) { return losskit::cross_entropy(in, tv, o); },
              [&](ConstView<T> g, ConstView<T> in, TensorView<T> gi) { losskit::cross_entropy_backward(g, in, tv, gi, o); },
              [&](ConstView<T> in, TensorView<T> out, TensorView<T> gi) {
                losskit::cross_entropy_forward_backward(in, tv, out, gi, o);
              }};
          check_parity<T>(
              x, [&](const torch::Tensor& xr) { return torch::cross_entropy_loss(xr, t, w, torch_reduction(r), -100, e); },
              calls, layout,
              describe(s, std::string("probabilities ") + (weighted ? "weighted " : "") + "smoothing " +
                              std::to_string(e) + " " + std::string(losskit::to_string(r))));
        }
  }
}

// ----------------------------------------------------------------------------- nll_loss -----

template <class T>
void nll_loss_parity() {
  torch::manual_seed(3);
  std::mt19937 gen(3);
  const torch::Dtype dt = dtype_of<T>();
  int counter = 0;
  for (const auto& s : random_shapes(gen)) {
    const ClassShape cs = class_shape(s);
    const std::int64_t cd = s.size() == 1 ? 0 : 1;
    const auto layouts = layouts_for(static_cast<std::int64_t>(s.size()));
    for (bool weighted : {false, true})
      for (int mode = 0; mode < 4; ++mode)
        for (Reduction r : kNMS) {
          const Layout layout = layouts[static_cast<std::size_t>(counter++) % layouts.size()];
          const auto x = torch::log_softmax(torch::randn(s, torch::kFloat64) * 2, cd).to(dt);
          const auto yi = class_targets(cs, mode);
            const torch::Tensor y = yi.first;
            const std::int64_t ignore = yi.second;
          const torch::Tensor w = weighted ? (torch::rand({cs.C}, torch::kFloat64) * 2 + 0.2).to(dt) : torch::Tensor();
          std::vector<T> wv;
          if (weighted) wv.assign(w.data_ptr<T>(), w.data_ptr<T>() + cs.C);
          const losskit::NLLLossOptions<T> o{.weight = wv, .ignore_index = ignore, .reduction = r};
          const auto yl = relayout(y, layout == Layout::Step2 ? Layout::Step2 : Layout::Contiguous);
          const auto yv = cview<std::int64_t>(yl);
          const Calls<T> calls{
              [&](ConstView<T> in, TensorView<T> out) { losskit::nll_loss(in, yv, out, o); },
              [&](ConstView<T> in) { return losskit::nll_loss(in, yv, o); },
              [&](ConstView<T> g, ConstView<T> in, TensorView<T> gi) { losskit::nll_loss_backward(g, in, yv, gi, o); },
              [&](ConstView<T> in, TensorView<T> out, TensorView<T> gi) {
                losskit::nll_loss_forward_backward(in, yv, out, gi, o);
              }};
          check_parity<T>(
              x, [&](const torch::Tensor& xr) { return torch::nll_loss_nd(xr, y, w, torch_reduction(r), ignore); }, calls,
              layout,
              describe(s, std::string(weighted ? "weighted " : "") + "ignore mode " + std::to_string(mode) + " " +
                              std::string(losskit::to_string(r))));
        }
  }
}

// ------------------------------------------------------------------------------- kl_div -----

template <class T>
void kl_div_parity() {
  torch::manual_seed(4);
  std::mt19937 gen(4);
  const torch::Dtype dt = dtype_of<T>();
  std::uniform_int_distribution<std::int64_t> ext(1, 4);
  int counter = 0;
  for (int ndim = 0; ndim <= 4; ++ndim)
    for (int rep = 0; rep < 2; ++rep) {
      std::vector<std::int64_t> s;
      for (int k = 0; k < ndim; ++k) s.push_back(ext(gen));
      const auto layouts = layouts_for(ndim);
      for (bool log_target : {false, true})
        for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum, Reduction::BatchMean}) {
          if (r == Reduction::BatchMean && ndim == 0) continue;  // losskit rejects it (unit tests)
          SCOPED_TRACE(describe(s, std::string(log_target ? "log_target " : "") + std::string(losskit::to_string(r))));
          const Layout layout = layouts[static_cast<std::size_t>(counter++) % layouts.size()];
          SCOPED_TRACE(name_of(layout));
          const auto x = torch::log(torch::rand(s, torch::kFloat64) * 0.95 + 0.02).to(dt);
          const auto t = (log_target ? torch::log(torch::rand(s, torch::kFloat64) * 0.95 + 0.02)
                                     : torch::rand(s, torch::kFloat64) * 0.95 + 0.02)
                             .to(dt);
          // torch reference with autograd w.r.t. input and target.
          auto xr = x.clone().requires_grad_(true), tr = t.clone().requires_grad_(true);
          auto loss = torch::kl_div(xr, tr, r == Reduction::BatchMean ? at::Reduction::Sum : torch_reduction(r), log_target);
          if (r == Reduction::BatchMean) loss = loss / x.size(0);
          const auto up = torch::rand(loss.sizes(), torch::TensorOptions().dtype(dt)) * 4 - 2;
          const auto gu = torch::autograd::grad({loss}, {xr, tr}, {up}, true);
          const auto g1 = torch::autograd::grad({loss}, {xr, tr}, {torch::ones_like(loss)});
          const double rtol = Tol<T>::rtol, atol = Tol<T>::atol;
          const losskit::KLDivOptions o{.reduction = r, .log_target = log_target};
          const auto xl = relayout(x, layout), tl = relayout(t, layout);
          const Layout ol = loss.dim() > 0 ? layout : Layout::Contiguous;
          auto out = out_buffer(loss.sizes(), dt, ol);
          losskit::kl_div(cview<T>(xl), cview<T>(tl), mview<T>(out), o);
          EXPECT_TRUE(close(out, loss.detach(), rtol, atol)) << "forward";
          auto tens = losskit::kl_div(cview<T>(xl), cview<T>(tl), o);
          EXPECT_TRUE(close(to_torch(tens), loss.detach(), rtol, atol)) << "Tensor overload";
          auto gi = out_buffer(x.sizes(), dt, layout), gt = out_buffer(x.sizes(), dt, layout);
          const auto upl = relayout(up, ol);
          losskit::kl_div_backward(cview<T>(upl), cview<T>(xl), cview<T>(tl), mview<T>(gi), mview<T>(gt), o);
          EXPECT_TRUE(close(gi, gu[0], rtol, atol)) << "backward, input";
          EXPECT_TRUE(close(gt, gu[1], rtol, atol)) << "backward, target";
          auto gi_only = out_buffer(x.sizes(), dt, layout);
          losskit::kl_div_backward(cview<T>(upl), cview<T>(xl), cview<T>(tl), mview<T>(gi_only), TensorView<T>{}, o);
          EXPECT_TRUE(close(gi_only, gu[0], rtol, atol)) << "backward without grad_target";
          auto fo = out_buffer(loss.sizes(), dt, ol), fgi = out_buffer(x.sizes(), dt, layout),
               fgt = out_buffer(x.sizes(), dt, layout);
          losskit::kl_div_forward_backward(cview<T>(xl), cview<T>(tl), mview<T>(fo), mview<T>(fgi), mview<T>(fgt), o);
          EXPECT_TRUE(close(fo, loss.detach(), rtol, atol)) << "fused value";
          EXPECT_TRUE(close(fgi, g1[0], rtol, atol)) << "fused, input";
          EXPECT_TRUE(close(fgt, g1[1], rtol, atol)) << "fused, target";
        }
    }
}

}  // namespace

TEST(SeedTorch, NotebookNumbers) {
  const auto p = torch::tensor({{0.1, 0.9}, {0.2, 0.8}}, torch::kFloat64);
  const auto y = torch::tensor({0, 1}, torch::kLong);
  const auto logp = p.log();
  EXPECT_NEAR(torch::nll_loss_nd(logp, y).item<double>(), 1.262864, 1e-6);
  EXPECT_NEAR(losskit::nll_loss(cview<double>(logp), cview<std::int64_t>(y)).item(),
              torch::nll_loss_nd(logp, y).item<double>(), 1e-15);
  EXPECT_NEAR(torch::cross_entropy_loss(p, y).item<double>(), 0.804294, 1e-6);
  EXPECT_NEAR(losskit::cross_entropy(cview<double>(p), cview<std::int64_t>(y)).item(),
              torch::cross_entropy_loss(p, y).item<double>(), 1e-15);
  const auto pk = torch::tensor({0.10, 0.40, 0.50}, torch::kFloat64), q = torch::tensor({0.80, 0.15, 0.05}, torch::kFloat64);
  const auto lq = q.log();
  const double kl = torch::kl_div(lq, pk, at::Reduction::Sum).item<double>();
  EXPECT_NEAR(kl, 1.3357, 1e-4);
  EXPECT_NEAR(losskit::kl_div(cview<double>(lq), cview<double>(pk), {.reduction = Reduction::Sum}).item(), kl, 1e-15);
}

TEST(SeedTorch, CrossEntropyClassIdsFloat) { cross_entropy_class_ids<float>(); }
TEST(SeedTorch, CrossEntropyClassIdsDouble) { cross_entropy_class_ids<double>(); }
TEST(SeedTorch, CrossEntropyProbabilitiesFloat) { cross_entropy_probabilities<float>(); }
TEST(SeedTorch, CrossEntropyProbabilitiesDouble) { cross_entropy_probabilities<double>(); }
TEST(SeedTorch, NLLLossFloat) { nll_loss_parity<float>(); }
TEST(SeedTorch, NLLLossDouble) { nll_loss_parity<double>(); }
TEST(SeedTorch, KLDivFloat) { kl_div_parity<float>(); }
TEST(SeedTorch, KLDivDouble) { kl_div_parity<double>(); }

TEST(SeedTorch, NonContiguousLayoutsEachLoss) {
  // One explicit case per layout (the randomized sweeps cycle through them too).
  torch::manual_seed(5);
  struct L {
    std::vector<std::int64_t> shape;
    Layout layout;
  };
  for (const L& l : {L{{6, 4}, Layout::Transposed}, L{{2, 3, 4, 5}, Layout::ChannelsLast}, L{{3, 5}, Layout::Step2},
                     L{{2, 4, 3, 2}, Layout::Step2}}) {
    const auto cs = class_shape(l.shape);
    const auto x = torch::randn(l.shape, torch::kFloat64);
    const auto y = torch::randint(0, cs.C, cs.target, torch::kLong);
    const auto xl = relayout(x, l.layout);
    ASSERT_FALSE(xl.is_contiguous());
    const auto w = torch::rand({cs.C}, torch::kFloat64) + 0.5;
    std::vector<double> wv(w.data_ptr<double>(), w.data_ptr<double>() + cs.C);
    const losskit::CrossEntropyOptions<double> o{.weight = wv, .reduction = Reduction::None, .label_smoothing = 0.1};
    auto gi = out_buffer(x.sizes(), torch::kFloat64, l.layout);
    auto out = out_buffer(cs.target, torch::kFloat64, Layout::Contiguous);
    losskit::cross_entropy_forward_backward(cview<double>(xl), cview<std::int64_t>(y), mview<double>(out),
                                            mview<double>(gi), o);
    auto xr = x.clone().requires_grad_(true);
    const auto ref = torch::cross_entropy_loss(xr, y, w, at::Reduction::None, -100, 0.1);
    ref.backward(torch::ones_like(ref));
    EXPECT_TRUE(close(out, ref.detach(), 1e-12, 1e-14)) << name_of(l.layout);
    EXPECT_TRUE(close(gi, xr.grad(), 1e-12, 1e-14)) << name_of(l.layout);
    // The step-2 slices' gaps are untouched.
    if (l.layout == Layout::Step2) {
      auto base = gi.as_strided({gi.numel() * 2}, {1}, gi.storage_offset());
      EXPECT_TRUE(torch::all(base.slice(0, 1, gi.numel() * 2, 2) == 777).item<bool>());
    }
  }
}

TEST(SeedTorch, ExtremeLogits) {
  // +-1e4 logits and -inf masked (non-target) classes: losskit and torch agree and stay finite.
  const double inf = std::numeric_limits<double>::infinity();
  const auto x = torch::tensor({{1e4, -1e4, 0.0, 5.0}, {-1e4, 1e4, -inf, 2.0}, {0.5, -inf, -inf, 1e4}}, torch::kFloat64);
  const auto y = torch::tensor({1, 0, 3}, torch::kLong);
  for (int dt = 0; dt < 2; ++dt)
    for (Reduction r : kNMS) {
      auto xr = (dt ? x.to(torch::kFloat32) : x).clone().requires_grad_(true);
      const auto ref = torch::cross_entropy_loss(xr, y, {}, torch_reduction(r));
      ref.backward(torch::ones_like(ref));
      auto run = [&](auto tag) {
        using T = decltype(tag);
        const torch::Tensor xt = xr.detach();
        torch::Tensor out = out_buffer(ref.sizes(), dtype_of<T>(), Layout::Contiguous);
        torch::Tensor gi = out_buffer(xt.sizes(), dtype_of<T>(), Layout::Contiguous);
        losskit::cross_entropy_forward_backward(cview<T>(xt), cview<std::int64_t>(y), mview<T>(out), mview<T>(gi),
                                                {.reduction = r});
        EXPECT_TRUE(torch::all(torch::isfinite(out)).item<bool>());
        EXPECT_TRUE(torch::all(torch::isfinite(gi)).item<bool>());
        EXPECT_TRUE(close(out, ref.detach(), Tol<T>::rtol, Tol<T>::atol));
        EXPECT_TRUE(close(gi, xr.grad(), Tol<T>::rtol, Tol<T>::atol));
      };
      if (dt) run(float{});
      else run(double{});
    }
}

TEST(SeedTorch, EmptyBatch) {
  for (Reduction r : kNMS) {
    // N = 0.
    const auto x = torch::zeros({0, 5}, torch::kFloat64);
    const auto y = torch::zeros({0}, torch::kLong);
    const auto ref = torch::cross_entropy_loss(x, y, {}, torch_reduction(r));
    auto t = losskit::cross_entropy(cview<double>(x), cview<std::int64_t>(y), {.reduction = r});
    EXPECT_TRUE(close(to_torch(t), ref, 0, 0)) << losskit::to_string(r);
    const auto tp = torch::zeros({0, 5}, torch::kFloat64);
    auto t2 = losskit::cross_entropy(cview<double>(x), cview<double>(tp), {.reduction = r});
    EXPECT_TRUE(close(to_torch(t2), torch::cross_entropy_loss(x, tp, {}, torch_reduction(r)), 0, 0));
    auto t3 = losskit::nll_loss(cview<double>(x), cview<std::int64_t>(y), {.reduction = r});
    EXPECT_TRUE(close(to_torch(t3), torch::nll_loss_nd(x, y, {}, torch_reduction(r)), 0, 0));
  }
}
