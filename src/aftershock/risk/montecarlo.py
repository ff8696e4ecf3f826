"""Monte Carlo of outages through time: sample failures, propagate them, add up downtime and loss.

One chunk of trials at a time. Each trial samples the outages of every failure source over the
horizon (profiles.py). The horizon of a trial is cut into elementary segments between consecutive
change points (an outage starting or ending); inside a segment the set of failed things is fixed,
so the static semantics decide what is down and degraded (analysis/propagation.py).

- An outage that overlaps no other in its trial, and a segment where exactly one source is
  active, take their states from a table computed once per plan (one static propagation per
  source): most of a realistic year is like this, and isolated outages need no segments at all.
- The other segments are evaluated bit-parallel: bit g of a row is segment g, so one
  `propagate_down` pass over uint64 words evaluates 64 segments per word operation.
- A redundancy group with `failover` is down for that long each time one of its active members
  (the first k members that are up, in the order listed) goes down while the group was up. Those
  windows are found from the members' states and added as outages of the group; passes repeat
  until no new window appears (nested failover groups need one pass per level).

Loss per trial and target: revenue_per_hour x down hours + degraded_loss x revenue_per_hour x
degraded hours. Each segment's loss is attributed to the sources active in it that can reach the
target (hard edges for down, any edge for degraded), in equal shares: the contributors add up to
the total loss exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from aftershock.analysis.propagation import propagate_degraded, propagate_down, words_for
from aftershock.model.compile import CompiledGraph, reachable, union_edges
from aftershock.risk.overlap import isolated_mask
from aftershock.risk.profiles import SECONDS_PER_YEAR, FailureProfile, FailureSource
from aftershock.risk.windows import WindowTable, window_pieces, window_table

MS = 1000  # event times are integer milliseconds inside a trial
WARMUP_QUANTILE = 0.9999  # outages may start before the horizon: stationary from t = 0


@dataclass(frozen=True)
class FailoverGroup:
    """A redundancy group whose switch-over takes `failover_s` (down meanwhile)."""

    component: int
    members: np.ndarray  # component ids, in the order listed (first ones are active)
    k: int
    failover_s: float
    source: int  # index of the failure source that carries its failover windows


@dataclass(frozen=True, eq=False)
class RiskPlan:
    """Everything a chunk of trials needs: the graph, its failure sources and targets, precomputed."""

    graph: CompiledGraph
    sources: tuple[FailureSource, ...]  # model sources, then one per failover group
    targets: np.ndarray  # component ids
    horizon_s: float
    failover: tuple[FailoverGroup, ...]
    watch: np.ndarray  # component ids whose state per segment is kept (targets, group members)
    reaches_hard: np.ndarray  # (sources, targets): the source can take the target down
    reaches_any: np.ndarray  # (sources, targets): ... or degrade it
    revenue_per_hour: np.ndarray  # per target
    degraded_loss: np.ndarray  # per target
    notes: tuple[str, ...] = ()
    source_components: tuple[np.ndarray, ...] = field(default=(), repr=False)  # ids each fails
    reaches_failover: np.ndarray = field(default_factory=lambda: np.zeros(0, bool), repr=False)
    failover_reach_ms: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    windows: WindowTable | None = field(default=None, repr=False)  # None: nested groups, or none
    # (watch, situations) states: each source alone, nothing failed, then windows.py's combinations
    situation_down: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool), repr=False)
    situation_degraded: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool), repr=False)

    @property
    def alone_down(self) -> np.ndarray:
        """(sources, watch) state of each watched component, one source active (a view)."""
        return self.situation_down[:, : len(self.sources)].T

    @property
    def alone_degraded(self) -> np.ndarray:
        """(sources, watch) degraded state of each watched component, one source active (a view)."""
        return self.situation_degraded[:, : len(self.sources)].T

    @property
    def target_names(self) -> list[str]:
        """Names of the targets, in column order."""
        return [self.graph.names[i] for i in self.targets]

    @cached_property
    def source_index(self) -> tuple[np.ndarray, np.ndarray]:
        """CSR (indptr, component ids) of the components each source fails."""
        lengths = np.array([len(c) for c in self.source_components], dtype=np.int64)
        ptr = np.zeros(len(lengths) + 1, np.int64)
        np.cumsum(lengths, out=ptr[1:])
        comps = np.concatenate(list(self.source_components)) if lengths.size else np.zeros(0, np.int64)
        return ptr, comps.astype(np.int64)

    @property
    def model_sources(self) -> int:
        """Number of sources sampled from profiles (the rest are failover windows)."""
        return len(self.sources) - len(self.failover)


def plan_risk(
    graph: CompiledGraph,
    sources: list[FailureSource],
    targets: list[str],
    horizon_s: float,
    notes: list[str] | None = None,
) -> RiskPlan:
    """Precompute the tables a chunk of trials reads (one static propagation per source)."""
    n = graph.n
    target_ids = graph.ids(targets)
    failover = []
    all_sources = list(sources)
    for i in np.flatnonzero((graph.failover_s > 0) & (graph.group_k > 0)):
        all_sources.append(
            FailureSource(f"failover of {graph.names[i]}", "failover", (int(i),),
                          FailureProfile(0.0, float(graph.failover_s[i]), 0.0, "model: failover"),
                          f"failover:{graph.names[i]}")
        )
        failover.append(FailoverGroup(int(i), graph.members.row(int(i)).copy(), int(graph.group_k[i]),
                                      float(graph.failover_s[i]), len(all_sources) - 1))
    watch = np.unique(np.concatenate([target_ids] + [g.members for g in failover] + [np.zeros(0, np.int64)]))
    alone_down, alone_degraded = _alone_states(graph, [src.components for src in all_sources], watch)
    hard_reach = np.stack([graph.hard_descendants(np.array([t])) for t in target_ids], axis=1) \
        if len(target_ids) else np.zeros((n, 0), bool)
    any_adj = union_edges(graph.hard, graph.uses, n)
    any_reach = np.stack([reachable(any_adj, n, np.array([t])) for t in target_ids], axis=1) \
        if len(target_ids) else np.zeros((n, 0), bool)
    fails = tuple(np.asarray(src.components, dtype=np.int64) for src in all_sources)
    hits = _failover_hits(graph, fails, failover)
    reaches_failover = hits.any(axis=1)
    windows = None
    situation_down = np.concatenate([alone_down.T, np.zeros((len(watch), 1), bool)], axis=1)
    situation_degraded = np.concatenate([alone_degraded.T, np.zeros((len(watch), 1), bool)], axis=1)
    if failover and not reaches_failover[len(sources):].any():
        windows = _window_table(failover, sources, alone_down, watch, len(all_sources))
        if windows.combos:
            down, degraded = _alone_states(
                graph, [tuple(c for s in combo for c in all_sources[s].components) for combo in windows.combos], watch)
            situation_down = np.concatenate([situation_down, down.T], axis=1)
            situation_degraded = np.concatenate([situation_degraded, degraded.T], axis=1)
    return RiskPlan(
        graph=graph,
        sources=tuple(all_sources),
        targets=target_ids,
        horizon_s=float(horizon_s),
        failover=tuple(failover),
        watch=watch,
        reaches_hard=np.stack([hard_reach[f].any(axis=0) for f in fails]) if fails else np.zeros((0, len(target_ids)), bool),
        reaches_any=np.stack([any_reach[f].any(axis=0) for f in fails]) if fails else np.zeros((0, len(target_ids)), bool),
        revenue_per_hour=graph.revenue_per_hour[target_ids].copy(),
        degraded_loss=graph.degraded_loss[target_ids].copy(),
        notes=tuple(notes or ()),
        source_components=fails,
        reaches_failover=reaches_failover,
        failover_reach_ms=_failover_reach_ms(hits, failover),
        windows=windows,
        situation_down=situation_down,
        situation_degraded=situation_degraded,
    )


def _window_table(failover: list[FailoverGroup], sources: list[FailureSource], alone_down: np.ndarray,
                  watch: np.ndarray, n_sources: int) -> WindowTable:
    """Which windows each model source opens when it fails alone (from everything up): those of
    the groups one of whose active members -- the first k listed -- it takes down."""
    col = {int(c): j for j, c in enumerate(watch)}
    triggered: list[list[tuple[float, int]]] = [[] for _ in sources]
    for g in failover:
        active = [col[int(m)] for m in g.members[: g.k]]
        if len(g.members) < g.k:
            continue  # never up: never fails over
        for s in np.flatnonzero(alone_down[: len(sources), active].any(axis=1)):
            triggered[s].append((g.failover_s, g.source))
    return window_table(triggered, n_sources)


def _failover_reach_ms(hits: np.ndarray, failover: list[FailoverGroup]) -> np.ndarray:
    """Per source: the longest failover window it can open (0: none). Windows open when something
    starts, at its start, so an outage's effects end by max(its end, start + this)."""
    reach = np.zeros(len(hits), np.int64)
    for j, g in enumerate(failover):
        reach[hits[:, j]] = np.maximum(reach[hits[:, j]], round(g.failover_s * MS))
    return reach


def _alone_states(graph: CompiledGraph, failed_sets: list[tuple[int, ...]], watch: np.ndarray,
                  block: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """(situations, watch) down and degraded states with each set of components failed, in blocks
    of `block` situations (one bit-parallel pass each) so that big models stay within memory."""
    down_rows, degraded_rows = [], []
    for first in range(0, max(len(failed_sets), 1), block):
        part = failed_sets[first : first + block]
        failed = np.zeros((graph.n, words_for(max(len(part), 1))), dtype=np.uint64)
        for s, comps in enumerate(part):
            failed[list(comps), s // 64] |= np.uint64(1) << np.uint64(s % 64)
        down = propagate_down(graph, failed)
        degraded = propagate_degraded(graph, down)
        down_rows.append(_bits(down[watch], len(part)).T)
        degraded_rows.append(_bits(degraded[watch], len(part)).T)
    return np.concatenate(down_rows), np.concatenate(degraded_rows)


def _failover_hits(graph: CompiledGraph, fails: tuple[np.ndarray, ...], failover: list[FailoverGroup]) -> np.ndarray:
    """(sources, groups) bool: can the source take down a member of the group? A source that can
    reach no group's member opens no window (the windows depend on no other)."""
    hits = np.zeros((len(fails), len(failover)), bool)
    if not failover:
        return hits
    owner = np.repeat(np.arange(len(fails)), [len(f) for f in fails])  # the source of each failed id
    failed = np.concatenate([*fails, np.zeros(0, np.int64)])
    for j, g in enumerate(failover):
        near = graph.hard_descendants(g.members)
        hits[:, j] = np.bincount(owner[near[failed]], minlength=len(fails)) > 0
    return hits


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (np.unique hashes in NumPy 2, several times slower on int64 here)."""
    values = np.sort(values)
    if values.size:
        keep = np.empty(values.size, bool)
        keep[0] = True
        np.not_equal(values[1:], values[:-1], out=keep[1:])
        values = values[keep]
    return values


def _failed_bits(plan: RiskPlan, source: np.ndarray, segment: np.ndarray, words: int) -> np.ndarray:
    """(n, words) uint64: bit g of row c is set when a source failing component c is active in
    segment g. Built from the (source, segment) pairs, never as a dense sources x segments matrix."""
    ptr, comps = plan.source_index
    lengths = ptr[source + 1] - ptr[source]
    total = int(lengths.sum())
    at = np.repeat(ptr[source] - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
    comp, seg = comps[at], np.repeat(segment, lengths)
    key = comp * words + (seg >> 6)
    order = np.argsort(key, kind="stable")
    key, bit = key[order], np.left_shift(np.uint64(1), (seg[order] & 63).astype(np.uint64))
    first = np.ones(len(key), bool)
    first[1:] = key[1:] != key[:-1]
    starts = np.flatnonzero(first)
    failed = np.zeros(plan.graph.n * words, np.uint64)
    if total:
        failed[key[starts]] = np.bitwise_or.reduceat(bit, starts)
    return failed.reshape(plan.graph.n, words)


def _bits(rows: np.ndarray, count: int) -> np.ndarray:
    """(m, W) uint64 -> (m, count) bool."""
    bits = np.unpackbits(np.ascontiguousarray(rows).view(np.uint8), axis=-1, bitorder="little")
    return bits[..., :count].view(bool)


@dataclass
class TrialOutcomes:
    """Per-trial results of one chunk: arrays of shape (trials, targets) unless said otherwise."""

    down_hours: np.ndarray
    degraded_hours: np.ndarray
    incidents: np.ndarray
    loss: np.ndarray
    contributions: np.ndarray  # (trials, sources): loss attributed to each source
    contributions_by_target: np.ndarray  # (targets, sources) summed over the chunk's trials
    segments: int = 0  # elementary segments evaluated (work done, for benchmarks)
    multi_segments: int = 0  # of which evaluated bit-parallel

    @property
    def total_loss(self) -> np.ndarray:
        """Loss per trial over all targets."""
        return self.loss.sum(axis=1)


# --- sampling --------------------------------------------------------------------------------------


@dataclass
class Outages:
    """Outages of one chunk: trial, source, start and end in integer milliseconds."""

    trial: np.ndarray
    source: np.ndarray
    start_ms: np.ndarray
    end_ms: np.ndarray

    def subset(self, keep: np.ndarray) -> Outages:
        """The outages where `keep` is true."""
        return Outages(self.trial[keep], self.source[keep], self.start_ms[keep], self.end_ms[keep])

    @classmethod
    def concat(cls, parts: list[Outages]) -> Outages:
        """All outages of several parts."""
        if not parts:
            z = np.zeros(0, np.int64)
            return cls(z, z.copy(), z.copy(), z.copy())
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("trial", "source", "start_ms", "end_ms")))


def sample_outages(plan: RiskPlan, seed: int, chunk: int, trials: int) -> Outages:
    """The outages of every profiled source in one chunk; one random stream per (chunk, source)."""
    horizon = plan.horizon_s
    parts = []
    for s, src in enumerate(plan.sources[: plan.model_sources]):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(chunk, src.stream_id)))
        prof = src.profile
        if prof.always_failed:
            trial = np.arange(trials, dtype=np.int64)
            start, end = np.zeros(trials), np.full(trials, horizon)
        else:
            tail = src.dns.negative_tail_s if src.dns else 0.0
            warmup = prof.duration_quantile_s(WARMUP_QUANTILE) + tail
            rate_per_s = prof.rate_per_year / SECONDS_PER_YEAR
            counts = rng.poisson(rate_per_s * (horizon + warmup), size=trials)
            total = int(counts.sum())
            trial = np.repeat(np.arange(trials, dtype=np.int64), counts)
            start = rng.uniform(-warmup, horizon, size=total)
            duration = prof.sample_durations_s(rng, total)
            if src.dns is not None:
                start, end = src.dns.visible(start, duration)
            else:
                end = start + duration
        keep = (end > 0) & (start < horizon) & (end > start)
        s_ms = np.rint(np.clip(start[keep], 0, horizon) * MS).astype(np.int64)
        e_ms = np.rint(np.clip(end[keep], 0, horizon) * MS).astype(np.int64)
        ok = e_ms > s_ms
        parts.append(Outages(trial[keep][ok], np.full(int(ok.sum()), s, np.int64), s_ms[ok], e_ms[ok]))
    return Outages.concat(parts)


# --- propagation through time ----------------------------------------------------------------------


@dataclass
class Segments:
    """Elementary segments of a chunk's trials, and the watched states in each.

    States are stored once per distinct situation: segment g is in the situation `row[g]` of the
    tables `down_table` / `degraded_table` ((watched, situations) bool): one column per source alone,
    one with nothing failed, then one per segment with several sources active.
    """

    trial: np.ndarray
    start_ms: np.ndarray
    length_ms: np.ndarray
    first: np.ndarray  # first segment of its trial
    single: np.ndarray  # index of the one active source, -1 if none or several
    row: np.ndarray
    down_table: np.ndarray
    degraded_table: np.ndarray
    pair_source: np.ndarray  # (source, segment) pairs active in multi-source segments
    pair_segment: np.ndarray

    def down(self, column: int) -> np.ndarray:
        """Whether watched component number `column` is down, per segment."""
        return self.down_table[column][self.row]

    def degraded(self, column: int) -> np.ndarray:
        """Whether watched component number `column` is degraded, per segment."""
        return self.degraded_table[column][self.row]


def evaluate_segments(plan: RiskPlan, outages: Outages, trials: int) -> Segments:
    """Cut every trial at its change points and find the watched states in every segment."""
    horizon_ms = round(plan.horizon_s * MS)
    t, s, e, src = outages.trial, outages.start_ms, outages.end_ms, outages.source
    n_out = len(t)
    # Trial r occupies [r H, (r + 1) H) on one integer time line, so an outage ending at the horizon
    # ends where the next trial starts; trial starts (and a sentinel) are points too.
    keys = np.concatenate([t * horizon_ms + s, t * horizon_ms + e,
                           np.arange(trials + 1, dtype=np.int64) * horizon_ms])
    order = np.argsort(keys)
    ordered = keys[order]
    new = np.empty(len(keys), bool)
    new[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    rank = np.cumsum(new) - 1
    position = np.empty(len(keys), np.int64)
    position[order] = rank
    points = ordered[new]  # the last one is the sentinel (trials x H)
    n_seg = len(points) - 1
    a, b = position[:n_out], position[n_out : 2 * n_out]
    seg_trial = points[:-1] // horizon_ms
    seg_start = points[:-1] - seg_trial * horizon_ms
    seg_length = np.diff(points)
    first = seg_start == 0
    # Active sources per segment: a difference array of counts, and of ids (exact when count is 1).
    count = np.cumsum(np.bincount(a, minlength=n_seg + 1) - np.bincount(b, minlength=n_seg + 1))[:-1]
    ident = np.cumsum(np.bincount(a, weights=src, minlength=n_seg + 1)
                      - np.bincount(b, weights=src, minlength=n_seg + 1))[:-1]
    single = np.where(count == 1, np.rint(ident).astype(np.int64), -1)
    n_src = len(plan.sources)
    row = np.where(count == 1, single, n_src)  # a source alone, or nothing failed
    tables_down = [plan.situation_down[:, : n_src + 1]]  # each source alone, then nothing failed
    tables_degraded = [plan.situation_degraded[:, : n_src + 1]]
    # Multi-source segments: which sources cover which of them, then one bit-parallel pass.
    multi = count >= 2
    pair_source = pair_segment = np.zeros(0, np.int64)
    if multi.any():
        lengths = b - a
        offsets = np.repeat(a - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))
        pair_src_all = np.repeat(src, lengths)
        keep = multi[offsets]
        local_of = np.cumsum(multi) - 1
        m_seg = int(multi.sum())
        key = _sorted_unique(pair_src_all[keep] * m_seg + local_of[offsets[keep]])
        pair_source, pair_local = key // m_seg, key % m_seg
        failed = _failed_bits(plan, pair_source, pair_local, words_for(m_seg))
        down_bits = propagate_down(plan.graph, failed)
        degraded_bits = propagate_degraded(plan.graph, down_bits)
        where = np.flatnonzero(multi)
        row[where] = n_src + 1 + np.arange(m_seg)
        tables_down.append(_bits(down_bits[plan.watch], m_seg))
        tables_degraded.append(_bits(degraded_bits[plan.watch], m_seg))
        pair_segment = where[pair_local]
    return Segments(seg_trial, seg_start, seg_length, first, single, row,
                    np.concatenate(tables_down, axis=1), np.concatenate(tables_degraded, axis=1), pair_source,
                    pair_segment)


def failover_windows(plan: RiskPlan, seg: Segments) -> Outages:
    """Failover windows: each time an active member of a group goes down while the group was up."""
    horizon_ms = round(plan.horizon_s * MS)
    parts = []
    row_of = {int(c): r for r, c in enumerate(plan.watch)}
    for group in plan.failover:
        member_down = np.stack([seg.down(row_of[int(m)]) for m in group.members])
        prev_down = np.roll(member_down, 1, axis=1)
        prev_up = ~prev_down
        active_prev = prev_up & (np.cumsum(prev_up, axis=0) <= group.k)
        group_up_prev = prev_up.sum(axis=0) >= group.k
        lost = (active_prev & member_down).any(axis=0) & group_up_prev & ~seg.first
        start = seg.start_ms[lost]
        end = np.minimum(start + round(group.failover_s * MS), horizon_ms)
        parts.append(Outages(seg.trial[lost], np.full(len(start), group.source, np.int64), start, end))
    return Outages.concat(parts)


def with_failover_windows(plan: RiskPlan, outages: Outages, trials: int) -> Outages:
    """The outages plus the failover windows they cause."""
    if not plan.failover:
        return outages
    # The windows depend only on the group members' states: find them from the outages that can
    # reach a member (a pass per level of nested groups).
    near = outages.subset(plan.reaches_failover[outages.source])
    windows = Outages.concat([])
    nested = bool(plan.reaches_failover[plan.model_sources :].any())  # windows that cause windows
    for _ in range(len(plan.failover) + 1 if nested else 1):
        found = failover_windows(plan, evaluate_segments(plan, Outages.concat([near, windows]), trials))
        if len(found.trial) == len(windows.trial):
            break  # windows only ever grow between passes: same count, same windows
        windows = found
    if not nested:
        windows = found
    return Outages.concat([outages, windows])


def isolated(plan: RiskPlan, outages: Outages) -> np.ndarray:
    """Mask of the isolated outages: each overlaps or touches no other in its trial, so the states
    while it lasts are those of its source alone, and no segments are needed.

    An outage's reach is extended to the longest failover window it could open, so that a window
    never overlaps an outage called isolated."""
    horizon_ms = round(plan.horizon_s * MS)
    end = outages.end_ms
    if plan.failover and len(end):
        reach = plan.failover_reach_ms[outages.source]
        end = np.maximum(end, np.minimum(outages.start_ms + reach, horizon_ms))
    return isolated_mask(outages.trial, outages.start_ms, end, horizon_ms)


@dataclass
class Stretches:
    """A chunk's propagated time: segment lists (each with its situation table), and the isolated
    outages without windows as (trial x sources + source, hours): their states are their
    source's row of the plan's table."""

    segments: list[Segments]
    isolated_key: np.ndarray
    isolated_hours: np.ndarray


def propagate(plan: RiskPlan, outages: Outages, trials: int) -> Stretches:
    """The down and degraded states of every stretch of the chunk's trials.

    - isolated outages that open no failover window: nothing to do (their source's table row);
    - isolated outages that do: cut into pieces at their end and their windows' ends, states from
      the plan's table of combined situations (windows.py), no sort;
    - overlapping ones: failover windows found from the members' states, then segments evaluated
      bit-parallel (the general path; also taken by isolated outages with nested failover groups).
    """
    plain = isolated(plan, outages)
    general = ~plain
    parts: list[Segments] = []
    if plan.failover and plan.windows is not None:
        opens = plain & plan.windows.triggers[outages.source] & (outages.start_ms > 0)  # none at t = 0
        if opens.any():
            parts.append(_pieces_segments(plan, outages.subset(opens)))
            plain &= ~opens
    elif plan.failover:
        general |= plain & (plan.failover_reach_ms[outages.source] > 0)  # nested groups
        plain &= ~general
    if general.any():
        overlapping = outages.subset(general)
        parts.insert(0, evaluate_segments(plan, with_failover_windows(plan, overlapping, trials), trials))
    key = (outages.trial * len(plan.sources) + outages.source)[plain]
    hours = (outages.end_ms - outages.start_ms)[plain] / (MS * 3600.0)
    return Stretches(parts, key, hours)


def _pieces_segments(plan: RiskPlan, opening: Outages) -> Segments:
    """Segments of the pieces of isolated outages that open failover windows."""
    assert plan.windows is not None
    p = window_pieces(plan.windows, opening.trial, opening.source, opening.start_ms, opening.end_ms,
                      round(plan.horizon_s * MS))
    return Segments(p.trial, p.start_ms, p.length_ms, p.first, p.single, p.row, plan.situation_down,
                    plan.situation_degraded, p.pair_source, p.pair_piece)


def simulate_chunk(plan: RiskPlan, seed: int, chunk: int, trials: int) -> TrialOutcomes:
    """Simulate `trials` years (horizons) of chunk number `chunk` of a run seeded with `seed`."""
    return stretch_outcomes(plan, propagate(plan, sample_outages(plan, seed, chunk, trials), trials), trials)


def stretch_outcomes(plan: RiskPlan, stretches: Stretches, trials: int) -> TrialOutcomes:
    """Per-trial outcomes of a chunk's propagated stretches."""
    return trial_outcomes(plan, stretches.segments, trials,
                          isolated_key=stretches.isolated_key, isolated_hours=stretches.isolated_hours)


def trial_outcomes(plan: RiskPlan, seg: Segments | list[Segments], trials: int, *,
                   isolated_key: np.ndarray | None = None,
                   isolated_hours: np.ndarray | None = None) -> TrialOutcomes:
    """Per-trial downtime, degraded time, incidents, loss and loss by source, from the segments
    and from the isolated outages (each alone in its stretch of time: one incident at most),
    given as (trial x sources + source, hours)."""
    n_t, n_src = len(plan.targets), len(plan.sources)
    down_h = np.zeros((trials, n_t))
    degraded_h = np.zeros((trials, n_t))
    incidents = np.zeros((trials, n_t), np.int64)
    contributions = np.zeros(trials * n_src)
    by_target = np.zeros((n_t, n_src))
    row_of = {int(c): r for r, c in enumerate(plan.watch)}
    cols = [row_of[int(t)] for t in plan.targets]
    parts = seg if isinstance(seg, list) else [seg]
    for part in parts:
        _add_segments(plan, part, trials, cols, down_h, degraded_h, incidents, contributions, by_target)
    n_isolated = len(isolated_key) if isolated_key is not None else 0
    if n_isolated:
        # Hours and counts per (trial, source), then the single-source table does the rest.
        key = isolated_key
        hours = np.bincount(key, weights=isolated_hours, minlength=trials * n_src).reshape(trials, n_src)
        count = np.bincount(key, minlength=trials * n_src).reshape(trials, n_src).astype(float)
        down = plan.alone_down[:, cols].astype(float)  # (sources, targets)
        degraded = (plan.alone_degraded[:, cols] & ~plan.alone_down[:, cols]).astype(float)
        down_h += _product(hours, down)
        degraded_h += _product(hours, degraded)
        incidents += np.rint(_product(count, down)).astype(np.int64)
        weight = (down + degraded * plan.degraded_loss) * plan.revenue_per_hour  # loss per hour
        contributions += (hours * weight.sum(axis=1)).ravel()
        by_target += (hours.sum(axis=0)[:, None] * weight).T
    loss = down_h * plan.revenue_per_hour + degraded_h * plan.revenue_per_hour * plan.degraded_loss
    return TrialOutcomes(
        down_hours=down_h,
        degraded_hours=degraded_h,
        incidents=incidents,
        loss=loss,
        contributions=contributions.reshape(trials, n_src),
        contributions_by_target=by_target,
        segments=sum(len(part.trial) for part in parts) + n_isolated,
        multi_segments=sum(int(_sorted_unique(part.pair_segment).size) for part in parts),
    )


def _product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b without BLAS: these products are small, and a multithreaded BLAS waking its threads
    for each one cost 25 ms a chunk (3x the chunk's own work) on a busy 2-core machine."""
    return np.einsum("ij,jk->ik", a, b, optimize=False)


def _add_segments(plan: RiskPlan, seg: Segments, trials: int, cols: list[int], down_h: np.ndarray,
                  degraded_h: np.ndarray, incidents: np.ndarray, contributions: np.ndarray,
                  by_target: np.ndarray) -> None:
    """Add the downtime, degraded time, incidents and loss by source of a list of segments."""
    n_src = len(plan.sources)
    # Only segments where some target is down or degraded cost anything: work on those alone.
    costly = (seg.down_table[cols] | seg.degraded_table[cols]).any(axis=0)
    idx = np.flatnonzero(costly[seg.row])
    rows, trial, alone = seg.row[idx], seg.trial[idx], seg.single[idx]
    hours = seg.length_ms[idx] / (MS * 3600.0)
    # the previous segment of the same trial is in the subset (else nothing was down in it)
    follows = np.zeros(len(idx), bool)
    follows[1:] = (idx[1:] == idx[:-1] + 1) & ~seg.first[idx[1:]]
    one = alone >= 0
    pos = np.searchsorted(idx, seg.pair_segment)
    in_sub = pos < len(idx)
    in_sub[in_sub] = idx[pos[in_sub]] == seg.pair_segment[in_sub]
    pair_pos, pair_src = pos[in_sub], seg.pair_source[in_sub]
    for j, col in enumerate(cols):
        down = seg.down_table[col][rows]
        degraded = seg.degraded_table[col][rows] & ~down
        onset = down.copy()
        onset[1:] &= ~(down[:-1] & follows[1:])  # down now, and not down just before in this trial
        incidents[:, j] += np.bincount(trial[onset], minlength=trials)
        down_h[:, j] += np.bincount(trial[down], weights=hours[down], minlength=trials)
        degraded_h[:, j] += np.bincount(trial[degraded], weights=hours[degraded], minlength=trials)
        rev = plan.revenue_per_hour[j]
        if rev == 0 or idx.size == 0:
            continue
        loss = hours * rev * np.where(down, 1.0, np.where(degraded, plan.degraded_loss[j], 0.0))
        # Segments with one active source: all of the segment's loss is that source's.
        part = np.bincount(trial[one] * n_src + alone[one], weights=loss[one],
                           minlength=trials * n_src).astype(np.float64)
        if len(pair_pos):
            # several sources: shared by those that can take the target down (down) or reach it
            relevant = np.where(down[pair_pos], plan.reaches_hard[pair_src, j],
                                plan.reaches_any[pair_src, j]) & (loss[pair_pos] > 0)
            at = pair_pos[relevant]
            share = np.bincount(at, minlength=len(idx))
            part += np.bincount(trial[at] * n_src + pair_src[relevant], weights=loss[at] / share[at],
                                minlength=trials * n_src)
        contributions += part
        by_target[j] += part.reshape(trials, n_src).sum(axis=0)
