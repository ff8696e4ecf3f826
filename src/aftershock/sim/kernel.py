"""Compiled loops for the hot part of a simulation step (optional: needs numba, extra `[fast]`).

A step of the NumPy engine is a few hundred array operations, most of them on small per-stage
slices, so on a large model its cost is per-call overhead rather than arithmetic. The loops here
compute the same quantities, node by node and edge by edge, in one compiled call each:

- `serve`            mirrors `queue.serve` (admit, serve, reject; writes fresh state arrays),
- `stage_pass`       mirrors `Simulation._stage_pass` with `Retries.calls` inlined,
- `outcome`          mirrors `Simulation._outcome`,
- `move_attempts`    mirrors the pool movement of `Retries.advance` (budgets and breakers stay in
  NumPy, in retry.py).

The NumPy code stays the reference: it is what runs without numba, on small models, and what
tests/test_sim_kernel.py compares these loops against (same results to 1e-9). Each loop keeps the
reference's order of operations, and a stage is computed from the values its nodes saw before it
(as the vectorised pass does) before any of them is written back.

`CompiledFlow.of(...)` flattens the engine's per-stage plan into CSR-style arrays indexed by
position in stage order; `available()` says whether numba is installed. The loops themselves live
in sim/kernel_loops.py, imported on first use (importing numba takes a while); compiled code is
cached on disk (numba `cache=True`), so only the first run on a machine pays for compiling (~3 s).
The DNS caches (sim/dns.py) and the recorder (sim/results.py) call their own loops there when the
engine runs compiled.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np


def available() -> bool:
    """Whether numba is installed (the compiled path can be used)."""
    return importlib.util.find_spec("numba") is not None


@dataclass(frozen=True)
class CompiledFlow:
    """The engine's stage plan flattened for the compiled loops (positions in stage order)."""

    order: np.ndarray
    stage_lo: np.ndarray  # stage s covers positions stage_lo[s]:stage_lo[s + 1]
    cyclic: np.ndarray
    n_labels: np.ndarray
    label: np.ndarray  # SCC label within its stage (cyclic stages only)
    gate_ptr: np.ndarray
    gate_idx: np.ndarray
    best_ptr: np.ndarray
    best_idx: np.ndarray
    vote_ptr: np.ndarray
    vote_idx: np.ndarray
    vote_k: np.ndarray  # 0: no k_of_n group
    fo_primary: np.ndarray  # -1: no failover
    fo_seconds: np.ndarray
    call_ptr: np.ndarray  # edges call_ptr[q]:call_ptr[q + 1] are the calls of position q
    callee_rank: np.ndarray

    @classmethod
    def of(cls, order: np.ndarray, stages: tuple, callee_rank: np.ndarray) -> CompiledFlow:
        """Flatten `engine._plan`'s stages (duck-typed: span, gates, best, votes, failover,
        calls, cycle_labels)."""
        n = len(order)
        stage_lo = np.array([sg.span.start for sg in stages] + [n], dtype=np.int64)
        cyclic = np.array([sg.cycle_labels is not None for sg in stages], dtype=np.bool_)
        n_labels = np.array([int(sg.cycle_labels.max()) + 1 if sg.cycle_labels is not None
                             and len(sg.cycle_labels) else 0 for sg in stages], dtype=np.int64)
        label = np.zeros(n, dtype=np.int64)
        gates: list[list[int]] = [[] for _ in range(n)]
        best: list[list[int]] = [[] for _ in range(n)]
        vote: list[list[int]] = [[] for _ in range(n)]
        vote_k = np.zeros(n, dtype=np.int64)
        fo_primary = np.full(n, -1, dtype=np.int64)
        fo_seconds = np.zeros(n)
        calls = np.zeros(n, dtype=np.int64)
        for sg in stages:
            lo = sg.span.start
            if sg.cycle_labels is not None:
                label[sg.span] = sg.cycle_labels
            for segs, out in ((sg.gates, gates), (sg.best, best)):
                if segs is not None:
                    ends = [*segs.starts[1:].tolist(), len(segs.idx)]
                    for p, a, b in zip(segs.pos.tolist(), segs.starts.tolist(), ends, strict=True):
                        out[lo + p] = segs.idx[a:b].tolist()
            if sg.votes is not None:
                v = sg.votes
                for r, p in enumerate(v.pos.tolist()):
                    vote[lo + p] = v.members[r][v.valid[r]].tolist()
                    vote_k[lo + p] = v.members.shape[1] - int(v.column[r])
            if sg.failover is not None:
                f = sg.failover
                fo_primary[lo + f.pos] = f.primary
                fo_seconds[lo + f.pos] = f.seconds
            if sg.calls is not None:
                c = sg.calls
                ends = [*c.starts[1:].tolist(), c.span.stop - c.span.start]
                for p, a, b in zip(c.pos.tolist(), c.starts.tolist(), ends, strict=True):
                    calls[lo + p] = b - a
        call_ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(calls, out=call_ptr[1:])
        _loops()  # import numba now (slow once); each loop compiles, or loads its cache, on first call
        return cls(order.astype(np.int64), stage_lo, cyclic, n_labels, label, *_csr(gates),
                   *_csr(best), *_csr(vote), vote_k, fo_primary, fo_seconds, call_ptr,
                   callee_rank.astype(np.int64))

    def serve(self, cap, st, step) -> None:
        """queue.serve, compiled."""
        (st.accept, st.admitted, st.served, st.queue, st.service_rate, st.wait_s,
         st.service_latency_s) = _loops()._serve(
            float(step.dt_s), cap.has_queue, cap.rps, cap.workers, cap.base_latency_s,
            cap.per_inflight_s, cap.queue_limit, st.offered, st.throttle_rps, st.own_up, st.queue,
            st.served, st.call_time_s, st.capacity_factor, st.added_latency_s, st.drop_queue)

    def stage_pass(self, st, retries, failover_since: np.ndarray, t_s: float,
                   down_below: float) -> None:
        """Simulation._stage_pass (with Retries.calls), compiled; writes the same arrays."""
        edges = retries.edges
        retries.begin_step(t_s)
        closed = retries._closed
        _loops()._stage_pass(self.order, self.stage_lo, self.cyclic, self.n_labels, self.label,
                    self.gate_ptr, self.gate_idx, self.best_ptr, self.best_idx, self.vote_ptr,
                    self.vote_idx, self.vote_k, self.fo_primary, self.fo_seconds, self.call_ptr,
                    st.own_up, st.local, st.accept, st.avail, st.wait_s, st.service_latency_s,
                    st.latency_s, st.blackhole, st.revive, self.callee_rank, edges.callee,
                    edges.timeout_s, edges.ramp_width_s, edges.retries, retries.allow,
                    edges.first_backoff_s, edges.hard,
                    closed if closed is not None else retries.allow, closed is not None,
                    float(t_s), float(down_below), failover_since,
                    st.deps_ok, st.call_time_s, retries.in_time, retries.p)

    def outcome(self, st, incoming: np.ndarray, organic_timeout_s: np.ndarray, retries) -> None:
        """Simulation._outcome, compiled."""
        edges = retries.edges
        st.live, st.success, st.goodput = _loops()._outcome(
            st.load_rps, incoming, st.extra_rps, st.extra_timeout_s, organic_timeout_s,
            st.latency_s, st.wait_s, st.accept, st.avail, st.served, edges.callee, retries.sent,
            retries.in_time)


def move_attempts(retries, st, send_rps: np.ndarray, dt: float, refill: bool
                  ) -> tuple[np.ndarray, ...]:
    """The pool movement of Retries.advance, compiled: returns (failed, wanted, total, first).
    With `refill` the failed attempts are already back in the pools (x dt)."""
    edges = retries.edges
    failed = np.empty((edges.size, retries.pools.shape[1] if edges.max_attempts > 1 else 1))
    wanted, total, first = np.empty(edges.size), np.empty(edges.size), np.empty(edges.size)
    _loops()._move_attempts(float(dt), edges.callee, edges.caller, edges.timeout_s, edges.backoff_s,
                   edges.per_request, retries.pool_open, st.latency_s, st.blackhole,
                   retries.in_time, retries.p, send_rps, retries.pools, failed, wanted, total,
                   first, refill)
    return failed, wanted, total, first


def _csr(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=ptr[1:])
    idx = np.array([x for r in rows for x in r], dtype=np.int64)
    return ptr, idx


def _loops():
    """The compiled loops (numba is imported on first use only: it takes a while to load)."""
    from aftershock.sim import kernel_loops

    return kernel_loops
