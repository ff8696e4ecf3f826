"""Hypothesis strategies shared by the property tests (random small dependency models), and the
brute-force fault-tree oracle they are checked against."""

from __future__ import annotations

import itertools

from hypothesis import strategies as st

from aftershock.analysis.fault_tree_model import Arg, FaultTree

# An unavailability drawn for a fault-tree test; None leaves it out (no failure data).
PROBABILITIES = st.sampled_from([0.0, 0.05, 0.1, 0.3, 0.5, 0.9, 1.0, None])
# For structure tests: now and then a component that cannot fail by itself.
SOMETIMES_UNFAILING = st.sampled_from([0, None, None, None, None, None])


@st.composite
def random_models(
    draw: st.DrawFn,
    *,
    max_components: int = 8,
    unavailability: st.SearchStrategy[float | None] = SOMETIMES_UNFAILING,
) -> dict:
    """A model document (version 1) of 1..max_components components `c0`, `c1`, ... with random
    hard and soft dependencies (cycles included), `any_of` and `k_of_n` groups, and an
    `unavailability` drawn from `unavailability` (None: not given)."""
    n = draw(st.integers(min_value=1, max_value=max_components))
    names = [f"c{i}" for i in range(n)]
    components: dict[str, dict] = {}
    for name in names:
        spec: dict = {}
        if reqs := draw(st.lists(st.sampled_from(names), max_size=3, unique=True)):
            spec["requires"] = reqs
        if uses := draw(st.lists(st.sampled_from(names), max_size=2, unique=True)):
            spec["uses"] = uses
        group = draw(st.sampled_from(["none", "none", "any_of", "k_of_n"]))
        if group != "none":
            members = draw(st.lists(st.sampled_from(names), min_size=1, max_size=4, unique=True))
            if group == "any_of":
                spec["any_of"] = members
            else:
                spec["k_of_n"] = {"k": draw(st.integers(1, len(members))), "of": members}
            if draw(st.booleans()):
                spec["kind"] = "service"  # a group with a kind can fail by itself
        p = draw(unavailability)
        if p is not None:
            spec["unavailability"] = p
        components[name] = spec
    return {"version": 1, "components": components}


def evaluate_tree(tree: FaultTree, failed: set[str]) -> bool:
    """Whether the top event occurs when exactly the basic events in `failed` have failed."""
    memo: dict[str, bool] = {}

    def value(arg: Arg) -> bool:
        if arg.kind == "basic":
            return arg.name in failed
        if arg.kind == "house":
            return tree.house_events[arg.name]
        if arg.name not in memo:
            g = tree.gates[arg.name]
            vals = [value(a) for a in g.args]
            memo[arg.name] = {
                "and": all(vals), "or": any(vals), "atleast": sum(vals) >= (g.k or 0),
                "not": not vals[0], "null": vals[0], "nand": not all(vals), "nor": not any(vals),
                "xor": sum(vals) % 2 == 1,
            }[g.kind]
        return memo[arg.name]

    return value(Arg("gate", tree.top))


def enumerate_tree(tree: FaultTree) -> tuple[float, set[frozenset[str]]]:
    """Exact top-event probability and minimal cut sets, by evaluating the tree on every state of
    its basic events (each must have a probability)."""
    names = list(tree.basic_events)
    exact, true_sets = 0.0, []
    for state in itertools.product([False, True], repeat=len(names)):
        failed = {n for n, f in zip(names, state, strict=True) if f}
        if evaluate_tree(tree, failed):
            w = 1.0
            for n, f in zip(names, state, strict=True):
                q = tree.basic_events[n]
                w *= q if f else 1 - q
            exact += w
            true_sets.append(frozenset(failed))
    return exact, {c for c in true_sets if not any(o < c for o in true_sets)}
