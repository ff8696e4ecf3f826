"""The BDD of a fault tree's top event as arrays, and the exact analyses on it.

`FaultTreeBDD.build` compiles the top event with CUDD (`analysis.bdd_order`) and copies it into
plain arrays; everything after that is exact arithmetic on those arrays:

- `probability()` — the exact top-event probability (Shannon decomposition, Bryant 1986);
- `birnbaum()` — dP/dp for every basic event in one top-down pass (`analysis.importance`);
- `minimal_cut_sets()` — the minimal cut sets as a ZBDD (`analysis.zbdd`) built in the manner of
  Rauzy ("New algorithms for fault trees analysis", RESS 40, 1993): ``minsol(ite(x, F1, F0)) =
  x.without(minsol(F1), minsol(F0)) + minsol(F0)``, with an order limit applied during the
  construction.

CUDD uses complemented edges: an edge may point at a node and mean its negation, and a node's
`low`/`high` do not include the flag of the edge that reached it. The export keeps that flag
on every edge (bit 0 of an edge number), and every traversal applies it.

For a non-coherent tree (`not`, `xor`, ...) a cut set is a minimal set of basic events whose
failure, with every other basic event working, makes the top event occur (negative literals
dropped, as SCRAM does without --prime-implicants).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from aftershock.analysis.bdd_order import build_bdd
from aftershock.analysis.fault_tree_model import (
    DEFAULT_MAX_MEMORY,
    FaultTree,
    FaultTreeError,
    ResourceLimitError,
    check_tree,
)
from aftershock.analysis.zbdd import ZBDD_NODE_BYTES, CutSets, Zbdd

# ---------------------------------------------------------------------------------------------
# BDD: built with CUDD, then exported to arrays. Edge e = 2 * node + complemented; node 0 is the
# constant TRUE, so edge 0 is TRUE and edge 1 is FALSE. Nodes are numbered children first.


@dataclass
class FaultTreeBDD:
    """The reduced ordered BDD of a fault tree's top event, as arrays.

    `events[v]` is the basic event of variable v (v is also its level: the order is fixed);
    node i tests `var[i]`, with edges `high[i]` (event failed) and `low[i]`.
    """

    tree: FaultTree
    events: list[str]
    var: np.ndarray
    high: np.ndarray
    low: np.ndarray
    root: int

    @property
    def node_count(self) -> int:
        """Number of BDD nodes, the constant included."""
        return len(self.var)

    @classmethod
    def build(cls, tree: FaultTree, *, max_memory: int = DEFAULT_MAX_MEMORY) -> FaultTreeBDD:
        """Compile the top event of `tree` (checked first) into a BDD within `max_memory` bytes
        (the variable order is chosen by `bdd_order.build_bdd`)."""
        check_tree(tree)
        events, var, high, low, root = build_bdd(tree, max_memory)
        return cls(tree, events, var, high, low, root)

    # -- probability -----------------------------------------------------------------------

    def event_probabilities(self) -> np.ndarray:
        """Probability of each variable's basic event (an error naming those that have none)."""
        probs = [self.tree.basic_events.get(e) for e in self.events]
        missing = [e for e, p in zip(self.events, probs, strict=True) if p is None]
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            raise FaultTreeError(
                f"{len(missing)} basic event(s) have no probability: {shown}",
                file=self.tree.source,
                hint="give each a probability, or pass a default probability",
            )
        return np.asarray(probs, dtype=float)

    def node_probabilities(self, p: np.ndarray) -> np.ndarray:
        """Probability of the function of every (regular) node, given variable probabilities."""
        prob = np.empty(self.node_count, dtype=float)
        prob[0] = 1.0
        for nodes in _levels_bottom_up(self.var):
            prob[nodes] = p[self.var[nodes]] * _edge_value(prob, self.high[nodes]) + (
                1.0 - p[self.var[nodes]]
            ) * _edge_value(prob, self.low[nodes])
        return prob

    def probability(self, p: np.ndarray | None = None) -> float:
        """Exact probability of the top event."""
        if p is None:
            p = self.event_probabilities()
        prob = self.node_probabilities(p)
        return float(_edge_value(prob, np.asarray([self.root]))[0])

    def birnbaum(self, p: np.ndarray) -> tuple[float, np.ndarray]:
        """Top-event probability and dP/dp_v for every variable v (Birnbaum's marginal importance).

        One top-down pass: G[i] = dP(top)/dP(node i); each node contributes
        G[i] * (P(high) - P(low)) to its variable's derivative.
        """
        prob = self.node_probabilities(p)
        top = float(_edge_value(prob, np.asarray([self.root]))[0])
        grad = np.zeros(self.node_count, dtype=float)
        grad[self.root >> 1] = -1.0 if self.root & 1 else 1.0
        mif = np.zeros(len(self.events), dtype=float)
        for nodes in reversed(_levels_bottom_up(self.var)):
            v = self.var[nodes]
            g = grad[nodes]
            hi, lo = self.high[nodes], self.low[nodes]
            np.add.at(mif, v, g * (_edge_value(prob, hi) - _edge_value(prob, lo)))
            np.add.at(grad, hi >> 1, g * p[v] * _edge_sign(hi))
            np.add.at(grad, lo >> 1, g * (1.0 - p[v]) * _edge_sign(lo))
        return top, mif

    # -- minimal cut sets ------------------------------------------------------------------

    def minimal_cut_sets(self, max_order: int | None = None, *, max_memory: int = DEFAULT_MAX_MEMORY) -> CutSets:
        """The minimal cut sets of order <= max_order (all orders when None), as a ZBDD."""
        limit = len(self.events) if max_order is None else max(0, int(max_order))
        zbdd = Zbdd(max_nodes=max(1000, max_memory // ZBDD_NODE_BYTES))
        var, high, low = self.var.tolist(), self.high.tolist(), self.low.tolist()
        memo: dict[int, int] = {}
        without, make = zbdd.without, zbdd.node
        stride = limit + 2
        nvars = len(self.events)

        def minsol(edge: int, k: int) -> int:
            if edge <= 1:
                return 1 - edge  # TRUE -> {{}} (1), FALSE -> {} (0)
            node, neg = edge >> 1, edge & 1
            room = nvars - var[node]  # no set below this node has more events than this
            if k > room:
                k = room  # so an order limit that cannot bind does not split the memo
            key = edge * stride + k
            hit = memo.get(key)
            if hit is not None:
                return hit
            lo = minsol(low[node] ^ neg, k)
            hi = without(minsol(high[node] ^ neg, k - 1), lo) if k > 0 else 0
            result = make(var[node], hi, lo)
            memo[key] = result
            return result

        with _deep_recursion(4 * len(self.events) + 1000):
            try:
                root = minsol(self.root, limit)
            except MemoryError:
                raise ResourceLimitError(
                    f"the cut-set ZBDD of '{self.tree.top}' exceeds the memory budget",
                    file=self.tree.source,
                    hint="set a lower --max-order, or raise --max-memory",
                ) from None
        zbdd, root = zbdd.compacted(root)
        return CutSets(self.events, zbdd, root, max_order)


# ---------------------------------------------------------------------------------------------
# Helpers over the exported BDD arrays.


def _edge_value(prob: np.ndarray, edges: np.ndarray) -> np.ndarray:
    val = prob[edges >> 1]
    neg = (edges & 1).astype(bool)
    return np.where(neg, 1.0 - val, val)


def _edge_sign(edges: np.ndarray) -> np.ndarray:
    return 1.0 - 2.0 * (edges & 1)


def _levels_bottom_up(var: np.ndarray) -> list[np.ndarray]:
    """Non-terminal nodes grouped by variable, deepest level first (children before parents)."""
    nodes = np.arange(1, len(var))
    if not nodes.size:
        return []
    order = np.argsort(-var[nodes], kind="stable")
    nodes = nodes[order]
    levels = var[nodes]
    bounds = np.flatnonzero(np.diff(levels)) + 1
    return np.split(nodes, bounds)


class _deep_recursion:
    """Raise the interpreter's recursion limit for a BDD-deep recursion (Python 3.11+ frames are
    not on the C stack for Python-to-Python calls)."""

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.saved = sys.getrecursionlimit()

    def __enter__(self) -> None:
        sys.setrecursionlimit(max(self.saved, self.depth + 100))

    def __exit__(self, *exc: object) -> None:
        sys.setrecursionlimit(self.saved)
