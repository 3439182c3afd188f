// Threading shared by every loss: a parallel loop and a deterministic parallel sum.
//
// Determinism: work is cut into blocks whose size depends only on the problem size, never on the
// thread count. Each block's partial sum is computed by one thread in a fixed order, and the
// partials are then added in block order by one thread. The result is therefore bitwise
// identical for any number of threads.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace losskit::detail {

/// Threads the next parallel region may use (losskit::get_num_threads()).
int num_threads();

/// The largest number of blocks a parallel_sum splits into (partials live on the stack).
inline constexpr std::int64_t kMaxBlocks = 1024;

/// Block size for n items when each block should hold at least `grain` items: depends only on
/// n and grain, so the partition is the same whatever the thread count.
inline std::int64_t block_size(std::int64_t n, std::int64_t grain) {
  grain = std::max<std::int64_t>(grain, 1);
  return std::max(grain, (n + kMaxBlocks - 1) / kMaxBlocks);
}

/// Calls f(begin, end) on consecutive blocks covering [0, n), in parallel when worthwhile.
template <class F>
void parallel_for(std::int64_t n, std::int64_t grain, F&& f) {
  if (n <= 0) return;
  const std::int64_t bs = block_size(n, grain);
  const std::int64_t nb = (n + bs - 1) / bs;
  const int nt = static_cast<int>(std::min<std::int64_t>(num_threads(), nb));
  if (nt <= 1) {
    for (std::int64_t b = 0; b < nb; ++b) f(b * bs, std::min(n, (b + 1) * bs));
    return;
  }
#pragma omp parallel for num_threads(nt) schedule(static)
  for (std::int64_t b = 0; b < nb; ++b) f(b * bs, std::min(n, (b + 1) * bs));
}

/// K running sums, e.g. {sum of losses, sum of weights}.
template <int K>
using Sums = std::array<double, K>;

/// Deterministic parallel sum: f(begin, end) returns the K partial sums of a block of [0, n).
/// Partials are combined in block order, so the result does not depend on the thread count.
template <int K, class F>
Sums<K> parallel_sum(std::int64_t n, std::int64_t grain, F&& f) {
  Sums<K> total{};
  if (n <= 0) return total;
  const std::int64_t bs = block_size(n, grain);
  const std::int64_t nb = (n + bs - 1) / bs;
  std::array<Sums<K>, kMaxBlocks> partial;
  const int nt = static_cast<int>(std::min<std::int64_t>(num_threads(), nb));
  if (nt <= 1) {
    for (std::int64_t b = 0; b < nb; ++b) partial[static_cast<std::size_t>(b)] = f(b * bs, std::min(n, (b + 1) * bs));
  } else {
#pragma omp parallel for num_threads(nt) schedule(static)
    for (std::int64_t b = 0; b < nb; ++b) partial[static_cast<std::size_t>(b)] = f(b * bs, std::min(n, (b + 1) * bs));
  }
  for (std::int64_t b = 0; b < nb; ++b)
    for (int k = 0; k < K; ++k) total[static_cast<std::size_t>(k)] += partial[static_cast<std::size_t>(b)][static_cast<std::size_t>(k)];
  return total;
}

/// Like parallel_sum, but each thread gets one contiguous span of whole blocks at once:
/// f(begin, end, bs, partials) covers rows [begin, end) (begin a multiple of bs) and writes the
/// partial sums of each of its blocks of bs rows to partials[0], partials[1], ... (each summed
/// in row order, exactly as parallel_sum's f would). For kernels that pipeline work across
/// rows; the blocks, their partials and the final sum are the same as parallel_sum's, so the
/// result is bitwise identical for any thread count.
template <int K, class F>
Sums<K> parallel_sum_spans(std::int64_t n, std::int64_t grain, F&& f) {
  Sums<K> total{};
  if (n <= 0) return total;
  const std::int64_t bs = block_size(n, grain);
  const std::int64_t nb = (n + bs - 1) / bs;
  std::array<Sums<K>, kMaxBlocks> partial{};
  const int nt = static_cast<int>(std::min<std::int64_t>(num_threads(), nb));
  auto span = [&](int t) {
    const std::int64_t kb = nb * t / nt, ke = nb * (t + 1) / nt;
    if (kb < ke) f(kb * bs, std::min(n, ke * bs), bs, partial.data() + kb);
  };
  if (nt <= 1) {
    span(0);
  } else {
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int t = 0; t < nt; ++t) span(t);
  }
  for (std::int64_t b = 0; b < nb; ++b)
    for (int k = 0; k < K; ++k) total[static_cast<std::size_t>(k)] += partial[static_cast<std::size_t>(b)][static_cast<std::size_t>(k)];
  return total;
}

}  // namespace losskit::detail
