"""Steady-state unavailability of one target, for the `min_availability` rule.

`target_unavailability` asks the fault-tree engine: the target's fault tree
(`analysis.fault_tree_compile.fault_tree_of`, cycles unrolled to the least fixpoint) compiled to a
BDD (`analysis.faulttree.FaultTreeBDD`), whose probability is exact. `enumerated_unavailability`
computes the same number a second, independent way, through the bit-parallel propagation kernel
(so it agrees with the static semantics by construction); the tests hold the two to each other.
Basic events are assumed independent.

Single points of failure are factored out first: the target is up only if every SPOF is up, so
P(up) = prod(1 - p_spof) x P(up | every SPOF up), and only the other basic events (typically the
members of redundancy groups and what lies below them) are enumerated, 2^k states with k bounded by
`MAX_ENUMERATED_EVENTS`. A long serial chain therefore costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aftershock.analysis.propagation import WORD_BITS, propagate_down, scenario_bits
from aftershock.analysis.structure import all_single_points_of_failure
from aftershock.model.compile import CompiledGraph

MAX_ENUMERATED_EVENTS = 22
_CHUNK_BITS = 16  # 65,536 states per pass


@dataclass(frozen=True)
class Estimate:
    """P(target down) and how it was computed."""

    unavailability: float
    method: str


def target_unavailability(graph: CompiledGraph, target: str) -> Estimate:
    """P(`target` is down), exactly; ValueError when failure data is missing."""
    _require_data(graph, target)
    try:
        from aftershock.analysis.fault_tree_compile import fault_tree_of
        from aftershock.analysis.faulttree import FaultTreeBDD
    except ImportError:  # an engine without the fault-tree modules
        return Estimate(enumerated_unavailability(graph, target), "exact: SPOFs factored, enumerated")
    tree = fault_tree_of(graph, target, require_probabilities=True)
    return Estimate(FaultTreeBDD.build(tree).probability(), "exact: BDD of the fault tree")


def _require_data(graph: CompiledGraph, target: str) -> None:
    events = basic_events_below(graph, target)
    unknown = [graph.names[i] for i in events[np.isnan(graph.unavailability[events])]]
    if unknown:
        raise ValueError(
            f"{len(unknown)} component(s) below it have no failure data: {', '.join(unknown[:5])}"
            + (" ..." if len(unknown) > 5 else "")
        )


def basic_events_below(graph: CompiledGraph, target: str) -> np.ndarray:
    """Ids of the components below `target` (itself included) that can fail by themselves."""
    below = graph.hard_descendants(np.asarray([graph.index[target]]))
    return np.flatnonzero(below & graph.can_fail)


def enumerated_unavailability(graph: CompiledGraph, target: str, factor_spofs: bool = True) -> float:
    """Exact P(target down): SPOFs factored out, the other basic events enumerated."""
    _require_data(graph, target)
    events = basic_events_below(graph, target)
    t = graph.index[target]
    serial = np.zeros(graph.n, dtype=bool)
    if factor_spofs:
        serial[graph.ids(all_single_points_of_failure(graph, [target])[target])] = True
        serial[t] = bool(graph.can_fail[t])  # its own failure takes it down too
    rest = events[~serial[events]]
    k = len(rest)
    if k > MAX_ENUMERATED_EVENTS:
        raise ValueError(
            f"{k} basic events besides its single points of failure are too many to enumerate "
            f"(limit {MAX_ENUMERATED_EVENTS}); the fault-tree engine computes it exactly"
        )
    p_up_serial = float(np.prod(1.0 - graph.unavailability[events[serial[events]]]))
    down_given_serial_up = _enumerate(graph, t, rest, graph.unavailability[rest])
    return min(1.0, 1.0 - p_up_serial * (1.0 - down_given_serial_up))


def _enumerate(graph: CompiledGraph, t: int, events: np.ndarray, p: np.ndarray) -> float:
    """P(t down) summed over all 2^k states of `events` (every other component working)."""
    k = len(events)
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
    return total
