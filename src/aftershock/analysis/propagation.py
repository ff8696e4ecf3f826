"""Bit-parallel failure propagation: the DOWN and DEGRADED sets of many failure scenarios at once.

Scenario s is bit s of a row of uint64 words: `failed[i, w] >> b & 1` says whether component i
failed by itself in scenario 64 w + b. One pass over the graph's stages computes every scenario,
so the cost per scenario is a few word operations per edge. This is the kernel behind blast
radius, single points of failure, criticality and the Monte Carlo engines.

Semantics (docs/model.md): DOWN is the least fixpoint of
``down[i] = failed[i] | any(down[requires]) | (fewer than k members up)``;
DEGRADED is ``not down[i] and (any(down[uses]) or any(degraded[requires]))``.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from aftershock.model.compile import CSR, CompiledGraph

WORD_BITS = 64


@dataclass(frozen=True)
class _Reduce:
    """A gather-and-reduce over a stage: nodes[j] combines rows idx[starts[j]:starts[j+1]]."""

    nodes: np.ndarray
    positions: np.ndarray  # where `nodes` sit inside the stage
    idx: np.ndarray
    starts: np.ndarray

    @classmethod
    def of(cls, adj: CSR, stage_nodes: np.ndarray) -> _Reduce | None:
        deg = adj.indptr[stage_nodes + 1] - adj.indptr[stage_nodes]
        keep = deg > 0
        if not keep.any():
            return None
        nodes, deg = stage_nodes[keep], deg[keep]
        starts_in_adj = adj.indptr[nodes]
        starts = np.zeros(len(nodes), dtype=np.int64)
        np.cumsum(deg[:-1], out=starts[1:])
        offsets = np.repeat(starts_in_adj - starts, deg) + np.arange(deg.sum())
        return cls(nodes, np.flatnonzero(keep), adj.indices[offsets], starts)

    def any(self, rows: np.ndarray) -> np.ndarray:
        """Bitwise OR of each node's gathered rows."""
        return np.bitwise_or.reduceat(rows[self.idx], self.starts, axis=0)

    def all(self, rows: np.ndarray) -> np.ndarray:
        """Bitwise AND of each node's gathered rows."""
        return np.bitwise_and.reduceat(rows[self.idx], self.starts, axis=0)


@dataclass(frozen=True)
class _StagePlan:
    nodes: np.ndarray
    cyclic: bool
    any_down: _Reduce | None  # requires, and members of groups that need all of them
    all_down: _Reduce | None  # members of any_of groups: down when all are down
    votes: tuple[tuple[int, np.ndarray, int], ...]  # (node, members, members down that kill it)
    uses: _Reduce | None
    requires: _Reduce | None


_plans: weakref.WeakKeyDictionary[CompiledGraph, tuple[_StagePlan, ...]] = (
    weakref.WeakKeyDictionary()
)


def _plan(graph: CompiledGraph) -> tuple[_StagePlan, ...]:
    cached = _plans.get(graph)
    if cached is not None:
        return cached
    n = graph.n
    size = graph.members.degree()
    k = graph.group_k
    # A group that needs every member up fails like a hard dependency; one that needs one fails when
    # all fail; anything between is a vote.
    all_needed = (k > 0) & (k == size)
    one_needed = (k == 1) & (size > 1)
    voting = (k > 1) & (k < size)
    member_rows = (
        [graph.members.row(i) if all_needed[i] else () for i in range(n)]
        if all_needed.any()
        else None
    )
    any_adj = graph.requires
    if member_rows is not None:
        any_adj = CSR.from_lists(
            [list(graph.requires.row(i)) + list(member_rows[i]) for i in range(n)]
        )
    all_adj = _mask_rows(graph.members, one_needed)
    plans = []
    for stage in graph.stages:
        nodes = stage.nodes
        votes = tuple(
            (int(i), graph.members.row(int(i)), int(size[i] - k[i] + 1))
            for i in nodes[voting[nodes]]
        )
        plans.append(
            _StagePlan(
                nodes=nodes,
                cyclic=stage.cyclic,
                any_down=_Reduce.of(any_adj, nodes),
                all_down=_Reduce.of(all_adj, nodes),
                votes=votes,
                uses=_Reduce.of(graph.uses, nodes),
                requires=_Reduce.of(graph.requires, nodes),
            )
        )
    result = tuple(plans)
    _plans[graph] = result
    return result


def _mask_rows(adj: CSR, keep: np.ndarray) -> CSR:
    deg = np.where(keep, adj.degree(), 0)
    indptr = np.zeros(len(deg) + 1, dtype=np.int64)
    np.cumsum(deg, out=indptr[1:])
    mask = np.repeat(keep, adj.degree())
    return CSR(indptr, adj.indices[mask])


def words_for(scenarios: int) -> int:
    """Number of uint64 words that hold one bit per scenario."""
    return max(1, -(-scenarios // WORD_BITS))


def _update_down(down: np.ndarray, st: _StagePlan) -> None:
    if st.any_down is not None:
        down[st.any_down.nodes] |= st.any_down.any(down)
    if st.all_down is not None:
        down[st.all_down.nodes] |= st.all_down.all(down)
    for node, members, threshold in st.votes:
        down[node] |= count_at_least(down[members], threshold)


def count_at_least(rows: np.ndarray, threshold: int) -> np.ndarray:
    """Per scenario bit: are at least `threshold` of `rows` set? (rows: (m, W) uint64)."""
    bits = np.unpackbits(np.ascontiguousarray(rows).view(np.uint8), axis=1, bitorder="little")
    hit = bits.sum(axis=0, dtype=np.int64) >= threshold
    return np.packbits(hit, bitorder="little").view(np.uint64)


def propagate_down(graph: CompiledGraph, failed: np.ndarray) -> np.ndarray:
    """DOWN sets for many scenarios: `failed` is (n, W) uint64 of own failures; returns (n, W)."""
    down = np.array(failed, dtype=np.uint64, copy=True)
    for st in _plan(graph):
        if not st.cyclic:
            _update_down(down, st)
            continue
        # Failure spreads around a cycle until nothing changes (the least fixpoint).
        while True:
            before = down[st.nodes].copy()
            _update_down(down, st)
            if np.array_equal(before, down[st.nodes]):
                break
    return down


def propagate_degraded(graph: CompiledGraph, down: np.ndarray) -> np.ndarray:
    """DEGRADED sets for the scenarios whose DOWN sets are `down` ((n, W) uint64)."""
    degraded = np.zeros_like(down)
    for st in _plan(graph):
        if st.uses is None and st.requires is None:
            continue
        while True:
            acc = np.zeros((len(st.nodes), down.shape[1]), dtype=np.uint64)
            if st.uses is not None:
                acc[st.uses.positions] |= st.uses.any(down)
            if st.requires is not None:
                acc[st.requires.positions] |= st.requires.any(degraded)
            new = acc & ~down[st.nodes]
            changed = not np.array_equal(new, degraded[st.nodes])
            degraded[st.nodes] = new
            if not (st.cyclic and changed):
                break
    return degraded


def single_failures(candidates: np.ndarray, n: int) -> np.ndarray:
    """(n, W) failure bits where scenario j is the failure of candidates[j] alone."""
    failed = np.zeros((n, words_for(len(candidates))), dtype=np.uint64)
    j = np.arange(len(candidates))
    np.bitwise_or.at(
        failed,
        (candidates, j // WORD_BITS),
        np.left_shift(np.uint64(1), (j % WORD_BITS).astype(np.uint64)),
    )
    return failed


def scenario_bits(rows: np.ndarray, scenarios: int) -> np.ndarray:
    """Unpack (m, W) uint64 rows into an (m, scenarios) bool matrix."""
    bits = np.unpackbits(np.ascontiguousarray(rows).view(np.uint8), axis=-1, bitorder="little")
    return bits[..., :scenarios].astype(bool)
