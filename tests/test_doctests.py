"""The examples in the analysis docstrings run and say what they show."""

from __future__ import annotations

import doctest

import pytest

import aftershock.analysis.structure
import aftershock.model.durations


@pytest.mark.parametrize("module", [aftershock.analysis.structure, aftershock.model.durations])
def test_docstring_examples(module) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_topological_order_puts_dependencies_first() -> None:
    from aftershock import compile_model, load_model_text

    g = compile_model(
        load_model_text("components: {c: {requires: [b]}, b: {requires: [a]}, a: {}}")
    )
    order = [g.names[i] for i in g.topological_order]
    assert order == ["a", "b", "c"]
