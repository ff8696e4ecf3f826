"""The result of a risk run: per-target downtime, incidents and loss, contributors, assumptions.

`RiskResult.to_dict()` is the JSON of `aftershock risk --format json` (documented in docs/risk.md;
the HTML report reads it, so keep it stable: add keys, do not rename them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aftershock.risk.statistics import Z95, Distribution, Moments


@dataclass
class Contributor:
    """How much of the expected annual loss one failure source accounts for."""

    name: str
    kind: str  # component, common_cause or failover
    expected_loss: Moments
    share: float  # of the total expected loss
    profile_source: str = ""  # where its failure figures come from (model, or a catalog default)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "kind": self.kind,
            "expected_loss": self.expected_loss.mean,
            "expected_loss_ci95": list(self.expected_loss.mean_ci(Z95)),
            "share": self.share,
            "profile_source": self.profile_source,
        }


@dataclass
class TargetRisk:
    """Downtime, degraded time, incidents and loss of one target over the horizon."""

    name: str
    revenue_per_hour: float
    degraded_loss: float
    horizon_hours: float
    down_hours: Distribution
    degraded_hours: Distribution
    incidents: Distribution
    loss: Distribution
    contributors: list[tuple[str, str, float]] = field(default_factory=list)  # (name, kind, loss)

    @property
    def unavailability(self) -> float:
        """Expected fraction of the horizon the target is down."""
        return self.down_hours.mean / self.horizon_hours

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        lo, hi = self.down_hours.moments.mean_ci(Z95)
        total = self.loss.mean or 1.0
        return {
            "revenue_per_hour": self.revenue_per_hour,
            "degraded_loss": self.degraded_loss,
            "unavailability": self.unavailability,
            "unavailability_ci95": [max(lo, 0.0) / self.horizon_hours, hi / self.horizon_hours],
            "availability": 1 - self.unavailability,
            "downtime_hours": self.down_hours.to_dict(),
            "downtime_exceedance": self.down_hours.exceedance(),
            "degraded_hours": self.degraded_hours.to_dict(),
            "incidents": self.incidents.to_dict(),
            "loss": self.loss.to_dict(),
            "loss_exceedance": self.loss.exceedance(),
            "contributors": [
                {"name": n, "kind": k, "expected_loss": v, "share": v / total}
                for n, k, v in self.contributors
            ],
        }


@dataclass
class RiskResult:
    """A Monte Carlo estimate of outages and losses over a horizon."""

    model: str
    trials: int
    horizon_hours: float
    seed: int
    backend: str
    chunk_trials: int
    targets: dict[str, TargetRisk]
    total_loss: Distribution
    contributors: list[Contributor]
    sources: list[dict[str, Any]]
    notes: list[str]
    segments: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (see docs/risk.md)."""
        return {
            "model": self.model,
            "trials": self.trials,
            "horizon_hours": self.horizon_hours,
            "seed": self.seed,
            "backend": self.backend,
            "chunk_trials": self.chunk_trials,
            "confidence": 0.95,
            "targets": {name: t.to_dict() for name, t in self.targets.items()},
            "total_loss": self.total_loss.to_dict(),
            "loss_exceedance": self.total_loss.exceedance(),
            "loss_histogram": self.total_loss.histogram(),
            "contributors": [c.to_dict() for c in self.contributors],
            "sources": self.sources,
            "notes": self.notes,
            "segments": self.segments,
        }
