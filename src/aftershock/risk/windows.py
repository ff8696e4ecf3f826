"""Failover windows of isolated outages, from tables computed once per plan (no segments, no sort).

An outage of source s that overlaps nothing else in its trial, and that alone takes down an
active member of failover groups g_1..g_m (sorted by failover time, longest first), opens a window
[a, a + F_i) of each group at its start a (none at the start of a trial). Its stretch of time is
then cut at a fixed set of points -- its end e and the windows' ends -- and in each piece the
failed set is {s if before e} + {the windows still open}, which are always the q longest ones.
So the states of every piece are among 2m precomputed situations per source: (s with the q
longest windows) and (the q longest windows alone), q = 0..m.

Only plans whose windows cause no further windows (no nested failover groups) use this; the
others send such outages through the general segment path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class WindowTable:
    """Per model source: the windows it opens alone, and where the pieces' states sit.

    Rows index the plan's situation table: a source alone (0..n_sources-1), nothing failed
    (n_sources), then the combined situations (n_sources + 1 + c).
    """

    triggers: np.ndarray  # (model sources,) bool: opens at least one window when alone
    window_ms: np.ndarray  # (model sources, M) failover times, longest first, 0 as padding
    window_source: np.ndarray  # (model sources, M) source index of each window, -1 as padding
    with_source: np.ndarray  # (model sources, M + 1) row of {s} + q longest windows
    without_source: np.ndarray  # (model sources, M + 1) row of the q longest windows alone
    combos: tuple[tuple[int, ...], ...]  # source indices active in each combined situation

    @property
    def width(self) -> np.ndarray:
        """Number of windows each model source opens."""
        return (self.window_source >= 0).sum(axis=1)


def window_table(triggered: list[list[tuple[float, int]]], n_sources: int) -> WindowTable:
    """Tables from, per model source, the (failover seconds, window source) pairs it triggers."""
    n = len(triggered)
    widest = max((len(t) for t in triggered), default=0)
    window_ms = np.zeros((n, widest), np.int64)
    window_source = np.full((n, widest), -1, np.int64)
    with_source = np.zeros((n, widest + 1), np.int64)
    without_source = np.full((n, widest + 1), n_sources, np.int64)
    combos: list[tuple[int, ...]] = []
    for s, pairs in enumerate(triggered):
        pairs = sorted(pairs, key=lambda p: -p[0])  # stable: groups in plan order on ties
        with_source[s, 0] = s
        for q, (seconds, win) in enumerate(pairs, 1):
            window_ms[s, q - 1] = round(seconds * 1000)
            window_source[s, q - 1] = win
            opened = tuple(w for _, w in pairs[:q])
            combos.append((s, *opened))
            with_source[s, q] = n_sources + len(combos)
            if q == 1:
                without_source[s, q] = win  # one window alone is that source alone
            else:
                combos.append(opened)
                without_source[s, q] = n_sources + len(combos)
    return WindowTable(np.array([bool(t) for t in triggered], bool), window_ms, window_source,
                       with_source, without_source, tuple(combos))


@dataclass
class Pieces:
    """The pieces of isolated outages with windows, flattened outage by outage."""

    trial: np.ndarray
    start_ms: np.ndarray
    length_ms: np.ndarray
    first: np.ndarray  # first piece of its outage (nothing was down just before it)
    single: np.ndarray  # the one active source, -1 if several
    row: np.ndarray
    pair_source: np.ndarray  # (source, piece) pairs of the pieces with several active sources
    pair_piece: np.ndarray


def window_pieces(table: WindowTable, trial: np.ndarray, source: np.ndarray, start_ms: np.ndarray,
                  end_ms: np.ndarray, horizon_ms: int) -> Pieces:
    """Cut each isolated outage (all of them open windows) at its end and its windows' ends.

    Outages are taken in groups of sources that open the same number of windows, so that a source
    opening many (a region event) costs no padding to the others."""
    width = table.width[source]
    present = np.flatnonzero(np.bincount(width))
    if len(present) == 1:  # the common case: no masks
        return _pieces(table, int(present[0]), trial, source, start_ms, end_ms, horizon_ms)
    parts = [_pieces(table, int(m), trial[width == m], source[width == m], start_ms[width == m],
                     end_ms[width == m], horizon_ms) for m in present]
    offsets = np.cumsum([0] + [len(p.trial) for p in parts])
    return Pieces(*(np.concatenate([getattr(p, f) for p in parts]) for f in (
        "trial", "start_ms", "length_ms", "first", "single", "row", "pair_source")),
        pair_piece=np.concatenate([p.pair_piece + off for p, off in zip(parts, offsets, strict=False)]))


def _one_window(table: WindowTable, trial: np.ndarray, source: np.ndarray, start_ms: np.ndarray,
                end_ms: np.ndarray, horizon_ms: int) -> Pieces:
    """Pieces of outages that open one window each (the usual case), without sorting: [a, min(e, w))
    with both active, then [min(e, w), max(e, w)) with the outage or the window alone."""
    n = len(trial)
    window = table.window_source[source, 0]
    close = np.minimum(start_ms + table.window_ms[source, 0], horizon_ms)
    middle = np.minimum(end_ms, close)
    outlasts = end_ms > close  # the outage outlasts its window
    second = np.maximum(end_ms, close) > middle  # a second piece at all
    keep = np.stack([np.ones(n, bool), second], axis=1).ravel()
    return Pieces(
        trial=np.repeat(trial, 2)[keep],
        start_ms=np.stack([start_ms, middle], axis=1).ravel()[keep],
        length_ms=np.stack([middle - start_ms, np.maximum(end_ms, close) - middle], axis=1).ravel()[keep],
        first=np.stack([np.ones(n, bool), np.zeros(n, bool)], axis=1).ravel()[keep],
        single=np.stack([np.full(n, -1), np.where(outlasts, source, window)], axis=1).ravel()[keep],
        row=np.stack([table.with_source[source, 1], np.where(outlasts, source, table.without_source[source, 1])],
                     axis=1).ravel()[keep],
        pair_source=np.stack([source, window], axis=1).ravel(),
        pair_piece=np.repeat(np.cumsum(keep)[0::2] - 1, 2),
    )


def _pieces(table: WindowTable, m: int, trial: np.ndarray, source: np.ndarray, start_ms: np.ndarray,
            end_ms: np.ndarray, horizon_ms: int) -> Pieces:
    """Pieces of outages whose sources all open `m` windows."""
    if m == 1:
        return _one_window(table, trial, source, start_ms, end_ms, horizon_ms)
    a, e = start_ms[:, None], end_ms[:, None]
    window_source = table.window_source[source, :m]
    close = np.minimum(a + table.window_ms[source, :m], horizon_ms)  # (n, m), longest first
    points = np.sort(np.concatenate([a, e, close], axis=1), axis=1)  # (n, m + 2)
    begin, length = points[:, :-1], np.diff(points, axis=1)  # (n, m + 1) pieces
    on = begin < e  # the outage itself is still active
    opened = (close[:, None, :] > begin[:, :, None]).sum(axis=2)  # windows still open: the longest q
    at = source[:, None]
    row = np.where(on, table.with_source[at, opened], table.without_source[at, opened])
    active = on.astype(np.int64) + opened
    keep = length > 0
    first = keep & (np.cumsum(keep, axis=1) == 1)
    single = np.where(active == 1, np.where(on, source[:, None], window_source[:, :1]), -1)
    # pairs: the outage's source while on, and window i while i < opened
    members = np.concatenate([source[:, None], window_source], axis=1)  # (n, m + 1)
    live = np.concatenate([on[:, :, None], np.arange(m)[None, None, :] < opened[:, :, None]], axis=2)
    live &= (keep & (active >= 2))[:, :, None]
    piece_no = np.cumsum(keep.ravel()) - 1
    outage, piece, slot = np.nonzero(live)
    return Pieces(
        trial=np.repeat(trial, m + 1)[keep.ravel()],
        start_ms=begin[keep],
        length_ms=length[keep],
        first=first[keep],
        single=single[keep],
        row=row[keep],
        pair_source=members[outage, slot],
        pair_piece=piece_no[outage * (m + 1) + piece],
    )
