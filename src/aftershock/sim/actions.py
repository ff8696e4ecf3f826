"""Faults and operator actions as events on the step grid.

Faults start and end at their times (or when an operator restores the target). At each event step
the effective condition of every touched component is recomputed from the faults active on it:

- `outage`: down by itself; with `mode: timeout` (default) its callers hear nothing and wait for
  their timeout, with `mode: error` they are refused at once;
- `errors`: a share `factor` of its requests is refused at once (a partial failure);
- `capacity`: its service rate times `factor`; `latency`: `delay` added to every request;
- `load`: organic load set to `rps` (or times `factor`: times the daily profile's load too);
- `dns_*`: the record's answer, handed to the DNS mechanism (an `outage` of a record is SERVFAIL).

Operator actions: `restore` ends every fault on the target and lets a dead hard cycle restart;
`throttle` limits intake to `rps`; `relax` lifts the throttle; `drop_queue` empties its queue;
`restart` drops the queue and lets a dead cycle restart; `disable`/`enable` switch an automation
(health-check failover) run by or on the target.

Organic load with a daily profile (`load.daily`, sim/daily.py) follows the scenario's clock: the
profile's clock times, and every step of its linear ramps, are events that recompute the load
of the components it shapes (`state.load_rps`), so quiet stretches are skipped only where the
load stands still.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from aftershock.model.compile import CompiledGraph
from aftershock.model.dynamics import Daily
from aftershock.sim.daily import DailyProfile
from aftershock.sim.scenario import Action, Fault, Scenario
from aftershock.sim.state import State, Step


class Timeline:
    """The scenario's faults and actions, applied step by step to the state and mechanisms."""

    def __init__(self, graph: CompiledGraph, scenario: Scenario, mechanisms: list) -> None:
        self.graph = graph
        self.scenario = scenario
        dt = scenario.step_s
        self.faults = list(scenario.faults)
        self.fault_ids = [graph.index[f.target] for f in self.faults]
        self.ended_by_action: set[int] = set()
        self.active: set[int] = set()
        self.model_load = np.array([c.load.rps if c.load else 0.0 for c in graph.components])
        self.profiles = _profiles(graph, scenario)
        self.load_factor = np.ones(graph.n)
        for ids, profile in self.profiles:
            self.load_factor[ids] = profile.factor(0.0)
        self.capacity = np.ones(graph.n)
        self.refused = np.zeros(graph.n)
        self.routes = {kind: m for m in mechanisms for kind in m.fault_kinds}
        self.automations: dict[int, list] = defaultdict(list)
        for m in mechanisms:
            for component in m.automations():
                self.automations[component].append(m)
        self.events: dict[int, list[tuple[str, int]]] = defaultdict(list)
        for idx, f in enumerate(self.faults):
            self.events[_step_of(f.start_s, dt)].append(("start", idx))
            if math.isfinite(f.end_s):
                self.events[_step_of(f.end_s, dt)].append(("end", idx))
        for idx, a in enumerate(scenario.actions):
            self.events[_step_of(a.at_s, dt)].append(("action", idx))
        for idx, (_, profile) in enumerate(self.profiles):
            for k in profile.change_steps(dt, scenario.steps).tolist():
                self.events[k].append(("daily", idx))
        self.event_steps = np.array(sorted(self.events), dtype=np.int64)
        self._check(scenario)

    def _check(self, scenario: Scenario) -> None:
        for i, f in enumerate(self.faults):
            kind = self.graph.kinds[self.fault_ids[i]]
            if f.kind.startswith("dns_") and kind != "dns_record":
                raise scenario.error(f"{f.kind} applies to a dns_record, and '{f.target}' is a {kind}",
                                     "faults", i, "target the record the consumers `resolves`")
            if f.kind in ("capacity", "latency") and self.graph.components[self.fault_ids[i]].capacity is None:
                raise scenario.error(f"'{f.target}' has no `capacity:` for a {f.kind} fault to change",
                                     "faults", i, "add capacity: {rps: ...} to the component")
        for i, a in enumerate(scenario.actions):
            target = self.graph.index[a.target]
            if a.kind in ("disable", "enable") and target not in self.automations:
                raise scenario.error(f"'{a.target}' runs no automation to {a.kind}", "actions", i,
                                     "automations are health-check failovers (`healthcheck:`)")

    def organic_load(self) -> np.ndarray:
        """Every component's load from the model times its daily factor now, before load faults."""
        return self.model_load * self.load_factor

    def next_event_step(self, k: int) -> int | None:
        """The first event step after step `k`, or None."""
        at = int(np.searchsorted(self.event_steps, k, side="right"))  # sorted: no mask, no copy
        return int(self.event_steps[at]) if at < len(self.event_steps) else None

    def apply(self, st: State, step: Step) -> None:
        """Start and end faults and take the actions due at this step."""
        st.drop_queue.fill(False)
        st.revive.fill(False)
        events = self.events.get(step.k)
        if events:
            touched: set[int] = set()
            for what, idx in events:
                if what == "start" and idx not in self.ended_by_action:
                    self.active.add(idx)
                    touched.add(self.fault_ids[idx])
                elif what == "end":
                    self.active.discard(idx)
                    touched.add(self.fault_ids[idx])
                elif what == "action":
                    touched |= self._act(self.scenario.actions[idx], st, step)
                elif what == "daily":
                    self._reload(st, *self.profiles[idx], step)
            for target in touched:
                self._recompute(target, st, step)

    def factors(self, st: State) -> None:
        """Multiply in the capacity and error shares of the active faults (after the reset)."""
        st.capacity_factor *= self.capacity
        st.local *= 1.0 - self.refused

    def _act(self, action: Action, st: State, step: Step) -> set[int]:
        i = self.graph.index[action.target]
        if action.kind == "restore":
            for idx in [x for x in self.active if self.fault_ids[x] == i]:
                self.active.discard(idx)
                self.ended_by_action.add(idx)
            st.revive[i] = True
        elif action.kind == "throttle":
            st.throttle_rps[i] = action.rps if action.rps is not None else np.inf
        elif action.kind == "relax":
            st.throttle_rps[i] = np.inf
        elif action.kind == "drop_queue":
            st.drop_queue[i] = True
        elif action.kind == "restart":
            st.drop_queue[i] = True
            st.revive[i] = True
        elif action.kind in ("disable", "enable"):
            for m in self.automations[i]:
                m.set_enabled(i, action.kind == "enable")
        return {i}

    def _recompute(self, i: int, st: State, step: Step) -> None:
        faults = [self.faults[x] for x in self.active if self.fault_ids[x] == i]
        outages = [f for f in faults if f.kind == "outage"]
        st.own_up[i] = 0.0 if outages else 1.0
        st.blackhole[i] = 1.0 if any(f.mode == "timeout" for f in outages) else 0.0
        self.capacity[i] = math.prod(f.factor for f in faults if f.kind == "capacity")
        self.refused[i] = 1.0 - math.prod(1.0 - f.factor for f in faults if f.kind == "errors")
        st.added_latency_s[i] = sum(f.delay_s or 0.0 for f in faults if f.kind == "latency")
        st.load_rps[i] = self._faulted_load(i, [f for f in faults if f.kind == "load"])
        if self.graph.kinds[i] == "dns_record" and "dns_empty" in self.routes:
            dns = self.routes["dns_empty"]
            latest = [f for f in faults if f.kind in dns.fault_kinds or f.kind == "outage"]
            dns.apply_fault(i, latest[-1] if latest else None, step.t_s)

    def _reload(self, st: State, ids: np.ndarray, profile: DailyProfile, step: Step) -> None:
        """A profile's factor moved: the organic load of the components it shapes, at once for
        all of them; those with an active load fault go through `_faulted_load`."""
        self.load_factor[ids] = profile.factor(step.t_s)
        st.load_rps[ids] = self.model_load[ids] * self.load_factor[ids]
        faulted: dict[int, list[Fault]] = defaultdict(list)
        for x in self.active:  # the same order as `_recompute` lists them
            if self.faults[x].kind == "load":
                faulted[self.fault_ids[x]].append(self.faults[x])
        for i in faulted.keys() & set(ids.tolist()):
            st.load_rps[i] = self._faulted_load(i, faulted[i])

    def _faulted_load(self, i: int, load_faults: list[Fault]) -> float:
        """The model's load times the daily factor now, as component `i`'s active load faults
        (in the order `self.active` gives them) change it."""
        load = self.model_load[i] * self.load_factor[i]
        for f in load_faults:
            load = f.rps if f.rps is not None else load * (f.factor or 1.0)
        return float(load)


def _profiles(graph: CompiledGraph, scenario: Scenario) -> list[tuple[np.ndarray, DailyProfile]]:
    """One laid-out profile per distinct `load.daily` block, with the components it shapes."""
    shared: dict[tuple, list[int]] = defaultdict(list)
    first: dict[tuple, tuple[Daily, ...]] = {}
    for i, c in enumerate(graph.components):
        profiles = c.load.profiles() if c.load else ()
        if not profiles:
            continue
        if scenario.start is None or scenario.start.tzinfo is None:
            missing = "no `start:`" if scenario.start is None else "a `start:` without a UTC offset"
            raise graph.model.error(
                f"'{graph.names[i]}' has a daily load profile, and the scenario has {missing}",
                graph.names[i], ("load", "daily"),
                hint="give the scenario an absolute start with its offset "
                     "(start: 2025-10-19T23:00:00-07:00): the profile follows the clock of its own "
                     "time zone, so the start must name an instant")
        key = tuple((d.timezone, d.shape, d.share, tuple(d.points())) for d in profiles)
        shared[key].append(i)
        first.setdefault(key, profiles)
    return [(np.array(ids, dtype=np.int64),
             DailyProfile.of(first[key], scenario.start, scenario.duration_s))
            for key, ids in shared.items()]


def _step_of(t_s: float, dt_s: float) -> int:
    return round(t_s / dt_s)
