"""Health checks that remove capacity automatically, and the feedback that makes them flap.

A component with `healthcheck: {checks, interval, timeout, failover, max_removal, check_rps}` checks
the targets of `checks` (default: itself) every `interval`. A target passes when it really works
(its dependencies are up) and answers within `timeout`. Targets in service answer after the queue
wait that the load puts on them; targets out of service carry no load and answer at once. With
`failover` on, failing targets leave service and passing ones return; removing capacity loads the
rest, whose checks then time out too, and the returned targets are overloaded again: the check
loop flaps (AWS us-east-1 2025-10: NLB health checks and AZ DNS failover). `max_removal` caps the
share of capacity removed per interval (AWS's velocity-limit fix); `check_rps` is the checks' load
on the target. A checker that is a component of its own does the checking work too: a failed check
costs it `failed_check_cost` more, so failures make the checker busier, its answers slower and more
checks time out (the checker-load feedback). Disabling the automation returns all capacity.
"""

from __future__ import annotations

import numpy as np

from aftershock.model.compile import CompiledGraph
from aftershock.sim.state import State, Step, ramp


class HealthChecks:
    """Every `healthcheck:` block (a mechanism, see sim/engine.py)."""

    name = "healthcheck"
    fault_kinds: frozenset[str] = frozenset()

    def __init__(self, graph: CompiledGraph) -> None:
        rows = [(i, c.healthcheck) for i, c in enumerate(graph.components)
                if c.healthcheck is not None]
        self.checkers = np.array([i for i, _ in rows], dtype=np.int64)
        self.targets = np.array([graph.index[h.checks] if h.checks else i for i, h in rows],
                                dtype=np.int64)
        for (i, _), x in zip(rows, self.targets, strict=True):
            if graph.components[x].capacity is None:
                raise graph.model.error(
                    f"health checks on '{graph.names[x]}' need `capacity:` there to remove",
                    graph.names[i], ("healthcheck",),
                    hint="give the checked component capacity: {rps: ...}")
        self.interval_s = np.array([h.interval for _, h in rows], dtype=float)
        self.timeout_s = np.array([h.timeout for _, h in rows], dtype=float)
        self.enabled = np.array([h.failover for _, h in rows], dtype=bool)
        self.max_removal = np.array([h.max_removal or 1.0 for _, h in rows], dtype=float)
        self.check_rps = np.array([h.check_rps for _, h in rows], dtype=float)
        self.failed_cost = np.array([h.failed_check_cost for _, h in rows], dtype=float)
        self.separate = self.checkers != self.targets  # a checker doing the checking work itself
        self.failing = np.zeros(len(rows))  # share of checks that failed at the last check
        self.in_service = np.ones(len(rows))
        self.next_check_s = self.interval_s.copy()
        self.last_change = np.zeros(len(rows))
        self.changes = np.zeros(len(rows), dtype=np.int64)  # removals and returns so far
        self.seen = np.full(len(rows), 3.0)  # what the last check saw (pass_in + 2 pass_out)

    @property
    def active(self) -> bool:
        """Whether there is any health check."""
        return len(self.checkers) > 0

    def before_flow(self, st: State, step: Step) -> None:
        """Take removed capacity out of service; add the checkers' own load."""
        np.multiply.at(st.capacity_factor, self.targets, self.in_service)
        np.add.at(st.extra_rps, self.targets, self.check_rps)
        checking = np.where(self.check_rps > 0, self.timeout_s, np.inf)
        st.extra_timeout_s[self.targets] = np.minimum(st.extra_timeout_s[self.targets], checking)
        if self.separate.any():
            # Failed checks cost the checker more (retries, alarms, re-registration): the more
            # checks fail, the busier and slower the checker, the more checks time out.
            work = self.check_rps * (1.0 + self.failed_cost * self.failing) * self.separate
            np.add.at(st.extra_rps, self.checkers, work)
            st.extra_timeout_s[self.checkers] = np.minimum(st.extra_timeout_s[self.checkers],
                                                           checking)

    def after_flow(self, st: State, step: Step) -> None:
        """At each check time, move targets in and out of service by what their checks saw."""
        due = step.t_s + step.dt_s >= self.next_check_s - 1e-9
        if not due.any():
            return
        pass_in, pass_out = self._passing(st)
        self.seen = np.where(due, pass_in + 2 * pass_out, self.seen)
        h = self.in_service
        self.failing = np.where(due, 1.0 - (h * pass_in + (1.0 - h) * pass_out), self.failing)
        wanted = h * pass_in + (1.0 - h) * pass_out
        wanted = np.maximum(wanted, h - self.max_removal)
        new = np.where(self.enabled, wanted, 1.0)
        new = np.where(due, new, h)
        moved = np.abs(new - h)
        self.changes += (due & (moved > 0.05)).astype(np.int64)
        self.last_change = np.where(due, moved, self.last_change)
        self.in_service = new
        self.next_check_s = np.where(due, self.next_check_s + self.interval_s, self.next_check_s)
        self.fast_forward(step.t_s, 1, step.dt_s)

    def _passing(self, st: State) -> tuple[np.ndarray, np.ndarray]:
        """Share of checks passing on targets in service (loaded) and out of it (idle)."""
        x, c = self.targets, self.checkers
        works = st.deps_ok[x] * st.own_up[x]
        checker_delay = np.where(self.separate, st.wait_s[c] + st.service_latency_s[c], 0.0)
        answer_loaded = st.wait_s[x] + st.service_latency_s[x] + checker_delay
        answer_idle = st.service_latency_s[x] + checker_delay
        pass_in = works * ramp(self.timeout_s - answer_loaded, 0.1 * self.timeout_s)
        pass_out = works * ramp(self.timeout_s - answer_idle, 0.1 * self.timeout_s)
        return pass_in, pass_out

    def fast_forward(self, t_s: float, steps: int, dt_s: float) -> None:
        """Keep the check schedule's phase across skipped steps (checks that changed nothing)."""
        end = t_s + steps * dt_s  # a check at next_check_s falls in the step that ends there
        passed = self.next_check_s <= end + 1e-9
        behind = np.where(passed, np.floor((end - self.next_check_s) / self.interval_s + 1e-9) + 1, 0)
        self.next_check_s = self.next_check_s + behind * self.interval_s

    def quiescent(self, st: State, step: Step) -> bool:
        """The last check changed nothing, and the next would see what it saw."""
        if not np.all(self.last_change < 1e-9):
            return False
        pass_in, pass_out = self._passing(st)
        return bool(np.allclose(pass_in + 2 * pass_out, self.seen, rtol=0, atol=1e-12))

    def automations(self) -> dict[int, str]:
        """Checker (and checked) components whose failover an operator can disable."""
        names = {int(c): "health-check failover" for c in self.checkers}
        names.update({int(t): "health-check failover" for t in self.targets})
        return names

    def set_enabled(self, component: int, enabled: bool) -> None:
        """Disable or enable the failover of checks run by, or on, `component`."""
        hit = (self.checkers == component) | (self.targets == component)
        self.enabled[hit] = enabled
        if not enabled:
            self.in_service[hit] = 1.0
            self.last_change[hit] = 1.0
