"""The simulation kernel: advance every component of a `CompiledGraph` through time, step by step.

Use it like this::

    from aftershock.model.compile import compile_model
    from aftershock.model.load import load_model
    from aftershock.sim.engine import Simulation, simulate
    from aftershock.sim.scenario import load_scenario

    graph = compile_model(load_model("model.yaml"))
    scenario = load_scenario("scenario.yaml", set(graph.names))
    result = simulate(graph, scenario)            # -> sim.results.SimResult
    result.windows["checkout"], result.loss, result.to_dict()

    sim = Simulation(graph, scenario)             # or drive it yourself:
    sim.run_to(3600)                              # advance to a step (compiled: in few calls)
    while not sim.done: sim.step()                # then one at a time; sim.state holds every array
    result = sim.result()

The model is a fluid (rate-based) one: every quantity is a rate or a share, advanced on a fixed
step (`scenario.step_s`) and vectorised over components with NumPy; docs/simulation.md says why.
One step does, in order:

1. the `Timeline` (sim/actions.py) starts/ends faults and takes operator actions;
2. every mechanism's `before_flow(state, step)` writes factors: `state.local` (share of requests the
   mechanism lets through: DNS answers, held leases, fresh backlog), `state.capacity_factor`
   (health-check removals), `state.extra_rps`/`extra_timeout_s` (work it adds: lease jobs, checks);
3. offered load = organic load + attempts sent by callers last step + extra work; the queue
   (sim/queue.py) admits, serves and rejects it;
4. a pass over the hard graph's stages (dependencies first) computes each component's
   `avail` = own_up x local x min(hard dependencies) x product(call success after retries, from
   sim/retry.py), and its response time `latency_s` = wait + service + time in downstream calls. A
   hard cycle that was entirely down stays down until an operator restores or restarts a member;
5. success = accept x avail x share of served work whose caller had not timed out yet;
6. retry pools advance (sim/retry.py): the attempts each edge sends arrive at the callee next step;
7. every mechanism's `after_flow(state, step)` reads what happened (`served`, `wait_s`, `success`,
   `deps_ok`) and updates its own state; the `Recorder` (sim/results.py) notes windows and losses.

A mechanism is any object with `name`, `fault_kinds` (fault kinds it handles, routed to its
`apply_fault(component, fault | None, t_s)`), `active`, `before_flow`, `after_flow`,
`quiescent(state, step)` (True when, with no event, it would change nothing the flow sees),
optionally `fast_forward(t_s, steps, dt_s)` (age internal state through skipped steps), and
`automations()` (component id -> description of what `disable`/`enable` switch, via
`set_enabled(component, on)`).
Pass extra ones with `Simulation(graph, scenario, mechanisms=[...])`. Mechanisms never call each
other; they meet only in the `State` arrays.

Per-component parameters come from the model's dynamics keys: `capacity`, `load`, `calls`,
`connections`, `lease`, `backlog`, `healthcheck` (model/dynamics.py), and from `ttl`,
`negative_ttl`, `serve_stale`, `resolves`, `impact` and the group keys.

When nothing changes between two steps (queues, successes, loads, latencies, retry pools, breaker
averages, retry budgets) and every mechanism is quiescent, the state is a fixed point of the step
map, so the engine jumps to the next event -- a scenario event, or an open circuit breaker closing
-- recording the skipped steps as copies and letting mechanisms `fast_forward` their clocks. That
makes a 24 h run of a large model cheap when most of the day is quiet; runs with and without
skipping give the same windows (tests/test_sim_engine.py).

A computed step costs NumPy per-call overhead more than arithmetic. With numba installed (extra
`[fast]`) and at least `COMPILED_FROM` components, `kernel="auto"` runs queues, the stage pass,
outcomes, retry pools, DNS caches and the recorder as compiled loops (sim/kernel.py);
`kernel="numpy"` forces the NumPy reference, `kernel="numba"` the loops. Both give the same
results (tests/test_sim_kernel.py); small models stay on NumPy, where compiling would not pay.
Between two scenario events nothing outside the state changes, so when the DNS caches are the
only mechanism and no edge has a retry budget or breaker, the compiled engine takes the whole
stretch in one call (`run` and `run_to(k)` do; `step()` still advances one step at a time).
`threads=2` (or `"auto"`: every core the process may use, from `THREADS_FROM` components) runs
such a stretch on that many threads, with the same results; the default is one thread, because
threads meet after every stage and lose badly when another process holds a core (sim/kernel.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from aftershock.model.compile import CompiledGraph
from aftershock.sim.actions import Timeline
from aftershock.sim.backlog import Backlogs
from aftershock.sim.dns import DnsCaches, lookups
from aftershock.sim.health import HealthChecks
from aftershock.sim.kernel import CompiledFlow
from aftershock.sim.kernel import available as kernels_available
from aftershock.sim.lease import Leases
from aftershock.sim.queue import Capacities, serve
from aftershock.sim.results import Recorder, SimResult
from aftershock.sim.retry import CallEdges, Retries
from aftershock.sim.scenario import Scenario
from aftershock.sim.state import NEVER_S, State, Step, ramp

DEAD = 1e-6  # a hard cycle whose members all succeed less than this is dead
CHECK_EVERY = 8  # steps between fixed-point checks
COMPILED_FROM = 1000  # components from which kernel="auto" compiles the step (numba installed)
THREADS_FROM = 5000  # components from which threads="auto" uses every core (see sim/kernel.py)
KERNELS = ("auto", "numpy", "numba")


@dataclass(frozen=True)
class _Segments:
    """Rows idx[starts[j]:starts[j+1]] belong to stage position pos[j] (for ufunc.reduceat)."""

    pos: np.ndarray
    idx: np.ndarray
    starts: np.ndarray

    @classmethod
    def of(cls, lists: list[list[int]]) -> _Segments | None:
        pos = [p for p, lst in enumerate(lists) if lst]
        if not pos:
            return None
        lens = [len(lists[p]) for p in pos]
        starts = np.zeros(len(pos), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        idx = np.array([x for p in pos for x in lists[p]], dtype=np.int64)
        return cls(np.array(pos, dtype=np.int64), idx, starts)


@dataclass(frozen=True)
class _Stage:
    nodes: np.ndarray  # graph ids
    span: slice  # where the stage sits in stage order (all indices below are in that order)
    gates: _Segments | None  # hard deps read as min(success) (requires, all-needed members)
    best: _Segments | None  # any_of members: max
    votes: _Votes | None
    calls: _Calls | None
    cycle_labels: np.ndarray | None  # local SCC label per node when the stage is cyclic
    failover: _Failover | None


@dataclass(frozen=True)
class _Votes:
    """k_of_n groups of a stage: member ids padded to a matrix, and where the k-th best sits."""

    pos: np.ndarray
    members: np.ndarray  # (groups, widest) ids, padded with 0
    valid: np.ndarray  # (groups, widest) False on padding
    rows: np.ndarray
    column: np.ndarray  # index of the k-th largest after an ascending sort

    @classmethod
    def of(cls, groups: list[tuple[int, list[int], int]]) -> _Votes | None:
        if not groups:
            return None
        widest = max(len(m) for _, m, _ in groups)
        members = np.zeros((len(groups), widest), dtype=np.int64)
        valid = np.zeros((len(groups), widest), dtype=bool)
        for r, (_, m, _) in enumerate(groups):
            members[r, : len(m)] = m
            valid[r, : len(m)] = True
        column = np.array([widest - k for _, _, k in groups], dtype=np.int64)
        return cls(np.array([p for p, _, _ in groups]), members, valid,
                   np.arange(len(groups)), column)


@dataclass(frozen=True)
class _Calls:
    """Call edges of a stage: a contiguous span of edge ids, segmented by caller position."""

    pos: np.ndarray
    starts: np.ndarray
    span: slice
    soft: bool  # some edge is a `uses` (soft) call whose failure does not fail the caller

    @classmethod
    def of(cls, lists: list[list[int]], hard: np.ndarray) -> _Calls | None:
        seg = _Segments.of(lists)
        if seg is None:
            return None
        lo, hi = int(seg.idx[0]), int(seg.idx[-1]) + 1
        assert np.array_equal(seg.idx, np.arange(lo, hi)), "edges must follow the stage order"
        return cls(seg.pos, seg.starts, slice(lo, hi), not bool(hard[lo:hi].all()))


@dataclass(frozen=True)
class _Failover:
    """any_of groups with a failover time: position, first-listed (active) member, seconds."""

    pos: np.ndarray
    primary: np.ndarray
    seconds: np.ndarray


class Simulation:
    """One run of a scenario over a compiled model (see the module docstring)."""

    def __init__(self, graph: CompiledGraph, scenario: Scenario, mechanisms: list | None = None,
                 skip_quiet: bool = True, kernel: str = "auto", threads: int | str = 1) -> None:
        self.graph = graph
        self.scenario = scenario
        self.skip_quiet = skip_quiet
        dt = scenario.step_s
        self.capacities = Capacities.of(graph)
        self.edges = CallEdges.of(graph, np.concatenate([sg.nodes for sg in graph.stages])
                                  if graph.stages else None)
        self.retries = Retries(self.edges)
        self.order, self.stages = _plan(graph, self.edges)
        rank = np.empty(graph.n, dtype=np.int64)
        rank[self.order] = np.arange(graph.n)
        self.callee_rank = rank[self.edges.callee]
        self.compiled = _compiled(kernel, graph.n, self.order, self.stages, self.callee_rank,
                                  _threads(threads, graph.n))
        fast = self.compiled is not None
        builtin = [DnsCaches(graph, dt, fast), Leases(graph), Backlogs(graph), HealthChecks(graph)]
        self.mechanisms = [m for m in builtin if m.active] + list(mechanisms or [])
        self.timeline = Timeline(graph, scenario, builtin + list(mechanisms or []))
        self.state = State(graph.n)
        self.state.load_rps[:] = self.timeline.organic_load()
        self.organic_timeout_s = np.array([c.load.timeout if c.load and c.load.timeout else NEVER_S
                                           for c in graph.components])
        self.recorder = Recorder(graph, scenario, compiled=fast)
        self.incoming = np.zeros(graph.n)
        self.failover_since = np.full(graph.n, np.inf)
        self.k = 0
        self.computed = 0
        self.skipped = 0
        self.stretches = 0  # compiled calls (`_stretch`), each one step or more
        self._previous: list[np.ndarray] | None = None
        self._dns = builtin[0]  # the compiled stretch ticks it (with no records: nothing to do)
        self._stretchable = (fast and not self.retries.budgets and not self.retries.breakers
                             and all(isinstance(m, DnsCaches) for m in self.mechanisms))
        self._warm_up()

    @property
    def done(self) -> bool:
        """Whether the run has reached its duration."""
        return self.k >= self.scenario.steps

    @property
    def t_s(self) -> float:
        """Current time in seconds from the start."""
        return self.k * self.scenario.step_s

    def step(self) -> None:
        """Advance one step (or, at a fixed point, jump to the next event)."""
        self._advance(self.k + 1)

    def run_to(self, k: int) -> None:
        """Advance to step `k` (or the end); the compiled engine takes the steps between two
        events in stretches (see `_stretch`)."""
        while self.k < min(k, self.scenario.steps):
            self._advance(k)

    def _advance(self, limit: int) -> None:
        """One step, or a compiled stretch of steps ending by `limit`; then skip if quiet."""
        st, step = self.state, Step(self.k, self.t_s, self.scenario.step_s)
        self.timeline.apply(st, step)
        end = self._stretch_end(limit)
        if end is None:
            with np.errstate(all="ignore"):
                self._flow(step)
            self.recorder.record(st, step)
            self.computed += 1
            self.k += 1
        else:
            self._stretch(end)
        if self.skip_quiet and not self.done:
            self._maybe_skip(step)

    def _stretch_end(self, limit: int) -> int | None:
        """Where a compiled stretch from step k may end (None: take this step in Python). Between
        two scenario events nothing outside the state changes, so with only the DNS caches as
        mechanism and no retry budget or breaker the whole stretch runs in one compiled call. It
        ends by the next event and, when skipping quiet steps, by the next fixed-point check."""
        if not self._stretchable:
            return None
        k = self.k
        end = min(limit, self.scenario.steps)
        event = self.timeline.next_event_step(k)
        if event is not None:
            end = min(end, event)
        if self.skip_quiet:  # _maybe_skip looks at the state after steps k' with k' % 8 in {7, 0}
            end = min(end, next(x for x in range(k + 1, k + CHECK_EVERY + 1)
                                if x % CHECK_EVERY in (0, CHECK_EVERY - 1)))
        return max(end, k + 1)

    def _stretch(self, end: int) -> None:
        """Steps k..end-1 in one compiled call (sim/kernel.py). The factors faults set are those
        of step k throughout (they change only at events); a step whose flow changes some
        component's OK/degraded/down code ends the stretch and is recorded here."""
        st, dt = self.state, self.scenario.step_s
        st.reset_factors()
        self.timeline.factors(st)
        k = self.compiled.run(self.k, end, dt, self.capacities, st, self.retries, self.incoming,
                              self.organic_timeout_s, self.failover_since, st.local.copy(),
                              self._dns, self.recorder)
        if k < end:
            self.recorder.record(st, Step(k, k * dt, dt))
            k += 1
        self.stretches += 1
        self.computed += k - self.k
        self.k = k

    def _flow(self, step: Step) -> None:
        """Mechanisms, queues, the stage pass, outcomes and retries for one step."""
        st = self.state
        st.reset_factors()
        self.timeline.factors(st)
        for m in self.mechanisms:
            m.before_flow(st, step)
        fast = self.compiled
        if fast is None:
            st.offered = st.load_rps + self.incoming + st.extra_rps
            serve(self.capacities, st, step)
            self._stage_pass(step)
            self._outcome()
            send = np.where(self.capacities.has_queue, st.served, st.admitted) * st.local
            self.retries.advance(st, send, step)
        else:  # the same, from offered load to the pools' movement, in one compiled call
            failed, wanted, total = fast.flow(
                self.capacities, st, self.retries, self.incoming, self.organic_timeout_s,
                self.failover_since, step, self.scenario.down_below)
            if self.edges.size:
                self.retries.settle(failed, wanted, total, step, refilled=not self.retries.budgets)
        self.incoming = (np.bincount(self.edges.callee, self.retries.sent, minlength=self.graph.n)
                         if self.edges.size else self.incoming)
        for m in self.mechanisms:
            m.after_flow(st, step)

    def _warm_up(self) -> None:
        """Let organic load reach every callee before time zero (the run starts in steady state)."""
        depth = len(self.stages) + 1
        with np.errstate(all="ignore"):
            for _ in range(depth if self.edges.size else 0):
                self._flow(Step(0, 0.0, self.scenario.step_s))

    def run(self, progress: Callable[[float], None] | None = None) -> SimResult:
        """Run to the end; `progress` gets the share of simulated time done, now and then."""
        report_every = max(1, self.scenario.steps // 200)
        last = -report_every
        while not self.done:
            self._advance(last + 2 * report_every)
            if progress is not None and self.k - last >= report_every:
                progress(self.k / self.scenario.steps)
                last = self.k
        if progress is not None:
            progress(1.0)
        return self.result()

    def result(self) -> SimResult:
        """The result so far."""
        res = self.recorder.result(self.graph.model.name, self.computed, self.skipped, self.state)
        health = next((m for m in self.mechanisms if isinstance(m, HealthChecks)), None)
        if health is not None:
            res.extra["healthcheck_changes"] = {self.graph.names[c]: int(n) for c, n in
                                                zip(health.checkers, health.changes, strict=True)}
        leases = next((m for m in self.mechanisms if isinstance(m, Leases)), None)
        if leases is not None:
            res.extra["leases_held"] = {self.graph.names[c]: float(h) for c, h in
                                        zip(leases.holders, leases.held, strict=True)}
        return res

    # -- one step -----------------------------------------------------------------------------

    def _stage_pass(self, step: Step) -> None:
        """Availability and response time, dependencies first. Works on arrays permuted into
        stage order, so that each stage is a slice (views, not gathers)."""
        st, retries, edges, order = self.state, self.retries, self.edges, self.order
        own = st.own_up[order] * st.local[order]
        accept = st.accept[order]
        before = st.avail[order]
        ready = accept * before  # dependencies' share, updated as stages complete
        queued_s = st.wait_s[order] + st.service_latency_s[order]
        latency = st.latency_s[order]
        blackhole = st.blackhole[order]
        deps_all = np.ones(self.graph.n)
        call_all = np.zeros(self.graph.n)
        avail_all = np.empty(self.graph.n)
        retries.begin_step(step.t_s)
        for sg in self.stages:
            span = sg.span
            deps = deps_all[span]
            if sg.gates is not None:
                g = sg.gates
                deps[g.pos] = np.minimum.reduceat(ready[g.idx], g.starts)
            if sg.best is not None:
                b = sg.best
                deps[b.pos] = np.minimum(deps[b.pos], np.maximum.reduceat(ready[b.idx], b.starts))
            if sg.votes is not None:
                v = sg.votes  # k-th best member of each voting group (padding reads as 0)
                best_k = np.sort(np.where(v.valid, ready[v.members], -1.0), axis=1)[v.rows, v.column]
                deps[v.pos] = np.minimum(deps[v.pos], np.maximum(best_k, 0.0))
            if sg.failover is not None:
                f = sg.failover  # the group waits `seconds` before running on the other members
                node, primary_ok = sg.nodes[f.pos], ready[f.primary] >= self.scenario.down_below
                since = np.where(primary_ok, np.inf, np.minimum(self.failover_since[node], step.t_s))
                self.failover_since[node] = since
                waiting = (~primary_ok) & (step.t_s - since < f.seconds)
                deps[f.pos] = np.where(waiting, np.minimum(deps[f.pos], ready[f.primary]),
                                       deps[f.pos])
            call_time = call_all[span]
            if sg.calls is not None:
                c = sg.calls  # this stage's call edges are one contiguous run
                ok, took = retries.calls(c.span, self.callee_rank[c.span], latency, ready,
                                         blackhole)
                if c.soft:
                    ok = np.where(edges.hard[c.span], ok, 1.0)
                deps[c.pos] *= np.multiply.reduceat(ok, c.starts)
                call_time[c.pos] = np.add.reduceat(took, c.starts)
            avail = own[span] * deps
            if sg.cycle_labels is not None:
                avail = self._cycle(sg, avail, before[span])
            avail_all[span] = avail
            latency[span] = queued_s[span] + call_time
            ready[span] = accept[span] * avail
        st.deps_ok[order] = deps_all
        st.avail[order] = avail_all
        st.call_time_s[order] = call_all
        st.latency_s[order] = latency

    def _cycle(self, sg: _Stage, avail: np.ndarray, before: np.ndarray) -> np.ndarray:
        """Members of a hard cycle succeed no more than its weakest; a dead cycle stays dead."""
        labels = sg.cycle_labels
        weakest = np.full(labels.max() + 1, np.inf)
        np.minimum.at(weakest, labels, avail)
        was = np.zeros_like(weakest)
        np.maximum.at(was, labels, before)
        revived = np.zeros(len(weakest), dtype=bool)
        np.logical_or.at(revived, labels, self.state.revive[sg.nodes])
        alive = (was > DEAD) | revived
        return np.where(alive[labels], weakest[labels], 0.0)

    def _outcome(self) -> None:
        """Success and goodput: the share of offered work answered before its caller gave up."""
        st, edges = self.state, self.edges
        lat = st.latency_s
        organic = st.load_rps * ramp(self.organic_timeout_s - lat, 0.1 * self.organic_timeout_s)
        extra = st.extra_rps * ramp(st.extra_timeout_s - st.wait_s, 0.1 * st.extra_timeout_s)
        weighted = organic + extra
        if edges.size:
            in_time = self.retries.in_time  # computed in the stage pass
            weighted = weighted + np.bincount(edges.callee, self.retries.sent * in_time,
                                              minlength=self.graph.n)
        total = st.load_rps + self.incoming + st.extra_rps
        st.live = np.where(total > 0, np.minimum(weighted / np.maximum(total, 1e-300), 1.0), 1.0)
        st.success = st.accept * st.avail * st.live
        st.goodput = st.served * st.avail * st.live

    def _maybe_skip(self, step: Step) -> None:
        """At a fixed point with no event due, jump to the next event."""
        phase = self.k % CHECK_EVERY
        if phase == CHECK_EVERY - 1:
            self._previous = self._signature()
            return
        if phase != 0 or self._previous is None:
            return
        now = self._signature()
        same = all(np.allclose(a, b, rtol=1e-9, atol=1e-9) for a, b in zip(now, self._previous,
                                                                           strict=True))
        self._previous = None
        if not same:
            return
        if np.isfinite(self.failover_since).any():
            return
        st = self.state
        probe = Step(self.k, self.t_s, self.scenario.step_s)
        if not all(m.quiescent(st, probe) for m in self.mechanisms):
            return
        target = self.timeline.next_event_step(self.k - 1)
        target = self.scenario.steps if target is None else min(target, self.scenario.steps)
        reopen = self.retries.next_change_s(self.t_s)  # a breaker closing is an event too
        if np.isfinite(reopen):
            target = min(target, int(np.ceil(reopen / self.scenario.step_s - 1e-9)))
        if target <= self.k:
            return
        for m in self.mechanisms:
            if hasattr(m, "fast_forward"):
                m.fast_forward(self.t_s, target - self.k, self.scenario.step_s)
        self.recorder.record(st, probe, repeat=target - self.k)
        self.skipped += target - self.k
        self.k = target

    def _signature(self) -> list[np.ndarray]:
        st = self.state
        sig = [st.queue.copy(), st.success.copy(), st.offered.copy(), st.latency_s.copy()]
        if self.edges.size:
            r = self.retries  # breaker averages and budgets move slowly: watch them too
            sig += [r.pools.copy(), r.sent.copy(), r.failure_avg.copy(), r.tokens.copy()]
        return sig


def simulate(graph: CompiledGraph, scenario: Scenario, mechanisms: list | None = None,
             progress: Callable[[float], None] | None = None, skip_quiet: bool = True,
             kernel: str = "auto", threads: int | str = 1) -> SimResult:
    """Run `scenario` over `graph` and return its `SimResult`."""
    return Simulation(graph, scenario, mechanisms, skip_quiet, kernel, threads).run(progress)


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one), as
    threads="auto" counts them."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _threads(threads: int | str, n: int) -> int:
    """Threads for a compiled stretch: a count, or "auto" (every core this process may use,
    from THREADS_FROM components; one below)."""
    if threads == "auto":
        return usable_cores() if n >= THREADS_FROM else 1
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a count >= 1 or 'auto', not {threads!r}")
    return threads


def _compiled(kernel: str, n: int, order: np.ndarray, stages: tuple[_Stage, ...],
              callee_rank: np.ndarray, threads: int = 1) -> CompiledFlow | None:
    """The compiled step for `kernel` ("numpy": none; "numba": required; "auto": when numba is
    installed and the model has at least COMPILED_FROM components, where it pays for itself)."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, not {kernel!r}")
    if kernel == "numpy" or (kernel == "auto" and (n < COMPILED_FROM or not kernels_available())):
        return None
    if not kernels_available():
        raise RuntimeError("kernel='numba' needs numba: pip install 'aftershock[fast]'")
    return CompiledFlow.of(order, stages, callee_rank, threads)


def _plan(graph: CompiledGraph, edges: CallEdges) -> tuple[np.ndarray, tuple[_Stage, ...]]:
    """Stage order (graph ids) and, per stage, the gathers each step needs (in stage order)."""
    n = graph.n
    order = (np.concatenate([sg.nodes for sg in graph.stages]) if graph.stages
             else np.zeros(0, dtype=np.int64))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    lo = 0
    calls_of: list[list[int]] = [[] for _ in range(n)]
    for e in range(edges.size):
        calls_of[int(edges.caller[e])].append(e)
    hard_calls = [{int(edges.callee[e]) for e in calls_of[i] if edges.hard[e]} for i in range(n)]
    through_cache: list[set[int]] = [set() for _ in range(n)]
    for consumer, record in lookups(graph):
        through_cache[consumer].add(record)
    size = graph.members.degree()
    stages = []
    for stage in graph.stages:
        nodes = stage.nodes
        gates, best, votes, failover = [], [], [], []
        for pos, i in enumerate(nodes.tolist()):
            skip = hard_calls[i] | through_cache[i]
            same = (lambda j, i=i: graph.scc[j] == graph.scc[i]) if stage.cyclic else (lambda j: False)
            gate = [j for j in graph.requires.row(i).tolist() if j not in skip and not same(j)]
            members = [j for j in graph.members.row(i).tolist() if not same(j)]
            k = int(graph.group_k[i])
            grp: list[int] = []
            gate = [int(rank[j]) for j in gate]
            members = [int(rank[j]) for j in members]
            if k and members:
                if k >= size[i]:
                    gate += members
                elif k == 1:
                    grp = members
                    if graph.failover_s[i] > 0:
                        failover.append((pos, members[0], float(graph.failover_s[i])))
                else:
                    votes.append((pos, members, k))
            gates.append(gate)
            best.append(grp)
        labels = None
        if stage.cyclic:
            _, labels = np.unique(graph.scc[nodes], return_inverse=True)
        stages.append(_Stage(
            nodes=nodes,
            span=slice(lo, lo + len(nodes)),
            gates=_Segments.of(gates),
            best=_Segments.of(best),
            votes=_Votes.of(votes),
            calls=_Calls.of([calls_of[i] for i in nodes.tolist()], edges.hard),
            cycle_labels=labels,
            failover=_Failover(np.array([f[0] for f in failover], dtype=np.int64),
                               np.array([f[1] for f in failover], dtype=np.int64),
                               np.array([f[2] for f in failover])) if failover else None,
        ))
        lo += len(nodes)
    return order, tuple(stages)
