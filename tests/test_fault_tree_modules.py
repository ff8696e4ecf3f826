"""Modules of a fault tree: detection, and the modular BDD path against the plain one.

`FaultTreeBDD.build` gives every module (a gate sharing no event with the rest of the tree) a
variable of its own. On random trees made of modules — nested, some true when every event works
(`not`, `nor`, `nand` inside), some broken by a shared event — the probability, the Birnbaum
importances and the minimal cut sets (every order limit) must be those of the plain BDD built
without modules, and those of brute-force enumeration.
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aftershock.analysis import bdd_order
from aftershock.analysis.fault_tree_modules import Modules, find_modules
from aftershock.analysis.faulttree import Arg, FaultTree, FaultTreeBDD, Gate, analyze_fault_tree
from aftershock.analysis.importance import importance

from .strategies import enumerate_tree

KINDS = ["and", "or", "atleast", "not", "nand", "nor", "xor", "null", "or", "and"]


@st.composite
def modular_trees(draw: st.DrawFn) -> FaultTree:
    """A random tree of nested sub-trees over fresh events (modules), now and then broken by a
    reference to an event or gate defined earlier, with house events here and there (so some
    modules are constant); at most 9 events, so it can be enumerated."""
    events: dict[str, float] = {}
    gates: dict[str, Gate] = {}

    def fresh_event() -> Arg:
        name = f"e{len(events)}"
        events[name] = draw(st.sampled_from([0.0, 0.01, 0.2, 0.5, 0.9, 1.0]))
        return Arg("basic", name)

    def gate(depth: int) -> Arg:
        kind = draw(st.sampled_from(KINDS))
        size = 1 if kind in ("not", "null") else draw(st.integers(2, 3))
        args: list[Arg] = []
        for _ in range(size):
            choice = draw(st.sampled_from(["event", "gate", "gate", "gate", "shared", "house"]))
            if choice == "house":
                args.append(Arg("house", draw(st.sampled_from(["h_on", "h_off"]))))
            elif choice == "gate" and depth < 3 and len(events) < 8:
                args.append(gate(depth + 1))
            elif choice == "shared" and (events or gates):
                args.append(draw(st.sampled_from(
                    [Arg("basic", e) for e in events] + [Arg("gate", g) for g in gates])))
            elif len(events) < 9:
                args.append(fresh_event())
            else:
                args.append(Arg("basic", draw(st.sampled_from(sorted(events)))))
        if kind in ("not", "null") and not args:
            args.append(fresh_event())
        name = f"g{len(gates)}"
        k = draw(st.integers(1, len(args))) if kind == "atleast" else None
        gates[name] = Gate(name, kind, tuple(args), k)
        return Arg("gate", name)

    top = gate(0).name
    return FaultTree("modular", top, gates, events, {"h_on": True, "h_off": False})


def _plain(tree: FaultTree) -> FaultTreeBDD:
    """The BDD built with no module."""
    none = Modules(frozenset(), frozenset())
    with mock.patch.object(bdd_order, "find_modules", return_value=none):
        return FaultTreeBDD.build(tree)


def _by_event(bdd: FaultTreeBDD, values: np.ndarray) -> dict[str, float]:
    return dict(zip(bdd.events, values.tolist(), strict=True))


@settings(max_examples=300, deadline=None)
@given(modular_trees())
def test_modular_bdd_gives_the_plain_bdds_answers(tree: FaultTree) -> None:
    modular, plain = FaultTreeBDD.build(tree), _plain(tree)
    assert sorted(modular.events) == sorted(plain.events)
    p_mod, p_plain = modular.event_probabilities(), plain.event_probabilities()
    assert modular.probability() == pytest.approx(plain.probability(), abs=1e-12)
    top_mod, mif_mod = modular.birnbaum(p_mod)
    top_plain, mif_plain = plain.birnbaum(p_plain)
    assert top_mod == pytest.approx(top_plain, abs=1e-12)
    by_mod, by_plain = _by_event(modular, mif_mod), _by_event(plain, mif_plain)
    assert by_mod == pytest.approx(by_plain, abs=1e-12)
    for order in (None, 0, 1, 2, 3):
        ours = {frozenset(c) for c in modular.minimal_cut_sets(order).all()}
        theirs = {frozenset(c) for c in plain.minimal_cut_sets(order).all()}
        assert ours == theirs, order


@settings(max_examples=200, deadline=None)
@given(modular_trees())
def test_modular_bdd_matches_enumeration(tree: FaultTree) -> None:
    exact, minimal = enumerate_tree(tree)
    bdd = FaultTreeBDD.build(tree)
    assert bdd.probability() == pytest.approx(exact, abs=1e-12)
    assert {frozenset(c) for c in bdd.minimal_cut_sets().all()} == minimal
    result = analyze_fault_tree(tree, limit=1000, bdd=bdd)
    assert result.mcs_count == len(minimal)
    assert result.largest_order == max((len(c) for c in minimal), default=0)


def _tree(gates: list[Gate], top: str, events: int = 6) -> FaultTree:
    return FaultTree("t", top, {g.name: g for g in gates}, {f"e{i}": 0.1 * (i + 1) for i in range(events)})


def _b(*names: str) -> tuple[Arg, ...]:
    return tuple(Arg("gate", n) if n.startswith("g") else Arg("basic", n) for n in names)


def test_find_modules_keeps_independent_gates_and_drops_shared_ones() -> None:
    tree = _tree([
        Gate("g1", "or", _b("e0", "e1")),  # a module
        Gate("g2", "and", _b("e2", "e3")),  # e3 is also used by g4: not a module
        Gate("g3", "nor", _b("e4", "e5")),  # a module, true when all work: negated
        Gate("g4", "or", _b("g2", "e3")),  # holds all of e2, e3: a module
        Gate("g0", "and", _b("g1", "g4", "g3", "g1")),
    ], "g0")
    found = find_modules(tree, tree.postorder())
    assert found.gates == {"g1", "g3", "g4"}
    assert found.negated == {"g3"}


def test_a_gate_over_one_event_is_no_module() -> None:
    tree = _tree([Gate("g1", "not", _b("e0")), Gate("g0", "or", _b("g1", "e1"))], "g0", events=2)
    assert find_modules(tree, tree.postorder()).gates == frozenset()


def test_nested_negated_modules_with_an_order_limit() -> None:
    """g3 = nor(e0, e1) is true when all work; g2 = and(g3, e2) is not; both are modules,
    nested; the answers are those of the plain BDD and of enumeration."""
    tree = _tree([
        Gate("g3", "nor", _b("e0", "e1")),
        Gate("g2", "or", _b("g3", "e2")),
        Gate("g1", "and", _b("e3", "e4", "e5")),
        Gate("g0", "and", _b("g2", "g1")),
    ], "g0")
    bdd = FaultTreeBDD.build(tree)
    assert set(bdd.module_roots) and len(bdd.module_roots) == 3  # g3, g2, g1
    exact, minimal = enumerate_tree(tree)
    assert bdd.probability() == pytest.approx(exact, abs=1e-15)
    assert {frozenset(c) for c in bdd.minimal_cut_sets().all()} == minimal
    plain = _plain(tree)
    for order in range(5):
        assert {frozenset(c) for c in bdd.minimal_cut_sets(order).all()} == \
            {frozenset(c) for c in plain.minimal_cut_sets(order).all()}
    ours = {e.event: e for e in importance(bdd).events}
    theirs = {e.event: e for e in importance(plain).events}
    for name, e in ours.items():
        assert e.birnbaum == pytest.approx(theirs[name].birnbaum, abs=1e-15)
        assert e.raw == pytest.approx(theirs[name].raw, rel=1e-12)


def test_modules_exported_through_dddmp_give_the_same_answers(monkeypatch) -> None:
    """Small module functions are copied node by node, large ones through CUDD's DDDMP dump:
    both copies give the same answers."""
    tree = _tree([
        Gate("g3", "xor", _b("e0", "e1")),
        Gate("g2", "atleast", _b("g3", "e2", "e3"), 2),
        Gate("g1", "nand", _b("e4", "e5")),
        Gate("g0", "or", _b("g2", "g1")),
    ], "g0")
    walked = FaultTreeBDD.build(tree)
    monkeypatch.setattr(bdd_order, "_WALK_UP_TO", 0)
    dumped = FaultTreeBDD.build(tree)
    assert len(dumped.module_roots) == len(walked.module_roots) == 3
    assert dumped.probability() == pytest.approx(walked.probability(), abs=1e-15)
    for order in (None, 1, 2):
        assert {frozenset(c) for c in dumped.minimal_cut_sets(order).all()} == \
            {frozenset(c) for c in walked.minimal_cut_sets(order).all()}
    exact, minimal = enumerate_tree(tree)
    assert dumped.probability() == pytest.approx(exact, abs=1e-15)
    assert {frozenset(c) for c in dumped.minimal_cut_sets().all()} == minimal
