"""Backlogs: work deferred while a dependency is down and drained at a finite rate afterwards.

A component with `backlog: {rate, drain_rps, tolerance}` receives `rate` items of work per second
(for instance network-state changes to propagate) and processes up to `drain_rps` per second while
its dependencies are up. What it cannot process waits, so after an outage the backlog drains at
`drain_rps - rate`. New work waits behind the backlog (delay = backlog / drain_rps); consumers of
the resulting state fail while that delay exceeds `tolerance` (AWS us-east-1 2025-10: Network
Manager's propagation backlog made new instances launch without connectivity for hours).

`rate: load` makes the arrivals the owner's organic load as it is at each step (its `load.rps`,
daily profile and load faults): demand that clients could not get served waits and comes back
(pent-up demand), at night as at the morning peak.

Two optional keys shape how the backlog reaches its owner and whom it holds up:

- `release_rps`: work produced while the dependencies are down is *deferred upstream* — it is not
  in the owner's queue and delays nothing there yet — and handed over at `release_rps` once they
  are back. The owner's delay then grows after the outage, while the hand-over outpaces
  `drain_rps`, instead of during it (the propagations EC2 had deferred reached Network Manager
  after DWFM recovered; its latency rose from 05:28 and was visible at 06:21).
- `through`: a component the work is served through without being a dependency (a load
  balancer in front of the owner): the drain is `drain_rps` times the share of it that works,
  so a partly removed load balancer slows the drain instead of failing every request. The owner
  fails only when its demand outruns what is left (through the backlog's delay).
- `until_drained`: components whose own deferred work is in the backlog. They fail until the
  backlog (deferred and queued) is empty, not only until new work is fresh again (Lambda's and
  ECS's pending capacity among EC2's pent-up launches: whole at 14:15-14:20, after new launches
  were normal at 13:50).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from aftershock.model.compile import CompiledGraph
from aftershock.sim.state import State, Step, ramp

EMPTY = 1e-9  # items below this count as none


class Backlogs:
    """Backlog of every component with a `backlog:` block (a mechanism, see sim/engine.py)."""

    name = "backlog"
    fault_kinds: frozenset[str] = frozenset()

    def __init__(self, graph: CompiledGraph) -> None:
        rows = [(i, c.backlog) for i, c in enumerate(graph.components) if c.backlog is not None]
        self.setup(
            owners=[i for i, _ in rows],
            rate=[0.0 if b.rate == "load" else b.rate for _, b in rows],
            follows_load=[b.rate == "load" for _, b in rows],
            drain_rps=[b.drain_rps for _, b in rows],
            tolerance_s=[b.tolerance for _, b in rows],
            release_rps=[b.release_rps for _, b in rows],
            until_drained=[[graph.index[n] for n in b.until_drained] for _, b in rows],
            through=[graph.index[b.through] if b.through else -1 for _, b in rows],
        )

    def setup(self, owners: Sequence[int], rate: Sequence[float], drain_rps: Sequence[float],
              tolerance_s: Sequence[float], release_rps: Sequence[float | None],
              until_drained: Sequence[Sequence[int]],
              follows_load: Sequence[bool] | None = None,
              through: Sequence[int] | None = None) -> None:
        """Per-backlog arrays (one row per owner); subclasses with other specs call this too."""
        self.owners = np.array(owners, dtype=np.int64)
        self.rate = np.array(rate, dtype=float)
        self.follows_load = np.array(follows_load or [False] * len(owners), dtype=bool)
        self.through = np.array(through or [-1] * len(owners), dtype=np.int64)
        self.drain_rps = np.array(drain_rps, dtype=float)
        self.tolerance_s = np.array(tolerance_s, dtype=float)
        self.release_rps = np.array([np.inf if r is None else r for r in release_rps], dtype=float)
        self.staged = np.isfinite(self.release_rps)  # deferred work waits upstream first
        pairs = [(c, row) for row, consumers in enumerate(until_drained) for c in consumers]
        self.drained_for = np.array([c for c, _ in pairs], dtype=np.int64)
        self.drained_row = np.array([r for _, r in pairs], dtype=np.int64)
        self.items = np.zeros(len(self.owners))  # in the owner's queue
        self.deferred = np.zeros(len(self.owners))  # held upstream, not handed over yet

    @property
    def active(self) -> bool:
        """Whether any component has a backlog."""
        return len(self.owners) > 0

    @property
    def delay_s(self) -> np.ndarray:
        """How long new work waits in the owner's queue."""
        return self.items / self.drain_rps

    @property
    def pending_delay_s(self) -> np.ndarray:
        """How long until everything produced so far (handed over or not) is processed."""
        return (self.items + self.deferred) / self.drain_rps

    def before_flow(self, st: State, step: Step) -> None:
        """Fail the share of consumers whose state is staler than they tolerate."""
        st.local[self.owners] *= ramp(self.tolerance_s - self.delay_s, 0.2 * self.tolerance_s)
        if self.drained_for.size:
            waiting = (self.items + self.deferred)[self.drained_row] > EMPTY
            st.local[self.drained_for] *= np.where(waiting, 0.0, 1.0)

    def after_flow(self, st: State, step: Step) -> None:
        """Add this step's work and process what the dependencies allow."""
        i = self.owners
        path = np.where(self.through >= 0, st.success[np.maximum(self.through, 0)], 1.0)
        self.drain(st, step.dt_s, st.deps_ok[i] * st.own_up[i] * path)

    def drain(self, st: State, dt_s: float, able: np.ndarray) -> None:
        """Add `dt_s` of new work and process up to `drain_rps` x `able` (a dropped queue empties).

        For staged backlogs the share of new work that the dependencies cannot take (1 - able)
        is deferred upstream, and deferred work is handed over at `release_rps` x `able`.
        """
        dropped = st.drop_queue[self.owners]
        self.items[dropped] = 0.0
        self.deferred[dropped] = 0.0
        rate = np.where(self.follows_load, st.load_rps[self.owners], self.rate)
        new = rate * dt_s
        held = np.where(self.staged, new * (1.0 - able), 0.0)
        pace = np.where(self.staged, self.release_rps, 0.0) * able * dt_s
        released = np.minimum(self.deferred + held, pace)
        self.deferred = self.deferred + held - released
        pending = self.items + (new - held) + released
        self.items = pending - np.minimum(pending, self.drain_rps * able * dt_s)

    def quiescent(self, st: State, step: Step) -> bool:
        """Nothing waiting, in the queue or upstream."""
        return bool(np.all(self.items < EMPTY) and np.all(self.deferred < EMPTY))

    def automations(self) -> dict[int, str]:
        """No automation to disable."""
        return {}
