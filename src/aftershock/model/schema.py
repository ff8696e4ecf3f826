"""Model format v1: the types a model file is validated against (also the source of its JSON Schema)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from aftershock.model.durations import DURATION_PATTERN, parse_duration
from aftershock.model.dynamics import (
    Backlog,
    Calls,
    Capacity,
    Connections,
    HealthCheck,
    Lease,
    Load,
)

KINDS = (
    "service",
    "datastore",
    "cache",
    "queue",
    "dns_record",
    "endpoint",
    "load_balancer",
    "cdn",
    "function",
    "job",
    "region",
    "zone",
    "provider",
    "provider_service",
    "saas",
    "network",
    "group",
    "team",
    "external",
)

# Durations are written "90s", "15m", "2h", "1d"; the validated value is seconds.
Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    Field(json_schema_extra={"type": "string", "pattern": DURATION_PATTERN}),
]
Name = Annotated[str, Field(min_length=1)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class Strict(BaseModel):
    """Base of every block: unknown keys are errors (with a did-you-mean), fields are typed."""

    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)


class Impact(Strict):
    """What the component is worth to the business."""

    revenue_per_hour: Annotated[float, Field(ge=0)] = 0.0
    degraded_loss: Probability = 0.0
    cost_per_hour: Annotated[float, Field(ge=0)] = 0.0
    users: Annotated[int, Field(ge=0)] | None = None
    sla: Probability | None = None

    @property
    def loss_per_hour_down(self) -> float:
        """Revenue lost plus cost incurred per hour the component is down."""
        return self.revenue_per_hour + self.cost_per_hour


class LognormalDuration(Strict):
    """Outage duration given by its median and 90th percentile (a lognormal)."""

    median: Duration
    p90: Duration

    @model_validator(mode="after")
    def _p90_above_median(self) -> LognormalDuration:
        if self.p90 < self.median:
            raise ValueError("p90 must not be shorter than the median")
        return self


class Failure(Strict):
    """How often the component fails by itself and for how long."""

    rate_per_year: Annotated[float, Field(ge=0)]
    mean_duration: Duration | None = None
    duration: LognormalDuration | None = None

    @model_validator(mode="after")
    def _one_duration(self) -> Failure:
        if (self.mean_duration is None) == (self.duration is None):
            raise ValueError("give exactly one of mean_duration or duration: {median, p90}")
        return self

    @property
    def mean_duration_s(self) -> float:
        """Mean outage length in seconds (for a lognormal, exp(mu + sigma^2 / 2))."""
        if self.mean_duration is not None:
            return self.mean_duration
        import math

        assert self.duration is not None
        mu = math.log(max(self.duration.median, 1e-9))
        sigma = (math.log(max(self.duration.p90, 1e-9)) - mu) / 1.2815515655446004
        return math.exp(mu + sigma * sigma / 2)

    @property
    def unavailability(self) -> float:
        """Steady-state probability of being failed: rate x mean duration / year, capped at 1."""
        return min(1.0, self.rate_per_year * self.mean_duration_s / (8760 * 3600))


class KOfN(Strict):
    """Up while at least `k` members are up."""

    k: Annotated[int, Field(ge=1)]
    of: Annotated[list[Name], Field(min_length=1)]


class Placement(Strict):
    """Where the component runs; common-cause events strike by provider, region or zone."""

    provider: str | None = None
    region: str | None = None
    zone: str | None = None


Scalar = str | int | float | bool


class Component(Strict):
    """One thing that can be up, degraded or down."""

    kind: Literal[KINDS] | None = None  # type: ignore[valid-type]
    description: str | None = None
    requires: list[Name] = Field(default_factory=list)
    uses: list[Name] = Field(default_factory=list)
    any_of: list[Name] | None = None
    k_of_n: KOfN | None = None
    failover: Duration | None = None
    resolves: Name | None = None
    record: str | None = None
    ttl: Duration | None = None
    negative_ttl: Duration | None = None
    serve_stale: Duration | None = None  # dns_record: resolvers keep the last good answer this long
    unavailability: Probability | None = None
    failure: Failure | None = None
    placement: Placement | None = None
    impact: Impact | None = None
    tags: dict[str, Scalar] = Field(default_factory=dict)
    capacity: Capacity | None = None
    load: Load | None = None
    calls: dict[Name, Calls] = Field(default_factory=dict)
    connections: Connections | None = None
    lease: Lease | None = None
    backlog: Backlog | None = None
    healthcheck: HealthCheck | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Component:
        if self.any_of is not None and self.k_of_n is not None:
            raise ValueError("give any_of or k_of_n, not both")
        if self.any_of is not None and not self.any_of:
            raise ValueError("any_of needs at least one member")
        if self.k_of_n is not None and self.k_of_n.k > len(self.k_of_n.of):
            raise ValueError(
                f"k_of_n: k = {self.k_of_n.k} is larger than the group ({len(self.k_of_n.of)} members)"
            )
        if self.unavailability is not None and self.failure is not None:
            raise ValueError("give unavailability or failure, not both")
        if self.failover is not None and self.any_of is None and self.k_of_n is None:
            raise ValueError("failover only applies to a redundancy group (any_of or k_of_n)")
        if self.backlog is not None and self.backlog.rate == "load" and self.load is None:
            raise ValueError("backlog.rate: load takes the organic load of the component, which "
                             "has no `load:` (give it one, or a number of items per second)")
        return self

    @property
    def is_group(self) -> bool:
        """A logical redundancy group: kind `group`, or any_of/k_of_n with no kind."""
        return self.kind == "group" or (
            self.kind is None and (self.any_of is not None or self.k_of_n is not None)
        )

    @property
    def own_unavailability(self) -> float | None:
        """Probability that it is failed by itself, when the model says so."""
        if self.unavailability is not None:
            return self.unavailability
        if self.failure is not None:
            return self.failure.unavailability
        return None

    @property
    def can_fail(self) -> bool:
        """Whether its own failure is a basic event (groups and `unavailability: 0` cannot fail)."""
        p = self.own_unavailability
        if p is not None:
            return p > 0
        return not self.is_group

    def references(self) -> list[tuple[tuple[Any, ...], str]]:
        """Every name this component refers to, with the key path where it is written."""
        refs: list[tuple[tuple[Any, ...], str]] = []
        refs += [(("requires", i), n) for i, n in enumerate(self.requires)]
        refs += [(("uses", i), n) for i, n in enumerate(self.uses)]
        refs += [(("any_of", i), n) for i, n in enumerate(self.any_of or [])]
        if self.k_of_n is not None:
            refs += [(("k_of_n", "of", i), n) for i, n in enumerate(self.k_of_n.of)]
        if self.resolves is not None:
            refs.append((("resolves",), self.resolves))
        refs += [(("calls", n), n) for n in self.calls]
        if self.lease is not None and self.lease.via is not None:
            refs.append((("lease", "via"), self.lease.via))
        if self.healthcheck is not None and self.healthcheck.checks is not None:
            refs.append((("healthcheck", "checks"), self.healthcheck.checks))
        if self.backlog is not None:
            refs += [(("backlog", "until_drained", i), n)
                     for i, n in enumerate(self.backlog.until_drained)]
            if self.backlog.through is not None:
                refs.append((("backlog", "through"), self.backlog.through))
        return refs


class CommonCause(Strict):
    """An event that takes down every component placed in one provider, region or zone at once.

    Without `failure`, the rate and duration come from the catalog's defaults for the scope.
    """

    provider: str | None = None
    region: str | None = None
    zone: str | None = None
    description: str | None = None
    failure: Failure | None = None

    @model_validator(mode="after")
    def _has_scope(self) -> CommonCause:
        if self.provider is None and self.region is None and self.zone is None:
            raise ValueError("a common cause needs a scope: provider, region or zone")
        return self


class ModelFile(Strict):
    """A model file: the root file of a model or a file it includes."""

    version: Literal[1] = 1
    name: str | None = None
    description: str | None = None
    include: list[Name] = Field(default_factory=list)
    components: dict[Name, Component] = Field(default_factory=dict)
    common_causes: dict[Name, CommonCause] = {}


def json_schema() -> dict[str, Any]:
    """The JSON Schema of model format v1, for editors and CI validation."""
    schema = ModelFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "aftershock model v1"
    return schema
