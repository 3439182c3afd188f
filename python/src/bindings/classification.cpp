// Bindings of the classification losses (include/losskit/classification.hpp).
// Entry signature: (pass, inputs, out, grad_output, grads, **options); see array.hpp.
#include "array.hpp"

namespace losskit::python {

using namespace pybind11::literals;

void bind_classification(py::module_& m) {
  m.def(
      "nll_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         py::handle weight, std::int64_t ignore_index, std::string_view reduction) {
        constexpr std::string_view fn = "nll_loss";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        c.dispatch_float_or_half([&]<class T>() {
          using A = acc_t<T>;  // weights, loss and upstream gradient (float32 for 16-bit inputs)
          const Weight<A> w = weight_of<A>(weight, fn);
          const NLLLossOptions<A> o{.weight = w.span, .ignore_index = ignore_index,
                                    .reduction = reduction_from_string(reduction, fn)};
          const ConstView<T> x = c.in[0].in<T>(fn);
          const IndexTarget y = index_target(c.in[1], fn);
          c.run([&] { nll_loss(x, y.view, c.out.out<A>(fn), o); },
                [&] { nll_loss_backward(c.grad_output.in<A>(fn), x, y.view, c.grads[0].out<T>(fn), o); },
                [&] { nll_loss_forward_backward(x, y.view, c.out.out<A>(fn), c.grads[0].out<T>(fn), o); });
        });
      },
      LOSSKIT_PY_CALL_ARGS, "weight"_a = py::none(), "ignore_index"_a = -100, "reduction"_a = "mean");

  m.def(
      "cross_entropy",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         py::handle weight, std::int64_t ignore_index, std::string_view reduction, double label_smoothing,
         bool inplace_grad) {
        constexpr std::string_view fn = "cross_entropy";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        c.dispatch_float_or_half([&]<class T>() {
          using A = acc_t<T>;  // weights, loss and upstream gradient (float32 for 16-bit inputs)
          const Weight<A> w = weight_of<A>(weight, fn);
          const CrossEntropyOptions<A> o{.weight = w.span, .ignore_index = ignore_index,
                                         .reduction = reduction_from_string(reduction, fn),
                                         .label_smoothing = label_smoothing, .inplace_grad = inplace_grad};
          const ConstView<T> x = c.in[0].in<T>(fn);
          auto go = [&](auto y) {  // class ids (int64) or probabilities (T)
            c.run([&] { cross_entropy(x, y, c.out.out<A>(fn), o); },
                  [&] { cross_entropy_backward(c.grad_output.in<A>(fn), x, y, c.grads[0].out<T>(fn), o); },
                  [&] { cross_entropy_forward_backward(x, y, c.out.out<A>(fn), c.grads[0].out<T>(fn), o); });
          };
          if (is_index_dtype(c.in[1].dtype())) {
            go(index_target(c.in[1], fn).view);
          } else if constexpr (is_half_v<T>) {
            c.unsupported_dtype(c.in[0], " with probability targets");
          } else {  // probabilities: the target's gradient too, when asked (grads[1])
            const ConstView<T> y = c.in[1].in<T>(fn);
            LOSSKIT_PY_RUN_WITH_TARGET_GRAD(cross_entropy, x, y, o);
          }
        });
      },
      LOSSKIT_PY_CALL_ARGS, "weight"_a = py::none(), "ignore_index"_a = -100, "reduction"_a = "mean",
      "label_smoothing"_a = 0.0, "inplace_grad"_a = false);
}

}  // namespace losskit::python
