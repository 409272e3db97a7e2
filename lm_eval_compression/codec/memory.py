"""Keep freed memory in the process for reuse: the codec's commands call :func:`reuse_freed_memory` first.

The exact arithmetic allocates many short-lived tensors of tens of megabytes per layer (a window's activations
and attention scores in float64, the output layer's products). glibc's malloc serves each one above its mmap
threshold (at most 32 MB) with a fresh mapping and returns it on free, so every such tensor pays a page fault
per 4 kB when first written: about a quarter of a one-pass window's time on CPU (SmolLM2-135M at 1900 tokens:
11.9 s, 8.4 s with freed memory kept). Serving every block from the heap and never trimming it lets the next
tensor reuse pages already mapped. The process keeps its peak footprint until it exits; results do not change.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_MAX = -1, -2, -4  # glibc's mallopt parameters (malloc.h)


def reuse_freed_memory() -> bool:
    """Ask glibc's malloc to serve every block from the heap and keep freed memory; False where the C library
    is not glibc (nothing changes there)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    settings = ((M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, 2**31 - 1), (M_TOP_PAD, 64 << 20))
    return all(mallopt(param, value) == 1 for param, value in settings)
