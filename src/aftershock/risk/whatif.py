"""Evaluating mitigations against the baseline with common random numbers, ranked by loss removed.

Every variant runs the same chunks with the same seed as the baseline, and a failure source keeps
its random stream across variants (a component renamed by a mitigation keeps its original's), so
the outages that both models share happen at the same times. The loss removed is the mean of the
per-trial differences, and its confidence interval comes from those paired differences: far
tighter than comparing two independent estimates.

Retry budgets, circuit breakers and throttles change nothing the Monte Carlo sees; they are valued
by the simulator on the baseline's top outages (simulated.py) and ranked with the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aftershock.model.compile import CompiledGraph, compile_model
from aftershock.model.load import Model
from aftershock.risk.engine import (
    RiskSettings,
    chunk_trials,
    make_plan,
    resolve_targets,
    risk_result,
    run_plans,
)
from aftershock.risk.mitigations import Mitigation, apply_mitigation
from aftershock.risk.results import RiskResult
from aftershock.risk.simulated import OBSERVE_AFTER_S, SimulatedValue, SimulatorValuation
from aftershock.risk.statistics import Z95, Moments


@dataclass
class MitigationOutcome:
    """What one mitigation does to the expected annual loss."""

    name: str
    description: str | None
    cost_per_year: float | None
    evaluated: bool
    reason: str | None = None  # why it was not evaluated
    expected_loss: float | None = None
    loss_removed: Moments | None = None  # Monte Carlo (paired differences)
    simulated: SimulatedValue | None = None  # or valued by the simulator
    loss_by_target: dict[str, float] = field(default_factory=dict)
    loss_removed_by_target: dict[str, Moments] = field(default_factory=dict)  # Monte Carlo only
    unavailability_by_target: dict[str, float] = field(default_factory=dict)
    changes: list[str] = field(default_factory=list)
    rank: int | None = None
    value_rank: int | None = None

    @property
    def method(self) -> str:
        """How the loss removed was found: monte_carlo or simulator."""
        return "simulator" if self.simulated is not None else "monte_carlo"

    @property
    def removed(self) -> float | None:
        """Expected loss removed over the horizon (None when not evaluated)."""
        if self.simulated is not None:
            return self.simulated.removed
        return self.loss_removed.mean if self.loss_removed is not None else None

    @property
    def removed_ci(self) -> tuple[float, float] | None:
        """95% interval of the loss removed (None for the simulator: it is deterministic)."""
        return self.loss_removed.mean_ci(Z95) if self.loss_removed is not None else None

    @property
    def removed_per_cost(self) -> float | None:
        """Loss removed per unit of cost (None without a positive cost)."""
        if self.removed is None or not self.cost_per_year:
            return None
        return self.removed / self.cost_per_year

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "changes": self.changes,
            "cost_per_year": self.cost_per_year,
            "evaluated": self.evaluated,
            "rank": self.rank,
            "value_rank": self.value_rank,
        }
        if not self.evaluated:
            out["reason"] = self.reason
            return out
        removed = self.removed
        assert removed is not None
        ci = self.removed_ci
        out.update({
            "method": self.method,
            "expected_loss": self.expected_loss,
            "loss_removed": removed,
            "loss_removed_ci95": list(ci) if ci is not None else None,
            "loss_removed_stderr": self.loss_removed.stderr if self.loss_removed is not None else None,
            "removed_per_cost": self.removed_per_cost,
            "net_benefit": removed - self.cost_per_year if self.cost_per_year is not None else None,
            "loss_by_target": self.loss_by_target,
            "loss_removed_by_target": self._removed_by_target(),
            "unavailability_by_target": self.unavailability_by_target,
        })
        if self.simulated is not None:
            out["simulation"] = self.simulated.to_dict()
        return out

    def _removed_by_target(self) -> dict[str, dict[str, Any]]:
        """Loss removed per target, with its 95% interval (none for the deterministic simulator)."""
        if self.simulated is not None:
            return {t: {"mean": v, "ci95": None}
                    for t, v in self.simulated.removed_by_target(list(self.loss_by_target)).items()}
        return {t: {"mean": m.mean, "ci95": list(m.mean_ci(Z95))} for t, m in self.loss_removed_by_target.items()}


@dataclass
class WhatIfResult:
    """The baseline and every mitigation, ranked by loss removed and by loss removed per cost."""

    baseline: RiskResult
    mitigations: list[MitigationOutcome]

    @property
    def ranked(self) -> list[MitigationOutcome]:
        """Evaluated mitigations, most loss removed first, then those not evaluated."""
        done = sorted((m for m in self.mitigations if m.evaluated), key=lambda m: m.rank or 0)
        return done + [m for m in self.mitigations if not m.evaluated]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (see docs/risk.md)."""
        base = self.baseline
        return {
            "model": base.model,
            "trials": base.trials,
            "horizon_hours": base.horizon_hours,
            "seed": base.seed,
            "backend": base.backend,
            "confidence": 0.95,
            "baseline": {
                "expected_loss": base.total_loss.mean,
                "expected_loss_ci95": list(base.total_loss.moments.mean_ci(Z95)),
                "loss_by_target": {n: t.loss.mean for n, t in base.targets.items()},
                "unavailability_by_target": {n: t.unavailability for n, t in base.targets.items()},
                "contributors": [c.to_dict() for c in base.contributors[:10]],
            },
            "mitigations": [m.to_dict() for m in self.ranked],
            "ranking": [m.name for m in self.ranked if m.evaluated],
            "ranking_by_value": [
                m.name for m in sorted(
                    (m for m in self.mitigations if m.value_rank is not None), key=lambda m: m.value_rank or 0
                )
            ],
        }


def evaluate_mitigations(
    model: Model,
    mitigations: list[Mitigation],
    settings: RiskSettings | None = None,
    progress: Callable[[int], None] | None = None,
    observe_after_s: float = OBSERVE_AFTER_S,
) -> WhatIfResult:
    """Run the baseline and every mitigation on the same random numbers, and rank them.

    Retry budgets, circuit breakers and throttles are valued by the simulator on the baseline's top
    outages, each watched `observe_after_s` after its fault ends (simulated.py)."""
    settings = settings or RiskSettings()
    settings.check()
    base_graph = compile_model(model)
    targets = resolve_targets(base_graph, settings.targets)
    plans = [make_plan(base_graph, settings, targets=targets)]
    outcomes: list[MitigationOutcome] = []
    evaluated: list[tuple[MitigationOutcome, int]] = []
    timed: list[tuple[MitigationOutcome, CompiledGraph, dict[str, float]]] = []
    for m in mitigations:
        outcome = MitigationOutcome(m.name, m.description, m.cost_per_year, evaluated=False,
                                    changes=[kind for kind, _ in m.changes])
        outcomes.append(outcome)
        variant = apply_mitigation(model, m)
        if m.simulator_only:  # valued by the simulator once the baseline's top outages are known
            timed.append((outcome, compile_model(variant.model), variant.intake_rps))
            continue
        graph = compile_model(variant.model)
        plans.append(make_plan(graph, settings, variant.stream_aliases, targets=targets))
        outcome.evaluated = True
        evaluated.append((outcome, len(plans) - 1))
    merged = run_plans(plans, settings, progress)
    baseline = risk_result(plans[0], merged.summaries[0], settings, chunk_trials(plans, settings))
    horizon_h = settings.horizon_s / 3600
    for outcome, p in evaluated:
        summary = merged.summaries[p]
        outcome.expected_loss = summary.total_loss.mean
        outcome.loss_removed = merged.loss_removed[p]
        outcome.loss_by_target = {t: d.mean for t, d in zip(targets, summary.loss, strict=True)}
        outcome.loss_removed_by_target = dict(zip(targets, merged.loss_removed_by_target[p], strict=True))
        outcome.unavailability_by_target = {
            t: d.mean / horizon_h for t, d in zip(targets, summary.down_hours, strict=True)
        }
    if timed:
        valuation = SimulatorValuation(plans[0], baseline, observe_after_s)
        base_unavailability = {t: baseline.targets[t].unavailability for t in targets}
        for outcome, graph, intake in timed:
            value = valuation.value(graph, intake)
            by_target = value.removed_by_target(targets)
            down_removed = value.down_hours_removed(targets)
            outcome.evaluated = True
            outcome.simulated = value
            outcome.expected_loss = baseline.total_loss.mean - value.removed
            outcome.loss_by_target = {t: baseline.targets[t].loss.mean - by_target[t] for t in targets}
            outcome.unavailability_by_target = {t: base_unavailability[t] - down_removed[t] / horizon_h
                                                for t in targets}
    done = [o for o in outcomes if o.evaluated]
    by_removed = sorted(done, key=lambda o: -(o.removed or 0.0))
    for i, o in enumerate(by_removed, 1):
        o.rank = i
    by_value = sorted((o for o in done if o.removed_per_cost is not None),
                      key=lambda o: -(o.removed_per_cost or 0.0))
    for i, o in enumerate(by_value, 1):
        o.value_rank = i
    return WhatIfResult(baseline, outcomes)
