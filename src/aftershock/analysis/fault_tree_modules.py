"""Independent modules of a fault tree (Dutuit & Rauzy, "A linear-time algorithm to find modules
of fault trees", IEEE Trans. Reliability 45(3), 1996).

A gate is a *module* when nothing under it (gate or basic event) is used from outside its
sub-tree: its function shares no event with the rest of the tree. The BDD build
(`analysis.bdd_order`) gives each module one variable of its own in its parents, and builds the
module's function once, over its own events. The parent's BDD is then smaller (das9601: 24k
nodes without modules, 15k with), and the exact answers combine bottom-up because a module is
independent of everything else:

- probability: the module variable's probability is the module's top-event probability;
- Birnbaum: the chain rule, dP/dp_e = dP/dp_m * dP_m/dp_e;
- minimal cut sets: a set holding the module variable stands for the products of the module's
  own minimal cut sets with the rest of the set (no event is shared, so the products stay
  minimal) — provided the module is false when all its events work. A module that is true then
  (a `not` inside) is given the variable of its complement instead (`negated`).
"""

from __future__ import annotations

from dataclasses import dataclass

from aftershock.analysis.fault_tree_model import FaultTree, Gate

# A module must hold at least this many basic events to get a variable of its own: a gate over
# one event gains nothing.
MIN_MODULE_EVENTS = 2


@dataclass(frozen=True)
class Modules:
    """The modules of a tree: `gates` (names, each a module with >= MIN_MODULE_EVENTS events)
    and, for each, whether its variable stands for its complement (`negated`: the module is true
    when every basic event works)."""

    gates: frozenset[str]
    negated: frozenset[str]


def find_modules(tree: FaultTree, plan: list[str]) -> Modules:
    """The modules under the top gate (the top itself excluded), in linear time.

    `plan` lists the gates under the top, each after the gates it uses (`FaultTree.postorder`).
    One depth-first walk stamps every visit of a node with a clock; a gate is a module when every
    node under it is first visited after the gate is entered and last visited before the gate's
    first visit ends.
    """
    first, last, enter, leave, events_under = _visit_times(tree)
    lo: dict[str, int] = {}  # earliest first visit of anything under the gate
    hi: dict[str, int] = {}  # latest visit of anything under the gate
    gates: set[str] = set()
    for name in plan:
        a, b = enter[name], leave[name]
        low, high = b, a
        for arg in tree.gates[name].args:
            if arg.kind == "house":
                continue
            key = (arg.kind, arg.name)
            f, la = first[key], last[key]
            if arg.kind == "gate":
                f, la = min(f, lo[arg.name]), max(la, hi[arg.name])
            low, high = min(low, f), max(high, la)
        lo[name], hi[name] = low, high
        if name != tree.top and a < low and high < b and events_under[name] >= MIN_MODULE_EVENTS:
            gates.add(name)
    zero = _values_when_all_work(tree, plan)
    return Modules(frozenset(gates), frozenset(g for g in gates if zero[g]))


def _visit_times(tree: FaultTree):
    """Clock stamps of the depth-first walk from the top: first and last visit of every node,
    entry and exit of every gate's first visit, and the count of distinct basic events first seen
    between the entry and exit of each gate (for a module: its events)."""
    clock = 0
    first: dict[tuple[str, str], int] = {}
    last: dict[tuple[str, str], int] = {}
    enter: dict[str, int] = {}
    leave: dict[str, int] = {}
    seen_events = 0
    events_under: dict[str, int] = {}
    clock += 1
    top = ("gate", tree.top)
    first[top] = last[top] = enter[tree.top] = clock
    entry_count = {tree.top: 0}
    stack = [(tree.top, iter(tree.gates[tree.top].args))]
    while stack:
        name, it = stack[-1]
        arg = next(it, None)
        if arg is None:
            stack.pop()
            clock += 1
            leave[name] = last[("gate", name)] = clock
            events_under[name] = seen_events - entry_count[name]
            continue
        if arg.kind == "house":
            continue
        clock += 1
        key = (arg.kind, arg.name)
        if key not in first:
            first[key] = clock
            if arg.kind == "basic":
                seen_events += 1
            else:
                enter[arg.name] = clock
                entry_count[arg.name] = seen_events
                stack.append((arg.name, iter(tree.gates[arg.name].args)))
        last[key] = clock
    return first, last, enter, leave, events_under


def _values_when_all_work(tree: FaultTree, plan: list[str]) -> dict[str, bool]:
    """Every gate's value with every basic event false (house events as set)."""
    value: dict[str, bool] = {}
    for name in plan:
        gate = tree.gates[name]
        ins = [value[a.name] if a.kind == "gate" else
               (bool(tree.house_events[a.name]) if a.kind == "house" else False) for a in gate.args]
        value[name] = _gate_value(gate, ins)
    return value


def _gate_value(gate: Gate, ins: list[bool]) -> bool:
    kind = gate.kind
    if kind == "and":
        return all(ins)
    if kind == "or":
        return any(ins)
    if kind == "nand":
        return not all(ins)
    if kind == "nor":
        return not any(ins)
    if kind == "not":
        return not ins[0]
    if kind == "null":
        return ins[0]
    if kind == "xor":
        return sum(ins) % 2 == 1
    if kind == "atleast":
        return sum(ins) >= int(gate.k or 1)
    raise ValueError(f"gate '{gate.name}': unknown kind '{kind}'")
