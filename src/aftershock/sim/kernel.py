"""Compiled loops for the hot part of a simulation step (optional: needs numba, extra `[fast]`).

A step of the NumPy engine is a few hundred array operations, most of them on small per-stage
slices, so on a large model its cost is per-call overhead rather than arithmetic. The loops in
sim/kernel_loops.py compute the same quantities, node by node and edge by edge:

- `CompiledFlow.flow` is one step's flow in one call, from offered load to the retry pools'
  movement (`_serve` mirrors `queue.serve`, `_stage_pass` `Simulation._stage_pass` with
  `Retries.calls` inlined, `_outcome` `Simulation._outcome`, `_move_attempts` the pool movement
  of `Retries.advance`); budgets and breakers stay in NumPy (`Retries.settle`);
- `CompiledFlow.run` is a whole stretch of steps between two scenario events in one call (the
  flow, plus the DNS caches' tick, the retries' hand-over and the recorder's tallies), used by
  the engine when no other mechanism, retry budget or breaker needs Python in between. With
  `threads` > 1 a stretch runs on that many threads (`threading`, numba releases the GIL): each
  takes a contiguous share of the components, of the edges and of every stage of at least
  `SPLIT_FROM` nodes (smaller and cyclic stages are thread 0's, as are the DNS caches), and they
  meet at a barrier (an atomic counter) after each stage and phase. Each value is still computed
  by one thread in the serial order of operations, so results do not depend on the thread count.
  On the 10k bench model two threads take ~0.14 ms per step against ~0.19 ms for one, on an
  otherwise idle 2-core machine; with another process holding a core the barriers (~28 per step)
  make it 7-9x slower than one thread, so more than one thread is opt-in.

The NumPy code stays the reference: it is what runs without numba, on small models, and what
tests/test_sim_kernel.py compares these loops against (same results to 1e-9). Each loop keeps the
reference's order of operations, and a stage is computed from the values its nodes saw before it
(as the vectorised pass does) before any of them is written back. The loops write the state
arrays in place.

`CompiledFlow.of(...)` flattens the engine's per-stage plan into CSR-style arrays indexed by
position in stage order; `available()` says whether numba is installed. The loops are imported on
first use (importing numba takes a while); compiled code is cached on disk (numba `cache=True`),
so only the first run on a machine pays for compiling (~7 s per entry point, `_flow` and `_run`).
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass, field

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
    grouped: np.ndarray  # the node is an any_of, k_of_n or failover group (bool)
    callee_rank: np.ndarray
    threads: int = field(default=1, compare=False)  # threads a stretch runs on (see `run`)

    @classmethod
    def of(cls, order: np.ndarray, stages: tuple, callee_rank: np.ndarray,
           threads: int = 1) -> CompiledFlow:
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
        grouped = np.array([bool(b) for b in best], dtype=bool) | (vote_k > 0) | (fo_primary >= 0)
        _loops()  # import numba now (slow once); each loop compiles, or loads its cache, on first call
        return cls(order.astype(np.int64), stage_lo, cyclic, n_labels, label, *_csr(gates),
                   *_csr(best), *_csr(vote), vote_k, fo_primary, fo_seconds, call_ptr,
                   grouped,
                   callee_rank.astype(np.int64), threads)

    def flow(self, cap, st, retries, incoming: np.ndarray, organic_timeout_s: np.ndarray,
             failover_since: np.ndarray, step, down_below: float) -> tuple[np.ndarray, ...]:
        """Engine._flow from offered load to the pool movement, compiled, in one call: queues,
        the stage pass (with Retries.calls), outcomes, and the pools' movement (with the failed
        attempts already back in the pools when there is no retry budget). Writes the state in
        place (the attempts' first tries in `retries.first`); returns (failed, wanted, total) for
        Retries.settle."""
        edges = retries.edges
        retries.begin_step(step.t_s)
        closed = retries._closed
        out = (np.empty(retries.pools.shape), np.empty(edges.size), np.empty(edges.size))
        calls = (retries.allow, closed if closed is not None else retries.allow, retries.pools,
                 retries.in_time, retries.p, retries.sent, *out, retries.first)
        _loops()._flow(self.plan, _capacities(cap), _edges(retries), calls, _state(st), incoming,
                       organic_timeout_s, failover_since, np.empty(len(incoming)),
                       float(step.dt_s), float(step.t_s), float(down_below), closed is not None,
                       not retries.budgets, _loops().scratch(len(incoming), edges.size, 1))
        return out

    def run(self, k0: int, k1: int, dt_s: float, cap, st, retries, incoming: np.ndarray,
            organic_timeout_s: np.ndarray, failover_since: np.ndarray, base_local: np.ndarray,
            dns, recorder) -> int:
        """Steps k0..k1-1 in one compiled call on `threads` threads (see kernel_loops._run for
        when the engine may use it); returns the first step not fully done: the flow of that
        step, if it is < k1, has run and its recording is left to `recorder.record`."""
        sc = recorder.scenario
        edges = retries.edges
        total = np.empty(edges.size)
        calls = (retries.allow, retries.allow, retries.pools, retries.in_time, retries.p,
                 retries.sent, np.empty(retries.pools.shape), np.empty(edges.size), total,
                 retries.first)
        rec = (recorder.codes, recorder.soft, recorder.paying, recorder.revenue_per_s,
               recorder.degraded_loss, recorder.loss, recorder._sums, recorder.counts,
               recorder.per_point)
        loops, threads = _loops(), self.threads
        args = (k0, k1, float(dt_s), float(sc.down_below), float(sc.degraded_below), base_local,
                self.plan, _capacities(cap), _edges(retries), calls, _state(st), incoming,
                organic_timeout_s, failover_since, np.empty(len(incoming)), dns.stretch_args(),
                rec, loops.scratch(len(incoming), edges.size, threads))
        sync = loops.sync(threads)
        helpers = [threading.Thread(target=loops._run, args=(*args, tid, threads, sync, SPLIT_FROM))
                   for tid in range(1, threads)]
        for h in helpers:
            h.start()
        k, clock = loops._run(*args, 0, threads, sync, SPLIT_FROM)
        for h in helpers:
            h.join()
        dns.clock = clock
        return k

    @property
    def plan(self) -> tuple[np.ndarray, ...]:
        """The stage plan as the loops take it."""
        return (self.order, self.stage_lo, self.cyclic, self.n_labels, self.label, self.gate_ptr,
                self.gate_idx, self.best_ptr, self.best_idx, self.vote_ptr, self.vote_idx,
                self.vote_k, self.fo_primary, self.fo_seconds, self.call_ptr, self.grouped,
                self.callee_rank)


SPLIT_FROM = 256  # a stage of fewer nodes runs on one thread (sharing it costs more than it saves)


def _capacities(cap) -> tuple[np.ndarray, ...]:
    return (cap.has_queue, cap.rps, cap.workers, cap.base_latency_s, cap.per_inflight_s,
            cap.queue_limit)


def _edges(retries) -> tuple[np.ndarray, ...]:
    e = retries.edges
    return (e.callee, e.caller, e.timeout_s, e.ramp_width_s, e.retries, e.first_backoff_s, e.hard,
            e.backoff_s, e.per_request, retries.pool_open)


STATE_FIELDS = ("own_up", "local", "capacity_factor", "load_rps", "extra_rps", "extra_timeout_s",
                "added_latency_s", "throttle_rps", "drop_queue", "revive", "blackhole", "offered",
                "admitted", "accept", "served", "queue", "wait_s", "service_rate",
                "service_latency_s", "latency_s", "call_time_s", "deps_ok", "avail", "live",
                "success", "goodput")


def _state(st) -> tuple[np.ndarray, ...]:
    """The State arrays the loops read and write (in place), in the order they unpack them."""
    return tuple(getattr(st, name) for name in STATE_FIELDS)


def _csr(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=ptr[1:])
    idx = np.array([x for r in rows for x in r], dtype=np.int64)
    return ptr, idx


def _loops():
    """The compiled loops (numba is imported on first use only: it takes a while to load)."""
    from aftershock.sim import kernel_loops

    return kernel_loops
