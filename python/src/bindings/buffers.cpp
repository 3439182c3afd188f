// buffers.cpp: the memory of the large outputs losskit.torch and losskit.numpy allocate (loss
// vectors of reduction='none', gradients), handed to Python as DLPack capsules (no copy).
//
// A fresh buffer from malloc is fresh memory from the OS: the first write to each 4 KiB page
// faults, and on virtual machines that costs microseconds per page: far more than the loss
// kernel itself (a 64 MB gradient: 16,384 faults). Here large buffers are
//   - mapped in 2 MiB-aligned regions with madvise(MADV_HUGEPAGE), so the OS can back them with
//     2 MiB pages (512 times fewer faults) where transparent huge pages are enabled, and
//   - kept, when freed, in a small cache (by exact size, up to a byte limit) and handed out
//     again: a training loop that asks for the same gradient shapes every step reuses memory
//     that is already mapped, and pays no faults at all.
// Small buffers stay with torch's and NumPy's allocators (this path costs a few microseconds).
#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <vector>

#include <dlpack/dlpack.h>

#include <pybind11/stl.h>

#include "array.hpp"

namespace losskit::python {
namespace {

constexpr std::size_t kHuge = std::size_t{2} << 20;  // 2 MiB: the x86-64 and arm64 huge page

struct Block {
  void* p;
  std::size_t bytes;  // mapped length, a multiple of kHuge
};

class Pool {
 public:
  void* acquire(std::size_t bytes) {
    const std::size_t len = (bytes + kHuge - 1) / kHuge * kHuge;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (std::size_t i = cached_.size(); i-- > 0;) {  // newest first: the likeliest to be warm
        if (cached_[i].bytes == len) {
          void* p = cached_[i].p;
          cached_bytes_ -= len;
          cached_.erase(cached_.begin() + static_cast<std::ptrdiff_t>(i));
          ++hits_;
          return p;
        }
      }
      ++misses_;
    }
    return map(len);
  }

  void release(void* p, std::size_t bytes) {
    const std::size_t len = (bytes + kHuge - 1) / kHuge * kHuge;
    std::vector<Block> evicted;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (len <= limit_) {
        cached_.push_back({p, len});
        cached_bytes_ += len;
        p = nullptr;
        evict_over_limit(evicted);
      }
    }
    if (p != nullptr) ::munmap(p, len);
    for (const Block& b : evicted) ::munmap(b.p, b.bytes);
  }

  void set_limit(std::size_t limit) {
    std::vector<Block> evicted;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      limit_ = limit;
      evict_over_limit(evicted);
    }
    for (const Block& b : evicted) ::munmap(b.p, b.bytes);
  }

  py::dict stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    py::dict d;
    d["limit_bytes"] = limit_;
    d["cached_bytes"] = cached_bytes_;
    d["cached_buffers"] = cached_.size();
    d["hits"] = hits_;
    d["misses"] = misses_;
    return d;
  }

 private:
  /// With mutex_ held: moves the oldest cached blocks to `evicted` until the cache fits the limit
  /// (the caller unmaps them after unlocking).
  void evict_over_limit(std::vector<Block>& evicted) {
    while (cached_bytes_ > limit_) {
      evicted.push_back(cached_.front());
      cached_bytes_ -= cached_.front().bytes;
      cached_.erase(cached_.begin());
    }
  }

  static void* map(std::size_t len) {
    // Map one huge page more, then trim to a 2 MiB-aligned region of `len` bytes.
    void* raw = ::mmap(nullptr, len + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    const auto base = reinterpret_cast<std::uintptr_t>(raw);
    const std::uintptr_t aligned = (base + kHuge - 1) / kHuge * kHuge;
    if (aligned > base) ::munmap(raw, aligned - base);
    const std::uintptr_t end = base + len + kHuge;
    if (end > aligned + len) ::munmap(reinterpret_cast<void*>(aligned + len), end - (aligned + len));
    void* p = reinterpret_cast<void*>(aligned);
#ifdef MADV_HUGEPAGE
    ::madvise(p, len, MADV_HUGEPAGE);  // advice only: without transparent huge pages, 4 KiB pages
#endif
    return p;
  }

  std::mutex mutex_;
  std::vector<Block> cached_;
  std::size_t cached_bytes_ = 0;
  std::size_t limit_ = std::size_t{1} << 30;  // 1 GiB by default
  std::size_t hits_ = 0, misses_ = 0;
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: tensors may outlive the module's teardown
  return *p;
}

struct Owned {
  DLManagedTensor managed;
  std::vector<std::int64_t> shape;
  std::size_t bytes;
};

void delete_owned(DLManagedTensor* m) {
  auto* o = static_cast<Owned*>(m->manager_ctx);
  pool().release(m->dl_tensor.data, o->bytes);
  delete o;
}

DLDataType dl_dtype(std::string_view name) {
  if (name == "float32") return {kDLFloat, 32, 1};
  if (name == "float64") return {kDLFloat, 64, 1};
  if (name == "float16") return {kDLFloat, 16, 1};
  if (name == "bfloat16") return {kDLBfloat, 16, 1};
  throw py::value_error("losskit: empty() takes float32, float64, float16 or bfloat16, got " + std::string(name));
}

/// A contiguous buffer of `shape` and `dtype` from the pool, as a DLPack capsule ("dltensor").
py::capsule empty(const std::vector<std::int64_t>& shape, std::string_view dtype) {
  const DLDataType t = dl_dtype(dtype);
  std::size_t n = 1;
  for (const std::int64_t s : shape) {
    if (s < 0) throw py::value_error("losskit: empty() got a negative extent");
    n *= static_cast<std::size_t>(s);
  }
  auto* o = new Owned{};
  o->shape = shape;
  o->bytes = n * (t.bits / 8);
  void* p = nullptr;
  try {
    p = pool().acquire(o->bytes == 0 ? 1 : o->bytes);
  } catch (...) {
    delete o;
    throw;
  }
  if (o->bytes == 0) o->bytes = 1;
  DLTensor& d = o->managed.dl_tensor;
  d.data = p;
  d.device = {kDLCPU, 0};
  d.ndim = static_cast<std::int32_t>(o->shape.size());
  d.dtype = t;
  d.shape = o->shape.data();
  d.strides = nullptr;  // compact row-major
  d.byte_offset = 0;
  o->managed.manager_ctx = o;
  o->managed.deleter = &delete_owned;
  // The capsule's destructor frees the tensor only if no consumer took it (a consumer renames
  // the capsule "used_dltensor" and calls the deleter itself).
  PyObject* cap = PyCapsule_New(&o->managed, "dltensor", [](PyObject* c) {
    if (PyCapsule_IsValid(c, "dltensor")) {
      auto* mt = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(c, "dltensor"));
      if (mt != nullptr && mt->deleter != nullptr) mt->deleter(mt);
    }
  });
  if (cap == nullptr) {
    delete_owned(&o->managed);
    throw py::error_already_set();
  }
  return py::reinterpret_steal<py::capsule>(cap);
}

/// A pool buffer behind the buffer protocol (writable bytes), for numpy.frombuffer: NumPy marks
/// arrays from a DLPack 0.x capsule read-only.
class Bytes {
 public:
  explicit Bytes(std::size_t n) : n_(n), p_(pool().acquire(n == 0 ? 1 : n)) {}
  Bytes(const Bytes&) = delete;
  Bytes& operator=(const Bytes&) = delete;
  ~Bytes() { pool().release(p_, n_ == 0 ? 1 : n_); }
  py::buffer_info info() {
    return py::buffer_info(p_, 1, py::format_descriptor<std::uint8_t>::format(), 1,
                           {static_cast<py::ssize_t>(n_)}, {py::ssize_t{1}}, /*readonly=*/false);
  }

 private:
  std::size_t n_;
  void* p_;
};

}  // namespace

void bind_buffers(py::module_& m) {
  py::class_<Bytes>(m, "PoolBytes", py::buffer_protocol(),
                    "Writable bytes from losskit's pool of large buffers (returned to it when freed).")
      .def(py::init<std::size_t>(), py::arg("nbytes"))
      .def_buffer(&Bytes::info);
  m.def("empty", &empty, py::arg("shape"), py::arg("dtype"),
        "A contiguous buffer from losskit's pool of large buffers (2 MiB-aligned, huge-page "
        "advised, reused after free) as a DLPack capsule.");
  m.def("set_buffer_cache_limit", [](std::size_t bytes) { pool().set_limit(bytes); }, py::arg("bytes"),
        "Bytes of freed large buffers kept for reuse (default 1 GiB; 0 returns them to the OS at once).");
  m.def("buffer_cache_stats", [] { return pool().stats(); },
        "The pool's limit, cached bytes and buffers, hits and misses.");
}

}  // namespace losskit::python
