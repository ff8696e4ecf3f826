"""Queue and capacity: a fluid FIFO queue per component, served at a rate that can fall under load.

Capacity is `rps`, or `workers` whose every request takes `latency` (base + per_inflight x work in
flight) plus the time spent in downstream calls: the service rate is workers / that time. A worker
blocked on a slow dependency serves nothing, so slowness downstream becomes capacity loss here.
Work beyond `queue_limit` is rejected at once. Work served after its caller gave up still costs
capacity (throughput) but is not goodput: that waste is what keeps a queue full after a trigger
(Isaacs et al., HotOS '25). A component without `capacity` passes work through without queueing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aftershock.model.compile import CompiledGraph
from aftershock.sim.state import State, Step


@dataclass(frozen=True)
class Capacities:
    """Per-component capacity parameters (inf where the model gives none)."""

    has_queue: np.ndarray
    rps: np.ndarray
    workers: np.ndarray
    base_latency_s: np.ndarray
    per_inflight_s: np.ndarray
    queue_limit: np.ndarray

    @classmethod
    def of(cls, graph: CompiledGraph) -> Capacities:
        """Read `capacity` blocks from the model."""
        n = graph.n
        has = np.zeros(n, dtype=bool)
        rps, workers, limit = np.full(n, np.inf), np.full(n, np.inf), np.full(n, np.inf)
        base, per = np.zeros(n), np.zeros(n)
        for i, c in enumerate(graph.components):
            cap = c.capacity
            if cap is None:
                continue
            has[i] = True
            if cap.rps is not None:
                rps[i] = cap.rps
            if cap.workers is not None and cap.latency is not None:
                workers[i] = cap.workers
            if cap.latency is not None:
                base[i] = cap.latency.base
                per[i] = cap.latency.per_inflight
            elif cap.rps is not None:
                base[i] = (cap.workers or 1) / cap.rps if cap.workers else 1.0 / cap.rps
            if cap.queue_limit is not None:
                limit[i] = cap.queue_limit
        return cls(has, rps, workers, base, per, limit)


def serve(cap: Capacities, st: State, step: Step) -> None:
    """Admit offered work, serve the queue for one step, reject overflow (vectorised)."""
    dt = step.dt_s
    offered = st.offered
    st.queue[st.drop_queue] = 0.0
    admitted = np.minimum(offered, st.throttle_rps) * st.own_up
    latency = cap.base_latency_s + cap.per_inflight_s * (st.queue + st.served * cap.base_latency_s)
    busy_time = np.maximum(latency + st.call_time_s, 1e-9)
    with np.errstate(divide="ignore", invalid="ignore"):
        by_rps = np.where(cap.per_inflight_s > 0, cap.rps * cap.base_latency_s / latency, cap.rps)
        rate = np.minimum(np.nan_to_num(by_rps, nan=np.inf), cap.workers / busy_time)
    rate = rate * st.capacity_factor * st.own_up
    queued = st.queue + admitted * dt
    served = np.where(cap.has_queue, np.minimum(queued, rate * dt) / dt, admitted)
    queue = np.where(cap.has_queue, queued - served * dt, 0.0)
    overflow = np.maximum(queue - cap.queue_limit, 0.0)
    queue -= overflow
    with np.errstate(divide="ignore", invalid="ignore"):
        taken = np.where(offered > 0, (admitted - overflow / dt) / offered, st.own_up)
        wait = np.where(queue > 0, queue / rate, 0.0)
    st.accept = np.clip(taken, 0.0, 1.0)
    st.admitted = admitted - overflow / dt
    st.served = served
    st.queue = queue
    st.service_rate = np.where(cap.has_queue, rate, np.inf)
    st.wait_s = np.nan_to_num(wait, nan=0.0, posinf=1e9)
    st.service_latency_s = np.where(cap.has_queue, latency, 0.0) + st.added_latency_s
