"""The Monte Carlo against the exact fault-tree engine (BDD), where that engine is installed."""

from __future__ import annotations

import numpy as np
import pytest

from aftershock.model.compile import compile_model
from aftershock.model.load import load_model_text
from aftershock.risk.engine import RiskSettings, estimate_risk

compile_ft = pytest.importorskip("aftershock.analysis.fault_tree_compile", reason="no exact fault-tree engine")
faulttree = pytest.importorskip("aftershock.analysis.faulttree", reason="no exact fault-tree engine")


def model_with_unavailabilities(seed: int, n: int = 10) -> str:
    """A random acyclic model whose basic events are given as `unavailability` (what the exact
    engine reads; the Monte Carlo turns each into a rate with the default duration)."""
    rng = np.random.default_rng(seed)
    lines = ["components:"]
    for i in range(n):
        q = float(rng.uniform(0.02, 0.2))
        if i < 3:
            lines.append(f"  c{i}: {{unavailability: {q!r}}}")
            continue
        earlier = [f"c{j}" for j in range(i)]
        pick = list(rng.choice(earlier, size=min(3, len(earlier)), replace=False))
        shape = rng.integers(3)
        if shape == 0:
            lines.append(f"  c{i}: {{requires: [{', '.join(pick[:2])}], unavailability: {q!r}}}")
        elif shape == 1:
            lines.append(f"  c{i}: {{any_of: [{', '.join(pick[:2])}]}}")
        else:
            lines.append(f"  c{i}: {{k_of_n: {{k: 2, of: [{', '.join(pick)}]}}}}")
    lines.append(f"  target: {{requires: [c{n - 1}, c{n - 2}], unavailability: 0,"
                 " impact: {revenue_per_hour: 1}}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_monte_carlo_matches_the_bdd_probability_within_three_standard_errors(seed: int):
    graph = compile_model(load_model_text(model_with_unavailabilities(seed)))
    tree = compile_ft.fault_tree_of(graph, "target")
    exact = faulttree.FaultTreeBDD.build(tree).probability()
    horizon_s = 3 * 86400.0
    result = estimate_risk(graph, RiskSettings(trials=3000, horizon_s=horizon_s, seed=seed, targets=("target",)))
    down = result.targets["target"].down_hours
    est, se = down.mean / (horizon_s / 3600), down.moments.stderr / (horizon_s / 3600)
    assert 0 < exact < 1
    assert abs(est - exact) <= 3 * se, (est, exact, se)
