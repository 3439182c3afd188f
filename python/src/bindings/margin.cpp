// Bindings of the margin and hinge losses (include/losskit/margin.hpp).
// Entry signature: (pass, inputs, out, grad_output, grads, **options); see array.hpp.
#include "array.hpp"

namespace losskit::python {

using namespace pybind11::literals;

/// An entry for a loss with float targets and only a reduction option.
#define LOSSKIT_PY_SIMPLE(NAME, OPTS)                                                                     \
  m.def(                                                                                                  \
      #NAME,                                                                                              \
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads, \
         std::string_view reduction) {                                                                    \
        constexpr std::string_view fn = #NAME;                                                            \
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);                     \
        c.dispatch_float([&]<class T>() {                                                                 \
          const OPTS o{.reduction = reduction_from_string(reduction, fn)};                                \
          const ConstView<T> x = c.in[0].in<T>(fn), y = c.in[1].in<T>(fn);                                \
          LOSSKIT_PY_RUN(NAME, x, y, o);                                                                \
        });                                                                                               \
      },                                                                                                  \
      LOSSKIT_PY_CALL_ARGS, "reduction"_a = "mean")

void bind_margin(py::module_& m) {
  LOSSKIT_PY_SIMPLE(soft_margin_loss, SoftMarginOptions);
  LOSSKIT_PY_SIMPLE(hinge_loss, HingeOptions);
  LOSSKIT_PY_SIMPLE(squared_hinge_loss, HingeOptions);
  LOSSKIT_PY_SIMPLE(categorical_hinge_loss, HingeOptions);

  m.def(
      "multilabel_soft_margin_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         py::handle weight, std::string_view reduction) {
        constexpr std::string_view fn = "multilabel_soft_margin_loss";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        const Array wa = to_array(weight, fn, "weight");
        c.dispatch_float([&]<class T>() {
          const MultilabelSoftMarginOptions<T> o{.weight = wa.in<T>(fn), .reduction = reduction_from_string(reduction, fn)};
          const ConstView<T> x = c.in[0].in<T>(fn), y = c.in[1].in<T>(fn);
          LOSSKIT_PY_RUN_WITH_TARGET_GRAD(multilabel_soft_margin_loss, x, y, o);
        });
      },
      LOSSKIT_PY_CALL_ARGS, "weight"_a = py::none(), "reduction"_a = "mean");

  m.def(
      "multi_margin_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads, int p,
         double margin, py::handle weight, std::string_view reduction) {
        constexpr std::string_view fn = "multi_margin_loss";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        c.dispatch_float([&]<class T>() {
          const Weight<T> w = weight_of<T>(weight, fn);
          const MultiMarginOptions<T> o{.p = p, .margin = margin, .weight = w.span,
                                        .reduction = reduction_from_string(reduction, fn)};
          const ConstView<T> x = c.in[0].in<T>(fn);
          const IndexTarget y = index_target(c.in[1], fn);
          LOSSKIT_PY_RUN(multi_margin_loss, x, y.view, o);
        });
      },
      LOSSKIT_PY_CALL_ARGS, "p"_a = 1, "margin"_a = 1.0, "weight"_a = py::none(), "reduction"_a = "mean");

  m.def(
      "multilabel_margin_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         std::string_view reduction) {
        constexpr std::string_view fn = "multilabel_margin_loss";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        c.dispatch_float([&]<class T>() {
          const MultilabelMarginOptions o{.reduction = reduction_from_string(reduction, fn)};
          const ConstView<T> x = c.in[0].in<T>(fn);
          const IndexTarget y = index_target(c.in[1], fn);
          LOSSKIT_PY_RUN(multilabel_margin_loss, x, y.view, o);
        });
      },
      LOSSKIT_PY_CALL_ARGS, "reduction"_a = "mean");

  m.def(
      "multiclass_perceptron_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         std::string_view reduction) {
        constexpr std::string_view fn = "multiclass_perceptron_loss";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        c.dispatch_float([&]<class T>() {
          const MulticlassPerceptronOptions o{.reduction = reduction_from_string(reduction, fn)};
          const ConstView<T> x = c.in[0].in<T>(fn);
          const IndexTarget y = index_target(c.in[1], fn);
          LOSSKIT_PY_RUN(multiclass_perceptron_loss, x, y.view, o);
        });
      },
      LOSSKIT_PY_CALL_ARGS, "reduction"_a = "mean");
}

}  // namespace losskit::python
