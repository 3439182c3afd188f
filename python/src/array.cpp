// array.cpp: Python arrays and tensors as losskit views, and error translation.
#include "array.hpp"

#include <dlpack/dlpack.h>

#include <sstream>

namespace losskit::python {
namespace {

template <class... A>
[[noreturn]] void fail(ErrorKind kind, std::string_view fn, const A&... parts) {
  std::ostringstream os;
  os << fn << ": ";
  (os << ... << parts);
  throw Error(kind, os.str());
}

DType dtype_of_buffer(const py::buffer_info& b) {
  if (b.format.empty()) return DType::Other;
  // The format may carry a byte-order or alignment prefix ('<', '=', '@').
  const char c = b.format.back();
  const auto n = b.itemsize;
  switch (c) {
    case 'e': return n == 2 ? DType::Float16 : DType::Other;
    case 'f': return n == 4 ? DType::Float32 : DType::Other;
    case 'd': return n == 8 ? DType::Float64 : DType::Other;
    case 'i': case 'l': case 'q':
      return n == 8 ? DType::Int64 : n == 4 ? DType::Int32 : DType::Other;
    default: return DType::Other;
  }
}

DType dtype_of_dlpack(const DLDataType& t) {
  if (t.lanes != 1) return DType::Other;
  if (t.code == kDLFloat) return t.bits == 16 ? DType::Float16 : t.bits == 32 ? DType::Float32
                                 : t.bits == 64 ? DType::Float64 : DType::Other;
  if (t.code == kDLBfloat && t.bits == 16) return DType::BFloat16;
  if (t.code == kDLInt) return t.bits == 32 ? DType::Int32 : t.bits == 64 ? DType::Int64 : DType::Other;
  return DType::Other;
}

void check_ndim(std::string_view fn, std::string_view name, std::int64_t ndim) {
  if (ndim > kMaxDims) fail(ErrorKind::Shape, fn, name, " has ", ndim, " dims; losskit takes at most ", kMaxDims);
}

/// Extents of 0 or 1 make the stride meaningless; keep it 0 so that it can never be negative.
void normalize_strides(Shape& shape, Shape& strides) {
  for (int k = 0; k < shape.ndim(); ++k)
    if (shape[k] <= 1) strides[k] = 0;
}

}  // namespace

std::string_view dtype_name(DType d) {
  switch (d) {
    case DType::None: return "None";
    case DType::Float16: return "float16";
    case DType::BFloat16: return "bfloat16";
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::Other: return "an unsupported dtype";
  }
  return "?";
}

std::string Array::dtype_str() const {
  if (dtype_ == DType::Other && !other_dtype_.empty()) return other_dtype_;
  return std::string(dtype_name(dtype_));
}

void Array::check_dtype(std::string_view fn, DType expected) const {
  if (dtype_ != expected)
    fail(ErrorKind::Runtime, fn, name_, " has dtype ", dtype_str(), ", expected ", dtype_name(expected));
}

void Array::check_writable(std::string_view fn) const {
  if (!writable_) fail(ErrorKind::Runtime, fn, name_, " is read-only");
}

Array to_array(py::handle obj, std::string_view fn, std::string_view name, bool writable) {
  Array a;
  a.name_ = std::string(name);
  if (obj.is_none()) return a;

  py::object capsule;
  if (PyCapsule_CheckExact(obj.ptr())) {
    capsule = py::reinterpret_borrow<py::object>(obj);
  } else if (!PyObject_CheckBuffer(obj.ptr()) && py::hasattr(obj, "__dlpack__")) {
    capsule = obj.attr("__dlpack__")();
  }

  if (capsule) {
    if (!PyCapsule_IsValid(capsule.ptr(), "dltensor"))
      fail(ErrorKind::Runtime, fn, name, " is a DLPack capsule that was already consumed");
    auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), "dltensor"));
    // Consume the capsule: from now on its memory is ours to release (by the deleter).
    PyCapsule_SetName(capsule.ptr(), "used_dltensor");
    std::shared_ptr<DLManagedTensor> keep(m, [](DLManagedTensor* p) {
      if (p->deleter) p->deleter(p);
    });
    const DLTensor& t = m->dl_tensor;
    if (t.device.device_type != kDLCPU && t.device.device_type != kDLCUDAHost)
      fail(ErrorKind::Runtime, fn, name, " is on a device that is not the CPU (DLPack device type ",
           static_cast<int>(t.device.device_type), "); losskit computes on the CPU");
    check_ndim(fn, name, t.ndim);
    a.dtype_ = dtype_of_dlpack(t.dtype);
    if (a.dtype_ == DType::Other) {
      const int code = t.dtype.code, bits = t.dtype.bits;
      const char* kind = code == kDLInt ? "int" : code == kDLUInt ? "uint" : code == kDLFloat ? "float"
                         : code == kDLBfloat ? "bfloat" : code == kDLComplex ? "complex"
                         : nullptr;
      a.other_dtype_ = kind ? std::string(kind) + std::to_string(bits)
                            : "DLPack type code " + std::to_string(code) + " (" + std::to_string(bits) + " bits)";
      if (t.dtype.lanes != 1) a.other_dtype_ += " x" + std::to_string(t.dtype.lanes);
    }
    for (int k = 0; k < t.ndim; ++k) a.shape_.push_back(t.shape[k]);
    if (t.strides) {
      for (int k = 0; k < t.ndim; ++k) a.strides_.push_back(t.strides[k]);
    } else {
      a.strides_ = contiguous_strides(a.shape_);
    }
    a.data_ = static_cast<char*>(t.data) + t.byte_offset;
    a.writable_ = true;  // DLPack 0.6 has no read-only flag
    a.keep_ = std::move(keep);
  } else if (PyObject_CheckBuffer(obj.ptr())) {
    auto info = std::make_shared<py::buffer_info>(py::reinterpret_borrow<py::buffer>(obj).request(writable));
    check_ndim(fn, name, info->ndim);
    a.dtype_ = dtype_of_buffer(*info);
    if (a.dtype_ == DType::Other)
      a.other_dtype_ = "buffer format '" + info->format + "' (" + std::to_string(info->itemsize) + " bytes)";
    const auto item = static_cast<std::int64_t>(info->itemsize);
    for (py::ssize_t k = 0; k < info->ndim; ++k) {
      a.shape_.push_back(info->shape[static_cast<std::size_t>(k)]);
      const std::int64_t s = info->strides[static_cast<std::size_t>(k)];
      if (info->shape[static_cast<std::size_t>(k)] > 1 && (s % item != 0))
        fail(ErrorKind::Runtime, fn, name, " has a byte stride (", s, ") that is not a multiple of its item size (",
             item, ")");
      a.strides_.push_back(s / item);
    }
    a.data_ = info->ptr;
    a.writable_ = !info->readonly;
    a.keep_ = std::move(info);
  } else {
    fail(ErrorKind::Runtime, fn, name, " must be an array (buffer protocol or DLPack), got ",
         std::string(py::str(py::type::of(obj).attr("__name__"))));
  }
  normalize_strides(a.shape_, a.strides_);
  for (int k = 0; k < a.shape_.ndim(); ++k)
    if (a.strides_[k] < 0)
      fail(ErrorKind::Runtime, fn, name, " has a negative stride in ", a.strides_.str(),
           "; losskit views take non-negative strides (copy it first)");
  return a;
}

IndexTarget index_target(const Array& a, std::string_view fn) {
  IndexTarget t;
  if (a.dtype() == DType::Int64) {
    t.view = a.in<std::int64_t>(fn);
  } else if (a.dtype() == DType::Int32) {
    const ConstView<std::int32_t> v = a.in<std::int32_t>(fn);
    t.copy.resize(static_cast<std::size_t>(v.numel()));
    for (std::int64_t i = 0; i < v.numel(); ++i) t.copy[static_cast<std::size_t>(i)] = v.flat(i);
    t.view = ConstView<std::int64_t>(t.copy.data(), v.shape());
  } else {
    fail(ErrorKind::Runtime, fn, a.name(), " has dtype ", a.dtype_str(), ", expected int64 or int32 class ids");
  }
  return t;
}

Call::Call(std::string_view fn_, std::string_view pass_, const py::tuple& inputs,
           std::initializer_list<const char*> names, py::handle out_, py::handle grad_output_, const py::tuple& grads_)
    : fn(fn_) {
  if (pass_ == "forward") pass = Pass::Forward;
  else if (pass_ == "backward") pass = Pass::Backward;
  else if (pass_ == "forward_backward") pass = Pass::ForwardBackward;
  else fail(ErrorKind::Value, fn, "pass = '", pass_, "' is not 'forward', 'backward' or 'forward_backward'");
  if (inputs.size() != names.size())
    fail(ErrorKind::Runtime, fn, "takes ", names.size(), " inputs, got ", inputs.size());
  if (grads_.size() != 0 && grads_.size() != names.size())
    fail(ErrorKind::Runtime, fn, "takes ", names.size(), " gradient buffers (or none), got ", grads_.size());
  std::size_t i = 0;
  for (const char* n : names) {
    in.push_back(to_array(inputs[i], fn, n));
    grads.push_back(grads_.size() ? to_array(grads_[i], fn, std::string("grad_") + n, true) : Array{});
    ++i;
  }
  out = to_array(out_, fn, "out", true);
  grad_output = to_array(grad_output_, fn, "grad_output");
}

namespace {
/// An input dtype that a loss has no kernel for: Python's NotImplementedError (a RuntimeError),
/// as torch's "... not implemented for 'Long'".
struct DTypeNotImplemented : Error {
  using Error::Error;
};
}  // namespace

void Call::unsupported_dtype(const Array& a, std::string_view why) const {
  try {
    fail(ErrorKind::Runtime, fn, a.name(), " has dtype ", a.dtype_str(), ", which ", fn, " does not support",
         why);
  } catch (const Error& e) {
    throw DTypeNotImplemented(e.kind(), e.what());
  }
}

void register_errors(py::module_&) {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const DTypeNotImplemented& e) {
      PyErr_SetString(PyExc_NotImplementedError, e.what());
    } catch (const Error& e) {
      PyObject* type = PyExc_RuntimeError;
      if (e.kind() == ErrorKind::Value) type = PyExc_ValueError;
      else if (e.kind() == ErrorKind::Index) type = PyExc_IndexError;
      PyErr_SetString(type, e.what());
    }
  });
}

}  // namespace losskit::python
