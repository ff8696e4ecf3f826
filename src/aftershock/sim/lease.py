"""Leases: a manager holding leases on a fleet, renewed through a dependency, re-established as queued work.

A component with `lease: {hosts, lifetime, work_timeout, via, scan_every}` holds leases on `hosts`
hosts. While `via` (default: the component's own dependencies) fails, leases lapse (each lease
`lifetime` after its last renewal; the fleet's renewal times are spread, so the held share decays
with time constant `lifetime`). Every missing lease without a live job in the queue gets a new
re-establishment job every `scan_every`: that job is work in this component's queue, and it is
wasted when it waits longer than `work_timeout`, after which the lease is queued again. With a large
fleet the jobs arrive faster than they are served, waits exceed the timeout, nothing completes and
the queue only grows: congestive collapse (EC2's DWFM, AWS us-east-1 2025-10). Throttling intake
and dropping the queue lets the jobs finish one at a time again. Only the share of hosts holding a
lease can serve (a launch needs a leased host), so the component's success is at most held/hosts.
"""

from __future__ import annotations

import numpy as np

from aftershock.model.compile import CompiledGraph
from aftershock.sim.state import State, Step, ramp


class Leases:
    """Leases of every component with a `lease:` block (a mechanism, see sim/engine.py)."""

    name = "lease"
    fault_kinds: frozenset[str] = frozenset()

    def __init__(self, graph: CompiledGraph) -> None:
        rows = [(i, c.lease) for i, c in enumerate(graph.components) if c.lease is not None]
        for i, _ in rows:
            if graph.components[i].capacity is None:
                raise graph.model.error(
                    "a lease holder needs `capacity:` (re-establishing leases is queued work)",
                    graph.names[i], ("lease",),
                    hint="add capacity: {workers: ..., latency: {base: ...}} to the component")
        self.holders = np.array([i for i, _ in rows], dtype=np.int64)
        self.hosts = np.array([lease.hosts for _, lease in rows], dtype=float)
        self.lifetime_s = np.array([lease.lifetime for _, lease in rows], dtype=float)
        self.work_timeout_s = np.array([lease.work_timeout for _, lease in rows], dtype=float)
        self.scan_s = np.array([lease.scan_every or lease.work_timeout for _, lease in rows],
                               dtype=float)
        self.via = np.array([graph.index[lease.via] if lease.via else -1 for _, lease in rows],
                            dtype=np.int64)
        self.held = self.hosts.copy()
        self.jobs_admitted = np.zeros(len(rows))  # lease jobs taken into the queue per second

    @property
    def active(self) -> bool:
        """Whether any component holds leases."""
        return len(self.holders) > 0

    def _renewable(self, st: State) -> np.ndarray:
        """Share of renewals and re-establishments that get through the lease's dependency."""
        own = st.deps_ok[self.holders]
        via = np.where(self.via >= 0, st.success[np.maximum(self.via, 0)], own)
        return via * st.own_up[self.holders]

    def before_flow(self, st: State, step: Step) -> None:
        """Queue re-establishment jobs for missing leases; cap success at the held share."""
        i = self.holders
        live_jobs = self.jobs_admitted * np.minimum(st.wait_s[i], self.work_timeout_s)
        missing = self.hosts - self.held
        new_jobs = np.maximum(missing - live_jobs, 0.0) / self.scan_s
        st.extra_rps[i] += new_jobs
        st.extra_timeout_s[i] = np.minimum(st.extra_timeout_s[i], self.work_timeout_s)
        st.local[i] *= self.held / self.hosts

    def after_flow(self, st: State, step: Step) -> None:
        """Renew or lose leases; re-establish those whose jobs were served in time."""
        i, dt = self.holders, step.dt_s
        share = np.where(st.offered[i] > 0, st.extra_rps[i] / np.maximum(st.offered[i], 1e-300), 0.0)
        self.jobs_admitted = st.admitted[i] * share
        in_time = ramp(self.work_timeout_s - st.wait_s[i], 0.1 * self.work_timeout_s)
        renewable = self._renewable(st)
        established = st.served[i] * share * in_time * renewable * dt
        lapsed = self.held * (1.0 - renewable) * (1.0 - np.exp(-dt / self.lifetime_s))
        self.held = np.clip(self.held - lapsed + established, 0.0, self.hosts)

    def quiescent(self, st: State, step: Step) -> bool:
        """Every lease held (nothing to re-establish)."""
        return bool(np.all(self.held >= self.hosts - 1e-9))

    def automations(self) -> dict[int, str]:
        """No automation to disable."""
        return {}
