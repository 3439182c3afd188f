// losskit against libtorch on the same inputs and the same thread count, in one process.
//
// Each case runs as two Google Benchmark benchmarks (<case>/losskit, <case>/torch) with
// repetitions; the summary table printed at the end gives, per case, the median time of each,
// the ratio torch/losskit, and losskit's achieved bandwidth (the bytes a single-pass kernel must
// move, divided by losskit's median time) as a fraction of the copy bandwidth measured in the
// same run (a parallel memcpy of 512 MiB with the same thread count; bytes read + written).
//
// Threads: LOSSKIT_BENCH_THREADS (default 2), applied to losskit and to libtorch (intra-op).
// Benchmark flags pass through, e.g. --benchmark_filter=ce_4096 --benchmark_repetitions=9.
#include <benchmark/benchmark.h>
#include <omp.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <losskit/losskit.hpp>

namespace F = torch::nn::functional;
using losskit::ConstView;
using losskit::TensorView;

namespace {

int g_threads = 2;

std::vector<float> randn(std::size_t n, unsigned seed, float sd = 2.0f) {
  std::vector<float> v(n);
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, sd);
  for (auto& x : v) x = nd(rng);
  return v;
}

std::vector<std::int64_t> labels(std::int64_t n, std::int64_t C, bool with_ignored, unsigned seed) {
  std::vector<std::int64_t> y(static_cast<std::size_t>(n));
  std::mt19937 rng(seed);
  for (auto& v : y) v = static_cast<std::int64_t>(rng() % static_cast<unsigned>(C));
  if (with_ignored)
    for (std::size_t i = 0; i < y.size(); i += 10) y[i] = -100;  // 10% ignored
  return y;
}

torch::Tensor wrap(float* p, std::vector<std::int64_t> shape) {
  return torch::from_blob(p, shape, torch::kFloat32);
}

struct Case {
  std::string name;
  double bytes = 0;  // what a single-pass kernel must read + write
  std::function<void()> losskit, torch;
};

std::vector<std::unique_ptr<Case>>& cases() {
  static std::vector<std::unique_ptr<Case>> c;
  return c;
}

// --------------------------------------------------------------------------- cases -----
// Inputs are built lazily (first run of a case) and shared by its two benchmarks.
struct CeData {
  std::int64_t N, C;
  std::vector<float> x, g, w;
  std::vector<std::int64_t> y;
  float out = 0;
};

void add_ce(std::int64_t N, std::int64_t C, bool options) {
  auto d = std::make_shared<CeData>();
  d->N = N, d->C = C;
  auto init = [d, options] {
    if (!d->x.empty()) return;
    d->x = randn(static_cast<std::size_t>(d->N * d->C), 1);
    d->g.assign(d->x.size(), 0.0f);
    d->y = labels(d->N, d->C, options, 2);
    d->w = randn(static_cast<std::size_t>(d->C), 3, 0.2f);
    for (auto& v : d->w) v = 1.0f + v;
  };
  auto c = std::make_unique<Case>();
  c->name = "ce_" + std::to_string(N) + "x" + std::to_string(C) + (options ? "_smooth_w_ignore" : "");
  c->bytes = 8.0 * static_cast<double>(N * C);
  c->losskit = [d, init, options] {
    init();
    losskit::CrossEntropyOptions<float> o;
    if (options) o = {.weight = d->w, .ignore_index = -100, .label_smoothing = 0.1};
    losskit::cross_entropy_forward_backward(ConstView<float>(d->x.data(), {d->N, d->C}),
                                            ConstView<std::int64_t>(d->y.data(), {d->N}),
                                            TensorView<float>(&d->out, {}), TensorView<float>(d->g.data(), {d->N, d->C}), o);
    benchmark::DoNotOptimize(d->out);
  };
  c->torch = [d, init, options] {
    init();
    auto x = wrap(d->x.data(), {d->N, d->C}).requires_grad_(true);
    auto y = torch::from_blob(d->y.data(), {d->N}, torch::kInt64);
    auto o = F::CrossEntropyFuncOptions();
    if (options) o = o.weight(wrap(d->w.data(), {d->C})).ignore_index(-100).label_smoothing(0.1);
    auto l = F::cross_entropy(x, y, o);
    l.backward();
    benchmark::DoNotOptimize(x.grad().data_ptr());
  };
  cases().push_back(std::move(c));
}

/// Cross-entropy with probability targets (soft labels: each row a softmax of random scores).
void add_ce_probs(std::int64_t N, std::int64_t C) {
  struct Data {
    std::vector<float> x, t, g;
    float out = 0;
  };
  auto d = std::make_shared<Data>();
  auto init = [d, N, C] {
    if (!d->x.empty()) return;
    d->x = randn(static_cast<std::size_t>(N * C), 1);
    d->t = randn(static_cast<std::size_t>(N * C), 4);
    for (std::int64_t i = 0; i < N; ++i) {
      float* r = d->t.data() + i * C;
      double s = 0;
      for (std::int64_t c = 0; c < C; ++c) s += (r[c] = std::exp(r[c]));
      for (std::int64_t c = 0; c < C; ++c) r[c] = static_cast<float>(r[c] / s);
    }
    d->g.assign(d->x.size(), 0.0f);
  };
  auto c = std::make_unique<Case>();
  c->name = "ce_probs_" + std::to_string(N) + "x" + std::to_string(C);
  c->bytes = 12.0 * static_cast<double>(N * C);  // read logits and targets, write the gradient
  c->losskit = [d, init, N, C] {
    init();
    losskit::cross_entropy_forward_backward(ConstView<float>(d->x.data(), {N, C}), ConstView<float>(d->t.data(), {N, C}),
                                            TensorView<float>(&d->out, {}), TensorView<float>(d->g.data(), {N, C}));
    benchmark::DoNotOptimize(d->out);
  };
  c->torch = [d, init, N, C] {
    init();
    auto x = wrap(d->x.data(), {N, C}).requires_grad_(true);
    auto l = torch::cross_entropy_loss(x, wrap(d->t.data(), {N, C}));
    l.backward();
    benchmark::DoNotOptimize(x.grad().data_ptr());
  };
  cases().push_back(std::move(c));
}

void add_ce_bf16(std::int64_t N, std::int64_t C) {
  struct D {
    std::vector<losskit::bfloat16> x, g;
    std::vector<std::int64_t> y;
    float out = 0;
  };
  auto d = std::make_shared<D>();
  auto init = [d, N, C] {
    if (!d->x.empty()) return;
    const auto xf = randn(static_cast<std::size_t>(N * C), 1);
    d->x.resize(xf.size());
    for (std::size_t i = 0; i < xf.size(); ++i) d->x[i] = losskit::bfloat16(xf[i]);
    d->g.resize(xf.size());
    d->y = labels(N, C, false, 2);
  };
  auto c = std::make_unique<Case>();
  c->name = "ce_bf16_" + std::to_string(N) + "x" + std::to_string(C);
  c->bytes = 4.0 * static_cast<double>(N * C);
  c->losskit = [d, init, N, C] {
    init();
    losskit::cross_entropy_forward_backward(ConstView<losskit::bfloat16>(d->x.data(), {N, C}),
                                            ConstView<std::int64_t>(d->y.data(), {N}), TensorView<float>(&d->out, {}),
                                            TensorView<losskit::bfloat16>(d->g.data(), {N, C}));
    benchmark::DoNotOptimize(d->out);
  };
  c->torch = [d, init, N, C] {
    init();
    auto x = torch::from_blob(d->x.data(), {N, C}, torch::kBFloat16).requires_grad_(true);
    auto y = torch::from_blob(d->y.data(), {N}, torch::kInt64);
    auto l = F::cross_entropy(x, y);
    l.backward();
    benchmark::DoNotOptimize(x.grad().data_ptr());
  };
  cases().push_back(std::move(c));
}

void add_nll(std::int64_t N, std::int64_t C) {
  auto d = std::make_shared<CeData>();
  d->N = N, d->C = C;
  auto init = [d] {
    if (!d->x.empty()) return;
    d->x = randn(static_cast<std::size_t>(d->N * d->C), 4);
    d->g.assign(d->x.size(), 0.0f);
    d->y = labels(d->N, d->C, false, 5);
  };
  auto c = std::make_unique<Case>();
  c->name = "nll_" + std::to_string(N) + "x" + std::to_string(C);
  c->bytes = 4.0 * static_cast<double>(N * C);  // the gradient write (the input is only gathered)
  c->losskit = [d, init] {
    init();
    losskit::nll_loss_forward_backward(ConstView<float>(d->x.data(), {d->N, d->C}),
                                       ConstView<std::int64_t>(d->y.data(), {d->N}), TensorView<float>(&d->out, {}),
                                       TensorView<float>(d->g.data(), {d->N, d->C}));
    benchmark::DoNotOptimize(d->out);
  };
  c->torch = [d, init] {
    init();
    auto x = wrap(d->x.data(), {d->N, d->C}).requires_grad_(true);
    auto y = torch::from_blob(d->y.data(), {d->N}, torch::kInt64);
    F::nll_loss(x, y).backward();
    benchmark::DoNotOptimize(x.grad().data_ptr());
  };
  cases().push_back(std::move(c));
}

void add_kl(std::int64_t N, std::int64_t C) {
  struct D {
    std::vector<float> x, p, g;
    float out = 0;
  };
  auto d = std::make_shared<D>();
  auto init = [d, N, C] {
    if (!d->x.empty()) return;
    d->x = randn(static_cast<std::size_t>(N * C), 6);
    d->p = randn(static_cast<std::size_t>(N * C), 7, 1.0f);
    for (auto& v : d->p) v = std::abs(v) / static_cast<float>(C);
    d->g.assign(d->x.size(), 0.0f);
  };
  auto c = std::make_unique<Case>();
  c->name = "kl_div_batchmean_" + std::to_string(N) + "x" + std::to_string(C);
  c->bytes = 12.0 * static_cast<double>(N * C);  // read input and target, write grad_input
  c->losskit = [d, init, N, C] {
    init();
    losskit::kl_div_forward_backward(ConstView<float>(d->x.data(), {N, C}), ConstView<float>(d->p.data(), {N, C}),
                                     TensorView<float>(&d->out, {}), TensorView<float>(d->g.data(), {N, C}), {},
                                     {.reduction = losskit::Reduction::BatchMean});
    benchmark::DoNotOptimize(d->out);
  };
  c->torch = [d, init, N, C] {
    init();
    auto x = wrap(d->x.data(), {N, C}).requires_grad_(true);
    auto p = wrap(d->p.data(), {N, C});
    F::kl_div(x, p, F::KLDivFuncOptions().reduction(torch::kBatchMean)).backward();
    benchmark::DoNotOptimize(x.grad().data_ptr());
  };
  cases().push_back(std::move(c));
}

// A pointwise loss l(x, y) with Reduction::Mean on n float32 elements, forward + backward
// (grad_input only). lk(x, y, out, grad_input) and th(x, y) -> loss tensor.
using PwLk = std::function<void(ConstView<float>, ConstView<float>, TensorView<float>, TensorView<float>)>;
using PwTh = std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>;
void add_pointwise(const std::string& name, std::int64_t n, bool prob_target, PwLk lk, PwTh th,
                   bool prob_input = false) {
  struct D {
    std::vector<float> x, y, g;
    float out = 0;
  };
  auto d = std::make_shared<D>();
  auto init = [d, n, prob_target, prob_input] {
    if (!d->x.empty()) return;
    d->x = randn(static_cast<std::size_t>(n), 11);
    d->y = randn(static_cast<std::size_t>(n), 12);
    if (prob_target)
      for (auto& v : d->y) v = 1.0f / (1.0f + std::exp(-v));
    if (prob_input)
      for (auto& v : d->x) v = 1.0f / (1.0f + std::exp(-v));
    d->g.assign(d->x.size(), 0.0f);
  };
  auto c = std::make_unique<Case>();
  c->name = name + "_" + std::to_string(n >> 20) + "M";
  c->bytes = 12.0 * static_cast<double>(n);  // read input and target, write grad_input
  c->losskit = [d, init, n, lk] {
    init();
    lk(ConstView<float>(d->x.data(), {n}), ConstView<float>(d->y.data(), {n}), TensorView<float>(&d->out, {}),
       TensorView<float>(d->g.data(), {n}));
    benchmark::DoNotOptimize(d->out);
  };
  c->torch = [d, init, n, th] {
    init();
    auto x = wrap(d->x.data(), {n}).requires_grad_(true);
    auto y = wrap(d->y.data(), {n});
    th(x, y).backward();
    benchmark::DoNotOptimize(x.grad().data_ptr());
  };
  cases().push_back(std::move(c));
}

void add_pointwise_losses(std::int64_t n) {
  const TensorView<float> none{};
  add_pointwise("mse", n, false, [none](auto x, auto y, auto o, auto g) {
    losskit::mse_loss_forward_backward(x, y, o, g, none);
  }, [](const auto& x, const auto& y) { return F::mse_loss(x, y); });
  add_pointwise("l1", n, false, [none](auto x, auto y, auto o, auto g) {
    losskit::l1_loss_forward_backward(x, y, o, g, none);
  }, [](const auto& x, const auto& y) { return F::l1_loss(x, y); });
  add_pointwise("huber", n, false, [none](auto x, auto y, auto o, auto g) {
    losskit::huber_loss_forward_backward(x, y, o, g, none);
  }, [](const auto& x, const auto& y) { return torch::huber_loss(x, y); });
  add_pointwise("smooth_l1", n, false, [none](auto x, auto y, auto o, auto g) {
    losskit::smooth_l1_loss_forward_backward(x, y, o, g, none);
  }, [](const auto& x, const auto& y) { return F::smooth_l1_loss(x, y); });
  add_pointwise("bce_with_logits", n, true, [](auto x, auto y, auto o, auto g) {
    losskit::binary_cross_entropy_with_logits_forward_backward(x, y, o, g);
  }, [](const auto& x, const auto& y) { return F::binary_cross_entropy_with_logits(x, y); });
  // pos_weight [4096] against the input as [n / 4096, 4096] (one weight per class).
  static std::vector<float> pw;
  pw.resize(4096);
  for (std::size_t c = 0; c < pw.size(); ++c) pw[c] = 0.5f + static_cast<float>(c % 7) * 0.25f;
  add_pointwise("bce_with_logits_pos_weight", n, true, [n](auto x, auto y, auto o, auto g) {
    const losskit::Shape sh{n / 4096, 4096};
    losskit::binary_cross_entropy_with_logits_forward_backward(
        ConstView<float>(x.data(), sh), ConstView<float>(y.data(), sh), o, TensorView<float>(g.data(), sh),
        {.pos_weight = ConstView<float>(pw.data(), {4096})});
  }, [](const auto& x, const auto& y) {
    return F::binary_cross_entropy_with_logits(x.view({-1, 4096}), y.view({-1, 4096}),
        F::BinaryCrossEntropyWithLogitsFuncOptions().pos_weight(wrap(pw.data(), {4096})));
  });
  add_pointwise("binary_cross_entropy", n, true, [](auto x, auto y, auto o, auto g) {
    losskit::binary_cross_entropy_forward_backward(x, y, o, g);
  }, [](const auto& x, const auto& y) { return F::binary_cross_entropy(x, y); }, true);
  add_pointwise("soft_margin", n, false, [](auto x, auto y, auto o, auto g) {
    losskit::soft_margin_loss_forward_backward(x, y, o, g);
  }, [](const auto& x, const auto& y) { return F::soft_margin_loss(x, y); });
  // Counts in (0, 1) as targets; log_input (the default) and the rate form.
  add_pointwise("poisson_nll", n, true, [none](auto x, auto y, auto o, auto g) {
    losskit::poisson_nll_loss_forward_backward(x, y, o, g, none);
  }, [](const auto& x, const auto& y) { return F::poisson_nll_loss(x, y); });
  add_pointwise("poisson_nll_rate", n, true, [none](auto x, auto y, auto o, auto g) {
    losskit::poisson_nll_loss_forward_backward(x, y, o, g, none, {.log_input = false});
  }, [](const auto& x, const auto& y) {
    return F::poisson_nll_loss(x, y, F::PoissonNLLLossFuncOptions().log_input(false));
  }, true);
  // Losses libtorch lacks: the baseline is the defining library's formula in libtorch ops.
  add_pointwise("sigmoid_focal", n, true, [](auto x, auto y, auto o, auto g) {
    losskit::sigmoid_focal_loss_forward_backward(x, y, o, g, {.reduction = losskit::Reduction::Mean});
  }, [](const auto& x, const auto& y) {  // torchvision.ops.sigmoid_focal_loss, alpha 0.25, gamma 2
    auto p = torch::sigmoid(x);
    auto ce = F::binary_cross_entropy_with_logits(x, y, F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone));
    auto pt = p * y + (1 - p) * (1 - y);
    return ((0.25 * y + 0.75 * (1 - y)) * ce * (1 - pt).pow(2)).mean();
  });
  add_pointwise("log_cosh", n, false, [none](auto x, auto y, auto o, auto g) {
    losskit::log_cosh_loss_forward_backward(x, y, o, g, none);
  }, [](const auto& x, const auto& y) {  // optax.log_cosh
    auto e = x - y;
    return (torch::logaddexp(e, -e) - std::log(2.0)).mean();
  });
  add_pointwise("msle", n, true, [none](auto x, auto y, auto o, auto g) {
    losskit::msle_loss_forward_backward(x, y, o, g, none);
  }, [](const auto& x, const auto& y) {  // keras mean_squared_logarithmic_error
    return (torch::log1p(x.clamp_min(1e-7)) - torch::log1p(y.clamp_min(1e-7))).pow(2).mean();
  }, true);
  add_pointwise("mape", n, false, [none](auto x, auto y, auto o, auto g) {
    losskit::mape_loss_forward_backward(x, y, o, g, none);
  }, [](const auto& x, const auto& y) {  // keras mean_absolute_percentage_error
    return (100.0 * (y - x).abs() / y.abs().clamp_min(1e-7)).mean();
  });
  add_pointwise("quantile", n, false, [none](auto x, auto y, auto o, auto g) {
    losskit::quantile_loss_forward_backward(x, y, o, g, none, {.tau = 0.3});
  }, [](const auto& x, const auto& y) {  // tfa.losses.pinball_loss, tau 0.3
    auto e = y - x;
    return torch::maximum(0.3 * e, (0.3 - 1) * e).mean();
  });
  add_pointwise("poisson_nll_full", n, true, [none](auto x, auto y, auto o, auto g) {
    losskit::poisson_nll_loss_forward_backward(x, y, o, g, none, {.full = true});
  }, [](const auto& x, const auto& y) {
    return F::poisson_nll_loss(x, y, F::PoissonNLLLossFuncOptions().full(true));
  });
}

// Row losses libtorch lacks, with class ids (N, C): losskit against the defining library's
// formula in libtorch ops (softmax_focal: Keras CategoricalFocalCrossentropy, alpha 0.25,
// gamma 2; poly1: optax poly_loss_cross_entropy, epsilon 2).
void add_row_composed(std::int64_t N, std::int64_t C, bool focal) {
  auto d = std::make_shared<CeData>();
  d->N = N, d->C = C;
  auto init = [d] {
    if (!d->x.empty()) return;
    d->x = randn(static_cast<std::size_t>(d->N * d->C), 1);
    d->g.assign(d->x.size(), 0.0f);
    d->y = labels(d->N, d->C, false, 2);
  };
  auto c = std::make_unique<Case>();
  c->name = std::string(focal ? "softmax_focal_" : "poly1_ce_") + std::to_string(N) + "x" + std::to_string(C);
  c->bytes = 8.0 * static_cast<double>(N * C);
  c->losskit = [d, init, focal] {
    init();
    const ConstView<float> x(d->x.data(), {d->N, d->C});
    const ConstView<std::int64_t> y(d->y.data(), {d->N});
    const TensorView<float> o(&d->out, {}), g(d->g.data(), {d->N, d->C});
    if (focal) losskit::softmax_focal_loss_forward_backward(x, y, o, g);
    else losskit::poly1_cross_entropy_forward_backward(x, y, o, g, {.reduction = losskit::Reduction::Mean});
    benchmark::DoNotOptimize(d->out);
  };
  c->torch = [d, init, focal] {
    init();
    auto x = wrap(d->x.data(), {d->N, d->C}).requires_grad_(true);
    auto y = torch::from_blob(d->y.data(), {d->N}, torch::kInt64);
    auto lp = torch::log_softmax(x, 1);
    auto oh = F::one_hot(y, d->C).to(torch::kFloat32);
    torch::Tensor l;
    if (focal) l = (-0.25 * (1 - lp.exp()).pow(2) * lp * oh).sum(1).mean();
    else l = (-(oh * lp).sum(1) + 2.0 * (oh * (1 - lp.exp())).sum(1)).mean();
    l.backward();
    benchmark::DoNotOptimize(x.grad().data_ptr());
  };
  cases().push_back(std::move(c));
}

// Embedding losses on (N, D) rows: triplet_margin_loss (p = 2 and p = 1), cosine_embedding_loss
// and margin_ranking_loss (element-wise over N x D), fused forward + backward, mean.
struct EmbData {
  std::int64_t N, D;
  std::vector<float> a, p, n, y, ye, ga, gp, gn;
  float out = 0;
};

void add_embedding(std::int64_t N, std::int64_t D) {
  auto d = std::make_shared<EmbData>();
  d->N = N, d->D = D;
  auto init = [d] {
    if (!d->a.empty()) return;
    const auto nd = static_cast<std::size_t>(d->N * d->D);
    d->a = randn(nd, 11), d->p = randn(nd, 12), d->n = randn(nd, 13);
    d->y = randn(static_cast<std::size_t>(d->N), 14), d->ye = randn(nd, 15);
    for (auto* v : {&d->y, &d->ye})
      for (auto& e : *v) e = e < 0 ? -1.0f : 1.0f;
    d->ga.assign(nd, 0.0f), d->gp.assign(nd, 0.0f), d->gn.assign(nd, 0.0f);
  };
  const std::string shape = std::to_string(N) + "x" + std::to_string(D);
  const double nd = static_cast<double>(N * D);
  auto add = [&](const std::string& name, double bytes, std::function<void(EmbData&)> lk,
                 std::function<void(EmbData&)> th) {
    auto c = std::make_unique<Case>();
    c->name = name + "_" + shape;
    c->bytes = bytes * nd;
    c->losskit = [d, init, lk] { init(), lk(*d); };
    c->torch = [d, init, th] { init(), th(*d); };
    cases().push_back(std::move(c));
  };
  for (const double pn : {2.0, 1.0}) {
    add(pn == 2 ? "triplet" : "triplet_p1", 24.0, [pn](EmbData& e) {
      const losskit::Shape s{e.N, e.D};
      losskit::triplet_margin_loss_forward_backward(ConstView<float>(e.a.data(), s), ConstView<float>(e.p.data(), s),
                                                    ConstView<float>(e.n.data(), s), TensorView<float>(&e.out, {}),
                                                    TensorView<float>(e.ga.data(), s), TensorView<float>(e.gp.data(), s),
                                                    TensorView<float>(e.gn.data(), s), {.p = pn});
      benchmark::DoNotOptimize(e.out);
    }, [pn](EmbData& e) {
      auto a = wrap(e.a.data(), {e.N, e.D}).requires_grad_(true), p = wrap(e.p.data(), {e.N, e.D}).requires_grad_(true),
           n = wrap(e.n.data(), {e.N, e.D}).requires_grad_(true);
      F::triplet_margin_loss(a, p, n, F::TripletMarginLossFuncOptions().p(pn)).backward();
      benchmark::DoNotOptimize(a.grad().data_ptr());
    });
  }
  add("cosine_embedding", 16.0, [](EmbData& e) {
    const losskit::Shape s{e.N, e.D};
    losskit::cosine_embedding_loss_forward_backward(ConstView<float>(e.a.data(), s), ConstView<float>(e.p.data(), s),
                                                    ConstView<float>(e.y.data(), {e.N}), TensorView<float>(&e.out, {}),
                                                    TensorView<float>(e.ga.data(), s), TensorView<float>(e.gp.data(), s),
                                                    {.margin = 0.2});
    benchmark::DoNotOptimize(e.out);
  }, [](EmbData& e) {
    auto a = wrap(e.a.data(), {e.N, e.D}).requires_grad_(true), p = wrap(e.p.data(), {e.N, e.D}).requires_grad_(true);
    F::cosine_embedding_loss(a, p, wrap(e.y.data(), {e.N}), F::CosineEmbeddingLossFuncOptions().margin(0.2)).backward();
    benchmark::DoNotOptimize(a.grad().data_ptr());
  });
  add("margin_ranking", 20.0, [](EmbData& e) {
    const losskit::Shape s{e.N, e.D};
    losskit::margin_ranking_loss_forward_backward(ConstView<float>(e.a.data(), s), ConstView<float>(e.p.data(), s),
                                                  ConstView<float>(e.ye.data(), s), TensorView<float>(&e.out, {}),
                                                  TensorView<float>(e.ga.data(), s), TensorView<float>(e.gp.data(), s),
                                                  {.margin = 0.1});
    benchmark::DoNotOptimize(e.out);
  }, [](EmbData& e) {
    auto a = wrap(e.a.data(), {e.N, e.D}).requires_grad_(true), p = wrap(e.p.data(), {e.N, e.D}).requires_grad_(true);
    F::margin_ranking_loss(a, p, wrap(e.ye.data(), {e.N, e.D}), F::MarginRankingLossFuncOptions().margin(0.1)).backward();
    benchmark::DoNotOptimize(a.grad().data_ptr());
  });
}

// Semantic-segmentation cross_entropy: logits (N, C, H, W), class ids (N, H, W), mean; the
// spatial SIMD kernel (lanes along the positions).
void add_ce_spatial(std::int64_t N, std::int64_t C, std::int64_t H, std::int64_t W) {
  struct D {
    std::vector<float> x, g;
    std::vector<std::int64_t> y;
    float out = 0;
  };
  auto d = std::make_shared<D>();
  const std::int64_t n = N * C * H * W;
  auto init = [d, N, H, W, C, n] {
    if (!d->x.empty()) return;
    d->x = randn(static_cast<std::size_t>(n), 1);
    d->g.assign(d->x.size(), 0.0f);
    d->y = labels(N * H * W, C, false, 2);
  };
  auto c = std::make_unique<Case>();
  c->name = "ce_spatial_" + std::to_string(N) + "x" + std::to_string(C) + "x" + std::to_string(H) + "x" +
            std::to_string(W);
  c->bytes = 8.0 * static_cast<double>(n) + 8.0 * static_cast<double>(N * H * W);  // logits, gradient, targets
  c->losskit = [d, init, N, C, H, W] {
    init();
    losskit::cross_entropy_forward_backward(ConstView<float>(d->x.data(), {N, C, H, W}),
                                            ConstView<std::int64_t>(d->y.data(), {N, H, W}),
                                            TensorView<float>(&d->out, {}),
                                            TensorView<float>(d->g.data(), {N, C, H, W}));
    benchmark::DoNotOptimize(d->out);
  };
  c->torch = [d, init, N, C, H, W] {
    init();
    auto x = wrap(d->x.data(), {N, C, H, W}).requires_grad_(true);
    auto y = torch::from_blob(d->y.data(), {N, H, W}, torch::kInt64);
    auto l = F::cross_entropy(x, y);
    l.backward();
    benchmark::DoNotOptimize(x.grad().data_ptr());
  };
  cases().push_back(std::move(c));
}

// dice_loss with softmax over the channels, float one-hot targets; the libtorch baseline is the
// composed MONAI-style expression (softmax, three spatial sums, the ratio, mean) + autograd.
void add_dice(std::int64_t B, std::int64_t C, std::int64_t Dd, std::int64_t H, std::int64_t W) {
  struct D {
    std::vector<float> x, t, g;
    float out = 0;
  };
  auto d = std::make_shared<D>();
  const std::int64_t S = Dd * H * W, n = B * C * S;
  auto init = [d, B, C, S, n] {
    if (!d->x.empty()) return;
    d->x = randn(static_cast<std::size_t>(n), 8);
    d->t.assign(static_cast<std::size_t>(n), 0.0f);
    std::mt19937 rng(9);
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t s = 0; s < S; ++s) {
        const std::int64_t c = static_cast<std::int64_t>(rng() % static_cast<unsigned>(C));
        d->t[static_cast<std::size_t>((b * C + c) * S + s)] = 1.0f;
      }
    d->g.assign(static_cast<std::size_t>(n), 0.0f);
  };
  const std::vector<std::int64_t> shape{B, C, Dd, H, W};
  auto c = std::make_unique<Case>();
  c->name = "dice_softmax_" + std::to_string(B) + "x" + std::to_string(C) + "x" + std::to_string(Dd) + "x" +
            std::to_string(H) + "x" + std::to_string(W);
  c->bytes = 12.0 * static_cast<double>(n);  // read input and target, write the gradient
  c->losskit = [d, init, shape] {
    init();
    const losskit::Shape sh{shape[0], shape[1], shape[2], shape[3], shape[4]};
    losskit::dice_loss_forward_backward(ConstView<float>(d->x.data(), sh), ConstView<float>(d->t.data(), sh),
                                        TensorView<float>(&d->out, {}), TensorView<float>(d->g.data(), sh),
                                        {.softmax = true});
    benchmark::DoNotOptimize(d->out);
  };
  c->torch = [d, init, shape] {
    init();
    auto x = torch::from_blob(d->x.data(), shape, torch::kFloat32).requires_grad_(true);
    auto t = torch::from_blob(d->t.data(), shape, torch::kFloat32);
    auto p = torch::softmax(x, 1);
    const std::vector<std::int64_t> red{2, 3, 4};
    auto tp = (p * t).sum(red), P = p.sum(red), G = t.sum(red);
    auto f = 1.0 - (2.0 * tp + 1e-5) / (P + G + 1e-5);
    f.mean().backward();
    benchmark::DoNotOptimize(x.grad().data_ptr());
  };
  cases().push_back(std::move(c));
}

// ------------------------------------------------------------------ copy bandwidth -----
struct CopyBuf {
  std::vector<char> a, b;
};
CopyBuf& copy_buf() {
  static CopyBuf c;
  if (c.a.empty()) {
    c.a.assign(std::size_t{512} << 20, 1);
    c.b.assign(std::size_t{512} << 20, 0);
  }
  return c;
}
// ctc_loss, the shape: T=400 steps, N=16 sequences, C=64 classes, targets of S=100 labels
// (no repeats forced: random labels), mean reduction. Compute-bound (the recursions), so `bytes`
// counts only the log_probs read and the gradient write.
void add_ctc(std::int64_t T, std::int64_t N, std::int64_t C, std::int64_t S) {
  struct D {
    std::vector<float> x, g;
    std::vector<std::int64_t> y, il, tl;
    float out = 0;
  };
  auto d = std::make_shared<D>();
  auto init = [d, T, N, C, S] {
    if (!d->x.empty()) return;
    auto z = wrap(randn(static_cast<std::size_t>(T * N * C), 11).data(), {T, N, C}).log_softmax(2).contiguous();
    d->x.assign(z.data_ptr<float>(), z.data_ptr<float>() + T * N * C);
    d->g.assign(d->x.size(), 0.0f);
    d->y = labels(N * S, C - 1, false, 12);
    for (auto& v : d->y) v += 1;  // 0 is the blank
    d->il.assign(static_cast<std::size_t>(N), T);
    d->tl.assign(static_cast<std::size_t>(N), S);
  };
  auto c = std::make_unique<Case>();
  c->name = "ctc_" + std::to_string(T) + "x" + std::to_string(N) + "x" + std::to_string(C) + "_S" + std::to_string(S);
  c->bytes = 8.0 * static_cast<double>(T * N * C);
  c->losskit = [d, init, T, N, C, S] {
    init();
    losskit::ctc_loss_forward_backward(ConstView<float>(d->x.data(), {T, N, C}), ConstView<std::int64_t>(d->y.data(), {N, S}),
                                       d->il, d->tl, TensorView<float>(&d->out, {}), TensorView<float>(d->g.data(), {T, N, C}));
    benchmark::DoNotOptimize(d->out);
  };
  c->torch = [d, init, T, N, C, S] {
    init();
    auto x = wrap(d->x.data(), {T, N, C}).requires_grad_(true);
    auto y = torch::from_blob(d->y.data(), {N, S}, torch::kInt64);
    at::ctc_loss(x, y, d->il, d->tl, 0, at::Reduction::Mean, false).backward();
    benchmark::DoNotOptimize(x.grad().data_ptr());
  };
  cases().push_back(std::move(c));
}

void parallel_copy() {
  auto& c = copy_buf();
  const std::size_t n = c.a.size(), per = n / static_cast<std::size_t>(g_threads);
#pragma omp parallel for num_threads(g_threads) schedule(static)
  for (int t = 0; t < g_threads; ++t) {
    const std::size_t lo = per * static_cast<std::size_t>(t), hi = t + 1 == g_threads ? n : lo + per;
    std::memcpy(c.b.data() + lo, c.a.data() + lo, hi - lo);
  }
  benchmark::ClobberMemory();
}

// --------------------------------------------------------------------- reporting -----
class Collector : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> median_s;
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name == "median") {
        const double mult = benchmark::GetTimeUnitMultiplier(r.time_unit);
        median_s[r.run_name.function_name] = r.GetAdjustedRealTime() / mult;
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (const char* t = std::getenv("LOSSKIT_BENCH_THREADS")) g_threads = std::max(1, std::atoi(t));
  losskit::set_num_threads(g_threads);
  at::set_num_threads(g_threads);
  omp_set_num_threads(g_threads);

  add_ce(4096, 32000, false);
  add_ce(4096, 32000, true);
  add_ce(8192, 1000, false);
  add_ce(8192, 1000, true);
  add_ce(65536, 10, false);
  add_ce(65536, 10, true);
  add_ce_bf16(4096, 32000);
  add_ce_probs(4096, 1000);
  add_ce_spatial(8, 21, 256, 256);
  add_nll(8192, 1000);
  add_kl(4096, 4096);
  add_dice(8, 4, 128, 128, 64);
  add_pointwise_losses(std::int64_t{16} << 20);
  add_row_composed(8192, 1000, true);
  add_row_composed(8192, 1000, false);
  add_embedding(4096, 256);
  add_ctc(400, 16, 64, 100);

  const int reps = 7;
  benchmark::RegisterBenchmark("copy_512MiB", [](benchmark::State& st) {
    for (auto _ : st) parallel_copy();
  })->Repetitions(reps)->ReportAggregatesOnly(true)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.3);
  for (const auto& c : cases()) {
    Case* p = c.get();
    for (const char* side : {"losskit", "torch"}) {
      const bool lk = side[0] == 'l';
      benchmark::RegisterBenchmark((c->name + "/" + side).c_str(), [p, lk](benchmark::State& st) {
        (lk ? p->losskit : p->torch)();  // warm-up (and lazy init) outside the timing
        for (auto _ : st) (lk ? p->losskit : p->torch)();
      })->Repetitions(reps)->ReportAggregatesOnly(true)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.3);
    }
  }
  benchmark::Initialize(&argc, argv);
  Collector rep;
  benchmark::RunSpecifiedBenchmarks(&rep);

  const auto& m = rep.median_s;
  const double copy_s = m.count("copy_512MiB") ? m.at("copy_512MiB") : 0.0;
  const double copy_bw = copy_s > 0 ? 2.0 * static_cast<double>(std::size_t{512} << 20) / copy_s : 0.0;
  std::printf("\nlosskit vs libtorch %s, %d threads, SIMD target %s; copy bandwidth %.2f GB/s (median of %d)\n",
              TORCH_VERSION, g_threads, losskit::simd_target().c_str(), copy_bw / 1e9, reps);
  std::printf("%-32s %12s %12s %9s %9s %9s\n", "case (fwd+bwd)", "losskit ms", "torch ms", "speedup", "GB/s", "of copy");
  for (const auto& c : cases()) {
    const auto a = m.find(c->name + "/losskit"), b = m.find(c->name + "/torch");
    if (a == m.end()) continue;
    const double bw = c->bytes / a->second;
    const double tb = b == m.end() ? 0.0 : b->second;
    std::printf("%-32s %12.2f %12.2f %8.2fx %9.2f %8.0f%%\n", c->name.c_str(), a->second * 1e3, tb * 1e3,
                tb > 0 ? tb / a->second : 0.0, bw / 1e9, copy_bw > 0 ? 100.0 * bw / copy_bw : 0.0);
  }
  const auto f32 = m.find("ce_4096x32000/losskit"), b16 = m.find("ce_bf16_4096x32000/losskit");
  if (f32 != m.end() && b16 != m.end())
    std::printf("bf16 vs fp32 cross_entropy (losskit): %.2fx faster\n", f32->second / b16->second);
  return 0;
}
