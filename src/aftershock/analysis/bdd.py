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

Each independent module of the tree (`analysis.fault_tree_modules`) is one variable of the BDD,
and its own function is built once, in the same arrays (`module_roots`); the analyses combine
them bottom-up: probability first, Birnbaum by the chain rule, cut sets computed with the module
as one element, then expanded (`FaultTreeBDD._expand_modules`).

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
from aftershock.gc_pause import collector_paused

# ---------------------------------------------------------------------------------------------
# BDD: built with CUDD, then exported to arrays. Edge e = 2 * node + complemented; node 0 is the
# constant TRUE, so edge 0 is TRUE and edge 1 is FALSE. Nodes are numbered children first.


@dataclass
class FaultTreeBDD:
    """The reduced ordered BDD of a fault tree's top event, as arrays.

    `events` are the basic events, in variable order. BDD variables are the events and one per
    module (`analysis.fault_tree_modules`): node i tests variable `var[i]`, with edges `high[i]`
    (failed) and `low[i]`; `event_of[v]` is the index in `events` of variable v (-1 for a
    module's); `module_roots[v]` is the edge of module variable v's function, built in the same
    arrays. Variables are numbered in order (v is also the level), a module's own right after it.
    """

    tree: FaultTree
    events: list[str]
    var: np.ndarray
    high: np.ndarray
    low: np.ndarray
    root: int
    event_of: np.ndarray
    module_roots: dict[int, int]

    @property
    def node_count(self) -> int:
        """Number of BDD nodes (the modules' included), the constant included."""
        return len(self.var)

    @classmethod
    def build(cls, tree: FaultTree, *, max_memory: int = DEFAULT_MAX_MEMORY) -> FaultTreeBDD:
        """Compile the top event of `tree` (checked first) into a BDD within `max_memory` bytes
        (the variable order is chosen by `bdd_order.build_bdd`)."""
        check_tree(tree)
        with collector_paused():
            built = build_bdd(tree, max_memory)
        events = [a.name for a in built.variables if a.kind == "basic"]
        event_of = np.cumsum([a.kind == "basic" for a in built.variables], dtype=np.int64) - 1
        for v in built.module_roots:
            event_of[v] = -1
        return cls(tree, events, built.var, built.high, built.low, built.root, event_of,
                   built.module_roots)

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
        """Probability of the function of every (regular) node, given event probabilities."""
        return self._pass_up(p)[0]

    def _pass_up(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """Node probabilities, variable probabilities (a module's: its function's) and the
        levels, deepest first. A module's nodes lie below its variable, so they come first."""
        q = np.zeros(len(self.event_of), dtype=float)
        is_event = self.event_of >= 0
        q[is_event] = np.asarray(p, dtype=float)[self.event_of[is_event]]
        prob = np.empty(self.node_count, dtype=float)
        prob[0] = 1.0
        levels = _levels_bottom_up(self.var)
        modules = self.module_roots
        for nodes in levels:
            v = int(self.var[nodes[0]])
            if v in modules:
                q[v] = _edge_value(prob, np.asarray([modules[v]]))[0]
            qv = q[v]
            prob[nodes] = qv * _edge_value(prob, self.high[nodes]) + (1.0 - qv) * _edge_value(prob, self.low[nodes])
        return prob, q, levels

    def probability(self, p: np.ndarray | None = None) -> float:
        """Exact probability of the top event."""
        if p is None:
            p = self.event_probabilities()
        prob = self.node_probabilities(p)
        return float(_edge_value(prob, np.asarray([self.root]))[0])

    def birnbaum(self, p: np.ndarray) -> tuple[float, np.ndarray]:
        """Top-event probability and dP/dp_e for every basic event e (Birnbaum's marginal importance).

        One top-down pass: G[i] = dP(top)/dP(node i); each node contributes
        G[i] * (P(high) - P(low)) to its variable's derivative. A module variable's derivative,
        complete once its level is passed, flows into its function's root (the chain rule).
        """
        prob, q, levels = self._pass_up(p)
        top = float(_edge_value(prob, np.asarray([self.root]))[0])
        grad = np.zeros(self.node_count, dtype=float)
        grad[self.root >> 1] += -1.0 if self.root & 1 else 1.0
        mif = np.zeros(len(self.event_of), dtype=float)
        for nodes in reversed(levels):
            v = int(self.var[nodes[0]])
            g = grad[nodes]
            hi, lo = self.high[nodes], self.low[nodes]
            qv = q[v]
            mif[v] += float(np.sum(g * (_edge_value(prob, hi) - _edge_value(prob, lo))))
            np.add.at(grad, hi >> 1, g * qv * _edge_sign(hi))
            np.add.at(grad, lo >> 1, g * (1.0 - qv) * _edge_sign(lo))
            edge = self.module_roots.get(v)
            if edge is not None and edge > 1:
                grad[edge >> 1] += mif[v] * (-1.0 if edge & 1 else 1.0)
        is_event = self.event_of >= 0
        out = np.zeros(len(self.events), dtype=float)
        out[self.event_of[is_event]] = mif[is_event]
        return top, out

    # -- minimal cut sets ------------------------------------------------------------------

    def minimal_cut_sets(self, max_order: int | None = None, *, max_memory: int = DEFAULT_MAX_MEMORY) -> CutSets:
        """The minimal cut sets of order <= max_order (all orders when None), as a ZBDD.

        Rauzy's recursion runs on the BDD with each module's variable as one element of the sets
        (the modules' functions are false when all their events work, so the subsumption tests
        between such sets are those between their expansions); `_expand_modules` then puts
        each module's own cut sets in the place of its variable.
        """
        nvars = len(self.event_of)
        limit = nvars if max_order is None else max(0, int(max_order))
        max_nodes = max(1000, max_memory // ZBDD_NODE_BYTES)
        zbdd = Zbdd(max_nodes=max_nodes)
        var, high, low = self.var.tolist(), self.high.tolist(), self.low.tolist()
        memo: dict[int, int] = {}
        without, make = zbdd.without, zbdd.node
        stride = limit + 2

        def minsol(edge: int, k: int) -> int:
            if edge <= 1:
                return 1 - edge  # TRUE -> {{}} (1), FALSE -> {} (0)
            node, neg = edge >> 1, edge & 1
            room = nvars - var[node]  # no set below this node has more elements than this
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

        if max_order is not None:
            def solve(edge: int) -> int:
                return minsol(edge, limit)
        else:
            # No order limit: the same recursion, its memo keyed by the edge alone, in a list,
            # looked up before the call.
            done = [-1] * (2 * self.node_count)
            done[0], done[1] = 1, 0

            def minsol_all(edge: int) -> int:
                node, neg = edge >> 1, edge & 1
                e = low[node] ^ neg
                lo = done[e]
                if lo < 0:
                    lo = minsol_all(e)
                e = high[node] ^ neg
                hi = done[e]
                if hi < 0:
                    hi = minsol_all(e)
                if hi and lo:
                    hi = without(hi, lo)
                result = make(var[node], hi, lo) if hi else lo
                done[edge] = result
                return result

            def solve(edge: int) -> int:
                return done[edge] if done[edge] >= 0 else minsol_all(edge)

        with _deep_recursion(4 * nvars + 1000), collector_paused():
            try:
                root = solve(self.root)
                if self.module_roots:
                    families = {v: solve(edge) for v, edge in self.module_roots.items()}
                    # The recursion's tables are done with: the expansion gets their memory.
                    memo.clear()
                    zbdd.unique.clear()
                    zbdd.without_memo.clear()
                    zbdd, root = self._expand_modules(zbdd, root, families, max_order,
                                                      max(1000, max_nodes - len(zbdd.var)))
            except MemoryError:
                raise ResourceLimitError(
                    f"the cut-set ZBDD of '{self.tree.top}' exceeds the memory budget",
                    file=self.tree.source,
                    hint="set a lower --max-order, or raise --max-memory",
                ) from None
            zbdd, root = zbdd.compacted(root)
        return CutSets(self.events, zbdd, root, max_order)

    def _expand_modules(self, sets: Zbdd, root: int, families: dict[int, int], max_order: int | None,
                        max_nodes: int) -> tuple[Zbdd, int]:
        """The family `root` of `sets` (over BDD variables, a module's standing for the module)
        with every module variable replaced by the module's own family (`families`, in `sets`
        too), as a new store over basic events; only sets of at most max_order events kept.

        A module's events come right after its variable, so its family goes in front of the
        rest of each set (`Zbdd.attach`); no event is shared, so the products stay minimal.
        """
        out = Zbdd(max_nodes=max_nodes)
        event_of = self.event_of.tolist()
        var, hi_, lo_, make, attach = sets.var, sets.hi, sets.lo, out.node, out.attach
        memo: dict[tuple[int, int | None], int] = {}
        expanded: dict[int, int] = {}

        def expand(n: int, room: int | None) -> int:
            """Node n's sets, expanded, of at most `room` events (None: any)."""
            if room is not None and room < 0:
                return 0
            if n <= 1:
                return n
            key = (n, room)
            r = memo.get(key)
            if r is not None:
                return r
            v = var[n]
            lo = expand(lo_[n], room)
            e = event_of[v]
            if e >= 0:
                r = make(e, expand(hi_[n], None if room is None else room - 1), lo)
            else:
                family = expanded.get(v)
                if family is None:
                    family = expanded[v] = expand(families[v], max_order)
                hi = hi_[n]
                r = attach(family, lambda taken: expand(hi, None if room is None else room - taken),
                           lo, room)
            memo[key] = r
            return r

        return out, expand(root, max_order)


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
