"""Property test: the bit-parallel engine agrees with a naive fixpoint on random small models."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from aftershock.analysis.structure import all_single_points_of_failure, blast_radius
from aftershock.model.compile import compile_model
from aftershock.model.load import load_model_text

from .reference_semantics import degraded_set, down_set, spofs
from .strategies import random_models


@settings(max_examples=300, deadline=None)
@given(random_models(max_components=9), st.data())
def test_blast_radius_matches_reference(doc: dict, data: st.DataObject) -> None:
    model = load_model_text(yaml.safe_dump(doc))
    graph = compile_model(model)
    failed = data.draw(st.sets(st.sampled_from(sorted(model.components)), min_size=1, max_size=3))
    result = blast_radius(graph, failed)
    down = down_set(model, failed)
    assert result.down == sorted(down)
    assert result.degraded == sorted(degraded_set(model, down))


@settings(max_examples=300, deadline=None)
@given(random_models(max_components=9))
def test_spofs_match_reference(doc: dict) -> None:
    model = load_model_text(yaml.safe_dump(doc))
    graph = compile_model(model)
    targets = sorted(model.components)
    result = all_single_points_of_failure(graph, targets)
    for target in targets:
        assert result[target] == spofs(model, target), target
