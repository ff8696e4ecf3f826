"""Keep glibc from returning every large NumPy array to the kernel (a page-faulting mmap each time).

A chunk of trials allocates and frees arrays of tens of MB. With glibc's defaults, each one above
the dynamic mmap threshold is a fresh `mmap` whose pages fault in on first touch; measured here, a
chunk ran 1.2-1.8x slower than with both thresholds raised (Dask's nanny even fixes the trim
threshold, which disables the dynamic threshold: 2-4x). `tune_allocator()` raises them for the
calling process: the CLI calls it; a library user may. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

THRESHOLD = 2**28  # 256 MB: arrays below this are recycled by malloc, not mapped afresh
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)
ENVIRONMENT = {"MALLOC_TRIM_THRESHOLD_": str(THRESHOLD), "MALLOC_MMAP_THRESHOLD_": str(THRESHOLD)}


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds in this process; True when it could."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # not glibc (musl has no mallopt)
    return bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, THRESHOLD))
