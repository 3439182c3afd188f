"""losskit: loss functions with analytic gradients, computed by C++ kernels on the CPU.

    import losskit.torch as LT     # torch.nn.functional-style losses, with .backward()
    import losskit.numpy as LN     # loss values (and gradients) of NumPy arrays

`import losskit` itself loads neither torch nor numpy.
"""
from ._losskit import get_num_threads, set_num_threads

__version__ = "0.1.0"
__all__ = ["get_num_threads", "set_num_threads", "__version__"]
