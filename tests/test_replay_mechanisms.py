"""The replay's own mechanisms (stuck workers, propagation backlog) on tiny models, and the
consistency of the incident's parameter list with its files."""

from __future__ import annotations

from typing import Any

import pytest

from aftershock.model.compile import compile_model
from aftershock.model.load import load_model_text
from aftershock.model.source import read_document
from aftershock.sim.engine import Simulation
from aftershock.sim.incidents import load_incident
from aftershock.sim.incidents_mechanisms import incident_mechanisms
from aftershock.sim.incidents_windows import merge_windows
from aftershock.sim.scenario import load_scenario_text

MODEL = """
version: 1
components:
  db: {kind: datastore}
  poller: {kind: job, requires: [db]}
  app: {kind: service, requires: [db], load: {rps: 10}}
"""


def run(model: str, scenario: str, mechanisms: dict[str, Any]) -> Any:
    graph = compile_model(load_model_text(model))
    sc = load_scenario_text(scenario, set(graph.names))
    mech = incident_mechanisms(graph, mechanisms, sc.down_below)
    return Simulation(graph, sc, mech).run()


def windows(result: Any, name: str) -> list[tuple[float, float | None]]:
    """Impaired stretches (down and degraded joined)."""
    return merge_windows([(w.start_s, w.end_s) for w in result.windows_of(name)], gap_s=1.0)


def test_a_worker_stuck_after_its_dependency_failed_long_enough_waits_for_an_operator() -> None:
    scenario = """
version: 1
duration: 1h
step: 1s
faults: [{target: db, kind: outage, at: +5m, for: 10m}]
actions: [{at: +40m, kind: restore, target: poller}]
"""
    result = run(MODEL, scenario, {"latch": {"poller": {"after_s": 120}}})
    assert windows(result, "app") == [(300.0, 900.0)]  # recovers with its dependency
    assert windows(result, "poller") == [(300.0, 2400.0)]  # stuck until restored at +40m


def test_a_short_dependency_failure_does_not_latch() -> None:
    scenario = """
version: 1
duration: 30m
step: 1s
faults: [{target: db, kind: outage, at: +5m, for: 1m}]
"""
    result = run(MODEL, scenario, {"latch": {"poller": {"after_s": 120}}})
    assert windows(result, "poller") == [(300.0, 360.0)]


PROPAGATION_MODEL = """
version: 1
components:
  control: {kind: service}
  propagator: {kind: service}
  launch: {kind: service, requires: [control], load: {rps: 10}}
  hosts: {kind: network}
"""
PROPAGATION_SCENARIO = """
version: 1
duration: 6h
step: 10s
faults: [{target: control, kind: outage, at: +10m, for: 1h}]
"""


def propagation(**params: float) -> dict[str, Any]:
    """A `propagation` block for the propagator, fed by control, on top of `params`."""
    return {"propagation": {"propagator": {"tolerance_s": 600, "via": "control",
                                           "launcher": "launch", "hosts": "hosts",
                                           "fleet": 100000.0, **params}}}


def test_propagation_backlog_builds_while_its_dependency_is_down_and_drains_after() -> None:
    result = run(PROPAGATION_MODEL, PROPAGATION_SCENARIO, propagation(rate=1.0, drain_rps=2.0))
    (start, end), = windows(result, "propagator")
    # delay = backlog / drain passes 10 min after 1200 items (20 min into the outage) ...
    assert start == pytest.approx(600 + 1200, abs=150)
    # ... and drains at 2 - 1 = 1/s from 3600 items to 1200: 2400 s after the outage.
    assert end == pytest.approx(4200 + 2400, abs=150)
    # New hosts launched while the backlog is long lack state: the share launches x delay / fleet.
    # Nothing launches while the control plane is down, so hosts lack state only once it returns.
    (host_start, _), = windows(result, "hosts")
    assert host_start >= 4200


def test_deferred_propagations_hurt_the_propagator_after_its_dependency_returns() -> None:
    result = run(PROPAGATION_MODEL, PROPAGATION_SCENARIO,
                 propagation(rate=1.0, drain_rps=2.0, release_rps=1.5))
    # The 3600 changes of the outage wait upstream: the propagator's own queue stays empty, so
    # it is not impaired while control is down (without release_rps it is, from +30 min) ...
    (start, end), = windows(result, "propagator")
    # ... they arrive at 1.5/s after it, on top of 1/s of new work, drained at 2/s: the queue
    # grows by 0.5/s and passes 10 min of delay (1200 items; ~1090 at the ramp's 95% point)
    # about 2200 s after control returns (4200 s). The hand-over ends at 4200 + 2400 s with
    # 1200 items queued; they drain at 1/s, the window closing ~110 s later.
    assert start == pytest.approx(4200 + 2200, abs=150)
    assert end == pytest.approx(4200 + 2400 + 110, abs=150)
    # New hosts wait for every pending change (handed over or not): they lack state as soon as
    # launches resume, long before the propagator's own latency is visible.
    (host_start, _), = windows(result, "hosts")
    assert 4200 <= host_start < start


def _lookup(data: Any, keys: list[str]) -> Any:
    for key in keys:
        data = data[key]
    return data


def _scalars(value: Any) -> set[str]:
    """Every key and scalar in a structure, as text."""
    if isinstance(value, dict):
        return {str(k) for k in value} | {s for v in value.values() for s in _scalars(v)}
    if isinstance(value, list):
        return {s for v in value for s in _scalars(v)}
    return {str(value)}


def test_every_listed_parameter_is_the_value_in_the_files() -> None:
    incident = load_incident("aws-us-east-1-2025-10")
    model = read_document(incident.model_path).data["components"]
    scenario = read_document(incident.scenario_path).data
    actions = {a["id"]: a for a in scenario["actions"]}
    assert len(incident.parameters) >= 15
    for p in incident.parameters:
        where, path = p.at.split(" ", 1)
        if where == "model":
            component, *keys = path.split(".")
            value = _lookup(model[component], keys)
        elif where == "scenario":
            first, *keys = path.split(".")
            value = _lookup(actions[first], keys) if first in actions else _lookup(
                scenario[first], keys)
        else:
            kind, component, key = path.split(".", 2) if path.count(".") == 2 else (
                *path.split(".", 1)[0:1], *path.split(".", 1)[1].rsplit(".", 1))
            value = incident.mechanisms[kind][component][key]
        if isinstance(value, list | dict):  # a structure is listed as a summary naming it all
            assert all(leaf in str(p.value) for leaf in _scalars(value)), p.at
        else:
            assert str(value) == str(p.value), p.at
        assert p.kind in ("chosen", "fitted", "published") and len(p.why) > 30


def _leaves(value: Any, path: str) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, f"{path}.{k}")]
    return [(path, value)]


def test_every_number_in_the_model_is_listed_with_a_reason() -> None:
    """No unpublished number hides in the model: each dynamics value and DNS TTL is listed."""
    incident = load_incident("aws-us-east-1-2025-10")
    listed = {p.at.split(" ", 1)[1] for p in incident.parameters if p.at.startswith("model ")}
    model = read_document(incident.model_path).data["components"]
    numbers = []
    for name, component in model.items():
        for key in ("capacity", "load", "lease", "backlog", "healthcheck", "ttl", "negative_ttl"):
            if key in component:
                numbers += _leaves(component[key], f"{name}.{key}")
    def names(value: Any) -> bool:  # component names (via, until_drained) are structure
        values = value if isinstance(value, list) else [value]
        return all(isinstance(v, str) and v in model for v in values)

    missing = sorted(path for path, value in numbers if path not in listed and not names(value))
    assert not missing, f"unlisted model parameters: {missing}"
    for kind, per_component in incident.mechanisms.items():
        for component, params in per_component.items():
            for key, value in params.items():
                if isinstance(value, int | float):
                    at = f"mechanisms {kind}.{component}.{key}"
                    assert any(p.at == at for p in incident.parameters), at
