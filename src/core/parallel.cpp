#include "core/parallel.hpp"

#include <atomic>
#include <cstdlib>

#include "core/check.hpp"
#include "losskit/threading.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace losskit {
namespace {

int default_threads() {
  if (const char* env = std::getenv("LOSSKIT_NUM_THREADS")) {
    char* end = nullptr;
    const long v = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && v >= 1 && v <= 4096) return static_cast<int>(v);
  }
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

std::atomic<int>& thread_setting() {
  static std::atomic<int> n{default_threads()};
  return n;
}

}  // namespace

void set_num_threads(int n) {
  if (n < 1) detail::fail(ErrorKind::Value, "set_num_threads", "n = ", n, " must be >= 1");
  thread_setting().store(n);
}

int get_num_threads() { return thread_setting().load(); }

namespace detail {
int num_threads() { return get_num_threads(); }
}  // namespace detail

}  // namespace losskit
