// Bindings of the box-regression losses (include/losskit/detection.hpp).
// Entry signature: (pass, inputs, out, grad_output, grads, **options); see array.hpp.
#include "array.hpp"

namespace losskit::python {

using namespace pybind11::literals;

namespace {
template <auto Fwd, auto Bwd, auto FwdBwd>
void def_box_loss(py::module_& m, const char* name) {
  m.def(
      name,
      [name](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
             std::string_view reduction, double eps) {
        const std::string_view fn = name;
        const Call c(fn, pass, inputs, {"boxes1", "boxes2"}, out, grad_output, grads);
        const BoxIouLossOptions o{.reduction = reduction_from_string(reduction, fn), .eps = eps};
        c.dispatch_float([&]<class T>() {
          const ConstView<T> b1 = c.in[0].in<T>(fn), b2 = c.in[1].in<T>(fn);
          const TensorView<T> g1 = c.grads[0].out<T>(fn), g2 = c.grads[1].out<T>(fn);
          c.run([&] { Fwd(b1, b2, c.out.out<T>(fn), o); },
                [&] { Bwd(c.grad_output.in<T>(fn), b1, b2, g1, g2, o); },
                [&] { FwdBwd(b1, b2, c.out.out<T>(fn), g1, g2, o); });
        });
      },
      LOSSKIT_PY_CALL_ARGS, "reduction"_a = "none", "eps"_a = 1e-7);
}
}  // namespace

#define LOSSKIT_PY_BOX_LOSS(NAME)                                                                          \
  [](auto b1, auto b2, auto out, const BoxIouLossOptions& o) { NAME(b1, b2, out, o); },                    \
      [](auto g, auto b1, auto b2, auto g1, auto g2, const BoxIouLossOptions& o) { NAME##_backward(g, b1, b2, g1, g2, o); }, \
      [](auto b1, auto b2, auto out, auto g1, auto g2, const BoxIouLossOptions& o) { NAME##_forward_backward(b1, b2, out, g1, g2, o); }

template <auto Fwd, auto Bwd>
void def_box_matrix(py::module_& m, const char* name) {
  m.def(
      name,
      [name](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
             double eps) {
        const std::string_view fn = name;
        const Call c(fn, pass, inputs, {"boxes1", "boxes2"}, out, grad_output, grads);
        const BoxIouOptions o{.eps = eps};
        c.dispatch_float([&]<class T>() {
          const ConstView<T> b1 = c.in[0].in<T>(fn), b2 = c.in[1].in<T>(fn);
          c.run([&] { Fwd(b1, b2, c.out.out<T>(fn), o); },
                [&] { Bwd(c.grad_output.in<T>(fn), b1, b2, c.grads[0].out<T>(fn), c.grads[1].out<T>(fn), o); },
                [&] { throw Error(ErrorKind::Runtime, std::string(fn) + ": has no fused pass (the result is a matrix)"); });
        });
      },
      LOSSKIT_PY_CALL_ARGS, "eps"_a = 1e-7);
}

#define LOSSKIT_PY_BOX_MATRIX(NAME)                                                                        \
  [](auto b1, auto b2, auto out, const BoxIouOptions& o) { NAME(b1, b2, out, o); },                        \
      [](auto g, auto b1, auto b2, auto g1, auto g2, const BoxIouOptions& o) { NAME##_backward(g, b1, b2, g1, g2, o); }

void bind_detection(py::module_& m) {
  def_box_matrix<LOSSKIT_PY_BOX_MATRIX(box_iou)>(m, "box_iou");
  def_box_matrix<LOSSKIT_PY_BOX_MATRIX(generalized_box_iou)>(m, "generalized_box_iou");
  def_box_matrix<LOSSKIT_PY_BOX_MATRIX(distance_box_iou)>(m, "distance_box_iou");
  def_box_matrix<LOSSKIT_PY_BOX_MATRIX(complete_box_iou)>(m, "complete_box_iou");
  def_box_loss<LOSSKIT_PY_BOX_LOSS(generalized_box_iou_loss)>(m, "generalized_box_iou_loss");
  def_box_loss<LOSSKIT_PY_BOX_LOSS(distance_box_iou_loss)>(m, "distance_box_iou_loss");
  def_box_loss<LOSSKIT_PY_BOX_LOSS(complete_box_iou_loss)>(m, "complete_box_iou_loss");
}
#undef LOSSKIT_PY_BOX_LOSS
#undef LOSSKIT_PY_BOX_MATRIX

}  // namespace losskit::python
