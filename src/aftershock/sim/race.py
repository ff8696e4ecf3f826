"""The trigger of the AWS us-east-1 2025-10 outage: a race in DynamoDB's DNS automation.

A discrete-event model (AWS post-event summary, aws.amazon.com/message/101925/):

- a **Planner** publishes numbered plans (generations) at random intervals;
- N **Enactors** each loop: pick the newest plan, check once that it is newer than the plan in the
  record (the freshness check), spend an apply delay writing it (sometimes a long stall), write the
  record, then run **clean-up**, which deletes every plan more than `cleanup_keep` generations older
  than the one just applied;
- if clean-up deletes the plan the record currently points at, the record loses every address: the
  record is **empty** and the plan state inconsistent, so no Enactor applies later plans (stuck until
  operators repair it; the run stops there).

The race needs a stale write (a slow Enactor writing an old plan over a newer one) landing between
another Enactor's write and its clean-up. Guards (AWS's stated fixes) change one step each:

- `cas`: compare-and-set on the generation at write time (a stale write is abandoned);
- `keep-active`: clean-up never deletes the plan the record points at;
- `no-empty`: the record store refuses to publish an empty record (the old addresses stay).

The kernel is a plain heap of timed callbacks (a few dozen lines, no dependency): every Enactor is a
chain of events, which is all this model needs.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Literal

Guard = Literal["none", "cas", "keep-active", "no-empty"]
GUARDS: tuple[Guard, ...] = ("none", "cas", "keep-active", "no-empty")


@dataclass(frozen=True)
class RaceParameters:
    """Delay distributions and sizes of the automation (see the incident catalog for the rationale).

    Apply delays are lognormal (median, sigma); with `stall_probability` an apply also stalls for an
    exponential time of mean `stall_mean_s` (an Enactor retrying endpoint by endpoint).
    """

    enactors: int = 3
    plan_interval_s: float = 2.0
    apply_median_s: float = 1.5
    apply_sigma: float = 0.5
    stall_probability: float = 0.0005
    stall_mean_s: float = 300.0
    cleanup_keep: int = 50
    cleanup_median_s: float = 1.0
    cleanup_sigma: float = 0.5
    poll_interval_s: float = 0.5
    horizon_s: float = 3600.0

    def __post_init__(self) -> None:
        if self.enactors < 1:
            raise ValueError("enactors must be at least 1")
        if self.cleanup_keep < 0:
            raise ValueError("cleanup_keep must be 0 or more")
        for name in ("plan_interval_s", "apply_median_s", "cleanup_median_s", "poll_interval_s",
                     "horizon_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if not 0.0 <= self.stall_probability <= 1.0:
            raise ValueError("stall_probability must be between 0 and 1")


@dataclass(frozen=True)
class TraceEvent:
    """One step of a run, for explaining how the record emptied."""

    time_s: float
    enactor: int | None
    what: str
    generation: int


@dataclass
class RaceRun:
    """Outcome of one seed: when (if ever) the record went empty, and what led there."""

    seed: int
    guard: Guard
    empty_at_s: float | None = None
    plans: int = 0
    writes: int = 0
    stale_writes: int = 0
    cleanable_stale_writes: int = 0
    abandoned_writes: int = 0
    refused_empty: int = 0
    trace: list[TraceEvent] = field(default_factory=list)

    @property
    def emptied(self) -> bool:
        """Whether the race fired in this run."""
        return self.empty_at_s is not None


class _Record:
    """The regional endpoint's DNS record: which plan it points at, and whether it lost its addresses."""

    def __init__(self) -> None:
        self.generation = 0
        self.empty = False


class RaceSimulation:
    """One run of the Planner and Enactors under one guard and one seed."""

    def __init__(self, params: RaceParameters, guard: Guard, seed: int, trace: bool = False) -> None:
        if guard not in GUARDS:
            raise ValueError(f"unknown guard {guard!r}; choose one of {', '.join(GUARDS)}")
        self.params = params
        self.guard = guard
        self.rng = random.Random(seed)
        self.run = RaceRun(seed=seed, guard=guard)
        self.record = _Record()
        self.latest_plan = 0
        self.deleted_below = 0  # plans with a generation below this have been cleaned up
        self._trace = trace
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        self.now = 0.0

    # -- kernel -------------------------------------------------------------------------------
    def _at(self, delay_s: float, action: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (self.now + delay_s, self._seq, action))

    def _log(self, enactor: int | None, what: str, generation: int) -> None:
        if self._trace:
            self.run.trace.append(TraceEvent(self.now, enactor, what, generation))

    def simulate(self) -> RaceRun:
        """Run until the horizon or until the record is empty (then the automation is stuck)."""
        self._at(0.0, self._publish_plan)
        for e in range(self.params.enactors):
            self._at(self.rng.uniform(0, self.params.poll_interval_s), lambda e=e: self._pick(e))
        while self._queue and not self.record.empty:
            time_s, _, action = heapq.heappop(self._queue)
            if time_s > self.params.horizon_s:
                break
            self.now = time_s
            action()
        return self.run

    # -- Planner ------------------------------------------------------------------------------
    def _publish_plan(self) -> None:
        self.latest_plan += 1
        self.run.plans += 1
        self._at(self.rng.expovariate(1.0 / self.params.plan_interval_s), self._publish_plan)

    # -- Enactor ------------------------------------------------------------------------------
    def _pick(self, enactor: int) -> None:
        """Freshness check, made once at the start: apply the newest plan if it beats the record."""
        plan = self.latest_plan
        if plan <= self.record.generation:
            self._at(self.params.poll_interval_s, lambda: self._pick(enactor))
            return
        p = self.params
        delay = self.rng.lognormvariate(math.log(p.apply_median_s), p.apply_sigma)
        if self.rng.random() < p.stall_probability:
            delay += self.rng.expovariate(1.0 / p.stall_mean_s)
            self._log(enactor, "starts a slow apply", plan)
        self._at(delay, lambda: self._write(enactor, plan))

    def _write(self, enactor: int, plan: int) -> None:
        record = self.record
        if self.guard == "cas" and plan <= record.generation:
            self.run.abandoned_writes += 1
            self._log(enactor, "abandons a stale write (compare-and-set)", plan)
            self._at(0.0, lambda: self._pick(enactor))
            return
        if plan < record.generation:
            self.run.stale_writes += 1
            if plan < record.generation - self.params.cleanup_keep:
                self.run.cleanable_stale_writes += 1
            self._log(enactor, f"writes a stale plan over generation {record.generation}", plan)
        else:
            self._log(enactor, "writes the record", plan)
        record.generation = plan
        self.run.writes += 1
        p = self.params
        self._at(self.rng.lognormvariate(math.log(p.cleanup_median_s), p.cleanup_sigma),
                 lambda: self._clean_up(enactor, plan))

    def _clean_up(self, enactor: int, applied: int) -> None:
        """Delete plans far older than the one this Enactor applied, perhaps the record's own."""
        threshold = applied - self.params.cleanup_keep
        if threshold > self.deleted_below:
            self.deleted_below = threshold
            self._log(enactor, f"cleans up plans older than {threshold}", applied)
        record = self.record
        if record.generation < threshold and not record.empty:
            if self.guard == "keep-active":
                self._log(enactor, "keeps the active plan (keep-active)", record.generation)
            elif self.guard == "no-empty":
                self.run.refused_empty += 1
                self._log(enactor, "refuses to publish an empty record (no-empty)", record.generation)
            else:
                record.empty = True
                self.run.empty_at_s = self.now
                self._log(enactor, "deletes the active plan: the record is EMPTY", record.generation)
                return
        self._at(0.0, lambda: self._pick(enactor))


def simulate_race(params: RaceParameters, guard: Guard, seed: int, trace: bool = False) -> RaceRun:
    """One run of the automation; `trace` keeps the events that explain the outcome."""
    return RaceSimulation(params, guard, seed, trace).simulate()


@dataclass
class RaceEstimate:
    """How often the record went empty over many seeds, under one guard."""

    guard: Guard
    params: RaceParameters
    seeds: int
    empties: int
    stale_writes: int
    cleanable_stale_writes: int
    mean_time_to_empty_s: float | None
    first_empty_seed: int | None

    @property
    def probability(self) -> float:
        """Share of runs in which the record went empty within the horizon."""
        return self.empties / self.seeds if self.seeds else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        """95% Wilson score interval of the probability (Wilson, JASA 1927)."""
        return wilson_interval(self.empties, self.seeds)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        low, high = self.interval
        return {
            "guard": self.guard,
            "seeds": self.seeds,
            "empties": self.empties,
            "probability": self.probability,
            "ci95": [low, high],
            "stale_writes": self.stale_writes,
            "cleanable_stale_writes": self.cleanable_stale_writes,
            "mean_time_to_empty_s": self.mean_time_to_empty_s,
            "first_empty_seed": self.first_empty_seed,
            "parameters": asdict(self.params),
        }


def wilson_interval(successes: int, trials: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def estimate_race(params: RaceParameters, guard: Guard, seeds: int, first_seed: int = 0) -> RaceEstimate:
    """Probability of the empty record over `seeds` runs (seeds first_seed, first_seed+1, ...)."""
    empties, stale, cleanable, times, first = 0, 0, 0, [], None
    for seed in range(first_seed, first_seed + seeds):
        run = simulate_race(params, guard, seed)
        stale += run.stale_writes
        cleanable += run.cleanable_stale_writes
        if run.empty_at_s is not None:
            empties += 1
            times.append(run.empty_at_s)
            first = seed if first is None else first
    mean = sum(times) / len(times) if times else None
    return RaceEstimate(guard, params, seeds, empties, stale, cleanable, mean, first)
