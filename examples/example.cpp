// The README's C++ example: cross-entropy with label smoothing and ignore_index, its gradient,
// and what a bad target looks like.
#include <cstdio>
#include <vector>

#include <losskit/losskit.hpp>

int main() {
  // 3 samples, 4 classes: logits (N, C) and class ids (N); the last sample is ignored.
  std::vector<float> logits = {2.0f, 0.5f, -1.0f, 0.1f,  //
                               0.3f, 0.2f, 3.0f, -0.5f,  //
                               1.0f, 1.0f, 1.0f, 1.0f};
  std::vector<std::int64_t> labels = {0, 2, -100};
  std::vector<float> grad(logits.size());
  float loss = 0;

  losskit::ConstView<float> x(logits.data(), {3, 4});
  losskit::ConstView<std::int64_t> y(labels.data(), {3});
  losskit::cross_entropy_forward_backward(x, y, losskit::TensorView<float>(&loss, {}),
                                          losskit::TensorView<float>(grad.data(), {3, 4}),
                                          {.ignore_index = -100, .label_smoothing = 0.1});
  std::printf("loss = %.6f\ngrad[0] = [%.4f %.4f %.4f %.4f]\n", loss, grad[0], grad[1], grad[2], grad[3]);

  labels[1] = 7;  // out of range
  try {
    losskit::cross_entropy(x, y);
  } catch (const losskit::Error& e) {
    std::printf("error: %s\n", e.what());
  }
  return 0;
}
