"""One-call structural overview of a model: counts, cycles, SPOFs and the largest blast radii."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from aftershock.analysis.structure import (
    Criticality,
    all_single_points_of_failure,
    criticality,
    hard_cycles,
)
from aftershock.model.compile import CompiledGraph


@dataclass(frozen=True)
class Analysis:
    """What `aftershock analyze` reports."""

    model: str
    counts: dict[str, object]
    cycles: list[list[str]]
    spofs: dict[str, list[str]]
    top_blast: list[Criticality]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (documented in docs/cli.md)."""
        return {
            "model": self.model,
            "counts": self.counts,
            "cycles": self.cycles,
            "spofs": self.spofs,
            "top_blast_radius": [
                {
                    "component": c.component,
                    "revenue_per_hour_at_risk": c.revenue_per_hour_at_risk,
                    "down": c.down_count,
                    "degraded": c.degraded_count,
                    "targets_down": c.targets_down,
                }
                for c in self.top_blast
            ],
        }


def analyze(graph: CompiledGraph, top: int = 10) -> Analysis:
    """Counts, hard cycles, SPOFs of every target and the `top` components by revenue at risk."""
    counts: dict[str, object] = {
        "components": graph.n,
        "requires_edges": len(graph.requires.indices),
        "uses_edges": len(graph.uses.indices),
        "groups": int((graph.group_k > 0).sum()),
        "can_fail": int(graph.can_fail.sum()),
        "targets": len(graph.default_targets),
        "by_kind": dict(sorted(Counter(graph.kinds).items())),
    }
    return Analysis(
        model=graph.model.name,
        counts=counts,
        cycles=hard_cycles(graph),
        spofs=all_single_points_of_failure(graph),
        top_blast=criticality(graph, top=top),
    )
