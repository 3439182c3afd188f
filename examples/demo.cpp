// losskit demo: the seed notebook's numbers, then each seed loss training a small model of its
// own with losskit's gradients (plain gradient descent, no autograd framework).
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include <losskit/losskit.hpp>

using losskit::ConstView;
using losskit::Reduction;
using losskit::TensorView;

namespace {

void notebook() {
  std::puts("== the seed notebook");
  const double probs[] = {0.1, 0.9, 0.2, 0.8};
  double logp[4];
  for (int i = 0; i < 4; ++i) logp[i] = std::log(probs[i]);
  const std::int64_t y[] = {0, 1};
  const auto nll = losskit::nll_loss(ConstView<double>(logp, {2, 2}), ConstView<std::int64_t>(y, {2}));
  std::printf("nll_loss(log [[0.1, 0.9], [0.2, 0.8]], [0, 1])      = %.6f\n", nll.item());
  const auto ce = losskit::cross_entropy(ConstView<double>(probs, {2, 2}), ConstView<std::int64_t>(y, {2}));
  std::printf("cross_entropy([[0.1, 0.9], [0.2, 0.8]] as logits, [0, 1]) = %.6f\n", ce.item());
  const double p[] = {0.10, 0.40, 0.50}, q[] = {0.80, 0.15, 0.05};
  double logq[3];
  for (int i = 0; i < 3; ++i) logq[i] = std::log(q[i]);
  const auto kl = losskit::kl_div(ConstView<double>(logq, {3}), ConstView<double>(p, {3}), {.reduction = Reduction::Sum});
  std::printf("KL(p || q), p = [0.10, 0.40, 0.50], q = [0.80, 0.15, 0.05] = %.4f nats (%.3f bits)\n", kl.item(),
              kl.item() / std::log(2.0));
}

/// A linear softmax classifier on three Gaussian blobs, trained with cross_entropy.
void softmax_classifier() {
  std::puts("\n== cross_entropy: a softmax classifier on three blobs (label_smoothing 0.05)");
  const int N = 300, C = 3, F = 2;
  std::mt19937 gen(7);
  std::normal_distribution<float> noise(0.f, 0.6f);
  const float centers[C][F] = {{0, 2}, {-2, -1}, {2, -1}};
  std::vector<float> X(N * F);
  std::vector<std::int64_t> Y(N);
  for (int i = 0; i < N; ++i) {
    Y[i] = i % C;
    for (int f = 0; f < F; ++f) X[i * F + f] = centers[Y[i]][f] + noise(gen);
  }
  std::vector<float> W(C * F, 0.f), b(C, 0.f), logits(N * C), grad(N * C);
  float loss = 0;
  for (int step = 0; step <= 100; ++step) {
    for (int i = 0; i < N; ++i)
      for (int c = 0; c < C; ++c) logits[i * C + c] = b[c] + W[c * F] * X[i * F] + W[c * F + 1] * X[i * F + 1];
    losskit::cross_entropy_forward_backward(ConstView<float>(logits.data(), {N, C}), ConstView<std::int64_t>(Y.data(), {N}),
                                            TensorView<float>(&loss, {}), TensorView<float>(grad.data(), {N, C}),
                                            {.label_smoothing = 0.05});
    if (step % 20 == 0) std::printf("step %3d  loss %.4f\n", step, loss);
    for (int c = 0; c < C; ++c) {  // dL/dW = grad^T X, dL/db = sum grad
      float gw0 = 0, gw1 = 0, gb = 0;
      for (int i = 0; i < N; ++i) {
        gw0 += grad[i * C + c] * X[i * F];
        gw1 += grad[i * C + c] * X[i * F + 1];
        gb += grad[i * C + c];
      }
      W[c * F] -= 0.5f * gw0;
      W[c * F + 1] -= 0.5f * gw1;
      b[c] -= 0.5f * gb;
    }
  }
  int correct = 0;
  for (int i = 0; i < N; ++i) {
    int best = 0;
    for (int c = 1; c < C; ++c)
      if (logits[i * C + c] > logits[i * C + best]) best = c;
    correct += best == Y[i];
  }
  std::printf("training accuracy %.1f%%\n", 100.0 * correct / N);
}

/// log_softmax of a row and its backward: d/dz = g - softmax * sum(g).
void log_softmax(const std::vector<double>& z, std::vector<double>& out) {
  double m = z[0];
  for (double v : z) m = std::max(m, v);
  double s = 0;
  for (double v : z) s += std::exp(v - m);
  for (std::size_t i = 0; i < z.size(); ++i) out[i] = z[i] - m - std::log(s);
}
std::vector<double> log_softmax_backward(const std::vector<double>& logp, const std::vector<double>& g) {
  double gs = 0;
  for (double v : g) gs += v;
  std::vector<double> dz(g.size());
  for (std::size_t i = 0; i < g.size(); ++i) dz[i] = g[i] - std::exp(logp[i]) * gs;
  return dz;
}

/// Maximum likelihood of a categorical distribution from die rolls, with nll_loss.
void categorical_mle() {
  std::puts("\n== nll_loss: fitting a loaded die's probabilities from 600 rolls");
  const int K = 6, N = 600;
  std::mt19937 gen(11);
  std::discrete_distribution<int> die({1, 1, 1, 1, 1, 5});
  std::vector<std::int64_t> rolls(N);
  for (auto& r : rolls) r = die(gen);
  std::vector<double> z(K, 0.0), logp(K), batch(N * K), grad(N * K);
  double loss = 0;
  for (int step = 0; step <= 200; ++step) {
    log_softmax(z, logp);
    for (int i = 0; i < N; ++i)
      for (int k = 0; k < K; ++k) batch[i * K + k] = logp[k];
    losskit::nll_loss_forward_backward(ConstView<double>(batch.data(), {N, K}), ConstView<std::int64_t>(rolls.data(), {N}),
                                       TensorView<double>(&loss, {}), TensorView<double>(grad.data(), {N, K}));
    if (step % 50 == 0) std::printf("step %3d  nll %.4f\n", step, loss);
    std::vector<double> g(K, 0.0);
    for (int i = 0; i < N; ++i)
      for (int k = 0; k < K; ++k) g[k] += grad[i * K + k];
    const auto dz = log_softmax_backward(logp, g);
    for (int k = 0; k < K; ++k) z[k] -= 2.0 * dz[k];
  }
  std::printf("fitted p(six) = %.3f (true 0.500)\n", std::exp(logp[K - 1]));
}

/// Moving q towards p by minimizing KL(p || q) with kl_div, q = softmax(z).
void kl_fit() {
  std::puts("\n== kl_div: moving q = softmax(z) onto p (batchmean)");
  const std::vector<double> p = {0.10, 0.40, 0.50};
  std::vector<double> z = {std::log(0.80), std::log(0.15), std::log(0.05)}, logq(3), grad(3);
  double loss = 0;
  for (int step = 0; step <= 60; ++step) {
    log_softmax(z, logq);
    losskit::kl_div_forward_backward(ConstView<double>(logq.data(), {1, 3}), ConstView<double>(p.data(), {1, 3}),
                                     TensorView<double>(&loss, {}), TensorView<double>(grad.data(), {1, 3}), {},
                                     {.reduction = Reduction::BatchMean});
    if (step % 15 == 0) std::printf("step %3d  KL %.5f nats\n", step, loss);
    const auto dz = log_softmax_backward(logq, grad);
    for (int k = 0; k < 3; ++k) z[k] -= 1.0 * dz[k];
  }
}

/// A per-pixel segmenter (two features -> two class logits) finding a disc in noise, with Dice.
void tiny_segmenter() {
  std::puts("\n== dice_loss: a per-pixel segmenter finding a disc in noise (softmax inside, to_onehot_y)");
  const int B = 4, H = 24, W = 24, P = H * W;
  std::mt19937 gen(3);
  std::normal_distribution<float> noise(0.f, 0.35f);
  std::vector<float> img(B * P), label(B * P);
  for (int b = 0; b < B; ++b) {
    const float cy = 8.f + 2.f * b, cx = 12.f, r = 5.f + b;
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) {
        const bool in = (y - cy) * (y - cy) + (x - cx) * (x - cx) < r * r;
        label[b * P + y * W + x] = in ? 1.f : 0.f;
        img[b * P + y * W + x] = (in ? 1.f : 0.f) + noise(gen);
      }
  }
  // logits[b, c, p] = a_c * img + k_c
  float a[2] = {0.f, 0.f}, k[2] = {0.f, 0.f}, loss = 0;
  std::vector<float> logits(B * 2 * P), grad(B * 2 * P);
  for (int step = 0; step <= 150; ++step) {
    for (int b = 0; b < B; ++b)
      for (int c = 0; c < 2; ++c)
        for (int p = 0; p < P; ++p) logits[(b * 2 + c) * P + p] = a[c] * img[b * P + p] + k[c];
    losskit::dice_loss_forward_backward(ConstView<float>(logits.data(), {B, 2, H, W}),
                                        ConstView<float>(label.data(), {B, 1, H, W}), TensorView<float>(&loss, {}),
                                        TensorView<float>(grad.data(), {B, 2, H, W}),
                                        {.to_onehot_y = true, .softmax = true});
    if (step % 30 == 0) std::printf("step %3d  dice loss %.4f\n", step, loss);
    for (int c = 0; c < 2; ++c) {
      float ga = 0, gk = 0;
      for (int b = 0; b < B; ++b)
        for (int p = 0; p < P; ++p) {
          ga += grad[(b * 2 + c) * P + p] * img[b * P + p];
          gk += grad[(b * 2 + c) * P + p];
        }
      a[c] -= 5.f * ga;
      k[c] -= 5.f * gk;
    }
  }
}

}  // namespace

int main() {
  notebook();
  softmax_classifier();
  categorical_mle();
  kl_fit();
  tiny_segmenter();
  return 0;
}
