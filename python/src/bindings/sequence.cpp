// Bindings of the sequence losses (include/losskit/sequence.hpp).
// Entry signature: (pass, inputs, out, grad_output, grads, **options); see array.hpp.
#include <pybind11/stl.h>

#include "array.hpp"

namespace losskit::python {

using namespace pybind11::literals;

namespace {
/// Sequence lengths (int64 or int32, 0-d or 1-D, any strides) as a contiguous int64 vector.
std::vector<std::int64_t> lengths_of(const Array& a, std::string_view fn) {
  const IndexTarget t = index_target(a, fn);
  if (t.view.ndim() > 1)
    throw Error(ErrorKind::Shape,
                std::string(fn) + ": " + a.name() + " must be 0-d or 1-D, got shape " + t.view.shape().str());
  std::vector<std::int64_t> v(static_cast<std::size_t>(t.view.numel()));
  for (std::int64_t i = 0; i < t.view.numel(); ++i) v[static_cast<std::size_t>(i)] = t.view.flat(i);
  return v;
}
}  // namespace

void bind_sequence(py::module_& m) {
  m.def(
      "ctc_loss",
      [](std::string_view pass, py::tuple inputs, py::handle out, py::handle grad_output, py::tuple grads,
         std::int64_t blank, std::string_view reduction, bool zero_infinity) {
        constexpr std::string_view fn = "ctc_loss";
        const Call c(fn, pass, inputs, {"log_probs", "targets", "input_lengths", "target_lengths"}, out,
                     grad_output, grads);
        const IndexTarget tg = index_target(c.in[1], fn);
        const std::vector<std::int64_t> il = lengths_of(c.in[2], fn), tl = lengths_of(c.in[3], fn);
        const CtcLossOptions o{.blank = blank, .reduction = reduction_from_string(reduction, fn),
                               .zero_infinity = zero_infinity};
        c.dispatch_float([&]<class T>() {
          const ConstView<T> x = c.in[0].in<T>(fn);
          c.run([&] { ctc_loss(x, tg.view, il, tl, c.out.out<T>(fn), o); },
                [&] { ctc_loss_backward(c.grad_output.in<T>(fn), x, tg.view, il, tl, c.grads[0].out<T>(fn), o); },
                [&] { ctc_loss_forward_backward(x, tg.view, il, tl, c.out.out<T>(fn), c.grads[0].out<T>(fn), o); });
        });
      },
      LOSSKIT_PY_CALL_ARGS, "blank"_a = 0, "reduction"_a = "mean", "zero_infinity"_a = false);

  m.def(
      "ctc_infeasible",
      [](py::handle targets, py::handle input_lengths, py::handle target_lengths) {
        constexpr std::string_view fn = "ctc_infeasible";
        const IndexTarget tg = index_target(to_array(targets, fn, "targets"), fn);
        const std::vector<std::int64_t> il = lengths_of(to_array(input_lengths, fn, "input_lengths"), fn);
        const std::vector<std::int64_t> tl = lengths_of(to_array(target_lengths, fn, "target_lengths"), fn);
        return ctc_infeasible(tg.view, il, tl);
      },
      "targets"_a, "input_lengths"_a, "target_lengths"_a,
      "The sequences whose target cannot be aligned to their input (ctc_loss gives them +inf).");
}

}  // namespace losskit::python
