"""Specs of the regression losses (include/losskit/regression.hpp)."""
from . import LossSpec, shape_of_input

_PAIR = (("input", "target"), (True, True), shape_of_input)

mse_loss = LossSpec("mse_loss", *_PAIR,
                    doc="(input - target)^2; 'mean' with a weight divides by sum(weight) (PyTorch >= 2.6).")
l1_loss = LossSpec("l1_loss", *_PAIR,
                   doc="|input - target|; 'mean' with a weight divides by sum(weight) (PyTorch >= 2.6).")
huber_loss = LossSpec("huber_loss", *_PAIR,
                      doc="Huber loss; 'mean' with a weight divides by the element count (PyTorch >= 2.6).")
smooth_l1_loss = LossSpec("smooth_l1_loss", *_PAIR,
                          doc='Smooth L1: 0.5 d^2 / beta for |d| < beta, else |d| - 0.5 beta, d = input - target (beta == 0 is l1_loss).')
poisson_nll_loss = LossSpec("poisson_nll_loss", *_PAIR,
                            doc='Poisson negative log-likelihood: exp(input) - target input (log_input), else input - target log(input + eps); Stirling term with full.')
log_cosh_loss = LossSpec("log_cosh_loss", *_PAIR,
                         doc='log(cosh(input - target)) (optax.losses.log_cosh).')
l2_loss = LossSpec("l2_loss", *_PAIR,
                   doc='0.5 (input - target)^2 (optax.losses.l2_loss).')
quantile_loss = LossSpec("quantile_loss", *_PAIR,
                         doc='Pinball loss at quantile tau: max(tau d, (tau - 1) d), d = target - input (tfa.losses.pinball_loss).')
msle_loss = LossSpec("msle_loss", *_PAIR,
                     doc='(log(max(input, eps) + 1) - log(max(target, eps) + 1))^2 (keras.losses.mean_squared_logarithmic_error).')
mape_loss = LossSpec("mape_loss", *_PAIR,
                     doc='100 |target - input| / max(|target|, eps) (keras.losses.mean_absolute_percentage_error).')


def shape_of_input_and_target(shapes, options):
    """The broadcast shape of input and target (NumPy rules); the input's when they do not
    broadcast (the C++ checks then say why)."""
    x, t = tuple(shapes[0]), tuple(shapes[1])
    n = max(len(x), len(t))
    x, t = (1,) * (n - len(x)) + x, (1,) * (n - len(t)) + t
    if any(a != b and 1 not in (a, b) for a, b in zip(x, t)):
        return tuple(shapes[0])
    return tuple(b if a == 1 else a for a, b in zip(x, t))


gaussian_nll_loss = LossSpec("gaussian_nll_loss", ("input", "target", "var"), (True, True, True),
                             shape_of_input_and_target,
                             doc='Gaussian negative log-likelihood 0.5 (log(max(var, eps)) + (input - target)^2 / max(var, eps)) (+ 0.5 log(2 pi) with full), as PyTorch 2.x.')
