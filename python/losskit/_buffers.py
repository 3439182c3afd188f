"""Large output buffers (gradients, 'none' losses) from the extension's pool: 2 MiB-aligned,
advised for transparent huge pages, and reused after they are freed, so that a fresh gradient
does not pay a page fault per 4 KiB (python/src/bindings/buffers.cpp). Below MIN_BYTES the
usual allocators are faster (this path costs a few microseconds)."""
from __future__ import annotations

from math import prod

from . import _losskit

__all__ = ["MIN_BYTES", "is_large", "capsule", "numpy_empty", "set_buffer_cache_limit", "buffer_cache_stats"]

MIN_BYTES = 1 << 20


def is_large(shape, itemsize: int) -> bool:
    return prod(shape) * itemsize >= MIN_BYTES


def capsule(shape, dtype_name: str):
    """A contiguous buffer (DLPack capsule) of shape and dtype ('float32', 'float64',
    'float16', 'bfloat16') from the pool."""
    return _losskit.empty(list(shape), dtype_name)


def numpy_empty(shape, dtype):
    """numpy.empty(shape, dtype) (C order); large float buffers come from the pool."""
    import numpy as np
    dtype = np.dtype(dtype)
    if dtype.name in ("float32", "float64", "float16") and is_large(shape, dtype.itemsize):
        n = prod(shape)
        return np.frombuffer(_losskit.PoolBytes(n * dtype.itemsize), dtype=dtype, count=n).reshape(shape)
    return np.empty(shape, dtype=dtype)


def set_buffer_cache_limit(nbytes: int) -> None:
    """How many bytes of freed large buffers losskit keeps for reuse (default 1 GiB); 0 gives
    each back to the OS when it is freed."""
    _losskit.set_buffer_cache_limit(int(nbytes))


def buffer_cache_stats() -> dict:
    """limit_bytes, cached_bytes, cached_buffers, hits and misses of the buffer pool."""
    return dict(_losskit.buffer_cache_stats())
