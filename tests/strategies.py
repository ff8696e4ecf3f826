"""Hypothesis strategies shared by the property tests: random small dependency models."""

from __future__ import annotations

from hypothesis import strategies as st

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
