// Bindings of the embedding losses (include/losskit/embedding.hpp).
// Entry signature: (pass, inputs, out, grad_output, grads, **options); see array.hpp.
#include "array.hpp"
#include "losskit/embedding.hpp"

namespace losskit::python {

using namespace pybind11::literals;

namespace {

// The three passes of a (input1, input2, target) loss `name` with options `o`, for the T in scope.
#define LOSSKIT_PY_RUN_PAIR_TARGET(name, o)                                                   \
  const ConstView<T> x1 = c.in[0].in<T>(fn), x2 = c.in[1].in<T>(fn), y = c.in[2].in<T>(fn);   \
  const TensorView<T> g1 = c.grads[0].out<T>(fn), g2 = c.grads[1].out<T>(fn);                 \
  c.run([&] { name(x1, x2, y, c.out.out<T>(fn), o); },                                        \
        [&] { name##_backward(c.grad_output.in<T>(fn), x1, x2, y, g1, g2, o); },              \
        [&] { name##_forward_backward(x1, x2, y, c.out.out<T>(fn), g1, g2, o); })

#define LOSSKIT_PY_RUN_TRIPLET(name, o)                                                       \
  const ConstView<T> a = c.in[0].in<T>(fn), p = c.in[1].in<T>(fn), n = c.in[2].in<T>(fn);     \
  const TensorView<T> ga = c.grads[0].out<T>(fn), gp = c.grads[1].out<T>(fn), gn = c.grads[2].out<T>(fn); \
  c.run([&] { name(a, p, n, c.out.out<T>(fn), o); },                                          \
        [&] { name##_backward(c.grad_output.in<T>(fn), a, p, n, ga, gp, gn, o); },            \
        [&] { name##_forward_backward(a, p, n, c.out.out<T>(fn), ga, gp, gn, o); })

TripletDistance distance_from_string(std::string_view s, std::string_view fn) {
  if (s == "pairwise") return TripletDistance::Pairwise;
  if (s == "cosine") return TripletDistance::Cosine;
  throw Error(ErrorKind::Value, std::string(fn) + ": distance = '" + std::string(s) +
                                    "' is not one of 'pairwise', 'cosine'");
}

}  // namespace

void bind_embedding(py::module_& m) {
  m.def(
      "hinge_embedding_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         double margin, std::string_view reduction) {
        constexpr std::string_view fn = "hinge_embedding_loss";
        const Call c(fn, pass, inputs, {"input", "target"}, out, grad_output, grads);
        const HingeEmbeddingLossOptions o{.margin = margin, .reduction = reduction_from_string(reduction, fn)};
        c.dispatch_float([&]<class T>() {
          const ConstView<T> x = c.in[0].in<T>(fn), y = c.in[1].in<T>(fn);
          const TensorView<T> gx = c.grads[0].out<T>(fn);
          c.run([&] { hinge_embedding_loss(x, y, c.out.out<T>(fn), o); },
                [&] { hinge_embedding_loss_backward(c.grad_output.in<T>(fn), x, y, gx, o); },
                [&] { hinge_embedding_loss_forward_backward(x, y, c.out.out<T>(fn), gx, o); });
        });
      },
      LOSSKIT_PY_CALL_ARGS, "margin"_a = 1.0, "reduction"_a = "mean");
  m.def(
      "margin_ranking_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         double margin, std::string_view reduction) {
        constexpr std::string_view fn = "margin_ranking_loss";
        const Call c(fn, pass, inputs, {"input1", "input2", "target"}, out, grad_output, grads);
        const MarginRankingLossOptions o{.margin = margin, .reduction = reduction_from_string(reduction, fn)};
        c.dispatch_float([&]<class T>() {  // the target's gradient too, when asked (grads[2])
          const ConstView<T> x1 = c.in[0].in<T>(fn), x2 = c.in[1].in<T>(fn), y = c.in[2].in<T>(fn);
          const TensorView<T> g1 = c.grads[0].out<T>(fn), g2 = c.grads[1].out<T>(fn), gt = c.grads[2].out<T>(fn);
          c.run([&] { margin_ranking_loss(x1, x2, y, c.out.out<T>(fn), o); },
                [&] { margin_ranking_loss_backward(c.grad_output.in<T>(fn), x1, x2, y, g1, g2, gt, o); },
                [&] { margin_ranking_loss_forward_backward(x1, x2, y, c.out.out<T>(fn), g1, g2, gt, o); });
        });
      },
      LOSSKIT_PY_CALL_ARGS, "margin"_a = 0.0, "reduction"_a = "mean");
  m.def(
      "cosine_embedding_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         double margin, std::string_view reduction) {
        constexpr std::string_view fn = "cosine_embedding_loss";
        const Call c(fn, pass, inputs, {"input1", "input2", "target"}, out, grad_output, grads);
        const CosineEmbeddingLossOptions o{.margin = margin, .reduction = reduction_from_string(reduction, fn)};
        c.dispatch_float([&]<class T>() { LOSSKIT_PY_RUN_PAIR_TARGET(cosine_embedding_loss, o); });
      },
      LOSSKIT_PY_CALL_ARGS, "margin"_a = 0.0, "reduction"_a = "mean");
  m.def(
      "triplet_margin_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         double margin, double p, double eps, bool swap, std::string_view reduction) {
        constexpr std::string_view fn = "triplet_margin_loss";
        const Call c(fn, pass, inputs, {"anchor", "positive", "negative"}, out, grad_output, grads);
        const TripletMarginLossOptions o{.margin = margin, .p = p, .eps = eps, .swap = swap,
                                         .reduction = reduction_from_string(reduction, fn)};
        c.dispatch_float([&]<class T>() { LOSSKIT_PY_RUN_TRIPLET(triplet_margin_loss, o); });
      },
      LOSSKIT_PY_CALL_ARGS, "margin"_a = 1.0, "p"_a = 2.0, "eps"_a = 1e-6, "swap"_a = false, "reduction"_a = "mean");
  m.def(
      "triplet_margin_with_distance_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         std::string_view distance, double margin, bool swap, std::string_view reduction, double p, double eps,
         double cosine_eps) {
        constexpr std::string_view fn = "triplet_margin_with_distance_loss";
        const Call c(fn, pass, inputs, {"anchor", "positive", "negative"}, out, grad_output, grads);
        const TripletMarginWithDistanceLossOptions o{.distance = distance_from_string(distance, fn),
                                                     .margin = margin,
                                                     .swap = swap,
                                                     .reduction = reduction_from_string(reduction, fn),
                                                     .p = p,
                                                     .eps = eps,
                                                     .cosine_eps = cosine_eps};
        c.dispatch_float([&]<class T>() { LOSSKIT_PY_RUN_TRIPLET(triplet_margin_with_distance_loss, o); });
      },
      LOSSKIT_PY_CALL_ARGS, "distance"_a = "pairwise", "margin"_a = 1.0, "swap"_a = false, "reduction"_a = "mean",
      "p"_a = 2.0, "eps"_a = 1e-6, "cosine_eps"_a = 1e-8);
}

#undef LOSSKIT_PY_RUN_PAIR_TARGET
#undef LOSSKIT_PY_RUN_TRIPLET

}  // namespace losskit::python
