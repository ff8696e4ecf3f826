"""Daily load profiles: organic load that follows the clock (model key `load.daily`).

A profile gives factors at local clock times in a time zone (docs/model.md); the load is `rps`
times the factor, linear between clock times (or held until the next with `shape: steps`), the
same every day. It is laid out once on the run's own clock: every clock time of every local day
the run touches becomes an instant in seconds from the scenario's `start`, so daylight-saving
changes fall where they fall (a day of 23 or 25 hours; a clock time the change skips is read with
the offset before it). The Timeline (sim/actions.py) recomputes the organic load at the steps
`change_steps` names: at every clock time, and at every step of a linear ramp. Between them the
load is constant, so skipping quiet stretches stays exact. A list of profiles (users in several
time zones) is laid out as one: the sum of each profile's factor times its share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import numpy as np

from aftershock.model.dynamics import Daily, time_zone


@dataclass(frozen=True)
class DailyProfile:
    """A `load.daily` block laid out on a run's clock: factors at instants (seconds from start)."""

    times_s: np.ndarray  # increasing; from before the run's start to after its end
    factors: np.ndarray
    linear: bool

    @classmethod
    def of(cls, profiles: tuple[Daily, ...], start: datetime, duration_s: float) -> DailyProfile:
        """Lay `profiles` out from a day before `start` to a day after `start + duration_s`.

        Several profiles (users in several time zones) are summed, each times its `share`: all
        have one shape, so their sum is exact at the union of their clock times.
        """
        parts = [cls._one(d, start, duration_s) for d in profiles]
        if len(parts) == 1 and profiles[0].share == 1.0:
            return parts[0]  # nothing to add or scale
        times = np.unique(np.concatenate([p.times_s for p in parts]))
        factors = sum(d.share * p.at(times) for d, p in zip(profiles, parts, strict=True))
        return cls(times, np.asarray(factors, dtype=float), parts[0].linear)

    @classmethod
    def _one(cls, daily: Daily, start: datetime, duration_s: float) -> DailyProfile:
        zone = time_zone(daily.timezone)  # `start` names an instant (it has a UTC offset)
        origin = start.astimezone(UTC)
        first = start.astimezone(zone).date() - timedelta(days=1)
        last = (start + timedelta(seconds=duration_s)).astimezone(zone).date() + timedelta(days=1)
        points = daily.points()
        rows: list[tuple[float, float]] = []
        day = first
        while day <= last:
            for minute, factor in points:
                local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)
                rows.append(((local.astimezone(UTC) - origin).total_seconds(), factor))
            day += timedelta(days=1)
        rows.sort(key=lambda row: row[0])
        return cls(np.array([t for t, _ in rows]), np.array([f for _, f in rows]),
                   daily.shape == "linear")

    def at(self, t_s: Any) -> Any:
        """The factor at `t_s` seconds from the start (a number, or an array of them)."""
        if self.linear:
            return np.interp(t_s, self.times_s, self.factors)
        at = np.searchsorted(self.times_s, t_s, side="right") - 1
        return self.factors[np.maximum(at, 0)]

    def factor(self, t_s: float) -> float:
        """The factor at `t_s` seconds from the start."""
        return float(self.at(t_s))

    def change_steps(self, step_s: float, steps: int) -> np.ndarray:
        """Steps (0 .. steps-1) at whose start the factor differs from the step before."""
        # Inside a linear ramp every step moves; elsewhere only clock times can change anything.
        values = self.at(np.arange(steps) * step_s)
        moved = np.flatnonzero(np.abs(np.diff(values)) > 0) + 1
        return moved.astype(np.int64)
