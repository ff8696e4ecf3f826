"""The health checker's own load: the feedback is bistable, and only a knife edge makes it creep.

docs/replay.md rests on this when it explains why the checker's load cannot time STS's second
window (08:31, three hours after the NLB's flapping began; its second attempt): a checker either
keeps up with the flapping or falls behind at once; it falls behind slowly only when its capacity
is within a hair of the work.
"""

from __future__ import annotations

import pytest

from aftershock.model.compile import compile_model
from aftershock.model.load import load_model_text
from aftershock.sim.engine import Simulation
from aftershock.sim.scenario import load_scenario_text

# 60 checks/s; while half the targets fail, failed checks cost one check more: 60 x 1.5 = 90/s.
MODEL = """
version: 1
components:
  network: {{}}
  lb:
    requires: [network]
    capacity: {{rps: 10000}}
    load: {{rps: 100, timeout: 5s}}
  checker:
    capacity: {{rps: {capacity}, queue_limit: 1000000}}
    healthcheck: {{checks: lb, interval: 10s, timeout: 2s, check_rps: 60, failed_check_cost: {cost}}}
"""
WORK_RPS = 90.0
TIMEOUT_S = 2.0
TRIGGER_S = 300.0


def _behind_after(capacity: float) -> float | None:
    """Seconds from the trigger (half the targets failing) until the checker is a timeout behind."""
    graph = compile_model(load_model_text(MODEL.format(capacity=capacity, cost=1)))
    scenario = load_scenario_text(
        "version: 1\nduration: 1h\nstep: 1s\nfaults: [{target: network, kind: errors, factor: 0.5, "
        "at: +5m, for: 50m}]\n", set(graph.names))
    sim = Simulation(graph, scenario)
    checker = graph.index["checker"]
    while not sim.done:
        sim.step()
        if sim.state.wait_s[checker] > TIMEOUT_S:
            return sim.t_s - TRIGGER_S
    return None


@pytest.mark.parametrize("capacity", [60.0, 80.0, 87.0])
def test_a_checker_short_of_the_work_falls_behind_within_two_minutes(capacity: float) -> None:
    behind = _behind_after(capacity)
    assert behind is not None and behind < 120


@pytest.mark.parametrize("capacity", [93.0, 120.0])
def test_a_checker_above_the_work_never_falls_behind(capacity: float) -> None:
    assert _behind_after(capacity) is None


@pytest.mark.parametrize("capacity", [89.5, 89.9])
def test_falling_behind_slowly_takes_a_capacity_within_a_hair_of_the_work(capacity: float) -> None:
    """Near the edge the delay grows linearly: a timeout behind after timeout x capacity / excess
    (0.1% short: half an hour; three hours would take 0.02%)."""
    behind = _behind_after(capacity)
    expected = TIMEOUT_S * capacity / (WORK_RPS - capacity)
    assert behind is not None and behind == pytest.approx(expected, rel=0.15)
