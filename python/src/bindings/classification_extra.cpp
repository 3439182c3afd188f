// Bindings of binary_cross_entropy(_with_logits), sigmoid/softmax focal and poly-1
// (include/losskit/classification.hpp). Entry signature: (pass, inputs, out, grad_output, grads,
// **options); see array.hpp.
#include "array.hpp"

namespace losskit::python {

using namespace pybind11::literals;

void bind_classification_extra(py::module_& m) {
  m.def(
      "binary_cross_entropy",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         py::handle weight, std::string_view reduction) {
        constexpr std::string_view fn = "binary_cross_entropy";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        const Array wa = to_array(weight, fn, "weight");
        c.dispatch_float([&]<class T>() {
          const BCEOptions<T> o{.weight = wa.in<T>(fn), .reduction = reduction_from_string(reduction, fn)};
          const ConstView<T> x = c.in[0].in<T>(fn), y = c.in[1].in<T>(fn);
          LOSSKIT_PY_RUN_WITH_TARGET_GRAD(binary_cross_entropy, x, y, o);
        });
      },
      LOSSKIT_PY_CALL_ARGS, "weight"_a = py::none(), "reduction"_a = "mean");

  m.def(
      "binary_cross_entropy_with_logits",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         py::handle weight, std::string_view reduction, py::handle pos_weight) {
        constexpr std::string_view fn = "binary_cross_entropy_with_logits";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        const Array wa = to_array(weight, fn, "weight"), pa = to_array(pos_weight, fn, "pos_weight");
        c.dispatch_float([&]<class T>() {
          const BCEWithLogitsOptions<T> o{.weight = wa.in<T>(fn), .pos_weight = pa.in<T>(fn),
                                          .reduction = reduction_from_string(reduction, fn)};
          const ConstView<T> x = c.in[0].in<T>(fn), y = c.in[1].in<T>(fn);
          LOSSKIT_PY_RUN_WITH_TARGET_GRAD(binary_cross_entropy_with_logits, x, y, o);
        });
      },
      LOSSKIT_PY_CALL_ARGS, "weight"_a = py::none(), "reduction"_a = "mean", "pos_weight"_a = py::none());

  m.def(
      "sigmoid_focal_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         double alpha, double gamma, std::string_view reduction) {
        constexpr std::string_view fn = "sigmoid_focal_loss";
        const Call c(fn, pass, inputs, {"inputs", "targets"}, out, grad_output, grads);
        c.dispatch_float([&]<class T>() {
          const SigmoidFocalOptions o{.alpha = alpha, .gamma = gamma, .reduction = reduction_from_string(reduction, fn)};
          const ConstView<T> x = c.in[0].in<T>(fn), y = c.in[1].in<T>(fn);
          LOSSKIT_PY_RUN(sigmoid_focal_loss, x, y, o);
        });
      },
      LOSSKIT_PY_CALL_ARGS, "alpha"_a = 0.25, "gamma"_a = 2.0, "reduction"_a = "none");

  m.def(
      "softmax_focal_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         double alpha, py::handle class_alpha, double gamma, double label_smoothing, std::int64_t ignore_index,
         std::string_view reduction) {
        constexpr std::string_view fn = "softmax_focal_loss";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        c.dispatch_float([&]<class T>() {
          const Weight<T> ca = weight_of<T>(class_alpha, fn, "class_alpha");
          const SoftmaxFocalOptions<T> o{.alpha = alpha, .class_alpha = ca.span, .gamma = gamma,
                                         .label_smoothing = label_smoothing, .ignore_index = ignore_index,
                                         .reduction = reduction_from_string(reduction, fn)};
          const ConstView<T> x = c.in[0].in<T>(fn);
          if (is_index_dtype(c.in[1].dtype())) {
            const IndexTarget y = index_target(c.in[1], fn);
            LOSSKIT_PY_RUN(softmax_focal_loss, x, y.view, o);
          } else {
            const ConstView<T> y = c.in[1].in<T>(fn);
            LOSSKIT_PY_RUN(softmax_focal_loss, x, y, o);
          }
        });
      },
      LOSSKIT_PY_CALL_ARGS, "alpha"_a = 0.25, "class_alpha"_a = py::none(), "gamma"_a = 2.0,
      "label_smoothing"_a = 0.0, "ignore_index"_a = -100, "reduction"_a = "mean");

  m.def(
      "poly1_cross_entropy",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         double epsilon, std::int64_t ignore_index, std::string_view reduction) {
        constexpr std::string_view fn = "poly1_cross_entropy";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        c.dispatch_float([&]<class T>() {
          const Poly1Options o{.epsilon = epsilon, .ignore_index = ignore_index,
                               .reduction = reduction_from_string(reduction, fn)};
          const ConstView<T> x = c.in[0].in<T>(fn);
          if (is_index_dtype(c.in[1].dtype())) {
            const IndexTarget y = index_target(c.in[1], fn);
            LOSSKIT_PY_RUN(poly1_cross_entropy, x, y.view, o);
          } else {
            const ConstView<T> y = c.in[1].in<T>(fn);
            LOSSKIT_PY_RUN(poly1_cross_entropy, x, y, o);
          }
        });
      },
      LOSSKIT_PY_CALL_ARGS, "epsilon"_a = 2.0, "ignore_index"_a = -100, "reduction"_a = "none");
  m.def(
      "sparsemax_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         std::string_view reduction) {
        constexpr std::string_view fn = "sparsemax_loss";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        const SparsemaxLossOptions o{.reduction = reduction_from_string(reduction, fn)};
        c.dispatch_float([&]<class T>() {
          const ConstView<T> x = c.in[0].in<T>(fn), y = c.in[1].in<T>(fn);
          LOSSKIT_PY_RUN(sparsemax_loss, x, y, o);
        });
      },
      LOSSKIT_PY_CALL_ARGS, "reduction"_a = "mean");
  m.def(
      "multiclass_sparsemax_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         std::string_view reduction) {
        constexpr std::string_view fn = "multiclass_sparsemax_loss";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        const SparsemaxLossOptions o{.reduction = reduction_from_string(reduction, fn)};
        c.dispatch_float([&]<class T>() {
          const ConstView<T> x = c.in[0].in<T>(fn);
          const IndexTarget y = index_target(c.in[1], fn);
          LOSSKIT_PY_RUN(multiclass_sparsemax_loss, x, y.view, o);
        });
      },
      LOSSKIT_PY_CALL_ARGS, "reduction"_a = "mean");
  m.def(
      "categorical_generalized_cross_entropy",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads, double q,
         std::string_view reduction) {
        constexpr std::string_view fn = "categorical_generalized_cross_entropy";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        const GCEOptions o{.q = q, .reduction = reduction_from_string(reduction, fn)};
        c.dispatch_float([&]<class T>() {
          const ConstView<T> x = c.in[0].in<T>(fn);
          const IndexTarget y = index_target(c.in[1], fn);
          LOSSKIT_PY_RUN(categorical_generalized_cross_entropy, x, y.view, o);
        });
      },
      LOSSKIT_PY_CALL_ARGS, "q"_a = 0.5, "reduction"_a = "mean");
}

}  // namespace losskit::python
