"""The loops sim/kernel.py compiles with numba (imported only when the compiled step is used).

Each mirrors a NumPy reference, in the same order of operations; see sim/kernel.py. `_flow` (one
step's flow) and `_run` (a stretch of steps) call the others; they stay in this one file because
numba's disk cache (`cache=True`) does not notice when a jitted function in another file that
they call changes.
"""

from __future__ import annotations

import sys

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from aftershock.sim.queue import BIG

_jit = njit(cache=True, error_model="numpy", nogil=True)
_u = np.uint64  # an index read from an array, as unsigned: numba then skips the negative-index
#                 wrap-around test on every access (-20% on the stage pass); all are >= 0


@intrinsic
def _load_acquire(typingctx, counters, i):
    """counters[i] (int64) read with acquire ordering: never cached in a register."""
    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        return builder.load_atomic(builder.gep(ary.data, [args[1]]), "acquire", 8)
    return types.int64(counters, i), codegen


@intrinsic
def _fetch_add(typingctx, counters, i, v):
    """Atomically add v to counters[i] (int64); returns the old value."""
    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        return builder.atomic_rmw("add", builder.gep(ary.data, [args[1]]), args[2], "acq_rel")
    return types.int64(counters, i, v), codegen


_YIELD_SYMBOL = "SwitchToThread" if sys.platform == "win32" else "sched_yield"  # both int(void)


@intrinsic
def _yield_cpu(typingctx):
    """sched_yield() (POSIX) or SwitchToThread() (Windows): let a thread waiting for this core run."""
    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.IntType(32), []),
                                            _YIELD_SYMBOL)
        builder.call(fn, [])
        return context.get_dummy_value()
    return types.void(), codegen


SPINS = 2000  # spins (~1-2 us) before a waiting thread starts yielding its core


@_jit
def _meet(sync, tid, threads):
    """A barrier: returns once all `threads` threads have called it as often as this one.
    sync[0] counts arrivals; sync[8 * (tid + 1)] (own cache line) this thread's calls. It spins
    (a stage takes microseconds), then yields the core in case the thread it waits for shares
    it (another process busy on the other cores)."""
    if threads > 1:
        mine = 8 * (tid + 1)
        sync[mine] += 1
        target = sync[mine] * threads
        _fetch_add(sync, 0, 1)
        spins = 0
        while _load_acquire(sync, 0) < target:
            spins += 1
            if spins > SPINS:
                _yield_cpu()


@_jit
def _part(lo, hi, tid, threads):
    """Thread `tid`'s share of positions lo..hi-1 (contiguous, in order)."""
    return lo + (hi - lo) * tid // threads, lo + (hi - lo) * (tid + 1) // threads


@_jit
def _min(a: float, b: float) -> float:
    """np.minimum on scalars (NaN wins)."""
    if a != a or b != b:
        return a + b
    return a if a < b else b


@_jit
def _max(a: float, b: float) -> float:
    """np.maximum on scalars (NaN wins)."""
    if a != a or b != b:
        return a + b
    return a if a > b else b


@_jit
def _ramp(margin: float, width: float) -> float:
    """state.ramp on scalars."""
    return _min(_max(0.5 + margin / width, 0.0), 1.0)


@_jit
def _kth_largest(values, idx, a, b, k, buf):
    """The k-th largest of values[idx[a:b]] (insertion sort into `buf`, no allocation)."""
    m = b - a
    for x in range(m):
        v = values[_u(idx[a + x])]
        y = x
        while y > 0 and buf[y - 1] > v:
            buf[y] = buf[y - 1]
            y -= 1
        buf[y] = v
    return buf[m - k]


@_jit
def _serve(dt, has_queue, rps, workers, base, per, limit, offered, throttle, own_up, call_time,
           capacity_factor, added_latency, drop_queue, queue, served, accept, admitted,
           service_rate, wait_s, service_latency_s, lo, hi):
    """queue.serve for components lo..hi-1, in place: `queue` and `served` are last step's on
    entry, this step's after."""
    for ii in range(lo, hi):
        i = _u(ii)
        queued_here = has_queue[i]
        if queued_here:
            b, pi, r, w, lim = base[i], per[i], rps[i], workers[i], limit[i]
        else:  # what Capacities.of gives a component without `capacity:`, read as constants
            b, pi, r, w, lim = 1.0, 0.0, BIG, BIG, BIG
        q0 = 0.0 if drop_queue[i] else queue[i]
        took_in = _min(offered[i], throttle[i]) * own_up[i]
        latency = b + pi * (q0 + served[i] * b)
        by_rps = r * b / latency
        by_workers = w / (latency + call_time[i])
        rate = _min(by_rps, by_workers) * (capacity_factor[i] * own_up[i])
        queued = q0 + took_in * dt
        out = _min(queued, rate * dt) / dt if queued_here else took_in
        q = queued - out * dt
        overflow = _max(q - lim, 0.0)
        q -= overflow
        taken = took_in - overflow / dt
        if offered[i] > 0:
            accept[i] = _min(_max(taken / _max(offered[i], 1e-300), 0.0), 1.0)
        else:
            accept[i] = own_up[i]
        admitted[i] = taken
        served[i] = out
        queue[i] = q
        service_rate[i] = rate
        wait_s[i] = q / _max(rate, 1e-12) if q > 0 else 0.0
        service_latency_s[i] = (latency if queued_here else 0.0) + added_latency[i]


@_jit
def _stage_pass(order, stage_lo, cyclic, n_labels, label, gate_ptr, gate_idx, best_ptr, best_idx,
                vote_ptr, vote_idx, vote_k, fo_primary, fo_seconds, call_ptr, grouped,
                own_up, local, accept, avail, wait_s, service_latency_s, latency_s, blackhole,
                revive, callee_rank, callee, timeout_s, ramp_width_s, retries, allow,
                first_backoff_s, hard, closed, use_closed, t_s, down_below, failover_since,
                deps_ok, call_time_s, in_time_out, p_out, scratch, tid, threads, sync, split_from):
    """Simulation._stage_pass with Retries.calls inlined, as thread `tid` of `threads` (see
    _run): a stage of at least `split_from` nodes is shared out in contiguous halves, a smaller
    or cyclic one is thread 0's; the threads meet after each stage."""
    ready, latency, avail_buf, ok_buf, took_buf, weakest, was, revived, all_votes = scratch
    votes = all_votes[tid]
    lo, hi = _part(0, order.shape[0], tid, threads)
    for qq in range(lo, hi):
        q = _u(qq)
        g = _u(order[q])
        ready[q] = accept[g] * avail[g]
        latency[q] = latency_s[g]
    _meet(sync, tid, threads)
    for s in range(stage_lo.shape[0] - 1):
        lo, hi, cyc = stage_lo[s], stage_lo[s + 1], cyclic[s]
        if not cyc and hi - lo >= split_from:
            lo, hi = _part(lo, hi, tid, threads)
        elif tid > 0:
            lo = hi  # thread 0's stage: nothing to do here
        for es in range(call_ptr[lo], call_ptr[hi]):  # Retries.calls: the stage's edges first,
            e = _u(es)                                 # independent of each other
            c = _u(callee_rank[e])
            timeout, lat = timeout_s[e], latency[c]
            in_time = _ramp(timeout - lat, ramp_width_s[e])
            in_time_out[e] = in_time
            p = ready[c] * in_time
            if use_closed:
                p = p * closed[e]
            p_out[e] = p
            attempt = _min(lat + blackhole[_u(callee[e])] * timeout, timeout)
            if p == 1.0:  # the usual case, exactly as below without pow and division
                ok, expected = 1.0, 1.0
            else:
                tries = 1.0 + retries[e] * allow[e]
                ok = 1.0 - (1.0 - p) ** tries
                expected = ok / _max(p, 1e-9) if p > 1e-9 else tries
            took_buf[e] = expected * attempt + _max(expected - 1.0, 0.0) * first_backoff_s[e]
            ok_buf[e] = ok if hard[e] else 1.0
        for qs in range(lo, hi):  # read only what earlier stages (and last step) wrote
            q = _u(qs)
            d = 1.0
            a, b = gate_ptr[q], gate_ptr[qs + 1]
            if b > a:
                m = ready[_u(gate_idx[a])]
                for x in range(a + 1, b):
                    m = _min(m, ready[_u(gate_idx[_u(x)])])
                d = m
            if grouped[q]:  # any_of / k_of_n / failover: few nodes, skip three tests for the rest
                a, b = best_ptr[q], best_ptr[qs + 1]
                if b > a:
                    m = ready[_u(best_idx[a])]
                    for x in range(a + 1, b):
                        m = _max(m, ready[_u(best_idx[x])])
                    d = _min(d, m)
                k = vote_k[q]
                if k > 0:
                    a, b = vote_ptr[q], vote_ptr[qs + 1]
                    kth = _kth_largest(ready, vote_idx, a, b, k, votes) if b - a >= k else -1.0
                    d = _min(d, _max(kth, 0.0))
                pr = fo_primary[q]
                if pr >= 0:
                    g = _u(order[q])
                    primary_ok = ready[pr] >= down_below
                    since = np.inf if primary_ok else _min(failover_since[g], t_s)
                    failover_since[g] = since
                    if (not primary_ok) and (t_s - since < fo_seconds[q]):
                        d = _min(d, ready[pr])
            call_time = 0.0
            a, b = call_ptr[q], call_ptr[qs + 1]
            if b > a:
                prod, took_sum = ok_buf[_u(a)], took_buf[_u(a)]
                for e in range(a + 1, b):
                    prod *= ok_buf[_u(e)]
                    took_sum += took_buf[_u(e)]
                d *= prod
                call_time = took_sum
            g = _u(order[q])
            deps_ok[g] = d
            call_time_s[g] = call_time
            av = (own_up[g] * local[g]) * d
            if cyc:  # the cycle's members are compared below
                avail_buf[q] = av
            else:  # no later node of an acyclic stage reads this one: done
                avail[g] = av
                latency[q] = (wait_s[g] + service_latency_s[g]) + call_time
                latency_s[g] = latency[q]
                ready[q] = accept[g] * av
        if cyc and tid == 0:  # a hard cycle's members succeed no more than its weakest; dead
            #                   stays dead
            nl = n_labels[s]
            for x in range(nl):
                weakest[x] = np.inf
                was[x] = 0.0
                revived[x] = False
            for q in range(lo, hi):
                x, g = label[q], order[q]
                weakest[x] = _min(weakest[x], avail_buf[q])
                was[x] = _max(was[x], avail[g])
                revived[x] = revived[x] or revive[g]
            for q in range(lo, hi):
                x = label[q]
                avail_buf[q] = weakest[x] if (was[x] > 1e-6 or revived[x]) else 0.0
            for qs in range(lo, hi):  # nothing reads these nodes' old avail or latency from here on
                q = _u(qs)
                g = _u(order[q])
                avail[g] = avail_buf[q]
                latency[q] = (wait_s[g] + service_latency_s[g]) + call_time_s[g]
                latency_s[g] = latency[q]
                ready[q] = accept[g] * avail_buf[q]
        _meet(sync, tid, threads)


@_jit
def _outcome(load_rps, incoming, extra_rps, extra_timeout_s, organic_timeout_s, latency_s,
             wait_s, accept, avail, served, callee, sent, in_time, live, success, goodput, called,
             lo, hi):
    """Simulation._outcome for components lo..hi-1, in place (writes live, success, goodput;
    `called` is scratch). Every edge is read, in order, so a callee's sum does not depend on
    how components are shared out."""
    for ii in range(lo, hi):
        i = _u(ii)
        called[i] = 0.0
    for e in range(callee.shape[0]):
        c = callee[e]
        if lo <= c < hi:
            called[_u(c)] += sent[e] * in_time[e]
    for ii in range(lo, hi):
        i = _u(ii)
        organic = load_rps[i] * _ramp(organic_timeout_s[i] - latency_s[i],
                                      0.1 * organic_timeout_s[i])
        extra = extra_rps[i] * _ramp(extra_timeout_s[i] - wait_s[i], 0.1 * extra_timeout_s[i])
        weighted = organic + extra
        if callee.shape[0]:
            weighted = weighted + called[i]
        total = load_rps[i] + incoming[i] + extra_rps[i]
        lv = _min(weighted / _max(total, 1e-300), 1.0) if total > 0 else 1.0
        live[i] = lv
        success[i] = accept[i] * avail[i] * lv
        goodput[i] = served[i] * avail[i] * lv


@_jit
def _move_attempts(dt, callee, caller, timeout_s, backoff_s, per_request, pool_open, latency_s,
                   blackhole, in_time, p, send_rps, pools, failed, wanted, total, first, refill,
                   lo, hi):
    """Retries._move for edges lo..hi-1; with `refill` (no retry budget) also put the failed
    attempts back into the pools, as Retries.advance does then."""
    width = pools.shape[1]
    has_backoff = backoff_s.shape[1] > 0
    for ee in range(lo, hi):
        e = _u(ee)
        fail = 1.0 - p[e]
        rate = per_request[e] * send_rps[_u(caller[e])]  # attempt k+1 per second, k = 0 first
        first[e] = rate
        tot, want = rate, 0.0
        notice, noticed = 0.0, False
        for k in range(width):
            leaving = 0.0
            if pools[e, k] != 0.0:  # most pools are empty: skip the delay and the exp
                if has_backoff and not noticed:
                    j, timeout = _u(callee[e]), timeout_s[e]
                    answered = _min(latency_s[j], timeout)
                    slow = _min(blackhole[j] + 1.0 - in_time[e], 1.0)
                    notice, noticed = answered + slow * (timeout - answered), True
                delay = _max(notice + backoff_s[e, k], dt) if has_backoff else 1.0
                leaving = pools[e, k] * (1.0 - np.exp(-dt / delay))
                pools[e, k] -= leaving
            f = rate * fail * (1.0 if pool_open[e, k] else 0.0)
            failed[e, k] = f
            if refill:
                pools[e, k] += f * dt
            want = f if k == 0 else want + f
            rate = leaving * (1.0 / dt)
            tot += rate
        wanted[e] = want
        total[e] = tot


@_jit
def _down_changed(success, down_below, codes):
    """Whether the set of components down differs from `codes` (Recorder.record)."""
    for i in range(success.shape[0]):  # noqa: SIM110 - a compiled loop, not a generator
        if (success[i] < down_below) != (codes[i] == 2):
            return True
    return False


@_jit
def _codes(success, down_below, degraded_below, soft):
    """Each component's OK/DEGRADED/DOWN code (Recorder.record)."""
    out = np.empty(success.shape[0], dtype=np.int8)
    for i in range(success.shape[0]):
        if success[i] < down_below:
            out[i] = 2
        elif success[i] < degraded_below or soft[i]:
            out[i] = 1
        else:
            out[i] = 0
    return out


@_jit
def _tally(paying, revenue_per_s, degraded_loss, success, codes, dt_s, repeat, loss,
           sums, b, take, offered, goodput, queue, tid=0, threads=1):
    """Losses of `repeat` steps and the series sums of point `b` (Recorder.record), thread
    `tid`'s share of the paying and of all components."""
    lo, hi = _part(0, paying.shape[0], tid, threads)
    for xx in range(lo, hi):
        x = _u(xx)
        i = _u(paying[x])
        rate = _max(1.0 - success[i], degraded_loss[i] * (1.0 if codes[i] == 1 else 0.0))
        loss[i] += revenue_per_s[i] * rate * dt_s * repeat
    sum_offered, sum_goodput, sum_queue, sum_success = sums[0, b], sums[1, b], sums[2, b], sums[3, b]
    lo, hi = _part(0, success.shape[0], tid, threads)
    for ii in range(lo, hi):
        i = _u(ii)
        sum_offered[i] = sum_offered[i] + offered[i] * take
        sum_goodput[i] = sum_goodput[i] + goodput[i] * take
        sum_queue[i] = sum_queue[i] + queue[i] * take
        sum_success[i] = sum_success[i] + success[i] * take


@_jit
def _dns_tick(clock, ring, t_s, failing_code, negative, servfail_since_s, stale_s, neg_steps,
              ttl_steps, jitter_divisor, fresh, fresh_bad, spread, spread_bad, renewing,
              renewing_bad, bad, due_out):
    """DnsCaches._tick for every record (rows of the ring are slots, columns records)."""
    slot = clock % ring
    for r in range(bad.shape[0]):
        renewing[r] += spread[slot, r]
        renewing_bad[r] += spread_bad[slot, r]
        spread[slot, r] = 0.0
        spread_bad[slot, r] = 0.0
        due = fresh[slot, r] + _max(renewing[r], 0.0)
        due_bad = fresh_bad[slot, r] + _max(renewing_bad[r], 0.0)
        fresh[slot, r] = 0.0
        fresh_bad[slot, r] = 0.0
        left = bad[r] - due_bad
        failing = failing_code[r] and (t_s - servfail_since_s[r] >= stale_s[r])
        now_bad = negative[r] or failing
        bad_share = 1.0 if now_bad else 0.0
        hold = neg_steps[r] if negative[r] else (1 if failing else ttl_steps[r])
        same = due_bad if now_bad else due - due_bad
        changed = due - same
        end = (clock + hold) % ring
        fresh[end, r] += changed
        fresh_bad[end, r] += changed * bad_share
        jitter = hold // jitter_divisor
        first = (clock + hold - jitter) % ring
        stop = (clock + hold + jitter + 1) % ring
        rate = same / (2 * jitter + 1)
        spread[first, r] += rate
        spread[stop, r] -= rate
        spread_bad[first, r] += rate * bad_share
        spread_bad[stop, r] -= rate * bad_share
        bad[r] = _min(_max(left + due * bad_share, 0.0), 1.0)
        due_out[r] = due


@_jit
def _dns_local(local, records, answers, consumers, consumer_slot, pooled, bad):
    """DnsCaches.before_flow's factors: records that answer badly, consumers' resolving share."""
    for r in range(records.shape[0]):
        local[records[r]] *= 1.0 if answers[r] else 0.0
    for x in range(consumers.shape[0]):
        local[consumers[x]] *= pooled[x] + (1.0 - pooled[x]) * (1.0 - bad[consumer_slot[x]])


def scratch(n: int, n_edges: int, threads: int) -> tuple:
    """The work arrays `_flow_part` shares between threads (allocated once per call)."""
    stage = (np.empty(n), np.empty(n), np.empty(n), np.empty(n_edges), np.empty(n_edges),
             np.empty(n), np.empty(n), np.zeros(n, dtype=np.bool_), np.empty((threads, n)))
    return stage, np.empty(n), np.zeros(threads, dtype=np.int64)


def sync(threads: int) -> np.ndarray:
    """A fresh barrier for `_meet`: an arrival counter and one call counter per thread."""
    return np.zeros(8 * (threads + 1), dtype=np.int64)


@_jit
def _flow(plan, cap, edges, calls, state, incoming, organic_timeout_s, failover_since, send, dt,
          t_s, down_below, use_closed, refill, work):
    """One step's flow (engine._flow from offered load to the retry pools), in place: offered,
    serve, stage pass, outcome, what callers send, pool movement. Budgets and breakers are left
    to retry.py (`failed`, `wanted`, `total`, `first` of `calls` are written for them); `work` is
    `scratch(n, n_edges, 1)`."""
    _flow_part(plan, cap, edges, calls, state, incoming, organic_timeout_s, failover_since, send,
               dt, t_s, down_below, use_closed, refill, work, 0, 1, np.zeros(8, dtype=np.int64), 0)


@_jit
def _flow_part(plan, cap, edges, calls, state, incoming, organic_timeout_s, failover_since, send,
               dt, t_s, down_below, use_closed, refill, work, tid, threads, sync, split_from):
    """`_flow` as thread `tid` of `threads`: each takes a contiguous share of the components
    (queues, outcomes, what callers send), of the edges (pool movement) and of each stage of at
    least `split_from` nodes, and they meet (`_meet` on `sync`) wherever one reads what another
    wrote. Every value is computed by one thread in the serial order of operations, so the
    results do not depend on `threads`."""
    (order, stage_lo, cyclic, n_labels, label, gate_ptr, gate_idx, best_ptr, best_idx, vote_ptr,
     vote_idx, vote_k, fo_primary, fo_seconds, call_ptr, grouped, callee_rank) = plan
    has_queue, rps, workers, base, per, limit = cap
    (callee, caller, timeout_s, ramp_width_s, retries, first_backoff_s, hard, backoff_s,
     per_request, pool_open) = edges
    allow, closed, pools, in_time, p, sent, failed, wanted, total, first = calls
    (own_up, local, capacity_factor, load_rps, extra_rps, extra_timeout_s, added_latency_s,
     throttle_rps, drop_queue, revive, blackhole, offered, admitted, accept, served, queue,
     wait_s, service_rate, service_latency_s, latency_s, call_time_s, deps_ok, avail, live,
     success, goodput) = state
    stage_work, called = work[0], work[1]
    lo, hi = _part(0, offered.shape[0], tid, threads)
    for ii in range(lo, hi):
        i = _u(ii)
        offered[i] = load_rps[i] + incoming[i] + extra_rps[i]
    _serve(dt, has_queue, rps, workers, base, per, limit, offered, throttle_rps, own_up,
           call_time_s, capacity_factor, added_latency_s, drop_queue, queue, served, accept,
           admitted, service_rate, wait_s, service_latency_s, lo, hi)
    _meet(sync, tid, threads)
    _stage_pass(order, stage_lo, cyclic, n_labels, label, gate_ptr, gate_idx, best_ptr, best_idx,
                vote_ptr, vote_idx, vote_k, fo_primary, fo_seconds, call_ptr, grouped, own_up,
                local,
                accept, avail, wait_s, service_latency_s, latency_s, blackhole, revive,
                callee_rank, callee, timeout_s, ramp_width_s, retries, allow, first_backoff_s,
                hard, closed, use_closed, t_s, down_below, failover_since, deps_ok, call_time_s,
                in_time, p, stage_work, tid, threads, sync, split_from)
    _outcome(load_rps, incoming, extra_rps, extra_timeout_s, organic_timeout_s, latency_s, wait_s,
             accept, avail, served, callee, sent, in_time, live, success, goodput, called, lo, hi)
    for ii in range(lo, hi):
        i = _u(ii)
        send[i] = (served[i] if has_queue[i] else admitted[i]) * local[i]
    _meet(sync, tid, threads)
    lo, hi = _part(0, callee.shape[0], tid, threads)
    _move_attempts(dt, callee, caller, timeout_s, backoff_s, per_request, pool_open, latency_s,
                   blackhole, in_time, p, send, pools, failed, wanted, total, first, refill, lo, hi)


@_jit
def _run(k0, k1, dt, down_below, degraded_below, base_local, plan, cap, edges,
         calls, state, incoming, organic_timeout_s, failover_since, send, dns, rec, work, tid,
         threads, sync, split_from):
    """Steps k0..k1-1 of a stretch with no scenario event after k0, no mechanism but the DNS
    caches, no retry budget and no breaker: factors, DNS caches, flow, retries and the recorder's
    tallies, all compiled. Stops early, after the flow of the step whose OK/degraded/down codes
    change (the engine records that step itself: degraded propagation and windows are Python).
    Runs as thread `tid` of `threads` (all of them call it with the same arguments but `tid`,
    see `_flow_part`; the DNS caches are thread 0's). Returns (first step not fully done, DNS
    clock)."""
    (has_dns, clock, ring, failing_code, negative, servfail_since_s, stale_s, neg_steps,
     ttl_steps, jitter_divisor, fresh, fresh_bad, spread, spread_bad, renewing, renewing_bad,
     bad, due, records, answers, consumers, consumer_slot, pooled) = dns
    codes, soft, paying, revenue_per_s, degraded_loss, loss, sums, counts, per_point = rec
    callee = edges[0]
    sent, total = calls[5], calls[8]
    changed = work[2]
    # the State arrays this loop touches itself (positions in sim/kernel.py STATE_FIELDS); the
    # factors faults set are in `state` already (fixed between events; no mechanism here adds work)
    local, drop_queue, revive, offered = state[1], state[8], state[9], state[11]
    queue, success, goodput = state[15], state[24], state[25]
    lo, hi = _part(0, success.shape[0], tid, threads)
    elo, ehi = _part(0, callee.shape[0], tid, threads)
    for k in range(k0, k1):
        t_s = k * dt
        for ii in range(lo, hi):
            i = _u(ii)
            if k == k0 + 1:  # Timeline.apply between events: one-step actions are over
                drop_queue[i] = False
                revive[i] = False
            local[i] = base_local[i]
        if has_dns:  # DnsCaches.before_flow
            clock += 1
            _meet(sync, tid, threads)  # `local` is reset everywhere
            if tid == 0:
                _dns_tick(clock, ring, t_s, failing_code, negative, servfail_since_s, stale_s,
                          neg_steps, ttl_steps, jitter_divisor, fresh, fresh_bad, spread,
                          spread_bad, renewing, renewing_bad, bad, due)
                _dns_local(local, records, answers, consumers, consumer_slot, pooled, bad)
        _flow_part(plan, cap, edges, calls, state, incoming, organic_timeout_s, failover_since,
                   send, dt, t_s, down_below, False, True, work, tid, threads, sync, split_from)
        _meet(sync, tid, threads)  # every edge's `total` is known
        for ee in range(elo, ehi):  # Retries.advance (all attempts go out),
            e = _u(ee)
            sent[e] = total[e]
        for ii in range(lo, hi):  # then what each callee gets (edges in order)
            i = _u(ii)
            incoming[i] = 0.0
        for e in range(callee.shape[0]):
            c = callee[e]
            if lo <= c < hi:
                incoming[_u(c)] += total[e]
        changed[tid] = 0
        for ii in range(lo, hi):  # Recorder.record: a changed code needs Python
            i = _u(ii)
            x = success[i]
            code = 2 if x < down_below else (1 if x < degraded_below or soft[i] else 0)
            if code != codes[i]:
                changed[tid] = 1
                break
        _meet(sync, tid, threads)
        for t in range(threads):
            if changed[t]:
                return k, clock
        b = k // per_point
        _tally(paying, revenue_per_s, degraded_loss, success, codes, dt, 1, loss, sums, b,
               1, offered, goodput, queue, tid, threads)
        if tid == 0:
            counts[b] += 1.0
    return k1, clock
