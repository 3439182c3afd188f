// Bindings of the segmentation losses (include/losskit/segmentation.hpp).
// Entry signature: (pass, inputs, out, grad_output, grads, **options); see array.hpp.
#include "array.hpp"

namespace losskit::python {

using namespace pybind11::literals;

void bind_segmentation(py::module_& m) {
  m.def(
      "dice_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         bool include_background, bool to_onehot_y, bool sigmoid, bool softmax, bool squared_pred, bool jaccard,
         std::string_view reduction, double smooth_nr, double smooth_dr, bool batch, py::handle weight,
         bool soft_label) {
        constexpr std::string_view fn = "dice_loss";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        c.dispatch_float([&]<class T>() {
          const Weight<T> w = weight_of<T>(weight, fn);
          const DiceLossOptions<T> o{.include_background = include_background, .to_onehot_y = to_onehot_y,
                                     .sigmoid = sigmoid, .softmax = softmax, .squared_pred = squared_pred,
                                     .jaccard = jaccard, .reduction = reduction_from_string(reduction, fn),
                                     .smooth_nr = smooth_nr, .smooth_dr = smooth_dr, .batch = batch,
                                     .weight = w.span, .soft_label = soft_label};
          const ConstView<T> x = c.in[0].in<T>(fn);
          auto go = [&](auto y) {  // class ids (int64) or one-hot / probabilities / float ids (T)
            c.run([&] { dice_loss(x, y, c.out.out<T>(fn), o); },
                  [&] { dice_loss_backward(c.grad_output.in<T>(fn), x, y, c.grads[0].out<T>(fn), o); },
                  [&] { dice_loss_forward_backward(x, y, c.out.out<T>(fn), c.grads[0].out<T>(fn), o); });
          };
          if (is_index_dtype(c.in[1].dtype())) go(index_target(c.in[1], fn).view);
          else go(c.in[1].in<T>(fn));
        });
      },
      LOSSKIT_PY_CALL_ARGS, "include_background"_a = true, "to_onehot_y"_a = false, "sigmoid"_a = false,
      "softmax"_a = false, "squared_pred"_a = false, "jaccard"_a = false, "reduction"_a = "mean",
      "smooth_nr"_a = 1e-5, "smooth_dr"_a = 1e-5, "batch"_a = false, "weight"_a = py::none(),
      "soft_label"_a = false);
  m.def(
      "tversky_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         bool include_background, bool to_onehot_y, bool sigmoid, bool softmax, double alpha, double beta,
         std::string_view reduction, double smooth_nr, double smooth_dr, bool batch, bool soft_label) {
        constexpr std::string_view fn = "tversky_loss";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        const TverskyLossOptions o{.include_background = include_background, .to_onehot_y = to_onehot_y,
                                   .sigmoid = sigmoid, .softmax = softmax, .alpha = alpha, .beta = beta,
                                   .reduction = reduction_from_string(reduction, fn), .smooth_nr = smooth_nr,
                                   .smooth_dr = smooth_dr, .batch = batch, .soft_label = soft_label};
        c.dispatch_float([&]<class T>() {
          const ConstView<T> x = c.in[0].in<T>(fn);
          auto go = [&](auto y) {  // class ids (int64) or one-hot / probabilities / float ids (T)
            c.run([&] { tversky_loss(x, y, c.out.out<T>(fn), o); },
                  [&] { tversky_loss_backward(c.grad_output.in<T>(fn), x, y, c.grads[0].out<T>(fn), o); },
                  [&] { tversky_loss_forward_backward(x, y, c.out.out<T>(fn), c.grads[0].out<T>(fn), o); });
          };
          if (is_index_dtype(c.in[1].dtype())) go(index_target(c.in[1], fn).view);
          else go(c.in[1].in<T>(fn));
        });
      },
      LOSSKIT_PY_CALL_ARGS, "include_background"_a = true, "to_onehot_y"_a = false, "sigmoid"_a = false,
      "softmax"_a = false, "alpha"_a = 0.5, "beta"_a = 0.5, "reduction"_a = "mean", "smooth_nr"_a = 1e-5,
      "smooth_dr"_a = 1e-5, "batch"_a = false, "soft_label"_a = false);
  m.def(
      "generalized_dice_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         bool include_background, bool to_onehot_y, bool sigmoid, bool softmax, std::string_view w_type,
         std::string_view reduction, double smooth_nr, double smooth_dr, bool batch, bool soft_label) {
        constexpr std::string_view fn = "generalized_dice_loss";
        GdlWeight w = GdlWeight::Square;
        if (w_type == "simple") w = GdlWeight::Simple;
        else if (w_type == "uniform") w = GdlWeight::Uniform;
        else if (w_type != "square")
          throw Error(ErrorKind::Value, std::string(fn) + ": w_type = '" + std::string(w_type) +
                                            "' is not 'square', 'simple' or 'uniform'");
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        const GeneralizedDiceLossOptions o{.include_background = include_background, .to_onehot_y = to_onehot_y,
                                           .sigmoid = sigmoid, .softmax = softmax, .w_type = w,
                                           .reduction = reduction_from_string(reduction, fn), .smooth_nr = smooth_nr,
                                           .smooth_dr = smooth_dr, .batch = batch, .soft_label = soft_label};
        c.dispatch_float([&]<class T>() {
          const ConstView<T> x = c.in[0].in<T>(fn);
          auto go = [&](auto y) {
            c.run([&] { generalized_dice_loss(x, y, c.out.out<T>(fn), o); },
                  [&] { generalized_dice_loss_backward(c.grad_output.in<T>(fn), x, y, c.grads[0].out<T>(fn), o); },
                  [&] { generalized_dice_loss_forward_backward(x, y, c.out.out<T>(fn), c.grads[0].out<T>(fn), o); });
          };
          if (is_index_dtype(c.in[1].dtype())) go(index_target(c.in[1], fn).view);
          else go(c.in[1].in<T>(fn));
        });
      },
      LOSSKIT_PY_CALL_ARGS, "include_background"_a = true, "to_onehot_y"_a = false, "sigmoid"_a = false,
      "softmax"_a = false, "w_type"_a = "square", "reduction"_a = "mean", "smooth_nr"_a = 1e-5,
      "smooth_dr"_a = 1e-5, "batch"_a = false, "soft_label"_a = false);
}

}  // namespace losskit::python
