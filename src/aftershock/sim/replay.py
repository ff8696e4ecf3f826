"""Replay a catalogued incident through the simulator and set the outcome beside the record.

`replay("aws-us-east-1-2025-10")` loads the incident's model and scenario (trigger and operator
actions only), runs them on the engine (sim/engine.py) with the incident's extra mechanisms
(sim/incidents_mechanisms.py), and matches every recorded window with a simulated one
(sim/incidents_windows.py). A what-if removes scenario actions and/or changes model keys, runs
again, and verifies the outcome the incident file expects of it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import yaml

from aftershock.errors import did_you_mean
from aftershock.model.compile import CompiledGraph, compile_model
from aftershock.model.load import load_model, load_model_text
from aftershock.model.source import read_document
from aftershock.sim.engine import Simulation
from aftershock.sim.incidents import Incident, IncidentError, WhatIf, load_incident
from aftershock.sim.incidents_mechanisms import incident_mechanisms
from aftershock.sim.incidents_windows import Window, WindowMatch, match_windows, merge_windows
from aftershock.sim.results import SimResult
from aftershock.sim.scenario import Scenario, load_scenario_text

TOLERANCE_S = 15 * 60.0  # the target: every recorded window within 15 minutes at both ends
MERGE_GAP_S = 10 * 60.0  # impaired stretches closer than this read as one window (flapping)


@dataclass
class WhatIfOutcome:
    """Whether a counterfactual came out as its incident file expects."""

    whatif: WhatIf
    observed: str
    holds: bool | None  # None: the what-if states no check

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"name": self.whatif.name, "description": self.whatif.description,
                "observed": self.observed, "holds": self.holds}


@dataclass
class ReplayResult:
    """Recorded beside simulated windows, per service, for one run of an incident."""

    incident: Incident
    result: SimResult
    matches: list[WindowMatch]
    simulated: dict[str, list[Window]]
    whatif: WhatIfOutcome | None = None
    baseline: ReplayResult | None = field(default=None, repr=False)

    @property
    def recorded_count(self) -> int:
        """Recorded windows in the incident file."""
        return sum(1 for m in self.matches if m.recorded is not None)

    @property
    def reproduced_count(self) -> int:
        """Recorded windows reproduced within the tolerance at both ends."""
        return sum(1 for m in self.matches if m.recorded is not None and m.within_tolerance)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; times are seconds from the incident's start (and local clock times)."""
        inc = self.incident
        return {
            "kind": "replay",
            "incident": inc.id,
            "title": inc.title,
            "start": inc.start.isoformat(),
            "tolerance_min": TOLERANCE_S / 60,
            "reproduced": self.reproduced_count,
            "recorded": self.recorded_count,
            "windows": [dict(m.to_dict(),
                             recorded_clock=None if m.recorded is None else
                             [inc.clock(m.recorded.start_s), inc.clock(m.recorded.end_s)],
                             simulated_clock=None if m.simulated is None else
                             [inc.clock(m.simulated[0]),
                              None if m.simulated[1] is None else inc.clock(m.simulated[1])])
                        for m in self.matches],
            "whatif": None if self.whatif is None else self.whatif.to_dict(),
            "parameters": [vars(p) for p in inc.parameters],
            "simulation": {"summary": self.result.summary, "loss": self.result.loss},
        }


def replay(incident_id: str, whatif: str | None = None,
           progress: Callable[[float], None] | None = None) -> ReplayResult:
    """Run an incident (optionally one of its what-ifs) and match the record."""
    incident = load_incident(incident_id)
    chosen = None
    if whatif is not None:
        chosen = incident.whatifs.get(whatif)
        if chosen is None:
            raise IncidentError(
                f"incident '{incident_id}' has no what-if '{whatif}'",
                hint=did_you_mean(whatif, incident.whatifs)
                or "what-ifs: " + ", ".join(incident.whatifs),
            )
    graph = _graph(incident, chosen)
    scenario = _scenario(incident, graph, chosen)
    result = run_incident(incident, graph, scenario, progress)
    out = _compare(incident, result, scenario)
    if chosen is not None:
        baseline = None
        if chosen.check is not None and chosen.check.shorter_than_baseline:
            base_graph = _graph(incident, None)
            base = run_incident(incident, base_graph, _scenario(incident, base_graph, None))
            baseline = _compare(incident, base, scenario)
        out.whatif = _verify(chosen, out, baseline, _trigger_s(scenario))
        out.baseline = baseline
    return out


def run_incident(incident: Incident, graph: CompiledGraph, scenario: Scenario,
                 progress: Callable[[float], None] | None = None) -> SimResult:
    """Run the engine with the incident's extra mechanisms (quiet stretches are skipped exactly)."""
    names = set(graph.names)
    for kind, per_component in incident.mechanisms.items():
        for component, params in per_component.items():
            for ref in [component] + [params[k] for k in ("via", "launcher", "hosts", "serving") if k in params]:
                if ref not in names:
                    line, column = incident.document.locate(("mechanisms", kind, component))
                    raise IncidentError(f"mechanism {kind} names unknown component '{ref}'",
                                        file=incident.document.path, line=line, column=column,
                                        hint=did_you_mean(ref, names))
    mechanisms = incident_mechanisms(graph, incident.mechanisms, scenario.down_below)
    with np.errstate(over="ignore"):  # a queue growing without bound is the collapse, not an error
        return Simulation(graph, scenario, mechanisms).run(progress)


def _graph(incident: Incident, whatif: WhatIf | None) -> CompiledGraph:
    if whatif is None or not whatif.set_parameters:
        return compile_model(load_model(incident.model_path))
    doc = read_document(incident.model_path)
    data = copy.deepcopy(doc.data)
    for path, value in whatif.set_parameters.items():
        _set_key(incident, whatif, data, str(path), value)
    label = f"{incident.model_path} (what-if {whatif.name})"
    return compile_model(load_model_text(yaml.safe_dump(data, sort_keys=False), path=label))


def _set_key(incident: Incident, whatif: WhatIf, data: dict, path: str, value: Any) -> None:
    """Set `component.key.sub` in the model data; the component and all but the last key exist."""
    parts = path.split(".")
    components = data.get("components", {})
    where: dict[str, Any] = {}
    if whatif.name in incident.whatifs:  # written in the incident file (not --vary)
        line, column = incident.document.locate(("whatif", whatif.name, "set", path))
        where = {"file": incident.document.path, "line": line, "column": column}
    if parts[0] not in components or len(parts) < 2:
        raise IncidentError(f"'{path}' names no component '{parts[0]}' of the model",
                            hint=did_you_mean(parts[0], components) or "write component.key.path",
                            **where)
    node = components[parts[0]]
    for key in parts[1:-1]:
        if not isinstance(node.get(key), dict):
            raise IncidentError(f"'{path}': '{key}' is not set on component '{parts[0]}'",
                                hint="only keys the model already has can be changed", **where)
        node = node[key]
    node[parts[-1]] = value


def _scenario(incident: Incident, graph: CompiledGraph, whatif: WhatIf | None) -> Scenario:
    doc = read_document(incident.scenario_path)
    data = copy.deepcopy(doc.data)
    ids = {str(x.get("id")) for section in ("faults", "actions") for x in data.get(section) or ()}
    removed = set(whatif.remove_actions) if whatif else set()
    for action_id in removed - ids:
        line, column = incident.document.locate(("whatif", whatif.name, "remove_actions"))
        raise IncidentError(f"what-if removes '{action_id}', which no scenario action has as id",
                            file=incident.document.path, line=line, column=column,
                            hint=did_you_mean(action_id, ids))
    for section in ("faults", "actions"):
        data[section] = [{k: v for k, v in x.items() if k != "id"}
                         for x in data.get(section) or () if str(x.get("id")) not in removed]
    text = yaml.safe_dump(data, sort_keys=False)
    return load_scenario_text(text, set(graph.names), path=str(incident.scenario_path))


def _simulated_windows(result: SimResult) -> dict[str, list[Window]]:
    out: dict[str, list[Window]] = {}
    for name, windows in result.windows.items():
        if windows:
            out[name] = merge_windows([(w.start_s, None if w.open else w.end_s) for w in windows],
                                      MERGE_GAP_S)
    return out


def _compare(incident: Incident, result: SimResult, scenario: Scenario) -> ReplayResult:
    simulated = _simulated_windows(result)
    matches = match_windows(incident.recorded, simulated, tolerance_s=TOLERANCE_S,
                            merge_gap_s=MERGE_GAP_S, horizon_s=scenario.duration_s)
    return ReplayResult(incident, result, matches, simulated)


def _trigger_s(scenario: Scenario) -> float:
    return min((f.start_s for f in scenario.faults), default=0.0)


def impaired_s(windows: list[Window], horizon_s: float) -> float:
    """Total impaired time of a component's windows (open ones counted to the horizon)."""
    return sum((horizon_s if end is None else end) - start for start, end in windows)


def _verify(whatif: WhatIf, run: ReplayResult, baseline: ReplayResult | None,
            trigger_s: float) -> WhatIfOutcome:
    check = whatif.check
    if check is None:
        return WhatIfOutcome(whatif, "no check stated", None)
    windows = run.simulated.get(check.component, [])
    horizon = run.result.scenario.duration_s
    if check.shorter_than_baseline:
        assert baseline is not None
        before = impaired_s(baseline.simulated.get(check.component, []), horizon)
        after = impaired_s(windows, horizon)
        observed = (f"{check.component} impaired {after / 60:.0f} min "
                    f"(as recorded: {before / 60:.0f} min)")
        return WhatIfOutcome(whatif, observed, after < before)
    if not windows:
        return WhatIfOutcome(whatif, f"{check.component} never impaired", check.expect)
    last_end = windows[-1][1]
    if last_end is None:
        observed = (f"{check.component} still impaired when the run ends, "
                    f"{(horizon - trigger_s) / 3600:.1f} h after the trigger")
        recovered_in = None
    else:
        recovered_in = last_end - trigger_s
        observed = f"{check.component} recovers {recovered_in / 3600:.2f} h after the trigger"
    within = check.recovers_within_s if check.recovers_within_s is not None else float("inf")
    recovered = recovered_in is not None and recovered_in <= within
    return WhatIfOutcome(whatif, observed, recovered == check.expect)


@dataclass(frozen=True)
class SensitivityRow:
    """One parameter value and what the replay does with it."""

    at: str
    value: Any
    reproduced: int
    recorded: int
    ends: dict[str, float | None]  # service -> simulated end of its first window (None: open)


def sensitivity(incident_id: str, variations: dict[str, list[Any]],
                services: tuple[str, ...] = ("ddb", "dwfm", "ec2-launch", "nlb")) -> list[SensitivityRow]:
    """Replay with one model key changed at a time (`component.key.path` -> values to try)."""
    incident = load_incident(incident_id)
    rows = []
    for path, values in variations.items():
        for value in values:
            change = WhatIf(name=f"{path}={value}", description="sensitivity",
                            set_parameters={path: value})
            graph = _graph(incident, change)
            scenario = _scenario(incident, graph, None)
            out = _compare(incident, run_incident(incident, graph, scenario), scenario)
            ends: dict[str, float | None] = {}
            for service in services:
                windows = out.simulated.get(service, [])
                ends[service] = windows[0][1] if windows else float("nan")
            rows.append(SensitivityRow(path, value, out.reproduced_count, out.recorded_count, ends))
    return rows
