"""losskit: loss functions with analytic gradients, computed by C++ kernels on the CPU.

    import losskit.torch as LT     # torch.nn.functional-style losses, with .backward()
    import losskit.numpy as LN     # loss values (and gradients) of NumPy arrays

`import losskit` itself loads neither torch nor numpy.
"""
from ._buffers import buffer_cache_stats, set_buffer_cache_limit
from ._losskit import get_num_threads, set_num_threads
from ._version import __version__  # written by CMake from include/losskit/version.hpp

__all__ = ["get_num_threads", "set_num_threads", "set_buffer_cache_limit", "buffer_cache_stats", "__version__"]
