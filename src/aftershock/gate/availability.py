"""Steady-state unavailability of one target, for the `min_availability` rule.

The exact answer comes from the fault-tree engine (`aftershock.analysis.faulttree`) when it is
installed. Until then, and as a cross-check, `enumerated_unavailability` computes the same number
exactly by enumerating every combination of the basic events below the target (2^k states, k
bounded by `MAX_ENUMERATED_EVENTS`) through the bit-parallel propagation kernel, so it agrees with
the static semantics by construction. Basic events are assumed independent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aftershock.analysis.propagation import WORD_BITS, propagate_down, scenario_bits
from aftershock.model.compile import CompiledGraph

MAX_ENUMERATED_EVENTS = 22
_CHUNK_BITS = 16  # 65,536 states per pass


@dataclass(frozen=True)
class Estimate:
    """P(target down) and how it was computed."""

    unavailability: float
    method: str


def target_unavailability(graph: CompiledGraph, target: str) -> Estimate:
    """P(`target` is down), exactly; ValueError when data is missing or the target is too large."""
    try:
        from aftershock.analysis import faulttree  # landed independently of this module
    except ImportError:
        faulttree = None
    if faulttree is not None and hasattr(faulttree, "top_event_probability"):
        return Estimate(float(faulttree.top_event_probability(graph, target)), "fault tree (BDD)")
    return Estimate(enumerated_unavailability(graph, target), "exact enumeration")


def basic_events_below(graph: CompiledGraph, target: str) -> np.ndarray:
    """Ids of the components below `target` (itself included) that can fail by themselves."""
    below = graph.hard_descendants(np.asarray([graph.index[target]]))
    return np.flatnonzero(below & graph.can_fail)


def enumerated_unavailability(graph: CompiledGraph, target: str) -> float:
    """Exact P(target down) by enumerating all 2^k states of its k basic events."""
    events = basic_events_below(graph, target)
    p = graph.unavailability[events]
    unknown = [graph.names[i] for i in events[np.isnan(p)]]
    if unknown:
        raise ValueError(
            f"{len(unknown)} component(s) below it have no failure data: {', '.join(unknown[:5])}"
            + (" ..." if len(unknown) > 5 else "")
        )
    k = len(events)
    if k > MAX_ENUMERATED_EVENTS:
        raise ValueError(
            f"{k} basic events are too many to enumerate (limit {MAX_ENUMERATED_EVENTS}); "
            "the fault-tree engine (aftershock.analysis.faulttree) computes it exactly"
        )
    t = graph.index[target]
    chunk_bits = min(k, _CHUNK_BITS)
    per_chunk = 1 << chunk_bits
    low_states = np.arange(per_chunk, dtype=np.int64)
    low_bits = ((low_states[None, :] >> np.arange(chunk_bits)[:, None]) & 1).astype(bool)
    total = 0.0
    for high in range(1 << (k - chunk_bits)):
        high_bits = ((high >> np.arange(k - chunk_bits)) & 1).astype(bool)
        state = np.vstack([low_bits, np.repeat(high_bits[:, None], per_chunk, axis=1)])  # (k, S)
        failed = np.zeros((graph.n, max(1, per_chunk // WORD_BITS)), dtype=np.uint64)
        packed = np.packbits(state, axis=1, bitorder="little")
        if packed.shape[1] % 8:
            packed = np.pad(packed, ((0, 0), (0, 8 - packed.shape[1] % 8)))
        failed[events] = packed.view(np.uint64)
        down = scenario_bits(propagate_down(graph, failed)[[t]], per_chunk)[0]
        weight = np.prod(np.where(state, p[:, None], 1.0 - p[:, None]), axis=0)
        total += float(weight[down].sum())
    return min(1.0, total)
