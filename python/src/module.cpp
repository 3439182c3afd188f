// module.cpp: the extension module `losskit._losskit`. Each loss family has its binding file
// in bindings/<family>.cpp defining bind_<family>(m); add the call below when adding one.
#include "array.hpp"

namespace losskit::python {
void bind_classification(py::module_& m);
void bind_classification_extra(py::module_& m);
void bind_margin(py::module_& m);
void bind_distribution(py::module_& m);
void bind_segmentation(py::module_& m);
void bind_sequence(py::module_& m);
void bind_detection(py::module_& m);
void bind_regression(py::module_& m);
void bind_embedding(py::module_& m);
void bind_buffers(py::module_& m);  // the pool of large output buffers (bindings/buffers.cpp)
}  // namespace losskit::python

PYBIND11_MODULE(_losskit, m) {
  namespace lp = losskit::python;
  m.doc() = "losskit's C++ kernels. Use losskit.torch or losskit.numpy; this module is their engine.";
  lp::register_errors(m);
  m.attr("HAS_HALF") = static_cast<bool>(LOSSKIT_PY_HAS_HALF);  // bfloat16/float16 overloads built in
  m.def("get_num_threads", &losskit::get_num_threads, "Threads losskit's kernels use.");
  m.def("set_num_threads", &losskit::set_num_threads, pybind11::arg("n"),
        "Sets the threads losskit's kernels use (0: the OpenMP default).");
  lp::bind_classification(m);
  lp::bind_classification_extra(m);
  lp::bind_margin(m);
  lp::bind_distribution(m);
  lp::bind_segmentation(m);
  lp::bind_sequence(m);
  lp::bind_detection(m);
  lp::bind_regression(m);
  lp::bind_embedding(m);
  lp::bind_buffers(m);
}
