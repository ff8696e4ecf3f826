"""Backlogs: work deferred while a dependency is down and drained at a finite rate afterwards.

A component with `backlog: {rate, drain_rps, tolerance}` receives `rate` items of work per second
(for instance network-state changes to propagate) and processes up to `drain_rps` per second while
its dependencies are up. What it cannot process waits, so after an outage the backlog drains at
`drain_rps - rate`. New work waits behind the backlog (delay = backlog / drain_rps); consumers of
the resulting state fail while that delay exceeds `tolerance` (AWS us-east-1 2025-10: Network
Manager's propagation backlog made new instances launch without connectivity for hours).
"""

from __future__ import annotations

import numpy as np

from aftershock.model.compile import CompiledGraph
from aftershock.sim.state import State, Step, ramp


class Backlogs:
    """Backlog of every component with a `backlog:` block (a mechanism, see sim/engine.py)."""

    name = "backlog"
    fault_kinds: frozenset[str] = frozenset()

    def __init__(self, graph: CompiledGraph) -> None:
        rows = [(i, c.backlog) for i, c in enumerate(graph.components) if c.backlog is not None]
        self.owners = np.array([i for i, _ in rows], dtype=np.int64)
        self.rate = np.array([b.rate for _, b in rows], dtype=float)
        self.drain_rps = np.array([b.drain_rps for _, b in rows], dtype=float)
        self.tolerance_s = np.array([b.tolerance for _, b in rows], dtype=float)
        self.items = np.zeros(len(rows))

    @property
    def active(self) -> bool:
        """Whether any component has a backlog."""
        return len(self.owners) > 0

    @property
    def delay_s(self) -> np.ndarray:
        """How long new work waits behind the backlog."""
        return self.items / self.drain_rps

    def before_flow(self, st: State, step: Step) -> None:
        """Fail the share of consumers whose state is staler than they tolerate."""
        st.local[self.owners] *= ramp(self.tolerance_s - self.delay_s, 0.2 * self.tolerance_s)

    def after_flow(self, st: State, step: Step) -> None:
        """Add this step's work and process what the dependencies allow."""
        i = self.owners
        self.drain(st, step.dt_s, st.deps_ok[i] * st.own_up[i])

    def drain(self, st: State, dt_s: float, able: np.ndarray) -> None:
        """Add `dt_s` of new work and process up to `drain_rps` x `able` (a dropped queue empties)."""
        self.items[st.drop_queue[self.owners]] = 0.0
        pending = self.items + self.rate * dt_s
        self.items = pending - np.minimum(pending, self.drain_rps * able * dt_s)

    def quiescent(self, st: State, step: Step) -> bool:
        """Nothing waiting."""
        return bool(np.all(self.items < 1e-9))

    def automations(self) -> dict[int, str]:
        """No automation to disable."""
        return {}
