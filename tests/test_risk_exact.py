"""The Monte Carlo against exact enumeration of basic-event states, on small random models."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aftershock.analysis.propagation import propagate_down, scenario_bits, words_for
from aftershock.model.compile import compile_model
from aftershock.model.load import load_model_text
from aftershock.risk.engine import RiskSettings, estimate_risk
from aftershock.risk.profiles import failure_sources

DAY_S = 86400.0
YEAR_S = 8760 * 3600.0


def random_model(seed: int, n: int = 9) -> str:
    """A random acyclic model: basic components, services that require earlier ones, groups."""
    rng = np.random.default_rng(seed)
    lines = ["components:"]
    names: list[str] = []
    for i in range(n):
        name = f"c{i}"
        earlier = names[:]
        shape = rng.choice(["basic", "service", "any_of", "k_of_n"], p=[0.35, 0.35, 0.15, 0.15])
        if i < 3 or not earlier:
            shape = "basic"
        q = float(rng.uniform(0.03, 0.25))
        rate = -math.log1p(-q) / DAY_S * YEAR_S
        failure = f"failure: {{rate_per_year: {rate!r}, mean_duration: 1d}}"
        if shape == "basic":
            lines.append(f"  {name}: {{{failure}}}")
        elif shape == "service":
            deps = rng.choice(earlier, size=min(len(earlier), int(rng.integers(1, 3))), replace=False)
            own = failure if rng.random() < 0.5 else "unavailability: 0"
            lines.append(f"  {name}: {{requires: [{', '.join(deps)}], {own}}}")
        else:
            members = rng.choice(earlier, size=min(len(earlier), 3), replace=False)
            if shape == "any_of" or len(members) < 3:
                lines.append(f"  {name}: {{any_of: [{', '.join(members)}]}}")
            else:
                lines.append(f"  {name}: {{k_of_n: {{k: 2, of: [{', '.join(members)}]}}}}")
        names.append(name)
    lines.append(f"  target: {{requires: [{names[-1]}, {names[-2]}], unavailability: 0,"
                 " impact: {revenue_per_hour: 1}}")
    return "\n".join(lines) + "\n"


def exact_unavailability(graph, target: str) -> float:
    """P(target down) summed over every state of the basic events, using the static kernel."""
    sources, _ = failure_sources(graph)
    basic = [s.components[0] for s in sources]
    q = np.array([s.profile.unavailability for s in sources])
    m = len(basic)
    states = 1 << m
    failed = np.zeros((graph.n, words_for(states)), dtype=np.uint64)
    scenario = np.arange(states)
    for j, comp in enumerate(basic):
        bits = ((scenario >> j) & 1).astype(bool)
        failed[comp] = np.packbits(np.pad(bits, (0, failed.shape[1] * 64 - states)),
                                   bitorder="little").view(np.uint64)
    down = scenario_bits(propagate_down(graph, failed)[[graph.index[target]]], states)[0]
    on = ((scenario[:, None] >> np.arange(m)) & 1).astype(bool)
    prob = np.where(on, q, 1 - q).prod(axis=1)
    return float(prob[down].sum())


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_random_model_matches_exact_enumeration_within_three_standard_errors(seed: int):
    graph = compile_model(load_model_text(random_model(seed)))
    exact = exact_unavailability(graph, "target")
    horizon_s = 20 * DAY_S
    result = estimate_risk(graph, RiskSettings(trials=3000, horizon_s=horizon_s, seed=seed, targets=("target",)))
    down = result.targets["target"].down_hours
    est, se = down.mean / (horizon_s / 3600), down.moments.stderr / (horizon_s / 3600)
    assert se > 0 or exact == 0
    assert abs(est - exact) <= 3 * se + 1e-12, (random_model(seed), est, exact, se)


def test_exact_enumeration_itself_on_a_series_pair():
    graph = compile_model(load_model_text(
        "components:\n"
        "  a: {failure: {rate_per_year: 100, mean_duration: 1d}}\n"
        "  b: {failure: {rate_per_year: 50, mean_duration: 1d}}\n"
        "  target: {requires: [a, b], unavailability: 0}\n"
    ))
    qa, qb = -math.expm1(-100 / 365), -math.expm1(-50 / 365)
    assert exact_unavailability(graph, "target") == pytest.approx(1 - (1 - qa) * (1 - qb), rel=1e-3)
