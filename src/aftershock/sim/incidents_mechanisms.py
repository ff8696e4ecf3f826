"""Two mechanisms the AWS us-east-1 2025-10 replay needs beyond the engine's own (sim/engine.py).

- `Latches` — **stuck workers**: a component whose dependencies fail for longer than `after` gets
  stuck and stays down after they return, until an operator restores or restarts it (Lambda's SQS
  poller; Redshift clusters whose host replacement started while EC2 launches failed).
- `Propagation` — **unpropagated state of new hosts**: a backlog of state changes (Network
  Manager's network-state propagation), built on the engine's `Backlogs` (sim/backlog.py). Changes
  arrive at `rate`; while the component `via` (or the owner's dependencies) fails they are
  deferred upstream, and once it works they are handed over at `release_rps` and drained at
  `drain_rps`. The owner fails while the delay in its own queue exceeds its `tolerance`, which
  happens only after `via` returns, when the hand-over outpaces the drain. A new host waits for
  every pending change, handed over or not (`pending = deferred + queued`): the hosts launched by
  `launcher` within the last `pending / drain_rps` seconds have no state yet, so `hosts` (a
  component standing for the fleet's new and old hosts) works only for the share
  `1 - launches x pending delay / fleet`, and the capacity of `serving` (targets behind a load
  balancer) shrinks by the same share. The load on the rest makes their health checks time out,
  and automatic failover removes healthy capacity too (NLB, 05:30).

Both follow the engine's mechanism protocol (`before_flow`, `after_flow`, `quiescent`, ...) and
meet the others only in the `State` arrays. Their parameters live in the incident file
(`mechanisms:`), each with its rationale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from aftershock.model.compile import CompiledGraph
from aftershock.sim.backlog import Backlogs
from aftershock.sim.state import State, Step


@dataclass(frozen=True)
class LatchSpec:
    """A component that gets stuck after its dependencies fail for `after_s`."""

    component: str
    after_s: float


@dataclass(frozen=True)
class PropagationSpec:
    """A propagation backlog (see the module docstring)."""

    owner: str
    rate: float
    drain_rps: float
    tolerance_s: float
    via: str | None = None
    launcher: str | None = None
    hosts: str | None = None
    serving: str | None = None
    fleet: float = 1.0
    release_rps: float | None = None


class Latches:
    """Stuck workers: down once their dependencies failed long enough, until restored."""

    name = "latch"
    fault_kinds: frozenset[str] = frozenset()

    def __init__(self, graph: CompiledGraph, specs: list[LatchSpec], down_below: float) -> None:
        self.ids = graph.ids([s.component for s in specs])
        self.after_s = np.array([s.after_s for s in specs], dtype=float)
        self.down_below = down_below
        self.failing_s = np.zeros(len(specs))
        self.stuck = np.zeros(len(specs), dtype=bool)

    @property
    def active(self) -> bool:
        """Whether any component can get stuck."""
        return len(self.ids) > 0

    def before_flow(self, st: State, step: Step) -> None:
        """A restore or restart clears the latch; a stuck component serves nothing."""
        revived = st.revive[self.ids]
        self.stuck &= ~revived
        self.failing_s[revived] = 0.0
        st.local[self.ids] *= np.where(self.stuck, 0.0, 1.0)

    def after_flow(self, st: State, step: Step) -> None:
        """Count how long each component's dependencies have failed; latch past `after`."""
        failing = st.deps_ok[self.ids] < self.down_below
        self.failing_s = np.where(failing, self.failing_s + step.dt_s, 0.0)
        self.stuck |= self.failing_s >= self.after_s

    def quiescent(self, st: State, step: Step) -> bool:
        """Nothing counting towards a latch."""
        return bool(np.all((self.failing_s == 0) | self.stuck))

    def automations(self) -> dict[int, str]:
        """No automation to disable."""
        return {}


class Propagation(Backlogs):
    """Propagation backlogs whose delay leaves newly launched hosts without state."""

    name = "propagation"
    fault_kinds: frozenset[str] = frozenset()

    def __init__(self, graph: CompiledGraph, specs: list[PropagationSpec]) -> None:
        self.setup(owners=graph.ids([s.owner for s in specs]).tolist(),
                   rate=[s.rate for s in specs], drain_rps=[s.drain_rps for s in specs],
                   tolerance_s=[s.tolerance_s for s in specs],
                   release_rps=[s.release_rps for s in specs], until_drained=[[] for _ in specs])
        self.via = np.array([graph.index[s.via] if s.via else -1 for s in specs], dtype=np.int64)
        self.launcher = np.array([graph.index[s.launcher] if s.launcher else -1 for s in specs],
                                 dtype=np.int64)
        self.hosts = np.array([graph.index[s.hosts] if s.hosts else -1 for s in specs],
                              dtype=np.int64)
        self.serving = np.array([graph.index[s.serving] if s.serving else -1 for s in specs],
                                dtype=np.int64)
        self.fleet = np.array([s.fleet for s in specs], dtype=float)
        self.launches_rps = np.zeros(len(specs))

    def before_flow(self, st: State, step: Step) -> None:
        """Stale owners fail; hosts launched within the pending delay have no state yet."""
        delay = self.pending_delay_s
        super().before_flow(st, step)
        unready = np.minimum(1.0, self.launches_rps * delay / self.fleet)
        linked = self.hosts >= 0
        if linked.any():
            np.multiply.at(st.local, self.hosts[linked], 1.0 - unready[linked])
        serving = self.serving >= 0
        if serving.any():
            np.multiply.at(st.capacity_factor, self.serving[serving], 1.0 - unready[serving])

    def after_flow(self, st: State, step: Step) -> None:
        """Add this step's work, drain what the dependencies allow, note the launch rate."""
        i = self.owners
        via = np.where(self.via >= 0, st.success[np.maximum(self.via, 0)], st.deps_ok[i])
        self.drain(st, step.dt_s, via * st.own_up[i])
        launched = np.where(self.launcher >= 0, st.goodput[np.maximum(self.launcher, 0)], 0.0)
        self.launches_rps = launched


def incident_mechanisms(graph: CompiledGraph, spec: dict[str, Any], down_below: float) -> list:
    """Build the mechanisms an incident file's `mechanisms:` block asks for (already validated)."""
    out: list = []
    latches = [LatchSpec(name, float(v["after_s"])) for name, v in spec.get("latch", {}).items()]
    if latches:
        out.append(Latches(graph, latches, down_below))
    props = [PropagationSpec(owner=name, **v) for name, v in spec.get("propagation", {}).items()]
    if props:
        out.append(Propagation(graph, props))
    return out
