"""The fault tree of a component's DOWN state, compiled from the model's `CompiledGraph`.

Basic events are the components' own failures (`can_fail`), with probability
`graph.unavailability[i]`. A component is down when it failed by itself, when any hard
dependency is down (an OR), or when its redundancy group has lost too many members: `any_of` is
an AND of the members' failures, `k_of_n` an at-least gate on ``n - k + 1`` members down. Soft
dependencies (`uses`) degrade, they do not take a component down, so they are not in the tree;
nor is failover time (the tree is the steady state).

Cycles follow the model's rule: DOWN is the least fixpoint (failure spreads until nothing
changes). Within a strongly connected component S the fixpoint is unrolled into |S| layers,
``X⁰ = false, Xʲ⁺¹ = F(Xʲ)`` (Kleene iteration): for any set of basic events the iteration adds
at least one member of S per step until it stops, so layer |S| is exactly the least fixpoint —
never the "everything down" greatest fixpoint a naive cyclic gate would give, and polynomial in
size (|S|² gates) where unfolding simple paths would be exponential.
"""

from __future__ import annotations

import math

import numpy as np

from aftershock.analysis.fault_tree_model import Arg, FaultTree, Gate
from aftershock.errors import AftershockError, did_you_mean
from aftershock.model.compile import CompiledGraph

MAX_UNROLLED_GATES = 2_000_000
_NEVER = "never"  # the house event (false) of a component that cannot go down


def target_id(graph: CompiledGraph, target: str) -> int:
    """The id of a target component, or an error naming the model and a close name."""
    if target not in graph.index:
        raise AftershockError(
            f"unknown target '{target}'",
            file=graph.model.path,
            hint=did_you_mean(target, graph.names) or "name a component of the model",
        )
    return graph.index[target]


def gate_name(component: str, layer: int | None = None) -> str:
    """Name of the gate that says `component` is down (in one unrolled layer of a cycle)."""
    return f"{component}-down" if layer is None else f"{component}-down-{layer}"


def fault_tree_of(
    graph: CompiledGraph,
    target: str,
    *,
    default_unavailability: float | None = None,
    require_probabilities: bool = False,
) -> FaultTree:
    """The fault tree whose top event is "`target` is down".

    Components that can fail but have no unavailability get `default_unavailability`; when that
    is None and `require_probabilities` is set, a located error names them.
    """
    top = target_id(graph, target)
    relevant = graph.hard_descendants(np.asarray([top]))
    probs = _probabilities(graph, relevant, default_unavailability, require_probabilities)
    builder = _Builder(graph)
    for stage in graph.stages:
        nodes = [int(i) for i in stage.nodes if relevant[i]]
        if not nodes:
            continue
        if not stage.cyclic:
            for i in nodes:
                builder.down[i] = builder.component_gate(i, gate_name(graph.names[i]), builder.down)
        else:
            for scc in _group_by(nodes, graph.scc):
                builder.unroll_cycle(scc)
    top_arg = builder.down[top]
    top_name = gate_name(target)
    if top_arg is None or top_arg.name != top_name:
        # The target cannot go down, or its condition is another gate: name the top after it.
        args = (top_arg,) if top_arg is not None else (Arg("house", _NEVER),)
        builder.gates[top_name] = Gate(top_name, "null", args)
    houses = {_NEVER: False} if any(
        a.kind == "house" for g in builder.gates.values() for a in g.args) else {}
    events = {graph.names[i]: probs.get(i) for i in builder.events}
    return FaultTree(name=f"{graph.model.name}-{target}", top=top_name, gates=builder.gates,
                     basic_events=events, house_events=houses, source=graph.model.path)


def _probabilities(graph: CompiledGraph, relevant: np.ndarray, default: float | None,
                   required: bool) -> dict[int, float]:
    probs: dict[int, float] = {}
    missing: list[int] = []
    for i in np.flatnonzero(relevant & graph.can_fail):
        p = float(graph.unavailability[i])
        if math.isnan(p):
            if default is None:
                missing.append(int(i))
                continue
            p = default
        probs[int(i)] = p
    if missing and required:
        names = [graph.names[i] for i in missing]
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        raise graph.model.error(
            f"has no failure probability ({len(names)} component(s) the target depends on have "
            f"none: {shown})",
            names[0],
            hint="give each `unavailability: 0.001` or `failure: {rate_per_year, mean_duration}`, "
            "or pass --default-unavailability P",
        )
    return probs


def _group_by(nodes: list[int], labels: np.ndarray) -> list[list[int]]:
    groups: dict[int, list[int]] = {}
    for i in nodes:
        groups.setdefault(int(labels[i]), []).append(i)
    return list(groups.values())


class _Builder:
    """Gates of DOWN states, with constants folded (a component that cannot go down is None)."""

    def __init__(self, graph: CompiledGraph) -> None:
        self.graph = graph
        self.gates: dict[str, Gate] = {}
        self.down: dict[int, Arg | None] = {}
        self.events: dict[int, None] = {}

    def component_gate(self, i: int, name: str, down: dict[int, Arg | None]) -> Arg | None:
        """The DOWN condition of component i, its dependencies read from `down`."""
        g = self.graph
        inputs: list[Arg] = []
        if g.can_fail[i]:
            inputs.append(Arg("basic", g.names[i]))
            self.events[i] = None
        inputs += [a for d in g.requires.row(i) if (a := down[int(d)]) is not None]
        k = int(g.group_k[i])
        if k > 0:
            members = [down[int(m)] for m in g.members.row(i)]
            need_down = len(members) - k + 1  # the group is down once this many members are
            live = [a for a in members if a is not None]
            if len(live) >= need_down:
                inputs.append(self._vote(f"{name}-group", live, need_down))
        inputs = list(dict.fromkeys(inputs))
        if not inputs:
            return None
        if len(inputs) == 1 and inputs[0].kind != "gate":
            self.gates[name] = Gate(name, "null", (inputs[0],))
            return Arg("gate", name)
        if len(inputs) == 1:
            return inputs[0]
        self.gates[name] = Gate(name, "or", tuple(inputs))
        return Arg("gate", name)

    def _vote(self, name: str, args: list[Arg], need: int) -> Arg:
        """Gate: at least `need` of `args` down. A dependency reached twice (a member that is an
        alias of another) counts twice in a vote, so duplicates are kept there, each copy behind
        its own pass-through gate (MEF tools refuse repeated inputs)."""
        if need == 1 or need == len(args):
            unique = list(dict.fromkeys(args))
            if len(unique) == 1:
                return unique[0]
            kind = "or" if need == 1 else "and"
            self.gates[name] = Gate(name, kind, tuple(unique))
            return Arg("gate", name)
        seen: set[Arg] = set()
        inputs = []
        for j, a in enumerate(args):
            if a in seen:
                copy = f"{name}-copy{j}"
                self.gates[copy] = Gate(copy, "null", (a,))
                a = Arg("gate", copy)
            seen.add(a)
            inputs.append(a)
        self.gates[name] = Gate(name, "atleast", tuple(inputs), need)
        return Arg("gate", name)

    def unroll_cycle(self, scc: list[int]) -> None:
        """Least fixpoint of a strongly connected component, as |S| Kleene layers."""
        g = self.graph
        size = len(scc)
        edges = sum(int(g.requires.degree()[i] + g.members.degree()[i]) + 1 for i in scc)
        if size * edges > MAX_UNROLLED_GATES:
            first = g.names[scc[0]]
            raise g.model.error(
                f"is in a dependency cycle of {size} components, too large to unroll exactly "
                f"({size} x {edges} gate inputs)",
                first,
                hint="break the cycle, or use the Monte Carlo engine for this model",
            )
        layer: dict[int, Arg | None] = {i: None for i in scc}  # X0: nothing in the cycle is down
        for j in range(1, size + 1):
            view = _Overlay(self.down, layer)
            last = j == size
            layer = {
                i: self.component_gate(i, gate_name(g.names[i], None if last else j), view)
                for i in scc
            }
        self.down.update(layer)


class _Overlay(dict):
    """`down` with the members of one cycle read from the previous layer."""

    def __init__(self, base: dict[int, Arg | None], layer: dict[int, Arg | None]) -> None:
        super().__init__()
        self.base = base
        self.layer = layer

    def __getitem__(self, key: int) -> Arg | None:
        if key in self.layer:
            return self.layer[key]
        return self.base[key]
