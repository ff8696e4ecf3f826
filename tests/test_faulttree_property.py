"""Property tests: the BDD engine against brute-force enumeration of basic-event states.

For random small models (cycles, any_of, k_of_n included) the model's own semantics, the
bit-parallel `propagate_down`, decides which states take the target down; the exact probability,
the minimal cut sets and the importance measures from the fault tree must agree with it. Random
gate trees with every MEF connective check the BDD (complemented edges included) the same way.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from aftershock.analysis.fault_tree_compile import fault_tree_of
from aftershock.analysis.faulttree import Arg, FaultTree, FaultTreeBDD, Gate, analyze_fault_tree
from aftershock.analysis.importance import importance
from aftershock.analysis.propagation import propagate_down, scenario_bits, words_for
from aftershock.model.compile import compile_model
from aftershock.model.load import load_model_text

from .strategies import PROBABILITIES, enumerate_tree, random_models

# Fault-tree tests: up to 8 components (2^8 states to enumerate), any probability or none.
FT_MODELS = random_models(max_components=8, unavailability=PROBABILITIES)


def _states(m: int) -> np.ndarray:
    """(2^m, m) bool: every state of m basic events."""
    return np.array(list(itertools.product([False, True], repeat=m)), dtype=bool).reshape(2**m, m)


def _brute_force(graph, target: str, events: list[str], default: float):
    """Probability that target is down, and its minimal cut sets, by enumerating every state."""
    ids = [graph.index[e] for e in events]
    states = _states(len(ids))
    s = len(states)
    failed = np.zeros((graph.n, words_for(s)), dtype=np.uint64)
    for col, i in enumerate(ids):
        bits = np.packbits(states[:, col], bitorder="little")
        padded = np.zeros(words_for(s) * 8, dtype=np.uint8)
        padded[: len(bits)] = bits
        failed[i] = padded.view(np.uint64)
    down = scenario_bits(propagate_down(graph, failed), s)[graph.index[target]]
    probs = np.array([default if np.isnan(graph.unavailability[i]) else graph.unavailability[i]
                      for i in ids])
    weight = np.prod(np.where(states, probs, 1 - probs), axis=1) if ids else np.ones(s)
    exact = float(weight[down].sum())
    down_sets = [frozenset(e for e, f in zip(events, row, strict=True) if f)
                 for row, d in zip(states, down, strict=True) if d]
    minimal = {c for c in down_sets if not any(o < c for o in down_sets)}
    return exact, minimal


@settings(max_examples=250, deadline=None)
@given(FT_MODELS, st.data())
def test_model_fault_tree_matches_enumeration(doc: dict, data: st.DataObject) -> None:
    graph = compile_model(load_model_text(yaml.safe_dump(doc)))
    target = data.draw(st.sampled_from(list(graph.names)))
    tree = fault_tree_of(graph, target, default_unavailability=0.2)
    bdd = FaultTreeBDD.build(tree)
    exact, minimal = _brute_force(graph, target, bdd.events, 0.2)
    assert bdd.probability() == pytest.approx(exact, abs=1e-12)
    cut_sets = bdd.minimal_cut_sets()
    assert {frozenset(c) for c in cut_sets.all()} == minimal
    assert cut_sets.count() == len(minimal)
    # Basic events are components under the target that can fail (constant folding may drop some
    # that can never matter, e.g. the other member of `any_of: [itself, x]`).
    under = graph.hard_descendants(np.asarray([graph.index[target]]))
    assert set(bdd.events) <= {graph.names[i] for i in np.flatnonzero(under & graph.can_fail)}


@settings(max_examples=150, deadline=None)
@given(FT_MODELS, st.data())
def test_order_limit_keeps_exactly_the_small_cut_sets(doc: dict, data: st.DataObject) -> None:
    graph = compile_model(load_model_text(yaml.safe_dump(doc)))
    target = data.draw(st.sampled_from(list(graph.names)))
    tree = fault_tree_of(graph, target, default_unavailability=0.2)
    bdd = FaultTreeBDD.build(tree)
    everything = {frozenset(c) for c in bdd.minimal_cut_sets().all()}
    k = data.draw(st.integers(0, 4))
    limited = {frozenset(c) for c in bdd.minimal_cut_sets(k).all()}
    assert limited == {c for c in everything if len(c) <= k}


@settings(max_examples=150, deadline=None)
@given(FT_MODELS, st.data())
def test_importance_matches_conditional_enumeration(doc: dict, data: st.DataObject) -> None:
    graph = compile_model(load_model_text(yaml.safe_dump(doc)))
    target = data.draw(st.sampled_from(list(graph.names)))
    tree = fault_tree_of(graph, target, default_unavailability=0.2)
    bdd = FaultTreeBDD.build(tree)
    p = bdd.event_probabilities()
    top = bdd.probability(p)
    for row in importance(bdd).events:
        v = bdd.events.index(row.event)
        up, down = p.copy(), p.copy()
        up[v], down[v] = 1.0, 0.0
        p1, p0 = bdd.probability(up), bdd.probability(down)
        assert row.birnbaum == pytest.approx(p1 - p0, abs=1e-12)
        if top > 1e-12:
            assert row.fussell_vesely == pytest.approx(p[v] * (p1 - p0) / top, abs=1e-9)
            assert row.raw == pytest.approx(p1 / top, rel=1e-9)
            if p0 > 1e-12:
                assert row.rrw == pytest.approx(top / p0, rel=1e-9)


# -- random gate trees with every connective --------------------------------------------------

KINDS = ["and", "or", "atleast", "not", "nand", "nor", "xor", "null"]


@st.composite
def random_trees(draw: st.DrawFn) -> FaultTree:
    m = draw(st.integers(1, 7))
    events = {f"e{i}": draw(st.sampled_from([0.0, 0.01, 0.2, 0.5, 0.7, 1.0])) for i in range(m)}
    houses = {"h_on": True, "h_off": False}
    gates: dict[str, Gate] = {}
    for j in range(draw(st.integers(1, 8))):
        pool = [Arg("basic", e) for e in events] + [Arg("gate", f"g{i}") for i in range(j)]
        pool += [Arg("house", h) for h in houses]
        kind = draw(st.sampled_from(KINDS))
        size = 1 if kind in ("not", "null") else draw(st.integers(2, 4))
        args = tuple(draw(st.lists(st.sampled_from(pool), min_size=size, max_size=size)))
        k = draw(st.integers(1, size)) if kind == "atleast" else None
        gates[f"g{j}"] = Gate(f"g{j}", kind, args, k)
    return FaultTree("random", f"g{len(gates) - 1}", gates, events, houses)


@settings(max_examples=300, deadline=None)
@given(random_trees())
def test_gate_tree_probability_and_cut_sets_match_enumeration(tree: FaultTree) -> None:
    bdd = FaultTreeBDD.build(tree)
    exact, minimal = enumerate_tree(tree)
    assert bdd.probability() == pytest.approx(exact, abs=1e-12)
    assert {frozenset(c) for c in bdd.minimal_cut_sets().all()} == minimal
    result = analyze_fault_tree(tree, limit=1000)
    assert result.mcs_count == len(minimal)
    assert result.probability == pytest.approx(exact, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(random_trees(), st.sampled_from([0.0, 0.01, 0.3]))
def test_approximations_equal_sums_over_listed_cut_sets(tree: FaultTree, cutoff: float) -> None:
    import math

    result = analyze_fault_tree(tree, limit=10_000, cutoff=cutoff)
    qs = [q for q in result.cut_set_probabilities if q >= cutoff * (1 - 1e-12)]
    assert result.mcs_count == len(qs) == len(result.cut_sets)
    assert result.rare_event == pytest.approx(math.fsum(qs), abs=1e-12)
    assert result.mcub == pytest.approx(1 - math.prod(1 - q for q in qs), abs=1e-12)
