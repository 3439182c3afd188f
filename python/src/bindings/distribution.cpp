// Bindings of the distribution losses (include/losskit/distribution.hpp).
// Entry signature: (pass, inputs, out, grad_output, grads, **options); see array.hpp.
#include "array.hpp"

namespace losskit::python {

using namespace pybind11::literals;

void bind_distribution(py::module_& m) {
  m.def(
      "kl_div",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         std::string_view reduction, bool log_target) {
        constexpr std::string_view fn = "kl_div";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        const KLDivOptions o{.reduction = reduction_from_string(reduction, fn), .log_target = log_target};
        c.dispatch_float_or_half([&]<class T>() {
          using A = acc_t<T>;  // loss and upstream gradient (float32 for 16-bit inputs)
          const ConstView<T> x = c.in[0].in<T>(fn), t = c.in[1].in<T>(fn);
          const TensorView<T> gx = c.grads[0].out<T>(fn), gt = c.grads[1].out<T>(fn);
          c.run([&] { kl_div(x, t, c.out.out<A>(fn), o); },
                [&] { kl_div_backward(c.grad_output.in<A>(fn), x, t, gx, gt, o); },
                [&] { kl_div_forward_backward(x, t, c.out.out<A>(fn), gx, gt, o); });
        });
      },
      LOSSKIT_PY_CALL_ARGS, "reduction"_a = "mean", "log_target"_a = false);
  m.def(
      "jsd",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         py::handle shift_labels, double beta, std::int64_t ignore_index) {
        constexpr std::string_view fn = "jsd";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        const Array la = to_array(shift_labels, fn, "shift_labels");
        const IndexTarget labels = la.is_none() ? IndexTarget{} : index_target(la, fn);
        c.dispatch_float([&]<class T>() {
          const JSDOptions o{.beta = beta, .ignore_index = ignore_index, .shift_labels = labels.view};
          const ConstView<T> x = c.in[0].in<T>(fn), t = c.in[1].in<T>(fn);
          LOSSKIT_PY_RUN_WITH_TARGET_GRAD(jsd, x, t, o);
        });
      },
      LOSSKIT_PY_CALL_ARGS, "shift_labels"_a = py::none(), "beta"_a = 0.5, "ignore_index"_a = -100);
  m.def(
      "tvd",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         py::handle shift_labels, std::string_view reduction, std::int64_t ignore_index) {
        constexpr std::string_view fn = "tvd";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        const Array la = to_array(shift_labels, fn, "shift_labels");
        const IndexTarget labels = la.is_none() ? IndexTarget{} : index_target(la, fn);
        const TVDOptions o{.reduction = reduction_from_string(reduction, fn), .ignore_index = ignore_index,
                           .shift_labels = labels.view};
        c.dispatch_float([&]<class T>() {
          const ConstView<T> x = c.in[0].in<T>(fn), t = c.in[1].in<T>(fn);
          LOSSKIT_PY_RUN_WITH_TARGET_GRAD(tvd, x, t, o);
        });
      },
      LOSSKIT_PY_CALL_ARGS, "shift_labels"_a = py::none(), "reduction"_a = "batchmean", "ignore_index"_a = -100);
  m.def(
      "generalized_kl_divergence",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         std::string_view reduction, py::handle where) {
        constexpr std::string_view fn = "generalized_kl_divergence";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        const Array w = to_array(where, fn, "where");
        c.dispatch_float([&]<class T>() {
          const GeneralizedKLOptions<T> o{.reduction = reduction_from_string(reduction, fn), .where = w.in<T>(fn)};
          const ConstView<T> x = c.in[0].in<T>(fn), t = c.in[1].in<T>(fn);
          LOSSKIT_PY_RUN(generalized_kl_divergence, x, t, o);
        });
      },
      LOSSKIT_PY_CALL_ARGS, "reduction"_a = "mean", "where"_a = py::none());
}

}  // namespace losskit::python
