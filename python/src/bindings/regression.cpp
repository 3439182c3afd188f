// Bindings of the regression losses (include/losskit/regression.hpp).
// Entry signature: (pass, inputs, out, grad_output, grads, **options); see array.hpp.
#include "array.hpp"
#include "losskit/regression.hpp"

namespace losskit::python {

using namespace pybind11::literals;

namespace {

// The three passes of an (input, target) loss `name` with options `o`, for the T in scope.
#define LOSSKIT_PY_RUN_PAIR(name, o)                                                  \
  const ConstView<T> x = c.in[0].in<T>(fn), t = c.in[1].in<T>(fn);                    \
  const TensorView<T> gx = c.grads[0].out<T>(fn), gt = c.grads[1].out<T>(fn);         \
  c.run([&] { name(x, t, c.out.out<T>(fn), o); },                                     \
        [&] { name##_backward(c.grad_output.in<T>(fn), x, t, gx, gt, o); },           \
        [&] { name##_forward_backward(x, t, c.out.out<T>(fn), gx, gt, o); })

}  // namespace

void bind_regression(py::module_& m) {
  m.def(
      "mse_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         std::string_view reduction, py::handle weight) {
        constexpr std::string_view fn = "mse_loss";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        const Array w = to_array(weight, fn, "weight");
        c.dispatch_float([&]<class T>() {
          const MSELossOptions<T> o{.reduction = reduction_from_string(reduction, fn), .weight = w.in<T>(fn)};
          LOSSKIT_PY_RUN_PAIR(mse_loss, o);
        });
      },
      LOSSKIT_PY_CALL_ARGS, "reduction"_a = "mean", "weight"_a = py::none());
  m.def(
      "l1_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         std::string_view reduction, py::handle weight) {
        constexpr std::string_view fn = "l1_loss";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        const Array w = to_array(weight, fn, "weight");
        c.dispatch_float([&]<class T>() {
          const L1LossOptions<T> o{.reduction = reduction_from_string(reduction, fn), .weight = w.in<T>(fn)};
          LOSSKIT_PY_RUN_PAIR(l1_loss, o);
        });
      },
      LOSSKIT_PY_CALL_ARGS, "reduction"_a = "mean", "weight"_a = py::none());
  m.def(
      "huber_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         std::string_view reduction, double delta, py::handle weight) {
        constexpr std::string_view fn = "huber_loss";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        const Array w = to_array(weight, fn, "weight");
        c.dispatch_float([&]<class T>() {
          const HuberLossOptions<T> o{.reduction = reduction_from_string(reduction, fn), .delta = delta,
                                      .weight = w.in<T>(fn)};
          LOSSKIT_PY_RUN_PAIR(huber_loss, o);
        });
      },
      LOSSKIT_PY_CALL_ARGS, "reduction"_a = "mean", "delta"_a = 1.0, "weight"_a = py::none());
  m.def(
      "smooth_l1_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         std::string_view reduction, double beta) {
        constexpr std::string_view fn = "smooth_l1_loss";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        const SmoothL1LossOptions o{.reduction = reduction_from_string(reduction, fn), .beta = beta};
        c.dispatch_float([&]<class T>() { LOSSKIT_PY_RUN_PAIR(smooth_l1_loss, o); });
      },
      LOSSKIT_PY_CALL_ARGS, "reduction"_a = "mean", "beta"_a = 1.0);
  m.def(
      "poisson_nll_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         bool log_input, bool full, double eps, std::string_view reduction) {
        constexpr std::string_view fn = "poisson_nll_loss";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        const PoissonNLLLossOptions o{.log_input = log_input, .full = full, .eps = eps,
                                      .reduction = reduction_from_string(reduction, fn)};
        c.dispatch_float([&]<class T>() { LOSSKIT_PY_RUN_PAIR(poisson_nll_loss, o); });
      },
      LOSSKIT_PY_CALL_ARGS, "log_input"_a = true, "full"_a = false, "eps"_a = 1e-8, "reduction"_a = "mean");
  m.def(
      "log_cosh_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         std::string_view reduction) {
        constexpr std::string_view fn = "log_cosh_loss";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        const LogCoshLossOptions o{.reduction = reduction_from_string(reduction, fn)};
        c.dispatch_float([&]<class T>() { LOSSKIT_PY_RUN_PAIR(log_cosh_loss, o); });
      },
      LOSSKIT_PY_CALL_ARGS, "reduction"_a = "mean");
  m.def(
      "l2_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         std::string_view reduction) {
        constexpr std::string_view fn = "l2_loss";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        const L2LossOptions o{.reduction = reduction_from_string(reduction, fn)};
        c.dispatch_float([&]<class T>() { LOSSKIT_PY_RUN_PAIR(l2_loss, o); });
      },
      LOSSKIT_PY_CALL_ARGS, "reduction"_a = "mean");
  m.def(
      "quantile_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         double tau, std::string_view reduction) {
        constexpr std::string_view fn = "quantile_loss";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        const QuantileLossOptions o{.tau = tau, .reduction = reduction_from_string(reduction, fn)};
        c.dispatch_float([&]<class T>() { LOSSKIT_PY_RUN_PAIR(quantile_loss, o); });
      },
      LOSSKIT_PY_CALL_ARGS, "tau"_a = 0.5, "reduction"_a = "mean");
  m.def(
      "msle_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         double eps, std::string_view reduction) {
        constexpr std::string_view fn = "msle_loss";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        const MSLELossOptions o{.eps = eps, .reduction = reduction_from_string(reduction, fn)};
        c.dispatch_float([&]<class T>() { LOSSKIT_PY_RUN_PAIR(msle_loss, o); });
      },
      LOSSKIT_PY_CALL_ARGS, "eps"_a = 1e-7, "reduction"_a = "mean");
  m.def(
      "mape_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         double eps, std::string_view reduction) {
        constexpr std::string_view fn = "mape_loss";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        const MAPELossOptions o{.eps = eps, .reduction = reduction_from_string(reduction, fn)};
        c.dispatch_float([&]<class T>() { LOSSKIT_PY_RUN_PAIR(mape_loss, o); });
      },
      LOSSKIT_PY_CALL_ARGS, "eps"_a = 1e-7, "reduction"_a = "mean");
  m.def(
      "gaussian_nll_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads, bool full,
         double eps, std::string_view reduction) {
        constexpr std::string_view fn = "gaussian_nll_loss";
        const Call c(fn, pass, inputs, {"input", "target", "var"}, out, grad_output, grads);
        const GaussianNLLLossOptions o{.full = full, .eps = eps, .reduction = reduction_from_string(reduction, fn)};
        c.dispatch_float([&]<class T>() {
          const ConstView<T> x = c.in[0].in<T>(fn), t = c.in[1].in<T>(fn), v = c.in[2].in<T>(fn);
          const TensorView<T> gx = c.grads[0].out<T>(fn), gt = c.grads[1].out<T>(fn), gv = c.grads[2].out<T>(fn);
          c.run([&] { gaussian_nll_loss(x, t, v, c.out.out<T>(fn), o); },
                [&] { gaussian_nll_loss_backward(c.grad_output.in<T>(fn), x, t, v, gx, gt, gv, o); },
                [&] { gaussian_nll_loss_forward_backward(x, t, v, c.out.out<T>(fn), gx, gt, gv, o); });
        });
      },
      LOSSKIT_PY_CALL_ARGS, "full"_a = false, "eps"_a = 1e-6, "reduction"_a = "mean");
}

#undef LOSSKIT_PY_RUN_PAIR

}  // namespace losskit::python
