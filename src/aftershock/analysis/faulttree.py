"""Fault trees and their exact analysis with binary decision diagrams.

A `FaultTree` is a DAG of gates over basic events (each a failure with a probability) and house
events (constants). `FaultTreeBDD.build` compiles the top event into a reduced ordered BDD with
CUDD (through `dd.cudd`) and copies it into plain arrays; everything after that is exact arithmetic
on those arrays:

- `probability()` — the exact top-event probability (Shannon decomposition, Bryant 1986);
- `minimal_cut_sets()` — the minimal cut sets as a ZBDD built from the BDD in the manner of
  Rauzy ("New algorithms for fault trees analysis", RESS 40, 1993): ``minsol(ite(x, F1, F0)) =
  x.without(minsol(F1), minsol(F0)) + minsol(F0)``, with an order limit applied during the
  construction, then counted exactly, filtered by a probability cut-off and listed best first;
- the rare-event and min-cut-upper-bound approximations over those cut sets.

CUDD uses complemented edges: an edge may point at a node and mean its negation, and a node's
`low`/`high` do not include the flag of the edge that reached it. The export below keeps that flag
on every edge (bit 0 of an edge number), and every traversal applies it.

For a non-coherent tree (`not`, `xor`, ...) a cut set is a minimal set of basic events whose
failure, with every other basic event working, makes the top event occur (negative literals
dropped, as SCRAM does without --prime-implicants).
"""

from __future__ import annotations

import heapq
import math
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from aftershock.errors import AftershockError

GATE_KINDS = ("and", "or", "atleast", "not", "nand", "nor", "xor", "null")
ArgKind = Literal["gate", "basic", "house"]

DEFAULT_MAX_MEMORY = 2 * 1024**3
# What CUDD spends per node, unique table and computed table included (measured, roughly).
_CUDD_NODE_BYTES = 128
# Below this many cut sets, sums whose series would converge slowly are taken set by set.
_ENUMERATE_UP_TO = 200_000
# A Python ZBDD node (three list slots, a unique-table entry) and its share of the memo tables
# (up to two entries a node) cost about this much.
_ZBDD_NODE_BYTES = 600


class FaultTreeError(AftershockError):
    """A fault tree is not valid (undefined, doubly defined or cyclic gates, bad probabilities...)."""


class ResourceLimitError(AftershockError):
    """An analysis needs more memory than its budget allows."""


@dataclass(frozen=True)
class Arg:
    """A gate input: a gate, a basic event or a house event, by name."""

    kind: ArgKind
    name: str


@dataclass(frozen=True)
class Gate:
    """A logic gate. `k` is the threshold of an `atleast` gate; `null` passes its one input through."""

    name: str
    kind: str
    args: tuple[Arg, ...]
    k: int | None = None


@dataclass
class FaultTree:
    """Gates over basic events. `basic_events[name]` is its probability (None when not given)."""

    name: str
    top: str
    gates: dict[str, Gate]
    basic_events: dict[str, float | None]
    house_events: dict[str, bool] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    source: str | None = None  # the file it came from, for error messages

    def reachable(self) -> tuple[list[str], list[str]]:
        """Gates and basic events under the top gate, in depth-first left-most order of first visit."""
        gates_seen: dict[str, None] = {}
        events_seen: dict[str, None] = {}
        stack: list[tuple[str, int]] = [(self.top, 0)]
        gates_seen[self.top] = None
        while stack:
            name, i = stack.pop()
            args = self.gates[name].args
            while i < len(args):
                arg = args[i]
                i += 1
                if arg.kind == "basic":
                    events_seen.setdefault(arg.name, None)
                elif arg.kind == "gate" and arg.name not in gates_seen:
                    gates_seen[arg.name] = None
                    stack.append((name, i))
                    stack.append((arg.name, 0))
                    break
        return list(gates_seen), list(events_seen)

    def missing_probabilities(self) -> list[str]:
        """Basic events under the top gate that have no probability."""
        return [e for e in self.reachable()[1] if self.basic_events.get(e) is None]


def check_tree(tree: FaultTree) -> None:
    """Raise FaultTreeError unless every reference resolves, gates are well formed and acyclic."""
    if tree.top not in tree.gates:
        raise FaultTreeError(f"top gate '{tree.top}' is not defined")
    for gate in tree.gates.values():
        _check_gate(tree, gate)
    for name, p in tree.basic_events.items():
        if p is not None and not (0.0 <= p <= 1.0):
            raise FaultTreeError(f"basic event '{name}': probability {p} is outside [0, 1]")
    cycle = find_gate_cycle(tree)
    if cycle:
        raise FaultTreeError("gates form a cycle: " + " -> ".join(cycle))


def _check_gate(tree: FaultTree, gate: Gate) -> None:
    if gate.kind not in GATE_KINDS:
        raise FaultTreeError(f"gate '{gate.name}': unknown kind '{gate.kind}'")
    n = len(gate.args)
    if gate.kind in ("not", "null") and n != 1:
        raise FaultTreeError(f"gate '{gate.name}': a {gate.kind} gate takes exactly one input")
    if n == 0:
        raise FaultTreeError(f"gate '{gate.name}': no inputs")
    if gate.kind == "xor" and n < 2:
        raise FaultTreeError(f"gate '{gate.name}': xor needs at least two inputs")
    if gate.kind == "atleast" and (gate.k is None or not 1 <= gate.k <= n):
        raise FaultTreeError(f"gate '{gate.name}': atleast needs 1 <= k <= {n} inputs, got k = {gate.k}")
    for arg in gate.args:
        table = {"gate": tree.gates, "basic": tree.basic_events, "house": tree.house_events}[arg.kind]
        if arg.name not in table:
            raise FaultTreeError(f"gate '{gate.name}': {arg.kind} event '{arg.name}' is not defined")


def find_gate_cycle(tree: FaultTree) -> list[str]:
    """A cycle of gates (names, first repeated at the end), or [] when the gates form a DAG."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    for root in tree.gates:
        if root in state:
            continue
        path: list[str] = [root]
        iters = [iter(tree.gates[root].args)]
        state[root] = 1
        while iters:
            arg = next(iters[-1], None)
            if arg is None:
                state[path.pop()] = 2
                iters.pop()
                continue
            if arg.kind != "gate" or arg.name not in tree.gates:
                continue
            s = state.get(arg.name)
            if s == 1:
                return [*path[path.index(arg.name) :], arg.name]
            if s is None:
                state[arg.name] = 1
                path.append(arg.name)
                iters.append(iter(tree.gates[arg.name].args))
    return []


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
        """Compile the top event of `tree` (checked first) into a BDD within `max_memory` bytes.

        The variable order matters more than anything else and no static heuristic wins on
        every tree, so a small portfolio of orders (`variable_orders`) is raced: every order is built under a cap
        on live nodes that grows fourfold per round, and the smallest BDD of the first round in
        which any order finishes is kept. The cost is within a small factor of the best order's.
        """
        check_tree(tree)
        orders = variable_orders(tree)
        best = None  # (size, manager, top, events) of the smallest BDD so far
        cap: int | None = 50_000
        while best is None:
            for order in orders:
                # A later order only matters if it beats the best so far.
                limit = cap if best is None else min(cap or best[0], best[0]) + 1000
                try:
                    manager, top = _build_with_order(tree, order, max_memory, limit)
                except _OverCap:
                    continue
                size = top.dag_size
                if best is None or size < best[0]:
                    best = (size, manager, top, order)
                if best[0] < 2_000:
                    break  # small already: another order cannot pay for itself
            if cap is not None:
                cap = cap * 4 if cap * _CUDD_NODE_BYTES < max_memory else None
        _, manager, top, events = best
        var, high, low, root = _export(manager, top, events)
        del best, top, manager
        return cls(tree, events, var, high, low, root)

    # -- probability -----------------------------------------------------------------------

    def event_probabilities(self, default: float | None = None) -> np.ndarray:
        """Probability of each variable's basic event (`default` for missing ones, else an error)."""
        probs = []
        missing = []
        for e in self.events:
            p = self.tree.basic_events.get(e)
            if p is None:
                if default is None:
                    missing.append(e)
                    p = 0.0
                else:
                    p = default
            probs.append(p)
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
        zbdd = _Zbdd(max_nodes=max(1000, max_memory // _ZBDD_NODE_BYTES))
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
        return CutSets(self.events, zbdd, root, max_order)


@dataclass
class CutSets:
    """A family of minimal cut sets held as a ZBDD over the BDD's variables."""

    events: list[str]
    zbdd: _Zbdd
    root: int
    max_order: int | None

    def count(self) -> int:
        """Exact number of cut sets (a Python int: no overflow however many)."""
        return self.zbdd.count(self.root)

    def is_empty(self) -> bool:
        """No cut set at all (the top event cannot occur)."""
        return self.root == 0

    def statistics(self, p: np.ndarray, cutoff: float = 0.0) -> CutSetStatistics:
        """Count, rare-event and MCUB sums over the cut sets whose probability is >= cutoff."""
        z = self.zbdd
        maxp, minp = z.extreme_products(p)
        if self.root == 0:
            return CutSetStatistics(0, 0.0, 0.0, 0)
        top_q = maxp[self.root]
        if cutoff > 0 and top_q < cutoff:
            return CutSetStatistics(0, 0.0, 0.0, 0)
        largest = z.max_order(self.root)
        if 0.5 < top_q < 1.0 and self.count() <= _ENUMERATE_UP_TO:
            # The series converges slowly near 1: few enough sets to sum them one by one.
            qs = [q for _, q in z.best_first(self.root, p, cutoff)]
            rare = math.fsum(qs)
            mcub = -math.expm1(math.fsum(math.log1p(-q) for q in qs))
            return CutSetStatistics(len(qs), rare, mcub, largest)
        terms = _series_terms(min(top_q, 1.0))
        if cutoff <= 0:
            count = self.count()
            sums = z.power_sums(p, terms)[self.root]
        else:
            count, sums = _pruned_sums(z, self.root, p, cutoff, maxp, minp, terms)
        return CutSetStatistics(count, float(sums[0]), _mcub(sums, top_q), largest)

    def best(self, p: np.ndarray, limit: int, cutoff: float = 0.0) -> list[tuple[list[str], float]]:
        """The `limit` most probable cut sets with probability >= cutoff, most probable first."""
        out = []
        for vars_, q in self.zbdd.best_first(self.root, p, cutoff):
            out.append(([self.events[v] for v in vars_], q))
            if len(out) >= limit:
                break
        return out

    def all(self) -> Iterator[list[str]]:
        """Every cut set (depth first); use `count()` before listing a large family."""
        for vars_ in self.zbdd.iterate(self.root):
            yield [self.events[v] for v in vars_]


@dataclass(frozen=True)
class CutSetStatistics:
    """Sums over the cut sets kept by a cut-off."""

    count: int
    rare_event: float
    mcub: float
    max_order: int


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


class _OverCap(Exception):
    """A BDD grew past the size at which another variable order already did better."""


def variable_orders(tree: FaultTree) -> list[list[str]]:
    """Candidate variable orders, each the depth-first left-most visit of the gates with the
    inputs of every gate taken: as written; gates with more events first; gates with fewer events
    first; events before gates, then smaller gates; most used first. (Each of these is 10-100x
    better than the others on some Aralia tree.)"""
    index: dict[str, int] = {}
    under: dict[str, int] = {}  # bitset of the basic events under each gate
    for name in _postorder(tree):
        bits = 0
        for arg in tree.gates[name].args:
            if arg.kind == "basic":
                bits |= 1 << index.setdefault(arg.name, len(index))
            elif arg.kind == "gate":
                bits |= under[arg.name]
        under[name] = bits
    size = {g: b.bit_count() for g, b in under.items()}
    uses = Counter(a.name for g in tree.gates.values() for a in g.args)
    keys = [
        None,
        lambda a: (0, -size[a.name]) if a.kind == "gate" else (1, 0),
        lambda a: (0, size[a.name]) if a.kind == "gate" else (1, 0),
        lambda a: (1, size[a.name]) if a.kind == "gate" else (0, 0),
        lambda a: -uses[a.name],
    ]
    unique: list[list[str]] = []
    for key in keys:
        order = _dfs_events(tree, key)
        if order not in unique:
            unique.append(order)
    return unique


def _dfs_events(tree: FaultTree, key) -> list[str]:
    seen: set[str] = {tree.top}
    out: list[str] = []

    def args(name: str) -> list[Arg]:
        a = list(tree.gates[name].args)
        return sorted(a, key=key) if key is not None else a

    stack = [iter(args(tree.top))]
    while stack:
        arg = next(stack[-1], None)
        if arg is None:
            stack.pop()
        elif arg.kind == "basic":
            if arg.name not in seen:
                seen.add(arg.name)
                out.append(arg.name)
        elif arg.kind == "gate" and arg.name not in seen:
            seen.add(arg.name)
            stack.append(iter(args(arg.name)))
    return out


def _build_with_order(tree: FaultTree, events: list[str], max_memory: int, cap: int | None):
    """(manager, top) of the top event's BDD under one variable order; with a cap, CUDD's own
    memory limit stops the build (raising _OverCap) once it needs more than about `cap` nodes,
    so a hopeless order costs little."""
    import warnings

    import dd.cudd as cudd

    manager = cudd.BDD(memory_estimate=min(max_memory, 8 * 1024**2))  # CUDD grows it
    limit = max_memory
    if cap is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # dd warns that 'mem' is now in bytes
            base = int(manager.statistics()["mem"])
        limit = min(max_memory, base + cap * _CUDD_NODE_BYTES)
    manager.configure(reordering=False, max_memory=limit)
    if events:
        manager.declare(*events)
    try:
        top = _build_top(manager, tree)
    except ValueError as exc:
        if "NULL" not in str(exc):
            raise
        if limit < max_memory:
            raise _OverCap from None
        raise ResourceLimitError(
            f"the BDD of '{tree.top}' needs more than {max_memory / 1024**2:.0f} MiB",
            file=tree.source,
            hint="raise --max-memory, or bound the analysis (fewer targets, a smaller tree)",
        ) from None
    manager.configure(max_memory=max_memory)  # the export may still allocate
    return manager, top


def _build_top(manager, tree: FaultTree):
    """BDD of the top gate, gates compiled children first without recursion; a gate's BDD is
    dropped once every gate using it is built."""
    order = _postorder(tree)
    uses: dict[str, int] = {}
    for name in order:
        for arg in tree.gates[name].args:
            if arg.kind == "gate":
                uses[arg.name] = uses.get(arg.name, 0) + 1
    built: dict[str, object] = {}
    for name in order:
        gate = tree.gates[name]
        ins = []
        for arg in gate.args:
            if arg.kind == "gate":
                ins.append(built[arg.name])
                uses[arg.name] -= 1
                if not uses[arg.name]:
                    del built[arg.name]
            elif arg.kind == "basic":
                ins.append(manager.var(arg.name))
            else:
                ins.append(manager.true if tree.house_events[arg.name] else manager.false)
        built[name] = _apply_gate(manager, gate, ins)
    return built[tree.top]


def _postorder(tree: FaultTree) -> list[str]:
    done: set[str] = set()
    out: list[str] = []
    for root in (tree.top,):
        stack = [(root, iter(tree.gates[root].args))]
        done.add(root)
        while stack:
            name, it = stack[-1]
            arg = next(it, None)
            if arg is None:
                stack.pop()
                out.append(name)
            elif arg.kind == "gate" and arg.name not in done:
                done.add(arg.name)
                stack.append((arg.name, iter(tree.gates[arg.name].args)))
    return out


def _apply_gate(m, gate: Gate, ins: list):
    kind = gate.kind
    if kind in ("and", "nand"):
        r = m.true
        for f in ins:
            r = r & f
        return ~r if kind == "nand" else r
    if kind in ("or", "nor"):
        r = m.false
        for f in ins:
            r = r | f
        return ~r if kind == "nor" else r
    if kind == "not":
        return ~ins[0]
    if kind == "null":
        return ins[0]
    if kind == "xor":
        r = m.false
        for f in ins:
            r = m.apply("xor", r, f)
        return r
    if kind == "atleast":
        return _at_least(m, ins, int(gate.k or 1))
    raise FaultTreeError(f"gate '{gate.name}': unknown kind '{kind}'")


def _at_least(m, ins: list, k: int):
    """At least k of ins true: dynamic programme over (inputs seen, still needed)."""
    # row[j] = "at least j of the inputs seen so far", j = 0..k
    row = [m.true] + [m.false] * k
    for f in ins:
        for j in range(k, 0, -1):
            row[j] = row[j] | (f & row[j - 1])
    return row[k]


def _export(manager, top, events: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Copy the BDD under `top` into arrays, keeping the complement bit of every edge."""
    level_to_var = {manager.level_of_var(e): i for i, e in enumerate(events)}
    true_key = int(manager.true) & ~1
    index: dict[int, int] = {true_key: 0}
    var: list[int] = [-1]
    high: list[int] = [0]
    low: list[int] = [0]
    stack = [top]
    while stack:
        u = stack[-1]
        key = int(u) & ~1
        if key in index:
            stack.pop()
            continue
        h, lo = u.high, u.low
        kh, kl = int(h), int(lo)
        ih, il = index.get(kh & ~1), index.get(kl & ~1)
        if ih is None or il is None:
            if ih is None:
                stack.append(h)
            if il is None:
                stack.append(lo)
            continue
        stack.pop()
        index[key] = len(var)
        var.append(level_to_var[u.level])
        high.append(2 * ih + (kh & 1))
        low.append(2 * il + (kl & 1))
    root = 2 * index[int(top) & ~1] + (int(top) & 1)
    return (
        np.asarray(var, dtype=np.int64),
        np.asarray(high, dtype=np.int64),
        np.asarray(low, dtype=np.int64),
        root,
    )


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


# ---------------------------------------------------------------------------------------------
# ZBDD of families of sets (Minato 1993). Node 0 is the empty family, node 1 the family {{}}.
# Children are always created before their parents, so node ids are a topological order.

_TERMINAL_VAR = 1 << 62


class _Zbdd:
    """A zero-suppressed BDD store: hash-consed nodes and the operations cut sets need."""

    def __init__(self, max_nodes: int) -> None:
        self.var: list[int] = [_TERMINAL_VAR, _TERMINAL_VAR]
        self.hi: list[int] = [0, 0]
        self.lo: list[int] = [0, 0]
        self.unique: dict[tuple[int, int, int], int] = {}
        self.without_memo: dict[int, int] = {}
        self.has_empty: list[bool] = [False, True]
        self.max_nodes = max_nodes
        self._extremes: tuple[bytes, tuple[list[float], list[float]]] | None = None
        self.node, self.without = self._operations()

    def _operations(self):
        """`node` and `without` as closures over the node lists (the hot loop of cut sets)."""
        var, hi_, lo_, has_empty = self.var, self.hi, self.lo, self.has_empty
        unique, memo, max_nodes = self.unique, self.without_memo, self.max_nodes
        max_memo = 2 * max_nodes
        shift = 1 << 32

        def node(v: int, hi: int, lo: int) -> int:
            """The node {v} x hi + lo, zero-suppressed and shared."""
            if hi == 0:
                return lo
            key = (v, hi, lo)
            found = unique.get(key)
            if found is not None:
                return found
            i = len(var)
            if i >= max_nodes:
                raise MemoryError
            var.append(v)
            hi_.append(hi)
            lo_.append(lo)
            has_empty.append(has_empty[lo])
            unique[key] = i
            return i

        def without(p: int, q: int) -> int:
            """Sets of p that contain no set of q (Rauzy's subsumption removal)."""
            if p <= 1:
                return 0 if p == 0 or has_empty[q] else 1
            vp = var[p]
            while var[q] < vp:  # sets of q holding a variable p never has cannot be inside p's
                q = lo_[q]
            if q <= 1:
                return p if q == 0 else 0
            if p == q:
                return 0
            key = p * shift + q
            hit = memo.get(key)
            if hit is not None:
                return hit
            if vp < var[q]:
                r = node(vp, without(hi_[p], q), without(lo_[p], q))
            else:
                qlo = lo_[q]
                r = node(vp, without(without(hi_[p], hi_[q]), qlo), without(lo_[p], qlo))
            if len(memo) >= max_memo:
                raise MemoryError
            memo[key] = r
            return r

        return node, without

    def count(self, root: int) -> int:
        """Number of sets under root, exactly."""
        counts = [0, 1]
        lo, hi = self.lo, self.hi
        for i in range(2, root + 1):
            counts.append(counts[lo[i]] + counts[hi[i]])
        return counts[root] if root > 1 else root

    def max_order(self, root: int) -> int:
        """Size of the largest set under root (0 for the empty family or {{}})."""
        best = [0, 0]
        lo, hi = self.lo, self.hi
        for i in range(2, root + 1):
            a, b = best[lo[i]], best[hi[i]] + 1
            best.append(a if a > b else b)
        return best[root] if root > 1 else 0

    def extreme_products(self, p: np.ndarray) -> tuple[list[float], list[float]]:
        """Largest and smallest product of probabilities over the sets under each node."""
        key = np.asarray(p, dtype=float).tobytes()
        if self._extremes is not None and self._extremes[0] == key:
            return self._extremes[1]
        q = np.asarray(p, dtype=float).tolist()
        maxp = [0.0, 1.0]
        minp = [math.inf, 1.0]
        var, lo, hi = self.var, self.lo, self.hi
        for i in range(2, len(var)):
            w = q[var[i]]
            a, b = maxp[lo[i]], w * maxp[hi[i]]
            maxp.append(a if a > b else b)
            a, b = minp[lo[i]], w * minp[hi[i]]
            minp.append(a if a < b else b)
        self._extremes = (key, (maxp, minp))
        return maxp, minp

    def power_sums(self, p: np.ndarray, terms: int) -> np.ndarray:
        """S[i, k-1] = sum over sets C under node i of P(C)**k, k = 1..terms."""
        n = len(self.var)
        sums = np.zeros((n, terms), dtype=float)
        sums[1] = 1.0
        if n <= 2:
            return sums
        var = np.asarray(self.var[2:], dtype=np.int64)
        hi = np.asarray(self.hi[2:], dtype=np.int64)
        lo = np.asarray(self.lo[2:], dtype=np.int64)
        powers = np.power.outer(np.asarray(p, dtype=float), np.arange(1, terms + 1))
        for group in _zbdd_heights(hi, lo):
            ids = group + 2
            sums[ids] = sums[lo[group]] + powers[var[group]] * sums[hi[group]]
        return sums

    def best_first(self, root: int, p: np.ndarray, cutoff: float = 0.0) -> Iterator[tuple[list[int], float]]:
        """Sets under root with probability >= cutoff, most probable first (A* on max products)."""
        if root == 0:
            return
        maxp, _ = self.extreme_products(p)
        seq = 0
        heap: list[tuple[float, int, int, float, tuple]] = [(-maxp[root], seq, root, 1.0, ())]
        while heap:
            _, _, node, prod, path = heapq.heappop(heap)
            if node == 1:
                yield _unlink(path), prod
                continue
            for child, q, step in (
                (self.lo[node], prod, None),
                (self.hi[node], prod * float(p[self.var[node]]), self.var[node]),
            ):
                if child == 0:
                    continue
                bound = q * maxp[child]
                if bound < cutoff:
                    continue
                seq += 1
                heapq.heappush(heap, (-bound, seq, child, q, (step, path) if step is not None else path))

    def iterate(self, root: int) -> Iterator[list[int]]:
        """Every set under root, depth first."""
        stack: list[tuple[int, tuple]] = [(root, ())]
        while stack:
            node, path = stack.pop()
            if node == 0:
                continue
            if node == 1:
                yield _unlink(path)
                continue
            stack.append((self.lo[node], path))
            stack.append((self.hi[node], (self.var[node], path)))


def _unlink(path: tuple) -> list[int]:
    out = []
    while path:
        out.append(path[0])
        path = path[1]
    out.reverse()
    return out


def _zbdd_heights(hi: np.ndarray, lo: np.ndarray) -> list[np.ndarray]:
    """Non-terminal nodes (offset by 2) grouped so each group only needs earlier groups."""
    n = len(hi)
    height = np.zeros(n + 2, dtype=np.int64)
    h = height.tolist()
    hl, ll = hi.tolist(), lo.tolist()
    for i in range(n):
        a, b = h[hl[i]], h[ll[i]]
        h[i + 2] = (a if a > b else b) + 1
    height = np.asarray(h[2:], dtype=np.int64)
    order = np.argsort(height, kind="stable")
    bounds = np.flatnonzero(np.diff(height[order])) + 1
    return np.split(order, bounds)


def _series_terms(max_q: float) -> int:
    """Terms of -log(1 - q) = sum q^k / k needed for double precision when q <= max_q."""
    if max_q <= 0.0:
        return 1
    if max_q >= 1.0:
        return 1
    return int(min(4096, max(1, math.ceil(math.log(1e-17) / math.log(max_q)))))


def _mcub(sums: np.ndarray, max_q: float) -> float:
    """1 - prod(1 - P(C)) from the power sums S_k = sum P(C)^k."""
    if max_q >= 1.0:
        return 1.0
    k = np.arange(1, len(sums) + 1, dtype=float)
    log_keep = -float(np.sum(sums / k))
    return float(-math.expm1(log_keep))


def _pruned_sums(z: _Zbdd, root: int, p: np.ndarray, cutoff: float, maxp: list[float],
                 minp: list[float], terms: int) -> tuple[int, np.ndarray]:
    """Count and power sums over the sets with probability >= cutoff, exploring only nodes whose
    sets straddle the cut-off (whole sub-families are taken or dropped at once)."""
    sums_all = z.power_sums(p, terms)
    counts = [0, 1]
    for i in range(2, len(z.var)):
        counts.append(counts[z.lo[i]] + counts[z.hi[i]])
    kk = np.arange(1, terms + 1)
    total = 0
    acc = np.zeros(terms, dtype=float)
    stack = [(root, 1.0)]
    while stack:
        node, prod = stack.pop()
        if node == 0 or prod * maxp[node] < cutoff:
            continue
        if prod * minp[node] >= cutoff:
            total += counts[node]
            acc += np.power(prod, kk) * sums_all[node]
            continue
        stack.append((z.lo[node], prod))
        stack.append((z.hi[node], prod * float(p[z.var[node]])))
    return total, acc


# ---------------------------------------------------------------------------------------------
# One call for the usual questions: probability, cut sets, approximations.


@dataclass
class FaultTreeAnalysis:
    """Exact top-event probability, minimal cut sets and the approximations beside the exact value.

    `probability` and the approximations are None when some basic event has no probability
    (a qualitative analysis). `cut_sets` holds at most `limit` sets, most probable first
    (smallest first when qualitative); `mcs_count` counts all of them.
    """

    top_event: str
    basic_events: int
    bdd_nodes: int
    probability: float | None
    mcs_count: int
    cut_sets: list[list[str]]
    cut_set_probabilities: list[float | None]
    rare_event: float | None
    mcub: float | None
    max_order: int | None
    cutoff: float
    largest_order: int
    missing_probabilities: int = 0

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (see docs/reliability.md)."""
        return {
            "top_event": self.top_event,
            "probability": self.probability,
            "mcs_count": self.mcs_count,
            "cut_sets": self.cut_sets,
            "cut_set_probabilities": self.cut_set_probabilities,
            "approximations": {"rare_event": self.rare_event, "mcub": self.mcub},
            "limits": {"max_order": self.max_order, "cutoff": self.cutoff},
            "largest_order": self.largest_order,
            "basic_events": self.basic_events,
            "missing_probabilities": self.missing_probabilities,
            "bdd_nodes": self.bdd_nodes,
        }


def analyze_fault_tree(
    tree: FaultTree,
    *,
    max_order: int | None = None,
    cutoff: float = 0.0,
    limit: int = 20,
    max_memory: int = DEFAULT_MAX_MEMORY,
    bdd: FaultTreeBDD | None = None,
) -> FaultTreeAnalysis:
    """Probability (when every basic event has one), minimal cut sets and approximations."""
    if not 0.0 <= cutoff <= 1.0:
        raise FaultTreeError(f"cut-off {cutoff} is not a probability", hint="give a value in [0, 1]")
    if max_order is not None and max_order < 0:
        raise FaultTreeError(f"max order {max_order} is negative", hint="give 1 or more")
    bdd = bdd or FaultTreeBDD.build(tree, max_memory=max_memory)
    missing = tree.missing_probabilities()
    quantitative = not missing
    if cutoff > 0 and not quantitative:
        bdd.event_probabilities()  # raises, naming the events without a probability
    cut_sets = bdd.minimal_cut_sets(max_order, max_memory=max_memory)
    if quantitative:
        p = bdd.event_probabilities()
        probability: float | None = bdd.probability(p)
        keep = cutoff * (1.0 - 1e-12)  # 0.01**4 must pass a 1e-8 cut-off despite rounding
        stats = cut_sets.statistics(p, keep)
        count, rare, mcub = stats.count, stats.rare_event, stats.mcub
        listed = cut_sets.best(p, limit, keep) if limit > 0 else []
        sets, probs = [s for s, _ in listed], [q for _, q in listed]
    else:
        probability = rare = mcub = None
        count = cut_sets.count()
        # Every event at 1/2: "most probable first" becomes "smallest first".
        listed = cut_sets.best(np.full(len(bdd.events), 0.5), limit) if limit > 0 else []
        sets, probs = [s for s, _ in listed], [None] * len(listed)
    return FaultTreeAnalysis(
        top_event=tree.top,
        basic_events=len(bdd.events),
        bdd_nodes=bdd.node_count,
        probability=probability,
        mcs_count=count,
        cut_sets=sets,
        cut_set_probabilities=probs,
        rare_event=rare,
        mcub=mcub,
        max_order=max_order,
        cutoff=cutoff,
        largest_order=cut_sets.zbdd.max_order(cut_sets.root),
        missing_probabilities=len(missing),
    )
