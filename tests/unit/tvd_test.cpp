// tvd (Liger Kernel's total variation distance): values against a float64 transcription of
// Liger's kernel for every reduction, with and without shift_labels; float64 finite differences
// w.r.t. input and target; the four calls agreeing; the vector kernel (every SIMD target) against
// the scalar Op; ties, NaN, ignored and empty batches; thread-count determinism; bad inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <losskit/losskit.hpp>

#include "support/targets.hpp"
#include "support/testing.hpp"

using losskit::ConstView;
using losskit::ErrorKind;
using losskit::Reduction;
using losskit::Shape;
using losskit::TensorView;
using losskit::TVDOptions;
using lktest::Rng;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const std::vector<Reduction> kReductions{Reduction::None, Reduction::Mean, Reduction::Sum, Reduction::BatchMean};

/// Liger's _tv_distance_kernel and its reduction, transcribed in float64.
std::vector<double> liger_tvd(const std::vector<double>& p, const std::vector<double>& q, std::int64_t BT, std::int64_t V,
                              Reduction r, const std::vector<std::int64_t>& labels, std::int64_t ignore_index) {
  std::vector<double> per(p.size(), 0.0);
  double sum = 0;
  std::int64_t n = 0;
  for (std::int64_t i = 0; i < BT; ++i) {
    if (!labels.empty() && labels[static_cast<std::size_t>(i)] == ignore_index) continue;
    ++n;
    for (std::int64_t j = 0; j < V; ++j) {
      const auto k = static_cast<std::size_t>(i * V + j);
      per[k] = 0.5 * std::fabs(p[k] - q[k]);
      sum += per[k];
    }
  }
  switch (r) {
    case Reduction::None: return per;
    case Reduction::Sum: return {sum};
    case Reduction::Mean: return {n ? sum / static_cast<double>(n * V) : 0.0};
    case Reduction::BatchMean: return {n ? sum / static_cast<double>(n) : 0.0};
  }
  return {};
}

bool close(double a, double b, double rtol, double atol = 0) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (a == b) return true;
  return std::fabs(a - b) <= atol + rtol * std::max(std::fabs(a), std::fabs(b));
}

::testing::AssertionResult all_close(const std::vector<double>& got, const std::vector<double>& want, double rtol,
                                     double atol = 0) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  for (std::size_t i = 0; i < got.size(); ++i)
    if (!close(got[i], want[i], rtol, atol)) return ::testing::AssertionFailure() << "at " << i << ": " << got[i] << " vs " << want[i];
  return ::testing::AssertionSuccess();
}

template <class T>
std::vector<double> to_double(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

struct Result {
  std::vector<double> value, grad_input, grad_target;
};

/// Runs the four calls in T and checks that they agree (float32 values: to rounding); upstream
/// `up` (one per output value).
template <class T>
Result run_all(const std::vector<double>& pd, const std::vector<double>& qd, std::int64_t BT, std::int64_t V,
               const TVDOptions& o, const std::vector<double>& up) {
  const auto p = lktest::cast<T>(pd), q = lktest::cast<T>(qd);
  const Shape s{BT, V};
  const Shape os = o.reduction == Reduction::None ? s : Shape{};
  const ConstView<T> pin(p.data(), s), qin(q.data(), s);
  std::vector<T> out(static_cast<std::size_t>(os.numel()), T(-7));
  losskit::tvd(pin, qin, TensorView<T>(out.data(), os), o);
  const auto tv = losskit::tvd(pin, qin, o);
  EXPECT_EQ(tv.shape(), os);
  EXPECT_TRUE(all_close(to_double(tv.values()), to_double(out), 0));
  const auto upT = lktest::cast<T>(up);
  std::vector<T> gi(p.size(), T(-7)), gt(p.size(), T(-7)), gi_only(p.size(), T(-7));
  losskit::tvd_backward(ConstView<T>(upT.data(), os), pin, qin, TensorView<T>(gi.data(), s), TensorView<T>(gt.data(), s), o);
  losskit::tvd_backward(ConstView<T>(upT.data(), os), pin, qin, TensorView<T>(gi_only.data(), s), o);
  EXPECT_TRUE(all_close(to_double(gi_only), to_double(gi), 0)) << "without grad_target";
  std::vector<T> fo(out.size(), T(-7)), fgi(p.size(), T(-7)), fgt(p.size(), T(-7)), ogi(p.size(), T(-7)), ogt(p.size(), T(-7));
  losskit::tvd_forward_backward(pin, qin, TensorView<T>(fo.data(), os), TensorView<T>(fgi.data(), s),
                                TensorView<T>(fgt.data(), s), o);
  const std::vector<T> ones(out.size(), T(1));
  losskit::tvd_backward(ConstView<T>(ones.data(), os), pin, qin, TensorView<T>(ogi.data(), s), TensorView<T>(ogt.data(), s), o);
  // float32: the vector kernel's fused and single passes add in different orders.
  EXPECT_TRUE(all_close(to_double(fo), to_double(out), std::is_same_v<T, float> ? 1e-6 : 0.0)) << "fused value";
  EXPECT_TRUE(all_close(to_double(fgi), to_double(ogi), 0)) << "fused grad_input";
  EXPECT_TRUE(all_close(to_double(fgt), to_double(ogt), 0)) << "fused grad_target";
  return {to_double(out), to_double(gi), to_double(gt)};
}

/// Rows of V probabilities.
std::vector<double> probs(Rng& rng, std::int64_t BT, std::int64_t V) {
  auto v = rng.uniform(static_cast<std::size_t>(BT * V), 0.01, 1.0);
  for (std::int64_t r = 0; r < BT; ++r) {
    double s = 0;
    for (std::int64_t j = 0; j < V; ++j) s += v[static_cast<std::size_t>(r * V + j)];
    for (std::int64_t j = 0; j < V; ++j) v[static_cast<std::size_t>(r * V + j)] /= s;
  }
  return v;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const losskit::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(Tvd, MatchesLigerTranscriptionAndFiniteDifferences) {
  Rng rng(401);
  for (const auto& [BT, V] : std::vector<std::pair<std::int64_t, std::int64_t>>{{1, 1}, {3, 5}, {4, 37}, {2, 130}})
    for (const Reduction r : kReductions)
      for (int labeled = 0; labeled < 2; ++labeled) {
        SCOPED_TRACE("BT " + std::to_string(BT) + " V " + std::to_string(V) + " reduction " +
                     std::string(losskit::to_string(r)) + (labeled ? " labeled" : ""));
        const auto p = probs(rng, BT, V), q = probs(rng, BT, V);
        std::vector<std::int64_t> labels;
        if (labeled)
          for (std::int64_t i = 0; i < BT; ++i) labels.push_back(i % 2 ? 7 : i);
        TVDOptions o{.reduction = r, .ignore_index = 7};
        if (labeled) o.shift_labels = ConstView<std::int64_t>(labels.data(), {BT});
        const auto want = liger_tvd(p, q, BT, V, r, labels, 7);
        const auto up = rng.uniform(r == Reduction::None ? p.size() : 1, -2, 2);
        const Result d = run_all<double>(p, q, BT, V, o, up);
        EXPECT_TRUE(all_close(d.value, want, 1e-14, 1e-16));
        const Result f = run_all<float>(p, q, BT, V, o, up);
        EXPECT_TRUE(all_close(f.value, want, 1e-5, 1e-7));
        EXPECT_TRUE(all_close(f.grad_input, d.grad_input, 1e-6, 1e-7));
        EXPECT_TRUE(all_close(f.grad_target, d.grad_target, 1e-6, 1e-7));
        auto value = [&](const std::vector<double>& ps, const std::vector<double>& qs) {
          const auto v = losskit::tvd(ConstView<double>(ps.data(), {BT, V}), ConstView<double>(qs.data(), {BT, V}), o);
          double acc = 0;
          for (std::int64_t i = 0; i < v.numel(); ++i) acc += up[static_cast<std::size_t>(i)] * v[i];
          return acc;
        };
        EXPECT_TRUE(lktest::check_gradient([&](const std::vector<double>& ps) { return value(ps, q); }, p, d.grad_input, 1e-7))
            << "d/d input";
        EXPECT_TRUE(lktest::check_gradient([&](const std::vector<double>& qs) { return value(p, qs); }, q, d.grad_target, 1e-7))
            << "d/d target";
      }
}

TEST(Tvd, TiesNaNIgnoredAndEmpty) {
  // A tie has gradient 0 (Liger's kernel too); NaN gives NaN in the value and the gradients.
  const std::vector<double> p{0.25, 0.5, kNaN, 0.25}, q{0.25, 0.25, 0.25, 0.5};
  for (int dt = 0; dt < 2; ++dt) {
    const Result r = dt ? run_all<float>(p, q, 1, 4, {.reduction = Reduction::None}, {1, 1, 1, 1})
                        : run_all<double>(p, q, 1, 4, {.reduction = Reduction::None}, {1, 1, 1, 1});
    EXPECT_EQ(r.value[0], 0.0);
    EXPECT_EQ(r.value[1], 0.125);
    EXPECT_TRUE(std::isnan(r.value[2]));
    EXPECT_EQ(r.grad_input[0], 0.0);
    EXPECT_EQ(r.grad_input[1], 0.5);
    EXPECT_TRUE(std::isnan(r.grad_input[2]));
    EXPECT_EQ(r.grad_input[3], -0.5);
    EXPECT_EQ(r.grad_target[3], 0.5);
  }
  // An ignored row holding NaN is never read: 0 in every output.
  const std::vector<double> p2{kNaN, 0.5, 0.25, 0.75}, q2{0.5, 0.5, 0.5, 0.5};
  const std::vector<std::int64_t> labels{-100, 1};
  for (const Reduction red : kReductions) {
    const TVDOptions o{.reduction = red, .shift_labels = ConstView<std::int64_t>(labels.data(), {2})};
    const Result r = run_all<double>(p2, q2, 2, 2, o, std::vector<double>(red == Reduction::None ? 4 : 1, 1.0));
    const double sum = 0.125 + 0.125;
    const double want = red == Reduction::Sum ? sum : red == Reduction::Mean ? sum / 2 : sum;
    if (red == Reduction::None) {
      EXPECT_TRUE(all_close(r.value, {0, 0, 0.125, 0.125}, 0));
    } else {
      EXPECT_EQ(r.value[0], want);
    }
    EXPECT_EQ(r.grad_input[0], 0.0);
    EXPECT_EQ(r.grad_input[1], 0.0);
    EXPECT_EQ(r.grad_target[0], 0.0);
  }
  // Empty batch and all rows ignored: 0 (Liger raises ZeroDivisionError for mean / batchmean).
  const std::vector<std::int64_t> none_kept{-100, -100};
  for (const Reduction red : kReductions) {
    const Result e = run_all<double>({}, {}, 0, 3, {.reduction = red}, std::vector<double>(red == Reduction::None ? 0 : 1, 1.0));
    if (red != Reduction::None) EXPECT_EQ(e.value[0], 0.0);
    const Result a = run_all<double>(p2, q2, 2, 2, {.reduction = red, .shift_labels = ConstView<std::int64_t>(none_kept.data(), {2})},
                                     std::vector<double>(red == Reduction::None ? 4 : 1, 1.0));
    for (double v : a.value) EXPECT_EQ(v, 0.0);
    for (double g : a.grad_input) EXPECT_EQ(g, 0.0);
  }
}

TEST(Tvd, VectorKernelMatchesScalarOnEveryTarget) {
  Rng rng(402);
  const std::int64_t BT = 6, V = 67;
  auto pd = probs(rng, BT, V), qd = probs(rng, BT, V);
  for (std::int64_t j = 0; j < V; j += 7) qd[static_cast<std::size_t>(j)] = pd[static_cast<std::size_t>(j)];  // ties
  const auto p = lktest::cast<float>(pd), q = lktest::cast<float>(qd);
  std::vector<float> ps(2 * p.size()), qs(2 * q.size());
  for (std::size_t i = 0; i < p.size(); ++i) ps[2 * i] = p[i], qs[2 * i] = q[i];
  const std::vector<std::int64_t> labels{1, -100, 2, 3, 4, -100};
  const Shape s{BT, V};
  lktest::for_each_target([&] {
    for (const Reduction red : kReductions) {
      const TVDOptions o{.reduction = red, .shift_labels = ConstView<std::int64_t>(labels.data(), {BT})};
      const Shape os = red == Reduction::None ? s : Shape{};
      std::vector<float> v(static_cast<std::size_t>(os.numel())), vs(2 * v.size()), gi(p.size()), gt(p.size()),
          gis(2 * p.size()), gts(2 * p.size());
      losskit::tvd_forward_backward(ConstView<float>(p.data(), s), ConstView<float>(q.data(), s),
                                    TensorView<float>(v.data(), os), TensorView<float>(gi.data(), s),
                                    TensorView<float>(gt.data(), s), o);
      const Shape ss{2 * V, 2};
      losskit::tvd_forward_backward(ConstView<float>(ps.data(), s, ss), ConstView<float>(qs.data(), s, ss),
                                    red == Reduction::None ? TensorView<float>(vs.data(), s, ss) : TensorView<float>(vs.data(), {}),
                                    TensorView<float>(gis.data(), s, ss), TensorView<float>(gts.data(), s, ss), o);
      for (std::size_t i = 0; i < v.size(); ++i)
        EXPECT_TRUE(close(v[i], vs[red == Reduction::None ? 2 * i : i], 1e-6)) << i;
      for (std::size_t i = 0; i < gi.size(); ++i) {
        ASSERT_EQ(gi[i], gis[2 * i]) << i;
        ASSERT_EQ(gt[i], gts[2 * i]) << i;
      }
    }
  });
}

TEST(Tvd, BitwiseIdenticalAcrossThreadCounts) {
  Rng rng(403);
  const std::int64_t BT = 300, V = 1000;
  const auto p = lktest::cast<float>(probs(rng, BT, V)), q = lktest::cast<float>(probs(rng, BT, V));
  const int before = losskit::get_num_threads();
  for (const Reduction red : {Reduction::Mean, Reduction::Sum, Reduction::BatchMean}) {
    float v0 = 0;
    std::vector<float> g0;
    for (int nt : {1, 2, 3}) {
      losskit::set_num_threads(nt);
      float v = 0;
      std::vector<float> gi(p.size());
      losskit::tvd_forward_backward(ConstView<float>(p.data(), {BT, V}), ConstView<float>(q.data(), {BT, V}),
                                    TensorView<float>(&v, {}), TensorView<float>(gi.data(), {BT, V}), {.reduction = red});
      if (g0.empty()) {
        v0 = v, g0 = gi;
      } else {
        EXPECT_EQ(std::memcmp(&v, &v0, sizeof v), 0);
        EXPECT_TRUE(gi == g0);
      }
    }
  }
  losskit::set_num_threads(before);
}

TEST(Tvd, BadInputsTable) {
  using V = ConstView<double>;
  using O = TensorView<double>;
  std::vector<double> x(12, 0.25), t(12, 0.5), out(12), gi(12), gt(12), up(12, 1.0);
  const std::vector<std::int64_t> labels{1, 2, 3, 4};
  const V xin(x.data(), {3, 4}), tin(t.data(), {3, 4});
  const O o0(out.data(), {}), gi0(gi.data(), {3, 4}), gt0(gt.data(), {3, 4});
  const std::string fn = "tvd: ";
  struct Bad {
    std::string name;
    std::function<void()> call;
    ErrorKind kind;
    std::string message;
  };
  const std::vector<Bad> table{
      {"shape mismatch", [&] { losskit::tvd(xin, V(t.data(), {4, 3}), o0); }, ErrorKind::Shape,
       fn + "input and target must have the same shape (got input: [3, 4], target: [4, 3])"},
      {"1-D input", [&] { losskit::tvd(V(x.data(), {12}), V(t.data(), {12}), o0); }, ErrorKind::Shape,
       fn + "input must be 2-D (BT, V), got shape [12]"},
      {"shift_labels length",
       [&] { losskit::tvd(xin, tin, o0, {.shift_labels = ConstView<std::int64_t>(labels.data(), {4})}); },
       ErrorKind::Shape, fn + "shift_labels has shape [4], expected [3]"},
      {"out shape (none)", [&] { losskit::tvd(xin, tin, O(out.data(), {4, 3}), {.reduction = Reduction::None}); },
       ErrorKind::Shape, fn + "out has shape [4, 3], expected [3, 4]"},
      {"out shape", [&] { losskit::tvd(xin, tin, O(out.data(), {3})); }, ErrorKind::Shape, fn + "out has shape [3], expected []"},
      {"grad_output shape (none)",
       [&] { losskit::tvd_backward(V(up.data(), {}), xin, tin, gi0, gt0, {.reduction = Reduction::None}); },
       ErrorKind::Shape, fn + "grad_output has shape [], expected [3, 4]"},
      {"grad_input shape", [&] { losskit::tvd_backward(V(up.data(), {}), xin, tin, O(gi.data(), {12}), gt0); },
       ErrorKind::Shape, fn + "grad_input has shape [12], expected [3, 4]"},
      {"out overlaps input", [&] { losskit::tvd(xin, tin, O(x.data() + 3, {})); }, ErrorKind::Runtime,
       fn + "out overlaps input in memory; outputs must not alias inputs"},
      {"grad_target is target", [&] { losskit::tvd_forward_backward(xin, tin, o0, gi0, O(t.data(), {3, 4})); },
       ErrorKind::Runtime, fn + "grad_target overlaps target in memory; outputs must not alias inputs"},
  };
  for (const Bad& b : table) {
    EXPECT_TRUE(lktest::expect_error_untouched<double>(b.call, b.kind, b.message, {&out, &gi, &gt}, -3.5)) << b.name;
    EXPECT_EQ(message_of(b.call).substr(0, b.message.size()), b.message) << b.name;
  }
}
