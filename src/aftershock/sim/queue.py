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

BIG = 1e15  # "unlimited", kept finite so that no step ever computes inf - inf or 0 x inf


@dataclass(frozen=True)
class Capacities:
    """Per-component capacity parameters (BIG where the model gives none)."""

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
        rps, workers, limit = np.full(n, BIG), np.full(n, BIG), np.full(n, BIG)
        base, per = np.ones(n), np.zeros(n)
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
                base[i] = max(cap.latency.base, 1e-9)
                per[i] = cap.latency.per_inflight
            elif cap.rps is not None:
                base[i] = (cap.workers or 1) / cap.rps
            if cap.queue_limit is not None:
                limit[i] = cap.queue_limit
        return cls(has, rps, workers, base, per, limit)


def serve(cap: Capacities, st: State, step: Step) -> None:
    """Admit offered work, serve the queue for one step, reject overflow (vectorised)."""
    dt = step.dt_s
    offered = st.offered
    if st.drop_queue.any():
        st.queue[st.drop_queue] = 0.0
    admitted = np.minimum(offered, st.throttle_rps) * st.own_up
    latency = cap.base_latency_s + cap.per_inflight_s * (st.queue + st.served * cap.base_latency_s)
    by_rps = cap.rps * cap.base_latency_s / latency  # rps, slowed as in-flight work piles up
    by_workers = cap.workers / (latency + st.call_time_s)
    rate = np.minimum(by_rps, by_workers) * (st.capacity_factor * st.own_up)
    queued = st.queue + admitted * dt
    served = np.where(cap.has_queue, np.minimum(queued, rate * dt) / dt, admitted)
    queue = queued - served * dt
    overflow = np.maximum(queue - cap.queue_limit, 0.0)
    queue -= overflow
    taken = admitted - overflow / dt
    st.accept = np.where(offered > 0, np.minimum(np.maximum(taken / np.maximum(offered, 1e-300),
                                                            0.0), 1.0), st.own_up)
    st.admitted = taken
    st.served = served
    st.queue = queue
    st.service_rate = rate
    st.wait_s = np.where(queue > 0, queue / np.maximum(rate, 1e-12), 0.0)
    st.service_latency_s = np.where(cap.has_queue, latency, 0.0) + st.added_latency_s
