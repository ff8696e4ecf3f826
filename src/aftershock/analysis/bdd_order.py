"""Building a fault tree's BDD with CUDD (through `dd.cudd`): variable orders and the race.

The variable order decides whether a tree takes milliseconds or never finishes, and no static
heuristic wins on every tree. `build_bdd` races a small portfolio of depth-first orders
(`variable_orders`) and exports the winner into arrays (see `analysis.bdd`).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from aftershock.analysis.fault_tree_model import (
    Arg,
    FaultTree,
    FaultTreeError,
    Gate,
    ResourceLimitError,
)

# What CUDD spends per node, unique table and computed table included (measured, roughly).
_CUDD_NODE_BYTES = 128


def build_bdd(tree: FaultTree, max_memory: int) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, int]:
    """The top event's BDD under the best order found, as (events, var, high, low, root) arrays.

    Every order is built under a cap on live nodes that grows fourfold per round, and the
    smallest BDD of the first round in which any order finishes is kept. The cost is within a
    small factor of the best order's.
    """
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
    return events, var, high, low, root


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
