"""The arrays a simulation step reads and writes: one entry per component (or per call edge).

Mechanisms communicate only through these arrays: before the flow of a step they write factors
(`local`, `capacity_factor`, `extra_rps`), after it they read what happened (`served`, `success`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NEVER_S = 1e12  # a deadline that is never reached (finite, so ramps never divide inf by inf)


@dataclass
class Step:
    """Where the run is: step index `k`, time `t_s` (seconds from the start), step length `dt_s`."""

    k: int
    t_s: float
    dt_s: float


@dataclass
class State:
    """Dynamic state of every component. Rates are per second; fractions are in [0, 1]."""

    n: int
    # Written by faults, actions and mechanisms before the flow (reset every step where noted).
    own_up: np.ndarray = field(init=False)  # 1 up, 0 down by itself (faults, restores)
    blackhole: np.ndarray = field(init=False)  # 1 while its failures are silent (callers time out)
    local: np.ndarray = field(init=False)  # product of mechanism factors (DNS, lease, backlog); reset
    capacity_factor: np.ndarray = field(init=False)  # share of capacity in service; reset each step
    load_rps: np.ndarray = field(init=False)  # organic load now (model load, changed by load faults)
    extra_rps: np.ndarray = field(init=False)  # work mechanisms add (lease jobs, checks); reset
    extra_timeout_s: np.ndarray = field(init=False)  # how long that work stays useful
    added_latency_s: np.ndarray = field(init=False)  # latency faults
    throttle_rps: np.ndarray = field(init=False)  # intake limit (inf: none)
    drop_queue: np.ndarray = field(init=False)  # set by actions for one step
    revive: np.ndarray = field(init=False)  # set by restore/restart: a dead hard cycle may restart
    # Written by the flow.
    offered: np.ndarray = field(init=False)  # arrivals (organic + calls + extra), per second
    admitted: np.ndarray = field(init=False)
    accept: np.ndarray = field(init=False)  # share of offered work taken in (throttle, full queue)
    served: np.ndarray = field(init=False)  # work served per second (useful or not)
    queue: np.ndarray = field(init=False)  # requests waiting
    wait_s: np.ndarray = field(init=False)  # queueing delay of work served now
    service_rate: np.ndarray = field(init=False)
    service_latency_s: np.ndarray = field(init=False)  # time to serve one request, no waiting
    latency_s: np.ndarray = field(init=False)  # response time: wait + service + downstream calls
    call_time_s: np.ndarray = field(init=False)  # time spent in downstream calls per request
    deps_ok: np.ndarray = field(init=False)  # share of requests its dependencies let succeed
    avail: np.ndarray = field(init=False)  # share of taken-in work that can succeed (deps, mechanisms)
    live: np.ndarray = field(init=False)  # share of served work still wanted (callers not timed out)
    success: np.ndarray = field(init=False)  # share of offered work that succeeds in time
    goodput: np.ndarray = field(init=False)  # useful work per second
    extra_live: np.ndarray = field(init=False)  # share of served extra work still useful

    def __post_init__(self) -> None:
        n = self.n
        ones, zeros = np.ones(n), np.zeros(n)
        for name in ("own_up", "local", "capacity_factor", "accept", "deps_ok", "avail", "live", "success",
                     "extra_live"):
            setattr(self, name, ones.copy())
        for name in ("blackhole", "load_rps", "extra_rps", "added_latency_s", "offered", "admitted",
                     "served", "queue", "wait_s", "service_rate", "service_latency_s", "latency_s", "call_time_s",
                     "goodput"):
            setattr(self, name, zeros.copy())
        self.extra_timeout_s = np.full(n, NEVER_S)
        self.throttle_rps = np.full(n, np.inf)
        self.drop_queue = np.zeros(n, dtype=bool)
        self.revive = np.zeros(n, dtype=bool)

    def reset_factors(self) -> None:
        """Clear what mechanisms write afresh each step."""
        self.local.fill(1.0)
        self.capacity_factor.fill(1.0)
        self.extra_rps.fill(0.0)
        self.extra_timeout_s.fill(NEVER_S)


def ramp(margin_s: np.ndarray, width_s: np.ndarray | float) -> np.ndarray:
    """Share of work that makes a deadline when it has `margin_s` to spare (smoothed step).

    A linear ramp of total width `width_s` centred on zero margin stands for the spread of
    individual waiting times around the fluid mean.
    """
    return np.minimum(np.maximum(0.5 + margin_s / width_s, 0.0), 1.0)
