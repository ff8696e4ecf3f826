"""Which outages overlap no other in their trial: one sort of packed integers, no argsort.

>>> import numpy as np
>>> trial = np.array([0, 0, 0, 1])
>>> start = np.array([0, 50, 500, 60])
>>> end = np.array([100, 200, 600, 70])
>>> isolated_mask(trial, start, end, horizon_ms=1000).tolist()
[False, False, True, True]
"""

from __future__ import annotations

import numpy as np

PACKED_BITS = 62  # keys and outage numbers share one non-negative int64


def isolated_mask(trial: np.ndarray, start_ms: np.ndarray, end_ms: np.ndarray, horizon_ms: int) -> np.ndarray:
    """True for each interval [start, end] that overlaps or touches no other of the same trial.

    The sweep sorts the starts once (each key carries the outage's number in its low bits, so
    `np.sort` replaces the 3-4x slower `np.argsort`) and compares each start with the running
    maximum of the ends before it. When trial x time and the outage number need more than 62 bits,
    times are coarsened to 2^shift ms, starts rounded down and ends up: coarsening can only merge
    intervals that are close, never separate overlapping ones, so an outage it wrongly calls
    overlapping is merely sent to the exact (segment) path.
    """
    n = len(trial)
    if n == 0:
        return np.zeros(0, bool)
    idx_bits = max(1, (n - 1).bit_length())
    trials = int(trial.max()) + 1
    shift = 0
    while (trials * ((horizon_ms >> shift) + 2)).bit_length() + idx_bits > PACKED_BITS:
        shift += 1
    span = (horizon_ms >> shift) + 2  # one trial's coarse times never touch the next trial's
    base = trial.astype(np.int64) * span
    lo = base + (start_ms >> shift)
    hi = base + ((end_ms + ((1 << shift) - 1)) >> shift)
    packed = np.sort((lo << idx_bits) | np.arange(n, dtype=np.int64))
    order = packed & ((1 << idx_bits) - 1)
    reach = np.maximum.accumulate(hi[order])  # latest end so far, in start order
    new = np.ones(n + 1, bool)  # a cluster of overlapping outages starts here
    np.greater(packed[1:] >> idx_bits, reach[:-1], out=new[1:n])
    alone = np.empty(n, bool)
    alone[order] = new[:-1] & new[1:]
    return alone
