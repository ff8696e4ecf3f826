"""Building a fault tree's BDD with CUDD (through `dd.cudd`): variable orders and the race.

The variable order decides whether a tree takes milliseconds or never finishes, and no static
heuristic wins on every tree. `build_bdd` races a small portfolio of depth-first orders
(`variable_orders`) and exports the winner into arrays (see `analysis.bdd`).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aftershock.analysis.fault_tree_model import (
    Arg,
    FaultTree,
    FaultTreeError,
    Gate,
    ResourceLimitError,
)
from aftershock.analysis.fault_tree_modules import Modules, find_modules

# What CUDD spends per node, unique table and computed table included (measured, roughly).
_CUDD_NODE_BYTES = 128


@dataclass
class BuiltBDD:
    """The BDDs of a tree as arrays: the top event's and every module's (`analysis.fault_tree_modules`).

    `variables[v]` is what variable v stands for: a basic event, or a module gate (its variable
    is the module's function, or its complement when the module is in `modules.negated`).
    Variables are numbered in order (v is also the level), a module's own variables right after
    its variable. Node i tests `var[i]`; edge e = 2 * node + complemented; node 0 is TRUE.
    `root` is the top event's edge, `module_roots[v]` the edge of module variable v's function.
    """

    variables: list[Arg]
    var: np.ndarray
    high: np.ndarray
    low: np.ndarray
    root: int
    module_roots: dict[int, int]


def build_bdd(tree: FaultTree, max_memory: int) -> BuiltBDD:
    """The top event's BDD (and its modules') under the best order found, as arrays.

    Each module of the tree gets a variable of its own in the gates that use it, and its
    function is built once, over its own events (`analysis.fault_tree_modules`).

    Every candidate order builds the same gates in the same sequence (children first), each in
    its own CUDD manager, so after the same number of gates their sizes compare like for like.
    A candidate pauses (resumably) when a gate's BDD exceeds the current cap on nodes. First
    every order runs to its first pause; then only the leader (furthest, then holding the
    fewest nodes) goes on, under a cap four times larger. When it pauses again, the better half
    of the others are brought to the same gate under the same cap and the leadership is decided
    again there. So a hopeless order costs little, and when the orders are alike (most trees)
    only one is built to the end. When building is cheap next to the cut-set stage
    (`_worth_racing`), every other order is then built as long as it stays smaller than the
    winner (early sizes can mislead: on edfpa14r the order that wins by 2x looks the worst
    early on). The candidates share the memory budget.
    """
    plan = tree.postorder()
    modules = find_modules(tree, plan)
    orders = variable_orders(tree, modules)
    uses = Counter(a.name for name in plan for a in tree.gates[name].args if a.kind == "gate")

    def hard(cap: int) -> int | None:
        return cap * _HARD_FACTOR if cap * _HARD_FACTOR * _CUDD_NODE_BYTES < max_memory else None

    def advance(cand: _Candidate, soft: int, hard_cap: int | None, stop: int | None = None) -> None:
        # The candidates share the memory budget: each gets what the others leave. Their CUDD
        # limits bound what they hold; ask CUDD (slower) only when those bounds are too many.
        others = [c for c in pool if c is not cand and c.state != "dead"]
        held = sum(c.limit for c in others)
        if held > max_memory // 2:
            held = sum(c.memory() for c in others)
        cand.advance(soft, hard_cap, stop, budget=max_memory - held)

    cap = _FIRST_CAP
    pool: list[_Candidate] = []
    for order in orders:  # managers made one at a time: most small trees need only one
        cand = _Candidate(tree, plan, uses, order, modules, max_memory)
        advance(cand, cap, hard(cap))
        pool.append(cand)
        if cand.state == "done" and (cand.size < _TINY or not _worth_racing(cand)):
            pool = [cand]  # another order cannot pay for itself
            break
    while not any(c.state == "done" for c in pool):
        pool = sorted((c for c in pool if c.state == "paused"), key=lambda c: (-c.done, c.live()))
        if not pool:
            if hard(cap) is None:
                raise ResourceLimitError(
                    f"the BDD of '{tree.top}' needs more than {max_memory / 1024**2:.0f} MiB",
                    file=tree.source,
                    hint="raise --max-memory, or bound the analysis (fewer targets, a smaller tree)",
                )
            # Every order blew up inside one gate: start again with more room.
            cap *= 4
            pool = []
            for order in orders:
                cand = _Candidate(tree, plan, uses, order, modules, max_memory)
                advance(cand, cap, hard(cap))
                pool.append(cand)
            continue
        cap *= 4
        leader = pool[0]
        advance(leader, cap, hard(cap))
        if leader.state != "done":
            # The same gate, the same cap: like for like, for the better half (the others wait).
            for cand in pool[1 : (len(pool) + 1) // 2]:
                advance(cand, cap, hard(cap), stop=leader.done)
    best = min((c for c in pool if c.state == "done"), key=lambda c: c.size)
    rest = [c for c in pool if c is not best and c.state == "paused"]
    pool = [best]
    if best.size >= _TINY and _worth_racing(best):
        for cand in rest:
            pool.append(cand)
            # Every gate no larger than the best BDD, and at most twice its size held in all
            # (intermediate results included): a candidate over either cannot win by much.
            room = 2 * best.size + 1000
            advance(cand, best.size + 1000, room if room * _CUDD_NODE_BYTES < max_memory else None)
            if cand.state == "done" and cand.size < best.size:
                best = cand
            pool = [best]  # the loser's manager goes
    best.manager.configure(max_memory=max_memory)  # the export may still allocate
    return _export_all(best)


def _worth_racing(best: _Candidate) -> bool:
    """Whether building the other orders to the end can pay for itself in the cut-set stage.

    The cut sets cost a few microseconds per BDD node (pure Python); another order costs about
    what the winner did. CUDD's count of computed-table lookups measures that (deterministically,
    unlike a clock): a few per node and racing is cheap next to the cut sets (baobab3,
    edfpa15p: the smallest order halves them); dozens per node (das9601) and it is not, unless
    the BDD is so large that the cut sets dominate anyway.
    """
    lookups = _cudd_statistics(best.manager)["cache_lookups"]
    return best.size >= _ALWAYS_RACE or lookups < _CHEAP_LOOKUPS_PER_NODE * best.size


def _cudd_statistics(manager) -> dict:
    """CUDD's counters for one manager (without dd's warning that 'mem' is now in bytes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return manager.statistics()


# The first cap on the nodes of one gate's BDD; CUDD's hard limit (on all live nodes,
# intermediate results included) as a multiple of the cap; BDDs too small to race over; the
# build cost (computed-table lookups per node) under which racing pays; the size over which it
# always does.
_FIRST_CAP = 2_000
_HARD_FACTOR = 8
_TINY = 2_000
_CHEAP_LOOKUPS_PER_NODE = 10
_ALWAYS_RACE = 100_000
_BASE_BYTES: dict[int, int] = {}  # by number of variables


class _Candidate:
    """One variable order's BDD under construction, gate by gate, resumable between gates.

    `state` is "paused" (a gate exceeded the soft cap: resumable), "done" (`top` is the top
    event's BDD, of `size` nodes) or "dead" (CUDD hit the hard limit inside a gate).
    """

    def __init__(self, tree: FaultTree, plan: list[str], uses: Counter, variables: list[Arg],
                 modules: Modules, max_memory: int) -> None:
        import dd.cudd as cudd

        self.tree, self.plan, self.variables, self.max_memory = tree, plan, variables, max_memory
        self.modules = modules
        self.manager = cudd.BDD(memory_estimate=min(max_memory, 2 * 1024**2),
                                 initial_cache_size=2**14)  # CUDD grows both
        self.manager.configure(reordering=False)
        # Variables are named by their index, so the DDDMP export is all numbers.
        if variables:
            self.manager.declare(*(str(i) for i in range(len(variables))))
        # What the manager holds before any gate: the same for every order. The variables' own
        # tables are a good part of it (263 variables: 2.8 MB, 100: 0.8 MB).
        base = _BASE_BYTES.get(len(variables))
        if base is None:
            base = _BASE_BYTES[len(variables)] = int(_cudd_statistics(self.manager)["mem"])
        self.base = base
        self.leaf = {a.name: self.manager.var(str(i)) for i, a in enumerate(variables) if a.kind == "basic"}
        self.module_var = {a.name: self.manager.var(str(i)) for i, a in enumerate(variables)
                           if a.kind == "gate"}
        self.module_fn: dict[str, object] = {}  # each module's function, once built
        self.uses = dict(uses)
        self.limit = self.base  # CUDD's memory limit at the last advance: what it may hold
        self.built: dict[str, object] = {}
        self.done = 0
        self.size = 0  # nodes of the last gate built; once done, of all the cut-set stage gets
        self.state = "paused"
        self.top = None

    def live(self) -> int:
        """Nodes this candidate holds: every gate BDD still needed, not only the last one."""
        return int(_cudd_statistics(self.manager)["n_nodes"])

    def memory(self) -> int:
        """Bytes CUDD holds for this candidate."""
        return int(_cudd_statistics(self.manager)["mem"])

    def advance(self, soft_cap: int, hard_cap: int | None, stop: int | None = None, *,
                budget: int | None = None) -> None:
        """Build gates until done, a gate's BDD has more than `soft_cap` nodes, `stop` gates are
        built, or CUDD needs more than `hard_cap` live nodes (None: no cap) or `budget` bytes
        (default: the whole memory budget)."""
        if self.state != "paused":
            return
        m, tree, built, uses = self.manager, self.tree, self.built, self.uses
        limit = self.max_memory if budget is None else max(0, min(self.max_memory, budget))
        if hard_cap is not None:
            limit = min(limit, self.base + hard_cap * _CUDD_NODE_BYTES)
        self.limit = limit  # below what it holds, its next allocation fails: it is "dead"
        m.configure(max_memory=limit)
        last = len(self.plan) - 1
        end = last if stop is None else min(stop - 1, last)
        while self.done <= end:
            gate = tree.gates[self.plan[self.done]]
            ins = []
            for arg in gate.args:
                if arg.kind == "gate":
                    ins.append(built[arg.name])
                elif arg.kind == "basic":
                    ins.append(self.leaf[arg.name])
                else:
                    ins.append(m.true if tree.house_events[arg.name] else m.false)
            try:
                f = _apply_gate(m, gate, ins)
            except ValueError as exc:
                if "NULL" not in str(exc):
                    raise
                self.state = "dead"
                self._release()
                return
            del ins
            for arg in gate.args:
                if arg.kind == "gate":
                    uses[arg.name] -= 1
                    if not uses[arg.name]:
                        del built[arg.name]  # every gate using it is built
            self.size = f.dag_size
            if gate.name in self.module_var:
                # The module stands as its variable in the gates that use it (for its
                # complement when it holds when every event works).
                negated = gate.name in self.modules.negated
                self.module_fn[gate.name] = ~f if negated else f
                v = self.module_var[gate.name]
                f = ~v if negated else v
            built[gate.name] = f
            self.done += 1
            if self.done <= last and self.size > soft_cap:
                return  # paused
        if self.done <= last:
            return  # paused at `stop`
        self.top = built[tree.top]
        # What the cut-set stage gets: the top's BDD and every module's (with modules the top
        # alone can be a handful of nodes whatever the order).
        self.size = self.top.dag_size + sum(f.dag_size for f in self.module_fn.values())
        self.state = "done"

    def _release(self) -> None:
        self.built.clear()
        self.leaf.clear()
        self.module_var.clear()
        self.module_fn.clear()


def variable_orders(tree: FaultTree, modules: Modules) -> list[list[Arg]]:
    """Candidate variable orders, each the depth-first left-most visit of the gates with the
    inputs of every gate taken: as written; gates with more events first; gates with fewer events
    first; events before gates, then smaller gates; most used first. (Each of these is 10-100x
    better than the others on some Aralia tree.) A module's variable comes where the walk enters
    the module, right before the module's own events."""
    index: dict[str, int] = {}
    under: dict[str, int] = {}  # bitset of the basic events under each gate
    for name in tree.postorder():
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
    unique: list[list[Arg]] = []
    for key in keys:
        order = _dfs_events(tree, key, modules.gates)
        if order not in unique:
            unique.append(order)
    return unique


def _dfs_events(tree: FaultTree, key, module_gates: frozenset[str]) -> list[Arg]:
    seen: set[str] = {tree.top}
    seen_events: set[str] = set()
    out: list[Arg] = []

    def args(name: str) -> list[Arg]:
        a = list(tree.gates[name].args)
        return sorted(a, key=key) if key is not None else a

    stack = [iter(args(tree.top))]
    while stack:
        arg = next(stack[-1], None)
        if arg is None:
            stack.pop()
        elif arg.kind == "basic":
            if arg.name not in seen_events:
                seen_events.add(arg.name)
                out.append(arg)
        elif arg.kind == "gate" and arg.name not in seen:
            seen.add(arg.name)
            if arg.name in module_gates:
                out.append(arg)
            stack.append(iter(args(arg.name)))
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
    # One ite per step: "at least j" implies "at least j - 1", so row[j] | (f & row[j - 1]) is
    # ite(f, row[j - 1], row[j]).
    row = [m.true] + [m.false] * k
    ite = m.ite
    for f in ins:
        for j in range(k, 0, -1):
            row[j] = ite(f, row[j - 1], row[j])
    return row[k]


def _export_all(best: _Candidate) -> BuiltBDD:
    """The winner's top-event BDD and module functions, in one set of arrays (the modules' nodes
    after the top's: every function has its own variables, so they share only the constant)."""
    var, high, low, root = _export(best.manager, best.top)
    parts_var, parts_high, parts_low = [var], [high], [low]
    module_roots: dict[int, int] = {}
    n = len(var)
    index = {a.name: i for i, a in enumerate(best.variables) if a.kind == "gate"}
    for name, fn in best.module_fn.items():
        v, h, lo, r = _export(best.manager, fn)
        # Node j >= 1 of the part becomes node n + j - 1; node 0 (the constant) stays.
        shift = 2 * (n - 1)
        parts_var.append(v[1:])
        parts_high.append(np.where(h[1:] > 1, h[1:] + shift, h[1:]))
        parts_low.append(np.where(lo[1:] > 1, lo[1:] + shift, lo[1:]))
        module_roots[index[name]] = r + shift if r > 1 else r
        n += len(v) - 1
    return BuiltBDD(best.variables, np.concatenate(parts_var), np.concatenate(parts_high),
                    np.concatenate(parts_low), root, module_roots)


# Functions up to this many nodes are copied node by node: a DDDMP file costs ~0.1 ms however
# small, walking ~1-2 us a node (measured on the Aralia trees' modules: even at about 100 nodes).
_WALK_UP_TO = 128


def _walk(manager, fn) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """`_export` for a small function, walking its nodes from Python (children first)."""
    one = int(manager.true) & ~1
    ids = {one: 0}
    var, high, low = [-1], [0], [0]
    stack = [fn]
    while stack:
        f = stack[-1]
        p = int(f) & ~1
        if p in ids:
            stack.pop()
            continue
        hi, lo = f.high, f.low  # the node's own children: the edge's complement not applied
        ph, pl = int(hi), int(lo)
        waiting = False
        for child, q in ((lo, pl), (hi, ph)):
            if q & ~1 not in ids:
                stack.append(child)
                waiting = True
        if waiting:
            continue
        stack.pop()
        ids[p] = len(var)
        var.append(int(f.var))
        high.append(2 * ids[ph & ~1] + (ph & 1))
        low.append(2 * ids[pl & ~1] + (pl & 1))
    r = int(fn)
    return (np.asarray(var, dtype=np.int64), np.asarray(high, dtype=np.int64),
            np.asarray(low, dtype=np.int64), 2 * ids[r & ~1] + (r & 1))


def _export(manager, top) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Copy the BDD under `top` into arrays, keeping the complement bit of every edge.

    CUDD writes it (DDDMP text, children before parents, the constant first as node 1; only
    else-edges and the root can be complemented, written as negative ids), which is much faster
    than walking it node by node from Python, except for small functions (`_WALK_UP_TO`).
    """
    if top == manager.true or top == manager.false:
        one = np.asarray([-1], dtype=np.int64)
        zero = np.asarray([0], dtype=np.int64)
        return one, zero, zero.copy(), 0 if top == manager.true else 1
    if top.dag_size <= _WALK_UP_TO:
        return _walk(manager, top)
    shm = Path("/dev/shm")
    fd, name = tempfile.mkstemp(prefix="aftershock-bdd-", suffix=".dddmp",
                                dir=shm if shm.is_dir() else None)
    os.close(fd)
    try:
        manager.dump(name, [top], filetype="dddmp")
        text = Path(name).read_text()
    finally:
        os.unlink(name)
    head, _, body = text.partition("\n.nodes\n")
    root = int(head.rsplit(".rootids", 1)[1].split()[0])
    body = body[: body.rindex(".end")]
    constant, _, rest = body.partition("\n")
    if not constant.startswith("1 T "):
        raise RuntimeError(f"unexpected DDDMP from CUDD: {constant!r}")
    rows = np.fromstring(rest, dtype=np.int64, sep=" ").reshape(-1, 5)
    # columns: id, name (our variable number), index among the support, then, else
    n = len(rows) + 1
    var = np.empty(n, dtype=np.int64)
    high = np.zeros(n, dtype=np.int64)
    low = np.zeros(n, dtype=np.int64)
    var[0] = -1
    ids = rows[:, 0] - 1
    var[ids] = rows[:, 1]
    for col, edges in ((3, high), (4, low)):
        e = rows[:, col]
        edges[ids] = 2 * (np.abs(e) - 1) + (e < 0)
    return var, high, low, 2 * (abs(root) - 1) + (root < 0)
