"""Valuing what only the time-stepped simulator can judge: retry budgets, circuit breakers, throttles.

The Monte Carlo propagates failures through the model's structure; it knows nothing of load,
retries or queues, so a change to those is worth exactly nothing to it. Such a mitigation is
valued by the simulator (sim/), on the outages that matter:

1. From the baseline Monte Carlo, take the failure sources that contribute most to the expected
   loss, until they cover COVERAGE of it or MAX_SCENARIOS are taken.
2. For each, a representative outage: every component the source fails is `outage` (callers hear
   nothing until their timeout) for the source's mean duration, after LEAD_S of steady state, and
   the run goes on OBSERVE_AFTER_S after the fault ends, so that recovery -- or its absence, when
   retries keep a service overloaded -- is seen.
3. Simulate it on the baseline model and on the mitigated one (same scenario; a throttle's intake
   limit is an operator `throttle` at time 0). Each run's loss is the Monte Carlo's: per target,
   revenue_per_hour x down hours + degraded_loss x revenue_per_hour x degraded hours, from the
   simulator's down/degraded windows.
4. Loss removed over the horizon = sum over sources of (expected outages of the source in the
   horizon: rate x horizon) x (baseline loss - mitigated loss of its representative outage).

Assumptions, stated in every result: one outage of mean duration stands for all of a source's
outages (exact when the loss grows linearly with the duration, as it does without dynamics);
outages of different sources do not overlap (rare, see the Monte Carlo's `segments`); sources
outside the top ones are not valued (their share of the baseline loss is reported); a target still
down when the observation ends is counted until then only (the value is then a lower bound). The
simulator is deterministic, so there is no sampling interval: the uncertainty is in these
assumptions, not in noise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aftershock.model.compile import CompiledGraph
from aftershock.risk.montecarlo import RiskPlan
from aftershock.risk.profiles import SECONDS_PER_YEAR
from aftershock.risk.results import RiskResult
from aftershock.sim import load_scenario_text, simulate

MAX_SCENARIOS = 8
COVERAGE = 0.95  # of the baseline expected loss
LEAD_S = 60.0  # steady state before the fault
OBSERVE_AFTER_S = 3600.0  # watched after the fault ends
MAX_STEP_S = 1.0


@dataclass(frozen=True)
class OutageScenario:
    """A representative outage of one failure source, and how often the source fails."""

    source: str
    kind: str
    components: tuple[str, ...]
    duration_s: float
    outages_per_horizon: float
    share: float  # of the baseline Monte Carlo's expected loss

    def text(self, intake_rps: dict[str, float], step_s: float, observe_after_s: float) -> str:
        """The scenario file."""
        end = LEAD_S + self.duration_s + observe_after_s
        lines = ["version: 1", f"name: representative outage of {self.source}", f"duration: {end:.3f}s",
                 f"step: {step_s:g}s", "faults:"]
        lines += [f"  - {{target: {json.dumps(c)}, kind: outage, at: +{LEAD_S:g}s, for: {self.duration_s:.3f}s}}"
                  for c in self.components]
        if intake_rps:
            lines.append("actions:")
            lines += [f"  - {{target: {json.dumps(c)}, kind: throttle, at: +0s, rps: {r!r}}}"
                      for c, r in intake_rps.items()]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class OutageLoss:
    """What one simulated outage cost: loss, and down and degraded seconds per target."""

    loss: float
    loss_by_target: dict[str, float]
    down_s: dict[str, float]
    degraded_s: dict[str, float]
    recovered: bool  # no target down or degraded when the observation ended


@dataclass
class ScenarioValue:
    """One representative outage, simulated with and without the mitigation."""

    scenario: OutageScenario
    baseline: OutageLoss
    mitigated: OutageLoss

    @property
    def removed(self) -> float:
        """Loss removed over the horizon by the mitigation on this source's outages."""
        return self.scenario.outages_per_horizon * (self.baseline.loss - self.mitigated.loss)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        sc = self.scenario
        return {
            "source": sc.source, "kind": sc.kind, "components": list(sc.components),
            "duration_hours": sc.duration_s / 3600, "outages_per_horizon": sc.outages_per_horizon,
            "baseline_share": sc.share,
            "loss_per_outage": {"baseline": self.baseline.loss, "mitigated": self.mitigated.loss},
            "down_hours_per_outage": {
                "baseline": {t: v / 3600 for t, v in self.baseline.down_s.items()},
                "mitigated": {t: v / 3600 for t, v in self.mitigated.down_s.items()},
            },
            "recovered": {"baseline": self.baseline.recovered, "mitigated": self.mitigated.recovered},
            "loss_removed": self.removed,
        }


@dataclass
class SimulatedValue:
    """A simulator-valued mitigation: loss removed over the horizon, and how it was found."""

    scenarios: list[ScenarioValue]
    coverage: float  # share of the baseline expected loss whose sources were simulated
    notes: list[str] = field(default_factory=list)

    @property
    def removed(self) -> float:
        """Expected loss removed over the horizon."""
        return sum(v.removed for v in self.scenarios)

    def removed_by_target(self, targets: list[str]) -> dict[str, float]:
        """Expected loss removed per target."""
        return {t: sum(v.scenario.outages_per_horizon * (v.baseline.loss_by_target[t] - v.mitigated.loss_by_target[t])
                       for v in self.scenarios) for t in targets}

    def down_hours_removed(self, targets: list[str]) -> dict[str, float]:
        """Expected down hours removed over the horizon, per target."""
        return {t: sum(v.scenario.outages_per_horizon * (v.baseline.down_s[t] - v.mitigated.down_s[t])
                       for v in self.scenarios) / 3600 for t in targets}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"method": "simulator: representative outage per top source, x its rate",
                "coverage_of_baseline_loss": self.coverage,
                "scenarios": [v.to_dict() for v in self.scenarios], "notes": self.notes}


def representative_outages(plan: RiskPlan, baseline: RiskResult, max_scenarios: int = MAX_SCENARIOS,
                           coverage: float = COVERAGE) -> list[OutageScenario]:
    """The top contributing sources of the baseline, each with an outage of its mean duration."""
    by_name = {src.name: src for src in plan.sources[: plan.model_sources]}
    total = baseline.total_loss.mean
    years = plan.horizon_s / SECONDS_PER_YEAR  # as the Monte Carlo's rates are per year
    chosen: list[OutageScenario] = []
    covered = 0.0
    for c in baseline.contributors:
        src = by_name.get(c.name)
        if src is None or c.expected_loss.mean <= 0 or src.profile.always_failed:
            continue  # failover windows are not outages of their own; an always-failed source never ends
        if len(chosen) >= max_scenarios or (total > 0 and covered >= coverage):
            break
        share = c.expected_loss.mean / total if total > 0 else 0.0
        chosen.append(OutageScenario(
            source=src.name, kind=src.kind, components=tuple(plan.graph.names[i] for i in src.components),
            duration_s=src.profile.mean_duration_s, outages_per_horizon=src.profile.rate_per_year * years,
            share=share,
        ))
        covered += share
    return chosen


def step_for(graph: CompiledGraph) -> float:
    """A fixed step fine enough for the model's shortest call timeout (five steps per timeout)."""
    timeouts = [call.timeout for comp in graph.components for call in comp.calls.values()]
    return min(MAX_STEP_S, max(0.05, min(timeouts) / 5)) if timeouts else MAX_STEP_S


def outage_loss(graph: CompiledGraph, scenario: OutageScenario, targets: list[str], revenue_per_hour: list[float],
                degraded_loss: list[float], intake_rps: dict[str, float], step_s: float,
                observe_after_s: float = OBSERVE_AFTER_S) -> OutageLoss:
    """Simulate one representative outage and price it as the Monte Carlo does."""
    sim_scenario = load_scenario_text(scenario.text(intake_rps, step_s, observe_after_s), set(graph.names),
                                      path=f"<outage of {scenario.source}>")
    result = simulate(graph, sim_scenario)
    down = {t: sum(w.duration_s for w in result.windows_of(t, "down")) for t in targets}
    degraded = {t: sum(w.duration_s for w in result.windows_of(t, "degraded")) for t in targets}
    loss = {t: rev / 3600 * (down[t] + share * degraded[t])
            for t, rev, share in zip(targets, revenue_per_hour, degraded_loss, strict=True)}
    still_impaired = any(ws and ws[-1].open for t in targets if (ws := result.windows_of(t)))
    return OutageLoss(sum(loss.values()), loss, down, degraded, not still_impaired)


class SimulatorValuation:
    """Values simulator-only mitigations against one baseline (its simulated outages are kept)."""

    def __init__(self, plan: RiskPlan, baseline: RiskResult, observe_after_s: float = OBSERVE_AFTER_S) -> None:
        self.plan = plan
        self.scenarios = representative_outages(plan, baseline)
        self.coverage = sum(s.share for s in self.scenarios)
        self.observe_after_s = observe_after_s
        self._baseline: dict[tuple[str, float], OutageLoss] = {}  # (source, step): simulated once

    def value(self, graph: CompiledGraph, intake_rps: dict[str, float]) -> SimulatedValue:
        """Loss removed by the mitigated model `graph` (with throttles `intake_rps`)."""
        plan = self.plan
        targets = plan.target_names
        rev, dl = plan.revenue_per_hour.tolist(), plan.degraded_loss.tolist()
        step = min(step_for(plan.graph), step_for(graph))
        values = []
        for sc in self.scenarios:
            key = (sc.source, step)
            if key not in self._baseline:
                self._baseline[key] = outage_loss(plan.graph, sc, targets, rev, dl, {}, step, self.observe_after_s)
            values.append(ScenarioValue(sc, self._baseline[key],
                                        outage_loss(graph, sc, targets, rev, dl, intake_rps, step,
                                                    self.observe_after_s)))
        notes = [f"simulated one outage of mean duration for each of the {len(values)} top sources "
                 f"({100 * self.coverage:.1f}% of the baseline expected loss), {step:g} s steps, watched "
                 f"{self.observe_after_s / 3600:g} h after the fault; no sampling interval (deterministic)"]
        stuck = [v.scenario.source for v in values if not (v.baseline.recovered and v.mitigated.recovered)]
        if stuck:
            notes.append("a target was still down or degraded when the observation ended after an outage of "
                         + ", ".join(stuck) + ": that loss is counted until then only (a lower bound)")
        if not any(c.calls or c.capacity or c.load for c in graph.components):
            notes.append("the model has no load, capacity or calls: the simulator sees its structure only, "
                         "so retries, breakers and throttles change nothing")
        return SimulatedValue(values, self.coverage, notes)
