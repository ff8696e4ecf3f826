"""Retries per call edge: attempts, timeout, backoff, retry token bucket and circuit breaker.

Each call edge (caller -> callee, from the caller's `calls:`) keeps, per attempt number, a pool of
requests waiting to try again. A failed attempt enters the next pool; it leaves after the time it
took to notice the failure (the timeout when the callee did not answer in time, about its latency
when it refused) plus the mean backoff. The attempts sent to the callee are the first attempts
plus everything leaving the pools, so the load amplification *emerges*: at total failure it
reaches `attempts` x the first attempts, and it shrinks again as soon as attempts succeed.

A retry budget (token bucket, Brooker 2022) lets retries through only while tokens last: each
success earns `ratio` tokens, each retry costs one. A circuit breaker stops sending while the
recent failure share (exponential average over `window`) is above `threshold`, for `open_for`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aftershock.model.compile import CompiledGraph
from aftershock.sim.state import State, Step, ramp


@dataclass(frozen=True)
class CallEdges:
    """Every `calls:` entry of the model as parallel arrays (E edges, up to `max_attempts`)."""

    caller: np.ndarray
    callee: np.ndarray
    timeout_s: np.ndarray
    attempts: np.ndarray
    backoff_s: np.ndarray  # (E, max_attempts - 1): mean wait before retry k
    per_request: np.ndarray
    hard: np.ndarray  # the callee's failure fails the caller's request (not a `uses` fallback)
    budget_ratio: np.ndarray  # NaN: no retry budget
    budget_burst: np.ndarray
    breaker_threshold: np.ndarray  # NaN: no circuit breaker
    breaker_window_s: np.ndarray
    breaker_open_s: np.ndarray
    retries: np.ndarray  # attempts - 1, as floats
    ramp_width_s: np.ndarray  # spread of waits around the timeout (10% of it)
    first_backoff_s: np.ndarray  # mean wait before the first retry

    @property
    def size(self) -> int:
        """Number of call edges."""
        return len(self.caller)

    @property
    def max_attempts(self) -> int:
        """Most attempts of any edge (1 when there are no edges)."""
        return int(self.attempts.max()) if self.size else 1

    @classmethod
    def of(cls, graph: CompiledGraph, order: np.ndarray | None = None) -> CallEdges:
        """Read `calls` blocks from the model, callers taken in `order` (default: by id)."""
        rows = []
        for i in (order if order is not None else range(graph.n)):
            comp = graph.components[int(i)]
            for name, call in comp.calls.items():
                j = graph.index[name]
                hard = name in comp.requires or name not in comp.uses
                rows.append((int(i), j, call, hard))
        size = len(rows)
        most = max((r[2].attempts for r in rows), default=1)
        backoff = np.zeros((size, max(most - 1, 0)))
        for e, (_, _, call, _) in enumerate(rows):
            k = np.arange(1, most)
            wait = np.minimum(call.backoff.max, call.backoff.base * 2.0 ** (k - 1))
            backoff[e] = wait / 2 if call.backoff.jitter == "full" else wait

        def col(get, dtype=float) -> np.ndarray:
            return np.array([get(r) for r in rows], dtype=dtype)

        nan = float("nan")
        attempts = col(lambda r: r[2].attempts, np.int64)
        return cls(
            caller=col(lambda r: r[0], np.int64),
            callee=col(lambda r: r[1], np.int64),
            timeout_s=col(lambda r: r[2].timeout),
            attempts=attempts,
            backoff_s=backoff,
            per_request=col(lambda r: r[2].per_request),
            hard=col(lambda r: r[3], bool),
            budget_ratio=col(lambda r: r[2].retry_budget.ratio if r[2].retry_budget else nan),
            budget_burst=col(lambda r: r[2].retry_budget.burst if r[2].retry_budget else 0.0),
            breaker_threshold=col(
                lambda r: r[2].circuit_breaker.threshold if r[2].circuit_breaker else nan),
            breaker_window_s=col(
                lambda r: r[2].circuit_breaker.window if r[2].circuit_breaker else 1.0),
            breaker_open_s=col(
                lambda r: r[2].circuit_breaker.open_for if r[2].circuit_breaker else 0.0),
            retries=attempts - 1.0,
            ramp_width_s=0.1 * col(lambda r: r[2].timeout),
            first_backoff_s=backoff[:, 0].copy() if most > 1 else np.zeros(size),
        )


class Retries:
    """Dynamic state of every call edge: retry pools, tokens, breakers, attempts in flight."""

    def __init__(self, edges: CallEdges) -> None:
        self.edges = edges
        size, most = edges.size, edges.max_attempts
        self.pools = np.zeros((size, max(most - 1, 1)))
        k = np.arange(1, most)
        # pool k-1 holds failures of attempt k waiting for attempt k+1 (only while k < attempts)
        self.pool_open = (k[None, :] < edges.attempts[:, None]) if most > 1 else np.zeros((size, 1), bool)
        self.tokens = np.where(np.isnan(edges.budget_ratio), np.inf, edges.budget_burst)
        self.allow = np.ones(size)  # share of wanted retries the budget let through last step
        self.failure_avg = np.zeros(size)
        self.open_until_s = np.full(size, -np.inf)
        self.sent = np.zeros(size)  # attempts per second sent to the callee (arrive next step)
        self.first = np.zeros(size)  # first attempts per second
        self.p = np.ones(size)  # per-attempt success seen by the caller
        self.breakers = bool((~np.isnan(edges.breaker_threshold)).any())
        self.budgets = bool((~np.isnan(edges.budget_ratio)).any())
        self._rates = np.zeros((size, self.pools.shape[1] + 1))
        self.in_time = np.ones(size)  # share of attempts answered before the caller's timeout
        self._closed: np.ndarray | None = None

    def closed(self, t_s: float) -> np.ndarray:
        """1 where the breaker lets calls through, 0 where it is open."""
        return (self.open_until_s <= t_s).astype(float)

    def begin_step(self, t_s: float) -> None:
        """Note which breakers are closed for this step."""
        self._closed = self.closed(t_s) if self.breakers else None

    def calls(self, e: slice, callee: np.ndarray, latency_s: np.ndarray, ready: np.ndarray,
              blackhole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per edge in `e`: share of caller requests whose call succeeds within its attempts, and
        the mean time the call takes (retries and backoff included). `callee` indexes the arrays
        (latency, ready = accept x availability, blackhole) of the callees. Stores the
        per-attempt success for `advance`.

        Attempts fail independently, so retries lift the caller above the callee's per-attempt
        success for partial failures (Brooker 2022) and not at all for a dead callee (p = 0).
        """
        edges = self.edges
        timeout = edges.timeout_s[e]
        lat = latency_s[callee]
        in_time = ramp(timeout - lat, edges.ramp_width_s[e])
        self.in_time[e] = in_time
        p = ready[callee] * in_time
        if self._closed is not None:
            p = p * self._closed[e]
        self.p[e] = p
        tries = 1.0 + edges.retries[e] * self.allow[e]
        ok = 1.0 - (1.0 - p) ** tries
        attempt = np.minimum(lat + blackhole[callee] * timeout, timeout)
        expected = np.where(p > 1e-9, ok / np.maximum(p, 1e-9), tries)
        took = expected * attempt + np.maximum(expected - 1.0, 0.0) * edges.first_backoff_s[e]
        return ok, took

    def advance(self, st: State, send_rps: np.ndarray, step: Step) -> None:
        """Move attempts through the pools for one step; `send_rps` is each caller's request rate.
        (The compiled step, sim/kernel.py, moves the pools itself and then calls `settle`.)"""
        if not self.edges.size:
            return
        failed, wanted, total = self._move(st, send_rps, step.dt_s)
        self.first = self._rates[:, 0].copy()
        self.settle(failed, wanted, total, step, refilled=False)

    def settle(self, failed: np.ndarray, wanted: np.ndarray, total: np.ndarray, step: Step,
               refilled: bool) -> None:
        """After the pools moved: spend retry budgets, put the failed attempts (per second) back
        into the pools unless `refilled` already did (no budget), update breakers, and set what
        each edge sends (`total`, attempts per second, arrives next step)."""
        dt = step.dt_s
        if self.budgets:
            self._budget(wanted, total * self.p, dt)
            self.pools += failed * (self.allow[:, None] * dt)
        elif not refilled:
            self.pools += failed * dt
        if self.breakers:
            closed = self.closed(step.t_s)
            self.sent = total * closed
            self._breaker(self.p, closed, step)
        else:
            self.sent = total

    def _move(self, st: State, send_rps: np.ndarray, dt: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Let the pools' retries leave; returns failed attempts (to re-enter the pools, per
        second), their sum per edge, and all attempts sent per edge."""
        edges = self.edges
        j, timeout, fail = edges.callee, edges.timeout_s, 1.0 - self.p
        # Time to notice a failure: the timeout if the callee was silent or slow, else its latency.
        answered = np.minimum(st.latency_s[j], timeout)
        slow = np.minimum(st.blackhole[j] + 1.0 - self.in_time, 1.0)
        notice = answered + slow * (timeout - answered)
        delay = np.maximum(notice[:, None] + edges.backoff_s, dt) if edges.backoff_s.size else 1.0
        leaving = self.pools * (1.0 - np.exp(-dt / delay))
        self.pools -= leaving
        rates = self._rates  # attempt k+1 per second: first attempts, then each pool's outflow
        rates[:, 0] = edges.per_request * send_rps[edges.caller]
        rates[:, 1:] = leaving * (1.0 / dt)
        failed = rates[:, :-1] * fail[:, None] * self.pool_open
        return failed, failed.sum(axis=1), rates.sum(axis=1)

    def _budget(self, wanted: np.ndarray, successes: np.ndarray, dt: float) -> None:
        """Spend and earn retry-budget tokens (called only when some edge has a budget)."""
        ratio = self.edges.budget_ratio
        has = ~np.isnan(ratio)
        earn = np.where(has, ratio, 0) * successes * dt
        available = self.tokens + earn
        allow = np.where(wanted * dt > 1e-12,
                         np.minimum(1.0, available / np.maximum(wanted * dt, 1e-12)), 1.0)
        allow = np.where(has, allow, 1.0)
        spent = wanted * allow * dt
        self.tokens = np.where(has, np.minimum(available - spent, self.edges.budget_burst), np.inf)
        self.allow = allow

    def _breaker(self, p: np.ndarray, closed: np.ndarray, step: Step) -> None:
        threshold = self.edges.breaker_threshold
        has = ~np.isnan(threshold)
        if not has.any():
            return
        alpha = np.minimum(1.0, step.dt_s / self.edges.breaker_window_s)
        self.failure_avg = np.where(closed > 0, self.failure_avg + (1 - p - self.failure_avg) * alpha,
                                    0.0)
        trip = has & (closed > 0) & (self.failure_avg > threshold) & (self.first > 0)
        self.open_until_s = np.where(trip, step.t_s + self.edges.breaker_open_s, self.open_until_s)
        self.failure_avg[trip] = 0.0

    def next_change_s(self, t_s: float) -> float:
        """When the next open breaker closes (inf if none is open): the flow changes then."""
        later = self.open_until_s[self.open_until_s > t_s]
        return float(later.min()) if later.size else float("inf")
