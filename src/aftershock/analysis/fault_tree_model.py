"""Fault trees as data: gates over basic and house events, and the checks a valid tree passes.

A `FaultTree` is a DAG of gates over basic events (each a failure with a probability) and house
events (constants). It is what the MEF reader (`analysis.mef`) and the model compiler
(`analysis.fault_tree_compile`) produce, and what the BDD engine (`analysis.bdd`) analyses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from aftershock.errors import AftershockError

GATE_KINDS = ("and", "or", "atleast", "not", "nand", "nor", "xor", "null")
ArgKind = Literal["gate", "basic", "house"]

DEFAULT_MAX_MEMORY = 2 * 1024**3

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

    def postorder(self) -> list[str]:
        """The gates under the top gate, each after the gates it uses (the top gate last)."""
        done: set[str] = {self.top}
        out: list[str] = []
        stack = [(self.top, iter(self.gates[self.top].args))]
        while stack:
            name, it = stack[-1]
            arg = next(it, None)
            if arg is None:
                stack.pop()
                out.append(name)
            elif arg.kind == "gate" and arg.name not in done:
                done.add(arg.name)
                stack.append((arg.name, iter(self.gates[arg.name].args)))
        return out

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
