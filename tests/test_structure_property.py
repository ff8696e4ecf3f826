"""Property test: the bit-parallel engine agrees with a naive fixpoint on random small models."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from aftershock.analysis.structure import all_single_points_of_failure, blast_radius
from aftershock.model.compile import compile_model
from aftershock.model.load import load_model_text

from .reference_semantics import degraded_set, down_set, spofs


@st.composite
def random_models(draw: st.DrawFn) -> dict:
    n = draw(st.integers(min_value=1, max_value=9))
    names = [f"c{i}" for i in range(n)]
    components: dict[str, dict] = {}
    for name in names:
        spec: dict = {}
        others = st.lists(st.sampled_from(names), max_size=3, unique=True)
        if reqs := draw(others):
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
        if draw(st.integers(0, 5)) == 0:
            spec["unavailability"] = 0
        components[name] = spec
    return {"version": 1, "components": components}


@settings(max_examples=300, deadline=None)
@given(random_models(), st.data())
def test_blast_radius_matches_reference(doc: dict, data: st.DataObject) -> None:
    model = load_model_text(yaml.safe_dump(doc))
    graph = compile_model(model)
    failed = data.draw(st.sets(st.sampled_from(sorted(model.components)), min_size=1, max_size=3))
    result = blast_radius(graph, failed)
    down = down_set(model, failed)
    assert result.down == sorted(down)
    assert result.degraded == sorted(degraded_set(model, down))


@settings(max_examples=300, deadline=None)
@given(random_models())
def test_spofs_match_reference(doc: dict) -> None:
    model = load_model_text(yaml.safe_dump(doc))
    graph = compile_model(model)
    targets = sorted(model.components)
    result = all_single_points_of_failure(graph, targets)
    for target in targets:
        assert result[target] == spofs(model, target), target
