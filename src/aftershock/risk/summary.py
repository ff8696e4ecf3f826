"""What one chunk of trials leaves behind: mergeable summaries of its outcomes (no per-trial arrays)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from aftershock.risk.montecarlo import RiskPlan, TrialOutcomes, simulate_chunk
from aftershock.risk.statistics import Distribution, Moments

CHUNKS_PER_BATCH = 8  # chunks run and merged together in one task, at least (fewer, larger transfers)
MAX_BATCHES = 64  # a long run is cut into at most this many tasks: each big enough to dwarf its overhead


@dataclass
class ChunkSummary:
    """Summaries of the trials of one or more chunks of one plan."""

    trials: int
    down_hours: list[Distribution]  # one per target
    degraded_hours: list[Distribution]
    incidents: list[Distribution]
    loss: list[Distribution]
    total_loss: Distribution
    contributions: list[Moments]  # one per failure source
    contributions_by_target: np.ndarray  # (targets, sources), summed over trials
    segments: int
    multi_segments: int

    @classmethod
    def of(cls, out: TrialOutcomes) -> ChunkSummary:
        """Summarise one chunk's outcomes."""
        n_t = out.loss.shape[1]
        return cls(
            trials=out.loss.shape[0],
            down_hours=[Distribution.of(out.down_hours[:, j]) for j in range(n_t)],
            degraded_hours=[Distribution.of(out.degraded_hours[:, j]) for j in range(n_t)],
            incidents=[Distribution.of(out.incidents[:, j], integer=True) for j in range(n_t)],
            loss=[Distribution.of(out.loss[:, j]) for j in range(n_t)],
            total_loss=Distribution.of(out.total_loss),
            contributions=[Moments.of(out.contributions[:, s]) for s in range(out.contributions.shape[1])],
            contributions_by_target=out.contributions_by_target,
            segments=out.segments,
            multi_segments=out.multi_segments,
        )

    def merge(self, other: ChunkSummary) -> ChunkSummary:
        """Summary of both (merge in chunk order for results independent of the workers)."""

        def pairwise(a: list, b: list) -> list:
            return [x.merge(y) for x, y in zip(a, b, strict=True)]

        return ChunkSummary(
            trials=self.trials + other.trials,
            down_hours=pairwise(self.down_hours, other.down_hours),
            degraded_hours=pairwise(self.degraded_hours, other.degraded_hours),
            incidents=pairwise(self.incidents, other.incidents),
            loss=pairwise(self.loss, other.loss),
            total_loss=self.total_loss.merge(other.total_loss),
            contributions=pairwise(self.contributions, other.contributions),
            contributions_by_target=self.contributions_by_target + other.contributions_by_target,
            segments=self.segments + other.segments,
            multi_segments=self.multi_segments + other.multi_segments,
        )


@dataclass
class ChunkResult:
    """One chunk evaluated under several plans with the same random numbers.

    `summaries[0]` is the baseline; `loss_removed[i]` holds the per-trial paired differences
    baseline - plan i of the total loss (common random numbers make them much tighter than the
    difference of two independent estimates).
    """

    chunk: int
    summaries: list[ChunkSummary]
    loss_removed: list[Moments]
    loss_removed_by_target: list[list[Moments]]  # per plan, per target

    def merge(self, other: ChunkResult) -> ChunkResult:
        """Both chunks' results."""
        return ChunkResult(
            min(self.chunk, other.chunk),
            [a.merge(b) for a, b in zip(self.summaries, other.summaries, strict=True)],
            [a.merge(b) for a, b in zip(self.loss_removed, other.loss_removed, strict=True)],
            [[a.merge(b) for a, b in zip(x, y, strict=True)]
             for x, y in zip(self.loss_removed_by_target, other.loss_removed_by_target, strict=True)],
        )


def run_chunk(plans: list[RiskPlan], seed: int, chunk: int, trials: int) -> ChunkResult:
    """Simulate one chunk under every plan (same seed and chunk: same outages where sources agree)."""
    outcomes = [simulate_chunk(plan, seed, chunk, trials) for plan in plans]
    base = outcomes[0]
    return ChunkResult(
        chunk,
        [ChunkSummary.of(o) for o in outcomes],
        [Moments.of(base.total_loss - o.total_loss) for o in outcomes],
        [[Moments.of(base.loss[:, j] - o.loss[:, j]) for j in range(o.loss.shape[1])] for o in outcomes],
    )


def run_batch(plans: list[RiskPlan], seed: int, first_chunk: int, sizes: list[int],
              progress: Callable[[int], None] | None = None) -> ChunkResult:
    """Run consecutive chunks and merge them in order (one task of a distributed run)."""
    merged: ChunkResult | None = None
    for offset, trials in enumerate(sizes):
        part = run_chunk(plans, seed, first_chunk + offset, trials)
        merged = part if merged is None else merged.merge(part)
        if progress is not None:
            progress(trials)
    assert merged is not None
    return merged


def batches(sizes: list[int], chunks_per_batch: int | None = None) -> list[tuple[int, list[int]]]:
    """(first chunk, chunk sizes) of each batch: fixed by the chunking, never by the workers, so
    that sums merge in the same order (bit-identical results) on every backend.

    By default a batch holds CHUNKS_PER_BATCH chunks, more in long runs so that there are at most
    MAX_BATCHES of them (1e7 trials: 39 chunks, 160,000 trials a task)."""
    if chunks_per_batch is None:
        chunks_per_batch = max(CHUNKS_PER_BATCH, -(-len(sizes) // MAX_BATCHES))
    return [(i, sizes[i : i + chunks_per_batch]) for i in range(0, len(sizes), chunks_per_batch)]


def chunk_sizes(trials: int, chunk_trials: int) -> list[int]:
    """Trials in each chunk: fixed by the total and the chunk size, never by the workers."""
    full, rest = divmod(trials, chunk_trials)
    return [chunk_trials] * full + ([rest] if rest else [])
