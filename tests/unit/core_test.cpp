// Core types and shared machinery: Shape, TensorView (strides, contiguity), the canonical-layout
// collapse, Tensor, reductions by name, the thread setting and the deterministic parallel sum.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include <losskit/losskit.hpp>

#include "core/check.hpp"
#include "core/layout.hpp"
#include "core/parallel.hpp"

using losskit::ConstView;
using losskit::Error;
using losskit::ErrorKind;
using losskit::Reduction;
using losskit::Shape;
using losskit::TensorView;

namespace {

/// The message of the losskit::Error `f` throws (fails the test when it throws nothing).
template <class F>
std::string error_of(F&& f, ErrorKind kind) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(static_cast<int>(e.kind()), static_cast<int>(kind)) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no losskit::Error thrown";
  return {};
}

}  // namespace

TEST(Shape, BasicsAndString) {
  const Shape s{2, 3, 4};
  EXPECT_EQ(s.ndim(), 3);
  EXPECT_EQ(s[0], 2);
  EXPECT_EQ(s[2], 4);
  EXPECT_EQ(s.numel(), 24);
  EXPECT_EQ(s.str(), "[2, 3, 4]");
  const Shape scalar;
  EXPECT_EQ(scalar.ndim(), 0);
  EXPECT_EQ(scalar.numel(), 1);
  EXPECT_EQ(scalar.str(), "[]");
  EXPECT_EQ((Shape{5, 0, 2}).numel(), 0);
  Shape p;
  p.push_back(7);
  p.push_back(1);
  EXPECT_EQ(p, (Shape{7, 1}));
  EXPECT_FALSE(p == (Shape{7}));
  EXPECT_FALSE(p == (Shape{7, 2}));
  const std::vector<std::int64_t> dims{4, 5};
  EXPECT_EQ(Shape(std::span<const std::int64_t>(dims)), (Shape{4, 5}));
}

TEST(Shape, TooManyDims) {
  EXPECT_EQ(error_of([] { Shape s{1, 2, 3, 4, 5, 6, 7, 8, 9}; }, ErrorKind::Shape),
            "Shape: a tensor may have at most 8 dims, got 9");
  Shape s{1, 1, 1, 1, 1, 1, 1, 1};
  EXPECT_EQ(error_of([&] { s.push_back(1); }, ErrorKind::Shape), "Shape: a tensor may have at most 8 dims");
  EXPECT_EQ(s.ndim(), 8);
}

TEST(Shape, ContiguousStrides) {
  EXPECT_EQ(losskit::contiguous_strides(Shape{2, 3, 4}), (Shape{12, 4, 1}));
  EXPECT_EQ(losskit::contiguous_strides(Shape{5}), (Shape{1}));
  EXPECT_EQ(losskit::contiguous_strides(Shape{}), (Shape{}));
  // A zero extent does not zero the outer strides.
  EXPECT_EQ(losskit::contiguous_strides(Shape{2, 0, 3}), (Shape{3, 3, 1}));
}

TEST(TensorView, ContiguousAccess) {
  std::vector<double> v(24);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i);
  TensorView<double> t(v.data(), Shape{2, 3, 4});
  EXPECT_EQ(t.ndim(), 3);
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.strides(), (Shape{12, 4, 1}));
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_FALSE(t.is_null());
  EXPECT_FALSE(t.empty());
  EXPECT_EQ(t.at({1, 2, 3}), 23.0);
  EXPECT_EQ(t.flat(13), 13.0);
  t.at({0, 1, 0}) = -1;
  EXPECT_EQ(v[4], -1.0);
  // Const conversion keeps data, shape and strides.
  ConstView<double> c = t;
  EXPECT_EQ(c.data(), v.data());
  EXPECT_EQ(c.shape(), t.shape());
  EXPECT_EQ(c.strides(), t.strides());
  // Span constructor: contiguous 1-D.
  TensorView<double> s(std::span<double>(v.data(), 5));
  EXPECT_EQ(s.shape(), (Shape{5}));
  EXPECT_TRUE(s.is_contiguous());
  // A default view is null; an empty one is empty.
  EXPECT_TRUE(TensorView<double>{}.is_null());
  EXPECT_TRUE(TensorView<double>(v.data(), Shape{0, 3}).empty());
}

TEST(TensorView, StridedAccessAndContiguity) {
  std::vector<double> v(12);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i);
  // The transpose of a (3, 4) matrix: shape (4, 3), strides (1, 4).
  TensorView<double> tr(v.data(), Shape{4, 3}, Shape{1, 4});
  EXPECT_FALSE(tr.is_contiguous());
  EXPECT_EQ(tr.at({1, 2}), 9.0);
  EXPECT_EQ(tr.flat(5), 9.0);  // row-major position (1, 2)
  // Every other element: shape (6), stride 2.
  TensorView<double> step(v.data(), Shape{6}, Shape{2});
  EXPECT_FALSE(step.is_contiguous());
  EXPECT_EQ(step.flat(4), 8.0);
  // Extent-1 dims do not break contiguity, whatever their stride.
  EXPECT_TRUE(TensorView<double>(v.data(), Shape{1, 12}, Shape{99, 1}).is_contiguous());
  EXPECT_TRUE(TensorView<double>(v.data(), Shape{3, 1, 4}, Shape{4, 7, 1}).is_contiguous());
  // Channels-last (N, C, H, W) = (1, 2, 2, 3): strides (12, 1, 6, 2).
  TensorView<double> cl(v.data(), Shape{1, 2, 2, 3}, Shape{12, 1, 6, 2});
  EXPECT_FALSE(cl.is_contiguous());
  EXPECT_EQ(cl.at({0, 1, 1, 2}), 11.0);
}

TEST(Layout, Collapse) {
  using losskit::detail::collapse;
  // Contiguous (2, 3, 4): everything collapses.
  auto all = collapse(Shape{2, 3, 4}, Shape{12, 4, 1}, 0, 3);
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(all->extent, 24);
  EXPECT_EQ(all->stride, 1);
  // Channels-last NCHW (2, 3, 4, 5) strides (60, 1, 15, 3): H, W collapse to (20, 3).
  auto hw = collapse(Shape{2, 3, 4, 5}, Shape{60, 1, 15, 3}, 2, 4);
  ASSERT_TRUE(hw.has_value());
  EXPECT_EQ(hw->extent, 20);
  EXPECT_EQ(hw->stride, 3);
  // ...but N, C, H, W together do not.
  EXPECT_FALSE(collapse(Shape{2, 3, 4, 5}, Shape{60, 1, 15, 3}, 0, 4).has_value());
  // A transposed matrix does not collapse.
  EXPECT_FALSE(collapse(Shape{4, 3}, Shape{1, 4}, 0, 2).has_value());
  // A step-2 slice collapses to stride 2.
  auto st = collapse(Shape{6}, Shape{2}, 0, 1);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->extent, 6);
  EXPECT_EQ(st->stride, 2);
  // An empty range is (1, 0); a zero extent collapses to (0, 0).
  auto none = collapse(Shape{2, 3}, Shape{3, 1}, 1, 1);
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(none->extent, 1);
  auto zero = collapse(Shape{2, 0, 3}, Shape{0, 7, 1}, 0, 3);
  ASSERT_TRUE(zero.has_value());
  EXPECT_EQ(zero->extent, 0);
  // Extent-1 dims are skipped whatever their stride.
  auto ones = collapse(Shape{3, 1, 4}, Shape{4, 100, 1}, 0, 3);
  ASSERT_TRUE(ones.has_value());
  EXPECT_EQ(ones->extent, 12);
}

TEST(Layout, TrailingPeriod) {
  using losskit::detail::trailing_period;
  std::vector<float> v(24);
  // Contiguous: the whole array.
  EXPECT_EQ(trailing_period(TensorView<float>(v.data(), Shape{2, 3, 4}, Shape{12, 4, 1})), 24);
  // pos_weight [C] broadcast to [N, C]: C.
  EXPECT_EQ(trailing_period(TensorView<float>(v.data(), Shape{5, 7}, Shape{0, 1})), 7);
  // [C, D] broadcast over N (and an extent-1 dim with any stride): C * D.
  EXPECT_EQ(trailing_period(TensorView<float>(v.data(), Shape{5, 1, 3, 4}, Shape{0, 99, 4, 1})), 12);
  // A scalar broadcast: 1.
  EXPECT_EQ(trailing_period(TensorView<float>(v.data(), Shape{5, 7}, Shape{0, 0})), 1);
  // Per-channel [C, 1, 1] against [N, C, H, W]: not one contiguous repeat.
  EXPECT_EQ(trailing_period(TensorView<float>(v.data(), Shape{2, 3, 4, 5}, Shape{0, 1, 0, 0})), 0);
  // A non-broadcast leading dim before a broadcast one, and a strided repeat: 0.
  EXPECT_EQ(trailing_period(TensorView<float>(v.data(), Shape{4, 6}, Shape{1, 0})), 0);
  EXPECT_EQ(trailing_period(TensorView<float>(v.data(), Shape{5, 6}, Shape{0, 2})), 0);
}

TEST(Layout, NcdOfChannelsLast) {
  std::vector<float> v(2 * 3 * 4);
  losskit::TensorView<const float> cl(v.data(), Shape{2, 3, 2, 2}, Shape{12, 1, 6, 3});
  ASSERT_TRUE(losskit::detail::ncd_ok(cl, 1));
  const auto ncd = losskit::detail::ncd_of(cl, 1);
  EXPECT_EQ(ncd.N, 2);
  EXPECT_EQ(ncd.C, 3);
  EXPECT_EQ(ncd.D, 4);
  EXPECT_EQ(ncd.sN, 12);
  EXPECT_EQ(ncd.sC, 1);
  EXPECT_EQ(ncd.sD, 3);
  // Spatial strides that do not collapse need staging.
  losskit::TensorView<const float> odd(v.data(), Shape{1, 2, 3, 4}, Shape{24, 12, 1, 3});
  EXPECT_FALSE(losskit::detail::ncd_ok(odd, 1));
}

TEST(Layout, StagedRoundTrip) {
  std::vector<double> v{0, 1, 2, 3, 4, 5};
  TensorView<double> tr(v.data(), Shape{3, 2}, Shape{1, 3});  // transpose of (2, 3)
  losskit::detail::Staged<double> st(tr, true, true);
  ASSERT_TRUE(st.staged());
  auto sv = st.view();
  EXPECT_TRUE(sv.is_contiguous());
  for (std::int64_t i = 0; i < 6; ++i) sv.flat(i) = static_cast<double>(10 + i);
  EXPECT_EQ(v[0], 0.0);  // nothing written before flush
  st.flush();
  // (r, c) of the transposed view lives at r + 3c.
  EXPECT_EQ(v[0], 10.0);
  EXPECT_EQ(v[3], 11.0);
  EXPECT_EQ(v[1], 12.0);
  EXPECT_EQ(v[5], 15.0);
  // An input stage copies the values.
  losskit::detail::Staged<const double> in(ConstView<double>(tr), true, false);
  EXPECT_EQ(in.view().flat(1), v[3]);
}

TEST(Tensor, OwningTensor) {
  losskit::Tensor<float> t(Shape{2, 3}, 1.5f);
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t[5], 1.5f);
  EXPECT_EQ(t.item(), 1.5f);
  TensorView<float> v = t;
  v.at({1, 2}) = 4;
  EXPECT_EQ(t[5], 4.0f);
  losskit::Tensor<double> z(Shape{}, std::vector<double>{3.25});
  EXPECT_EQ(z.item(), 3.25);
  EXPECT_EQ(z.view().ndim(), 0);
}

TEST(Reduction, FromAndToString) {
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum, Reduction::BatchMean})
    EXPECT_EQ(losskit::reduction_from_string(losskit::to_string(r)), r);
  EXPECT_EQ(losskit::to_string(Reduction::BatchMean), "batchmean");
  EXPECT_EQ(losskit::reduction_from_string("none"), Reduction::None);
  EXPECT_EQ(losskit::reduction_from_string("sum"), Reduction::Sum);
}

TEST(Reduction, FromStringError) {
  EXPECT_EQ(error_of([] { (void)losskit::reduction_from_string("avg", "kl_div"); }, ErrorKind::Value),
            "kl_div: reduction = 'avg' is not one of 'none', 'mean', 'sum', 'batchmean'");
  EXPECT_EQ(error_of([] { (void)losskit::reduction_from_string("Mean"); }, ErrorKind::Value),
            "reduction: reduction = 'Mean' is not one of 'none', 'mean', 'sum', 'batchmean'");
  EXPECT_EQ(error_of([] { (void)losskit::reduction_from_string(""); }, ErrorKind::Value),
            "reduction: reduction = '' is not one of 'none', 'mean', 'sum', 'batchmean'");
}

TEST(Threading, SetAndGet) {
  const int before = losskit::get_num_threads();
  EXPECT_GE(before, 1);
  losskit::set_num_threads(3);
  EXPECT_EQ(losskit::get_num_threads(), 3);
  EXPECT_EQ(error_of([] { losskit::set_num_threads(0); }, ErrorKind::Value), "set_num_threads: n = 0 must be >= 1");
  EXPECT_EQ(error_of([] { losskit::set_num_threads(-2); }, ErrorKind::Value), "set_num_threads: n = -2 must be >= 1");
  EXPECT_EQ(losskit::get_num_threads(), 3);  // a rejected value changes nothing
  losskit::set_num_threads(before);
  EXPECT_EQ(losskit::get_num_threads(), before);
}

TEST(Threading, BlockSizeIndependentOfThreads) {
  using losskit::detail::block_size;
  EXPECT_EQ(block_size(100, 16), 16);
  EXPECT_EQ(block_size(10'000'000, 16), (10'000'000 + 1023) / 1024);
  EXPECT_EQ(block_size(5, 0), 1);
}

TEST(Threading, ParallelSumDeterministic) {
  // Values of wildly different magnitudes: any change of summation order changes the bits.
  const std::int64_t n = 200'000;
  std::vector<double> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = std::ldexp(1.0 + (i % 7) * 0.1, static_cast<int>(i % 60) - 30);
  const int before = losskit::get_num_threads();
  std::vector<double> results;
  for (int t : {1, 2, 3}) {
    losskit::set_num_threads(t);
    results.push_back(losskit::detail::parallel_sum<1>(n, 64, [&](std::int64_t b, std::int64_t e) {
      double s = 0;
      for (std::int64_t i = b; i < e; ++i) s += v[static_cast<std::size_t>(i)];
      return losskit::detail::Sums<1>{s};
    })[0]);
  }
  losskit::set_num_threads(before);
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0], results[2]);
  EXPECT_NEAR(results[0], std::accumulate(v.begin(), v.end(), 0.0), 1e-9 * std::fabs(results[0]));
}

TEST(Check, OverlapAndData) {
  using namespace losskit::detail;
  std::vector<double> buf(10);
  TensorView<double> a(buf.data(), Shape{5});
  TensorView<double> b(buf.data() + 5, Shape{5});
  TensorView<double> c(buf.data() + 4, Shape{3});
  EXPECT_FALSE(overlaps(extent_of(a), extent_of(b)));
  EXPECT_TRUE(overlaps(extent_of(a), extent_of(c)));
  EXPECT_TRUE(overlaps(extent_of(b), extent_of(c)));
  // Empty views overlap nothing.
  EXPECT_FALSE(overlaps(extent_of(TensorView<double>(buf.data(), Shape{0})), extent_of(a)));
  EXPECT_EQ(error_of([&] { check_no_overlap("f", "out", c, named("input", a)); }, ErrorKind::Runtime),
            "f: out overlaps input in memory; outputs must not alias inputs");
  EXPECT_EQ(error_of([] { check_data("f", "x", TensorView<const double>(nullptr, Shape{2})); }, ErrorKind::Value),
            "f: x has shape [2] but a null data pointer");
  EXPECT_EQ(error_of([&] { check_data("f", "x", TensorView<double>(buf.data(), Shape{2}, Shape{-1})); },
                     ErrorKind::Runtime),
            "f: x has a negative stride in [-1]");
  EXPECT_EQ(error_of([] { check_range("f", "eps", -0.5, 0.0, 1.0); }, ErrorKind::Value),
            "f: eps = -0.5 is outside [0, 1]");
}

TEST(Version, HeaderStringMatchesTheNumbers) {
  const std::string v = std::to_string(LOSSKIT_VERSION_MAJOR) + "." + std::to_string(LOSSKIT_VERSION_MINOR) + "." +
                        std::to_string(LOSSKIT_VERSION_PATCH);
  EXPECT_EQ(v, losskit::kVersion);
}
