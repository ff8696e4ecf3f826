"""Properties of the Monte Carlo on random models: the fast paths agree with the plain one, and
the figures are consistent with each other."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftershock.model.compile import compile_model
from aftershock.model.load import load_model_text
from aftershock.risk.engine import RiskSettings, make_plan
from aftershock.risk.montecarlo import (
    evaluate_segments,
    sample_outages,
    simulate_chunk,
    trial_outcomes,
    with_failover_windows,
)

HORIZON_S = 30 * 86400.0


def random_model(seed: int) -> str:
    """Components with failures, services, groups (some with failover), a DNS record and a
    common cause, wired acyclically; two targets with revenue."""
    rng = np.random.default_rng(seed)
    lines = [
        "common_causes:",
        "  zone-a: {zone: za, failure: {rate_per_year: 20, mean_duration: 3h}}",
        "components:",
        "  rec: {kind: dns_record, record: r.example, ttl: 10m, negative_ttl: 20m,"
        " failure: {rate_per_year: 30, mean_duration: 1h}}",
    ]
    names = ["rec"]
    for i in range(int(rng.integers(4, 9))):
        name = f"c{i}"
        rate = float(rng.uniform(5, 60))
        zone = ", placement: {zone: za}" if rng.random() < 0.3 else ""
        kind = rng.integers(4) if len(names) >= 2 else 0
        if kind == 0:
            lines.append(f"  {name}: {{failure: {{rate_per_year: {rate:.3f}, duration: {{median: 1h, p90: 5h}}}}{zone}}}")
        elif kind == 1:
            deps = ", ".join(rng.choice(names, size=min(2, len(names)), replace=False))
            soft = rng.choice(names)
            lines.append(f"  {name}: {{requires: [{deps}], uses: [{soft}],"
                         f" failure: {{rate_per_year: {rate:.3f}, mean_duration: 30m}}{zone}}}")
        elif kind == 2:
            members = ", ".join(rng.choice(names, size=2, replace=False))
            failover = ", failover: 20m" if rng.random() < 0.6 else ""
            lines.append(f"  {name}: {{any_of: [{members}]{failover}}}")
        else:
            members = ", ".join(rng.choice(names, size=min(3, len(names)), replace=False))
            need = 2 if len(names) >= 3 else 1
            lines.append(f"  {name}: {{k_of_n: {{k: {need}, of: [{members}]}}, failover: 5m}}")
        names.append(name)
    lines.append(f"  shop: {{requires: [{names[-1]}], uses: [{names[-2]}], unavailability: 0,"
                 " impact: {revenue_per_hour: 1000, degraded_loss: 0.3}}")
    lines.append(f"  api: {{requires: [{names[-2]}], unavailability: 0, impact: {{revenue_per_hour: 10}}}}")
    return "\n".join(lines) + "\n"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000))
def test_isolated_outage_shortcut_agrees_with_cutting_everything_into_segments(seed: int):
    graph = compile_model(load_model_text(random_model(seed)))
    plan = make_plan(graph, RiskSettings(horizon_s=HORIZON_S))
    trials = 64
    fast = simulate_chunk(plan, seed, 0, trials)
    outages = with_failover_windows(plan, sample_outages(plan, seed, 0, trials), trials)
    plain = trial_outcomes(plan, evaluate_segments(plan, outages, trials), trials)
    for name in ("down_hours", "degraded_hours", "loss", "contributions", "contributions_by_target"):
        assert np.allclose(getattr(fast, name), getattr(plain, name), rtol=1e-9, atol=1e-9), name
    assert np.array_equal(fast.incidents, plain.incidents)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000))
def test_figures_are_consistent(seed: int):
    graph = compile_model(load_model_text(random_model(seed)))
    plan = make_plan(graph, RiskSettings(horizon_s=HORIZON_S))
    out = simulate_chunk(plan, seed, 3, 64)
    horizon_h = HORIZON_S / 3600
    assert (out.down_hours >= 0).all() and (out.degraded_hours >= 0).all()
    assert (out.down_hours + out.degraded_hours <= horizon_h + 1e-6).all()
    assert ((out.down_hours > 0) == (out.incidents > 0)).all()  # down time comes in incidents
    assert np.allclose(out.contributions.sum(axis=1), out.total_loss, rtol=1e-9, atol=1e-6)
    assert np.allclose(out.contributions_by_target.sum(axis=0), out.contributions.sum(axis=0), atol=1e-6)
    assert (out.contributions >= -1e-9).all()


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 40), st.sampled_from([1_000, 10**9, 10**17]))
def test_isolated_mask_matches_pairwise_overlaps(seed: int, n: int, horizon_ms: int):
    """Exact at fine resolution; at coarse resolution (huge horizons force it) it may call an
    isolated outage overlapping, never an overlapping one isolated."""
    from aftershock.risk.overlap import isolated_mask

    rng = np.random.default_rng(seed)
    trial = rng.integers(0, 3, n)
    start = rng.integers(0, horizon_ms, n)
    end = np.minimum(start + rng.integers(0, max(2, horizon_ms // 5), n), horizon_ms)
    touch = (start[:, None] <= end[None, :]) & (start[None, :] <= end[:, None]) & (trial[:, None] == trial[None, :])
    exact = touch.sum(axis=1) == 1
    got = isolated_mask(trial, start, end, horizon_ms)
    assert not (got & ~exact).any()
    if horizon_ms <= 10**9:
        assert np.array_equal(got, exact)


def test_an_outage_opening_two_failover_windows_agrees_with_segments():
    """A zone event takes down the active member of two groups with different failover times: its
    isolated outages are cut into pieces from precomputed situations (windows.py), which must give
    what cutting everything into segments gives."""
    graph = compile_model(load_model_text("""
common_causes:
  za: {zone: za, failure: {rate_per_year: 40, mean_duration: 20m}}
components:
  a1: {failure: {rate_per_year: 5, mean_duration: 1h}, placement: {zone: za}}
  a2: {failure: {rate_per_year: 5, mean_duration: 1h}}
  b1: {failure: {rate_per_year: 5, mean_duration: 1h}, placement: {zone: za}}
  b2: {failure: {rate_per_year: 5, mean_duration: 1h}}
  ga: {any_of: [a1, a2], failover: 10m}
  gb: {any_of: [b1, b2], failover: 30m}
  shop: {requires: [ga], uses: [gb], unavailability: 0, impact: {revenue_per_hour: 1000, degraded_loss: 0.5}}
  api: {requires: [gb], unavailability: 0, impact: {revenue_per_hour: 10}}
"""))
    plan = make_plan(graph, RiskSettings(horizon_s=HORIZON_S))
    assert plan.windows is not None and plan.windows.window_ms.shape[1] == 2
    trials = 400
    outages = sample_outages(plan, 7, 0, trials)
    fast = simulate_chunk(plan, 7, 0, trials)
    plain = trial_outcomes(plan, evaluate_segments(plan, with_failover_windows(plan, outages, trials), trials), trials)
    for name in ("down_hours", "degraded_hours", "loss", "contributions", "contributions_by_target"):
        assert np.allclose(getattr(fast, name), getattr(plain, name), rtol=1e-9, atol=1e-9), name
    assert np.array_equal(fast.incidents, plain.incidents)
    assert fast.contributions_by_target[:, [s.name for s in plan.sources].index("failover of gb")].sum() > 0
