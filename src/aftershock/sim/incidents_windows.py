"""Recorded windows beside simulated ones: which simulated window answers which recorded one, and
how many minutes apart their ends are."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aftershock.sim.incidents import RecordedWindow

Window = tuple[float, float | None]  # (start_s, end_s); end None = still impaired when the run ended


@dataclass(frozen=True)
class WindowMatch:
    """One recorded window and the simulated window matched to it (or None)."""

    service: str
    recorded: RecordedWindow | None
    simulated: Window | None
    tolerance_s: float

    @property
    def start_error_s(self) -> float | None:
        """Simulated start minus recorded start (negative: the simulation starts early)."""
        if self.recorded is None or self.simulated is None:
            return None
        return self.simulated[0] - self.recorded.start_s

    @property
    def end_error_s(self) -> float | None:
        """Simulated end minus recorded end; None when either is missing or never ended."""
        if self.recorded is None or self.simulated is None or self.simulated[1] is None:
            return None
        return self.simulated[1] - self.recorded.end_s

    @property
    def within_tolerance(self) -> bool:
        """Both ends within the tolerance (a missing or unfinished window is not)."""
        s, e = self.start_error_s, self.end_error_s
        return s is not None and e is not None and abs(s) <= self.tolerance_s and abs(e) <= self.tolerance_s

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (times in seconds from the incident start, errors in minutes)."""
        return {
            "service": self.service,
            "recorded": None if self.recorded is None else {
                "start_s": self.recorded.start_s, "end_s": self.recorded.end_s,
                "source": self.recorded.source, "note": self.recorded.note},
            "simulated": None if self.simulated is None else {
                "start_s": self.simulated[0], "end_s": self.simulated[1]},
            "start_error_min": None if self.start_error_s is None else self.start_error_s / 60,
            "end_error_min": None if self.end_error_s is None else self.end_error_s / 60,
            "within_tolerance": self.within_tolerance,
        }


def merge_windows(windows: Iterable[Window], gap_s: float) -> list[Window]:
    """Join windows separated by less than `gap_s` (flapping reads as one impairment)."""
    merged: list[Window] = []
    for start, end in sorted(windows, key=lambda w: w[0]):
        if merged:
            last_start, last_end = merged[-1]
            if last_end is None:
                continue
            if start - last_end < gap_s:
                merged[-1] = (last_start, None if end is None else max(last_end, end))
                continue
        merged.append((start, end))
    return merged


def _overlap(rec: RecordedWindow, sim: Window, horizon_s: float) -> float:
    end = horizon_s if sim[1] is None else sim[1]
    return max(0.0, min(rec.end_s, end) - max(rec.start_s, sim[0]))


def _distance(rec: RecordedWindow, sim: Window, horizon_s: float) -> float:
    end = horizon_s if sim[1] is None else sim[1]
    return abs(sim[0] - rec.start_s) + abs(end - rec.end_s)


def match_windows(
    recorded: Mapping[str, Iterable[RecordedWindow]],
    simulated: Mapping[str, Iterable[Window]],
    *,
    tolerance_s: float = 900.0,
    merge_gap_s: float = 600.0,
    horizon_s: float = float("inf"),
) -> list[WindowMatch]:
    """Pair every recorded window with one simulated window of the same service.

    Recorded windows are taken in order; each takes the unused simulated window it overlaps most
    (or, overlapping none, the nearest one). Simulated windows left over are listed unmatched.
    """
    matches: list[WindowMatch] = []
    for service in dict.fromkeys([*recorded, *simulated]):
        sims = merge_windows(simulated.get(service, ()), merge_gap_s)
        used: set[int] = set()
        for rec in sorted(recorded.get(service, ()), key=lambda r: r.start_s):
            free = [i for i in range(len(sims)) if i not in used]
            if not free:
                matches.append(WindowMatch(service, rec, None, tolerance_s))
                continue
            best = max(free, key=lambda i: (_overlap(rec, sims[i], horizon_s),
                                             -_distance(rec, sims[i], horizon_s)))
            used.add(best)
            matches.append(WindowMatch(service, rec, sims[best], tolerance_s))
        matches += [WindowMatch(service, None, sims[i], tolerance_s)
                    for i in range(len(sims)) if i not in used]
    return matches
