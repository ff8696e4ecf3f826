"""DNS caching: how a record fault reaches the components that resolve it, and how long it outlives its fix.

A `dns_record` component answers `ok`, `empty` (no addresses), `nxdomain`, `servfail` or `slow`.
Every consumer (`resolves: record`, or `requires:` of a record) holds cached answers whose ages are spread uniformly over the
TTL. When an entry expires it is resolved again at once and holds the new answer for the record's
`ttl` (good answers), `negative_ttl` (empty/NXDOMAIN, RFC 2308) or one step (SERVFAIL, not cached;
with `serve_stale` resolvers keep serving the last good answer that long, RFC 8767). So an emptied
record reaches all consumers over one TTL, and after the fix the bad answers drain over the
negative TTL. A consumer's `connections: {pooled: p}` share rides on already-open connections and
needs no fresh answer. A `slow` record whose `delay` reaches the resolver timeout (5 s) fails like
SERVFAIL; a shorter delay is only latency on the rare fresh lookups and is ignored.

The population of cache entries is tracked per record as masses scheduled to expire in a ring of
future steps (a renewal process). An entry whose answer changed expires exactly one hold later,
so the onset follows the old TTL exactly. An entry renewed with the same kind of answer lives its
hold +- 25% (uniform): independent consumers drift out of the phase the onset gave them, so after
a fault of several negative TTLs the bad answers expire spread over about one negative TTL
(three quarters of them linearly within 0.75 x negative TTL, the rest by 1.25 x).
"""

from __future__ import annotations

import numpy as np

from aftershock.model.compile import CompiledGraph
from aftershock.sim.scenario import Fault
from aftershock.sim.state import State, Step

OK, EMPTY, NXDOMAIN, SERVFAIL, SLOW = range(5)
_CODES = {"dns_empty": EMPTY, "dns_nxdomain": NXDOMAIN, "dns_servfail": SERVFAIL, "dns_slow": SLOW}
DEFAULT_TTL_S = 300.0
RESOLVER_TIMEOUT_S = 5.0
JITTER_DIVISOR = 4  # a renewed entry lives its hold +- a quarter: consumers drift out of phase
STATIONARY_AFTER = 60  # holds after which that drift has spread expiries uniformly (ripple < 1e-9)


def lookups(graph: CompiledGraph) -> list[tuple[int, int]]:
    """(consumer, record) pairs: every `resolves:`, and every `requires:` of a dns_record (a
    component that needs a record reaches it by resolving it, so through its cache)."""
    pairs = []
    for i, c in enumerate(graph.components):
        if c.resolves is not None:
            pairs.append((i, graph.index[c.resolves]))
        pairs += [(i, graph.index[r]) for r in c.requires
                  if graph.kinds[graph.index[r]] == "dns_record"]
    return pairs


class DnsCaches:
    """Cached answers of every dns_record's consumers (a mechanism, see sim/engine.py)."""

    name = "dns"
    fault_kinds = frozenset(_CODES)

    def __init__(self, graph: CompiledGraph, dt_s: float, compiled: bool = False) -> None:
        self.compiled = compiled  # tick with sim/kernel_loops.py's loop (same result)
        self.records = np.flatnonzero(np.array([k == "dns_record" for k in graph.kinds]))
        self.slot_of = {int(r): s for s, r in enumerate(self.records)}
        ttl = np.nan_to_num(graph.ttl_s[self.records], nan=DEFAULT_TTL_S)
        neg = graph.negative_ttl_s[self.records]
        neg = np.where(np.isnan(neg), ttl, neg)
        stale = np.array([graph.components[r].serve_stale or 0.0 for r in self.records])
        self.ttl_steps = np.maximum(1, np.round(ttl / dt_s)).astype(np.int64)
        self.neg_steps = np.maximum(1, np.round(neg / dt_s)).astype(np.int64)
        self.stale_s = stale
        longest = int(max(self.ttl_steps.max(initial=1), self.neg_steps.max(initial=1)))
        self.ring = longest + longest // JITTER_DIVISOR + 3
        m = len(self.records)
        # Entries expiring at each future step: fresh answers (exact hold) and renewals of the
        # same answer, whose expiry is jittered (a difference ring whose running sum is the rate).
        # One row per ring slot, so that a step reads and clears contiguous rows.
        self.fresh = np.zeros((self.ring, m))
        self.fresh_bad = np.zeros((self.ring, m))
        self.spread = np.zeros((self.ring, m))
        self.spread_bad = np.zeros((self.ring, m))
        self.renewing = np.zeros(m)
        self.clock = 0
        self.renewing_bad = np.zeros(m)
        for s in range(m):  # uniform ages: equal mass expires at each of the next ttl steps
            self.fresh[1 : self.ttl_steps[s] + 1, s] = 1.0 / self.ttl_steps[s]
        self.bad = np.zeros(m)  # share of consumer caches holding a bad answer
        self.code = np.zeros(m, dtype=np.int64)
        self.delay_s = np.zeros(m)
        self.servfail_since_s = np.full(m, np.inf)
        consumers = sorted(set(lookups(graph)))
        self.consumers = np.array([c for c, _ in consumers], dtype=np.int64)
        self.consumer_slot = np.array([self.slot_of[r] for _, r in consumers], dtype=np.int64)
        self.pooled = np.array([graph.components[c].connections.pooled
                                if graph.components[c].connections else 0.0
                                for c, _ in consumers])
        self._rows = np.arange(m)
        self.one_record_each = len(np.unique(self.consumers)) == len(self.consumers)

    @property
    def active(self) -> bool:
        """Whether there is any record to track."""
        return len(self.records) > 0

    def apply_fault(self, target: int, fault: Fault | None, t_s: float) -> None:
        """Set a record's answer (`fault` None: the record is healthy again; an `outage` of the
        record's servers answers SERVFAIL)."""
        s = self.slot_of[target]
        self.code[s] = OK if fault is None else _CODES.get(fault.kind, SERVFAIL)
        self.delay_s[s] = (fault.delay_s or 2.0) if fault is not None else 0.0
        failing = self._failing_code()[s]
        self.servfail_since_s[s] = (min(self.servfail_since_s[s], t_s) if failing else np.inf)

    def _failing_code(self) -> np.ndarray:
        """Records whose resolution fails outright (SERVFAIL, or slower than the resolver waits)."""
        return (self.code == SERVFAIL) | ((self.code == SLOW) & (self.delay_s >= RESOLVER_TIMEOUT_S))

    def _negative(self) -> np.ndarray:
        """Records answering with no address (EMPTY or NXDOMAIN: cached for the negative TTL)."""
        return (self.code == EMPTY) | (self.code == NXDOMAIN)

    def _steady_hold(self) -> np.ndarray:
        """Steps each record's current answer is cached (negative TTL; 1 step if failing; else TTL)."""
        return np.where(self._negative(), self.neg_steps,
                        np.where(self._failing_code(), 1, self.ttl_steps))

    def before_flow(self, st: State, step: Step) -> None:
        """Advance every cache one step and set each consumer's share of requests that resolve."""
        if not len(self.records):
            return
        self._tick(step.t_s)
        negative = self._negative()
        if self.compiled:
            from aftershock.sim.kernel_loops import _dns_local

            _dns_local(st.local, self.records, ~(negative | self._failing_code()), self.consumers,
                       self.consumer_slot, self.pooled, self.bad)
            return
        st.local[self.records] *= np.where(negative | self._failing_code(), 0.0, 1.0)
        if len(self.consumers):
            resolving = self.pooled + (1.0 - self.pooled) * (1.0 - self.bad[self.consumer_slot])
            if self.one_record_each:  # plain indexing does the same, without ufunc.at's cost
                st.local[self.consumers] *= resolving
            else:
                np.multiply.at(st.local, self.consumers, resolving)

    def stretch_args(self) -> tuple:
        """What the compiled stretch of steps (sim/kernel_loops.py `_run`) needs to do `_tick`
        and `before_flow` itself, with the answers fixed (no event inside a stretch)."""
        failing, negative = self._failing_code(), self._negative()
        return (bool(len(self.records)), self.clock, self.ring, failing, negative,
                self.servfail_since_s, self.stale_s, self.neg_steps, self.ttl_steps,
                JITTER_DIVISOR, self.fresh, self.fresh_bad, self.spread, self.spread_bad,
                self.renewing, self.renewing_bad, self.bad, np.empty(len(self.records)),
                self.records, ~(negative | failing), self.consumers, self.consumer_slot,
                self.pooled)

    def fast_forward(self, t_s: float, steps: int, dt_s: float) -> None:
        """Age the caches through `steps` skipped steps (their phases keep drifting meanwhile)."""
        if not len(self.records):
            return
        if steps > STATIONARY_AFTER * self.ring:
            self._settle()
            return
        uniform, drift = 1.0 / self._steady_hold(), 0.0
        for k in range(steps):
            due = self._tick(t_s + k * dt_s)
            drift = max(drift, float(np.abs(due - uniform).max()))
            if (k + 1) % self.ring == 0:
                if drift < 1e-9:  # a whole ring of uniform expiries: already stationary
                    self._settle()
                    return
                drift = 0.0

    def _settle(self) -> None:
        """After many holds of one answer the expiries are uniform: set that stationary state."""
        hold = self._steady_hold()
        bad = (self._negative() | self._failing_code()).astype(float)
        for array in (self.fresh, self.fresh_bad, self.spread, self.spread_bad):
            array.fill(0.0)
        self.renewing.fill(0.0)
        self.renewing_bad.fill(0.0)
        for s in range(len(self.records)):
            slots = (self.clock + 1 + np.arange(hold[s])) % self.ring
            self.fresh[slots, s] = 1.0 / hold[s]
            self.fresh_bad[slots, s] = bad[s] / hold[s]
        self.bad = bad

    def _tick(self, t_s: float) -> np.ndarray:
        """One step of every record's cache population; returns the share that expired."""
        self.clock += 1
        if self.compiled:
            from aftershock.sim.kernel_loops import _dns_tick

            due = np.empty(len(self.records))
            _dns_tick(self.clock, self.ring, float(t_s), self._failing_code(),
                      self._negative(), self.servfail_since_s,
                      self.stale_s, self.neg_steps, self.ttl_steps, JITTER_DIVISOR, self.fresh,
                      self.fresh_bad, self.spread, self.spread_bad, self.renewing,
                      self.renewing_bad, self.bad, due)
            return due
        slot = self.clock % self.ring
        self.renewing += self.spread[slot]
        self.renewing_bad += self.spread_bad[slot]
        self.spread[slot] = self.spread_bad[slot] = 0.0
        due = self.fresh[slot] + np.maximum(self.renewing, 0.0)
        due_bad = self.fresh_bad[slot] + np.maximum(self.renewing_bad, 0.0)
        self.fresh[slot] = self.fresh_bad[slot] = 0.0
        self.bad -= due_bad
        failing = self._failing_code() & (t_s - self.servfail_since_s >= self.stale_s)
        negative = self._negative()
        now_bad = negative | failing
        hold = np.where(negative, self.neg_steps, np.where(failing, 1, self.ttl_steps))
        # An entry renewed with the same kind of answer keeps a uniformly spread age; one whose
        # answer changed is fresh and expires exactly one hold later.
        same = np.where(now_bad, due_bad, due - due_bad)
        changed = due - same
        rows = self._rows
        end = (self.clock + hold) % self.ring
        self.fresh[end, rows] += changed
        self.fresh_bad[end, rows] += changed * now_bad
        jitter = hold // JITTER_DIVISOR
        first = (self.clock + hold - jitter) % self.ring
        stop = (self.clock + hold + jitter + 1) % self.ring
        rate = same / (2 * jitter + 1)
        self.spread[first, rows] += rate
        self.spread[stop, rows] -= rate
        self.spread_bad[first, rows] += rate * now_bad
        self.spread_bad[stop, rows] -= rate * now_bad
        self.bad = np.clip(self.bad + due * now_bad, 0.0, 1.0)
        return due

    def after_flow(self, st: State, step: Step) -> None:
        """Nothing: caches move before the flow."""

    def quiescent(self, st: State, step: Step) -> bool:
        """Every cache agrees with its record's answer (no expiry still to change anything)."""
        bad_answer = self._negative() | self._failing_code()
        return bool(np.all(np.abs(self.bad - bad_answer) < 1e-9))

    def automations(self) -> dict[int, str]:
        """No automation to disable."""
        return {}
