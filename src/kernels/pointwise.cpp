// The shared pieces of the vector pointwise kernels (interface: kernels/pointwise.hpp): the
// registry of the losses' kernels, zeroing of large buffers, and log1p_unit for tests. The
// kernels themselves live in the losses' files, each compiled per SIMD target and running
// kernels/pointwise-inl.h's block with its own vector Op.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/pointwise.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "kernels/pointwise.hpp"
#include "kernels/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace losskit::kernels {
namespace HWY_NAMESPACE {

void Log1pUnitN(const float* x, float* y, std::size_t n) {
  const DF d;
  const std::size_t N = hn::Lanes(d);
  std::size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(Log1pUnit(d, hn::LoadU(d, x + i)), d, y + i);
  if (i < n) StoreTailF(d, Log1pUnit(d, LoadTailF(d, x + i, n - i, 0.0f)), y + i, n - i);
}

void ZeroBytes(void* p, std::int64_t bytes, bool stream) {
  auto* b = static_cast<unsigned char*>(p);
  std::size_t n = static_cast<std::size_t>(bytes);
  const DF d;
  const std::size_t vb = hn::Lanes(d) * sizeof(float);
  if (!stream || n < 4 * vb) {
    std::memset(b, 0, n);
    return;
  }
  const std::size_t head = (vb - reinterpret_cast<std::uintptr_t>(b) % vb) % vb;
  std::memset(b, 0, head);
  b += head;
  n -= head;
  const VF z = hn::Zero(d);
  std::size_t i = 0;
  for (; i + vb <= n; i += vb) hn::Stream(z, d, reinterpret_cast<float*>(b + i));
  std::memset(b + i, 0, n - i);
  hwy::FlushStream();
}

const char* PointwiseTargetName() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace losskit::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace losskit::kernels {
HWY_EXPORT(ZeroBytes);
HWY_EXPORT(Log1pUnitN);
HWY_EXPORT(PointwiseTargetName);
const char* pointwise_target_name() { return HWY_DYNAMIC_DISPATCH(PointwiseTargetName)(); }
void log1p_unit(const float* x, float* y, std::size_t n) { HWY_DYNAMIC_DISPATCH(Log1pUnitN)(x, y, n); }
void zero_bytes(void* p, std::int64_t bytes, bool stream) { HWY_DYNAMIC_DISPATCH(ZeroBytes)(p, bytes, stream); }

namespace {
// Filled at static initialization (one entry per loss file), read afterwards.
std::map<std::string, PwBlockFn, std::less<>>& registry() {
  static std::map<std::string, PwBlockFn, std::less<>> r;
  return r;
}
std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
}  // namespace

bool register_pointwise_kernel(std::string_view name, PwBlockFn fn) {
  const std::lock_guard<std::mutex> lock(registry_mutex());
  registry().emplace(std::string(name), fn);
  return true;
}

PwBlockFn pointwise_kernel(std::string_view name) {
  const std::lock_guard<std::mutex> lock(registry_mutex());
  const auto it = registry().find(name);
  return it == registry().end() ? nullptr : it->second;
}
}  // namespace losskit::kernels
#endif  // HWY_ONCE
