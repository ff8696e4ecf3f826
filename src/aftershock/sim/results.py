"""What a simulation returns: windows of down/degraded per component, losses, a summary, series.

`SimResult.to_dict()` is the stable JSON form documented in docs/scenarios.md::

    {"kind": "simulation", "model": ..., "scenario": ..., "start": ISO or null,
     "windows": {"name": [{"state": "down"|"degraded", "start": s, "end": s,
                           "start_time": ISO|null, "end_time": ISO|null, "open": bool}]},
     "loss": {"name": dollars},
     "summary": {...},
     "series": {"t_s": [...], "offered": {"name": [...]}, "goodput": {...}, "queue": {...},
                "success": {...}}}

Times are seconds from the scenario's start; `open` windows were still going when the run ended.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aftershock.analysis.propagation import propagate_degraded
from aftershock.errors import AftershockError
from aftershock.model.compile import CompiledGraph
from aftershock.sim.scenario import Scenario
from aftershock.sim.state import State, Step

OK, DEGRADED, DOWN = 0, 1, 2
STATE_NAMES = {DEGRADED: "degraded", DOWN: "down"}
METRICS = ("offered", "goodput", "queue", "success")
MAX_SERIES_VALUES = 2_000_000  # per metric: points x components kept in memory (float32)


@dataclass(frozen=True)
class Window:
    """A stretch of time in which a component was down or degraded."""

    state: str
    start_s: float
    end_s: float
    open: bool = False

    @property
    def duration_s(self) -> float:
        """Length of the window in seconds."""
        return self.end_s - self.start_s


@dataclass
class SimResult:
    """Outcome of one simulation run (plain data; render it with to_dict or the terminal)."""

    model: str
    scenario: Scenario
    windows: dict[str, list[Window]]
    loss: dict[str, float]
    t_s: np.ndarray
    series: dict[str, dict[str, np.ndarray]]
    final_success: dict[str, float]
    steps_computed: int
    steps_skipped: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> dict[str, Any]:
        """Headline figures of the run."""
        struck = {f.target for f in self.scenario.faults}  # on a tie, the fault's target first
        firsts = [(w[0].start_s, name not in struck, name) for name, w in self.windows.items() if w]
        first = min(firsts)[2] if firsts else None
        down_at_end = sorted(n for n, ws in self.windows.items()
                             if ws and ws[-1].open and ws[-1].state == "down")
        return {
            "duration_s": self.scenario.duration_s,
            "step_s": self.scenario.step_s,
            "components_impaired": len([w for w in self.windows.values() if w]),
            "components_down": len([w for w in self.windows.values()
                                    if any(x.state == "down" for x in w)]),
            "first_failure": first,
            "down_at_end": down_at_end,
            "recovered": not down_at_end,
            "total_loss": round(sum(self.loss.values()), 2),
            "steps_computed": self.steps_computed,
            "steps_skipped": self.steps_skipped,
            **self.extra,
        }

    def windows_of(self, name: str, state: str | None = None) -> list[Window]:
        """Windows of one component (optionally only `down` or `degraded` ones)."""
        return [w for w in self.windows.get(name, []) if state is None or w.state == state]

    def series_of(self, name: str, metric: str) -> np.ndarray:
        """One downsampled series (mean over each point's interval)."""
        return self.series[metric][name]

    def to_dict(self, series_limit: int = 50) -> dict[str, Any]:
        """JSON-ready form; series for the impaired components first, at most `series_limit`."""
        sc = self.scenario
        impaired = [n for n, w in self.windows.items() if w]
        rest = [n for n in self.series["success"] if n not in set(impaired)]
        keep = (impaired + rest)[:series_limit]
        return {
            "kind": "simulation",
            "model": self.model,
            "scenario": sc.name or sc.path,
            "start": sc.start.isoformat() if sc.start else None,
            "windows": {
                name: [{"state": w.state, "start": round(w.start_s, 3), "end": round(w.end_s, 3),
                        "start_time": sc.clock(w.start_s), "end_time": sc.clock(w.end_s),
                        "open": w.open} for w in ws]
                for name, ws in self.windows.items() if ws
            },
            "loss": {n: round(v, 2) for n, v in self.loss.items() if v > 0},
            "summary": self.summary,
            "series": {
                "t_s": [round(float(t), 3) for t in self.t_s],
                **{m: {n: [round(float(v), 6) for v in self.series[m][n]] for n in keep
                       if n in self.series[m]} for m in METRICS},
            },
        }

    def write_series(self, path: str | Path) -> None:
        """Write every recorded series as a long table (csv, or parquet with pyarrow)."""
        path = Path(path)
        names = list(self.series["success"])
        rows_t = np.tile(self.t_s, len(names))
        rows_n = np.repeat(names, len(self.t_s))
        columns = {"t_s": rows_t, "component": rows_n}
        for m in METRICS:
            columns[m] = np.concatenate([self.series[m][n] for n in names]) if names else []
        if path.suffix == ".parquet":
            try:
                import pyarrow as pa
                import pyarrow.parquet as pq
            except ImportError:
                raise AftershockError("writing parquet needs pyarrow", file=str(path),
                                      hint="pip install 'aftershock[parquet]', or write .csv") from None
            pq.write_table(pa.table({k: list(v) if k == "component" else v
                                     for k, v in columns.items()}), path)
        elif path.suffix == ".csv":
            with path.open("w", newline="") as out:
                writer = csv.writer(out)
                writer.writerow(["t_s", "component", *METRICS])
                for r in range(len(rows_t)):
                    writer.writerow([f"{rows_t[r]:g}", rows_n[r],
                                     *(f"{columns[m][r]:.6g}" for m in METRICS)])
        else:
            raise AftershockError(f"unknown series format '{path.suffix}'", file=str(path),
                                  hint="write FILE.csv or FILE.parquet")


class Recorder:
    """Collects state transitions, losses and downsampled series while the engine runs."""

    def __init__(self, graph: CompiledGraph, scenario: Scenario, compiled: bool = False) -> None:
        self.graph = graph
        self.compiled = compiled  # record with sim/kernel_loops.py's loops (same result)
        self.scenario = scenario
        n, steps = graph.n, scenario.steps
        self.codes = np.zeros(n, dtype=np.int8)
        self.transitions: list[tuple[int, np.ndarray, np.ndarray]] = []
        self.revenue_per_s = graph.revenue_per_hour / 3600.0
        self.paying = np.flatnonzero(self.revenue_per_s > 0)
        self.degraded_loss = graph.degraded_loss
        self.loss = np.zeros(n)
        self.down_bits = np.zeros((n, 1), dtype=np.uint64)
        self.soft = np.zeros(n, dtype=bool)
        points = max(2, min(scenario.points, steps, MAX_SERIES_VALUES // max(n, 1)))
        self.per_point = max(1, -(-steps // points))
        self.points = -(-steps // self.per_point)
        self._sums = np.zeros((len(METRICS), self.points, n), dtype=np.float32)
        self.sums = {m: self._sums[k] for k, m in enumerate(METRICS)}  # views
        self.counts = np.zeros(self.points)

    def record(self, st: State, step: Step, repeat: int = 1) -> None:
        """Account for `repeat` identical steps starting at `step`."""
        if self.compiled:
            self._record_compiled(st, step, repeat)
            return
        sc = self.scenario
        down = st.success < sc.down_below
        if (down != (self.codes == DOWN)).any():
            self._propagate(down)
        codes = np.where(down, DOWN, np.where((st.success < sc.degraded_below) | self.soft,
                                              DEGRADED, OK)).astype(np.int8)
        changed = np.flatnonzero(codes != self.codes)
        if changed.size:
            self.transitions.append((step.k, changed, codes[changed]))
            self.codes = codes
        if self.paying.size:
            p = self.paying
            rate = np.maximum(1.0 - st.success[p], self.degraded_loss[p] * (codes[p] == DEGRADED))
            self.loss[p] += self.revenue_per_s[p] * rate * step.dt_s * repeat
        for b, take in self._spans(step.k, repeat):
            for m in METRICS:
                self.sums[m][b] += getattr(st, _FIELD[m]) * take
            self.counts[b] += take

    def _spans(self, k: int, repeat: int) -> Iterator[tuple[int, int]]:
        """The series points that `repeat` steps from step `k` fall in, and how many in each."""
        while repeat > 0:
            b = k // self.per_point
            take = min(repeat, (b + 1) * self.per_point - k)
            yield b, take
            k += take
            repeat -= take

    def _propagate(self, down: np.ndarray) -> None:
        """Components degraded by a hard dependency degraded/down or a soft one down."""
        self.down_bits[:, 0] = down.astype(np.uint64)
        self.soft = propagate_degraded(self.graph, self.down_bits)[:, 0].astype(bool)

    def _record_compiled(self, st: State, step: Step, repeat: int) -> None:
        """`record` with compiled loops: same codes, transitions, losses and sums."""
        from aftershock.sim import kernel_loops as loops

        sc = self.scenario
        if loops._down_changed(st.success, sc.down_below, self.codes):
            self._propagate(st.success < sc.down_below)
        codes = loops._codes(st.success, sc.down_below, sc.degraded_below, self.soft)
        changed = np.flatnonzero(codes != self.codes)
        if changed.size:
            self.transitions.append((step.k, changed, codes[changed]))
            self.codes = codes
        for x, (b, take) in enumerate(self._spans(step.k, repeat)):  # losses once, at x == 0
            loops._tally(self.paying if x == 0 else self.paying[:0], self.revenue_per_s,
                         self.degraded_loss, st.success, self.codes, float(step.dt_s), repeat,
                         self.loss, self._sums, b, take, st.offered, st.goodput, st.queue)
            self.counts[b] += take

    def result(self, model: str, computed: int, skipped: int, st: State) -> SimResult:
        """Assemble windows, losses and series."""
        sc, names = self.scenario, self.graph.names
        end_k = sc.steps
        open_since: dict[int, tuple[int, int]] = {}
        windows: dict[str, list[Window]] = {name: [] for name in names}
        for k, idx, codes in self.transitions:
            for i, code in zip(idx.tolist(), codes.tolist(), strict=True):
                if i in open_since:
                    start, state = open_since.pop(i)
                    windows[names[i]].append(Window(STATE_NAMES[state], start * sc.step_s,
                                                    k * sc.step_s))
                if code != OK:
                    open_since[i] = (k, code)
        for i, (start, state) in open_since.items():
            windows[names[i]].append(Window(STATE_NAMES[state], start * sc.step_s,
                                            min(end_k * sc.step_s, sc.duration_s), open=True))
        counts = np.maximum(self.counts, 1)[:, None]
        keep = self._series_components()
        series = {m: {names[i]: (self.sums[m][:, i] / counts[:, 0]).astype(float) for i in keep}
                  for m in METRICS}
        t_s = np.arange(self.points) * self.per_point * sc.step_s
        return SimResult(
            model=model,
            scenario=sc,
            windows={n: w for n, w in windows.items()},
            loss={names[i]: float(self.loss[i]) for i in self.paying},
            t_s=t_s,
            series=series,
            final_success={names[i]: float(st.success[i]) for i in range(self.graph.n)},
            steps_computed=computed,
            steps_skipped=skipped,
        )

    def _series_components(self) -> np.ndarray:
        """Components whose series moved at all (a flat line of 1.0 says nothing)."""
        moved = np.zeros(self.graph.n, dtype=bool)
        for m in METRICS:
            s = self.sums[m] / np.maximum(self.counts, 1)[:, None]
            moved |= (s.max(axis=0) - s.min(axis=0)) > 1e-9
            moved |= (m in ("offered", "queue")) & (s.max(axis=0) > 0)
        return np.flatnonzero(moved)


_FIELD = {"offered": "offered", "goodput": "goodput", "queue": "queue", "success": "success"}
