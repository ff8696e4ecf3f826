"""The built-in demo: acme-shop on AWS us-east-1, and the story its analysis tells."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from aftershock.analysis.structure import (
    BlastRadius,
    Criticality,
    all_single_points_of_failure,
    blast_radius,
    criticality,
    dependency_path,
)
from aftershock.model.compile import CompiledGraph

PROVIDER_KINDS = {"provider_service", "region", "zone", "provider"}
TRIGGER = "ddb-dns"  # DynamoDB's regional DNS record, emptied by a race on 2025-10-19 23:48 PDT
TARGET = "checkout"
INCIDENT_HOURS = 15.0  # us-east-1 impaired 23:48 to about 14:20 PDT (AWS post-event summary)


def demo_model_path() -> Path:
    """Path of the demo's root model file (it includes vendors.yaml and aws-us-east-1.yaml)."""
    return Path(str(resources.files(__package__) / "acme-shop.yaml"))


@dataclass(frozen=True)
class DemoStory:
    """What `aftershock demo` tells: the hidden SPOF of checkout, its blast radius and its cost."""

    model: str
    components: int
    inherited: list[str]
    target: str
    target_revenue_per_hour: float
    spofs: list[str]
    hidden_spofs: list[str]
    trigger: str
    trigger_record: str
    chain: list[str]
    blast: BlastRadius
    survivors: list[str]
    ranking: list[Criticality]

    @property
    def incident_cost(self) -> float:
        """Revenue at risk over the 15 hours us-east-1 was impaired, if nothing else had helped."""
        return self.blast.revenue_per_hour_at_risk * INCIDENT_HOURS

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "model": self.model,
            "components": self.components,
            "target": self.target,
            "spofs": self.spofs,
            "hidden_spofs": self.hidden_spofs,
            "trigger": self.trigger,
            "trigger_record": self.trigger_record,
            "chain": self.chain,
            "blast": self.blast.to_dict(),
            "survivors": self.survivors,
            "incident_cost_15h": self.incident_cost,
            "top_blast_radius": [
                {"component": c.component, "revenue_per_hour_at_risk": c.revenue_per_hour_at_risk}
                for c in self.ranking
            ],
        }


def is_inherited(graph: CompiledGraph, i: int) -> bool:
    """A provider's component: a provider service/region/zone, or a DNS record only providers use."""
    if graph.kinds[i] in PROVIDER_KINDS:
        return True
    if graph.kinds[i] == "dns_record":
        users = graph.dependents.row(i)
        return bool(len(users)) and all(graph.kinds[u] in PROVIDER_KINDS for u in users)
    return False


def demo_story(graph: CompiledGraph, target: str = TARGET, trigger: str = TRIGGER) -> DemoStory:
    """Analyse the demo model into the story it tells a newcomer."""
    inherited = [n for i, n in enumerate(graph.names) if is_inherited(graph, i)]
    spofs = all_single_points_of_failure(graph, [target])[target]
    blast = blast_radius(graph, [trigger])
    down = set(blast.down) | set(blast.degraded)
    survivors = [t for t in graph.default_targets if t not in down]
    return DemoStory(
        model=graph.model.name,
        components=graph.n,
        inherited=inherited,
        target=target,
        target_revenue_per_hour=float(graph.revenue_per_hour[graph.index[target]]),
        spofs=spofs,
        hidden_spofs=[s for s in spofs if s in set(inherited)],
        trigger=trigger,
        trigger_record=graph.components[graph.index[trigger]].record or trigger,
        chain=dependency_path(graph, target, trigger),
        blast=blast,
        survivors=survivors,
        ranking=criticality(graph, top=5),
    )
