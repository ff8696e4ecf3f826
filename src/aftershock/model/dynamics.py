"""Model keys for dynamics (capacity, load, calls): optional, read by the simulator only."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from aftershock.model.durations import DURATION_PATTERN, parse_duration

Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    Field(json_schema_extra={"type": "string", "pattern": DURATION_PATTERN}),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Latency(_Strict):
    """Service latency, growing with in-flight work: base + per_inflight x in-flight."""

    base: Duration
    per_inflight: Duration = 0.0


class Capacity(_Strict):
    """How much work a component serves: a rate (`rps`) or `workers` with a `latency`."""

    workers: Annotated[int, Field(ge=1)] | None = None
    rps: Annotated[float, Field(gt=0)] | None = None
    queue_limit: Annotated[int, Field(ge=0)] | None = None
    latency: Latency | None = None

    @model_validator(mode="after")
    def _rate_or_workers(self) -> Capacity:
        if self.rps is None and (self.workers is None or self.latency is None):
            raise ValueError("give capacity as rps, or as workers with a latency")
        if self.latency is not None and self.latency.base <= 0 and self.latency.per_inflight <= 0:
            raise ValueError("latency.base must be above 0 (the service time of one request)")
        return self


class Load(_Strict):
    """Organic open-loop load entering at this component; its clients give up after `timeout`."""

    rps: Annotated[float, Field(ge=0)]
    timeout: Duration | None = None


class Backoff(_Strict):
    """Retry backoff: exponential from `base`, capped at `max`, with jitter."""

    base: Duration = 0.1
    max: Duration = 10.0
    jitter: Literal["full", "none"] = "full"


class RetryBudget(_Strict):
    """Adaptive retry token bucket (Brooker 2022): each success earns `ratio` tokens, a retry costs 1."""

    ratio: Annotated[float, Field(gt=0, le=1)] = 0.1
    burst: Annotated[float, Field(ge=0)] = 100.0


class CircuitBreaker(_Strict):
    """Stop calling while the recent failure share is above `threshold`; probe again after `open_for`."""

    threshold: Annotated[float, Field(gt=0, le=1)] = 0.5
    window: Duration = 10.0
    open_for: Duration = 30.0


class Calls(_Strict):
    """How a component calls one dependency: timeout, attempts, backoff, retry budget, breaker.

    `per_request` is how many calls one request of the caller makes to this dependency.
    """

    timeout: Duration = 5.0
    attempts: Annotated[int, Field(ge=1, le=100)] = 1
    backoff: Backoff = Backoff()
    per_request: Annotated[float, Field(gt=0)] = 1.0
    retry_budget: RetryBudget | None = None
    circuit_breaker: CircuitBreaker | None = None


class Connections(_Strict):
    """Share of this component's traffic riding on already-open connections (no fresh DNS lookup)."""

    pooled: Annotated[float, Field(ge=0, le=1)] = 0.0


class Lease(_Strict):
    """Leases this component holds on `hosts` hosts, renewed through `via` (default: its own deps).

    A lease lapses `lifetime` after its last successful renewal. Re-establishing one is a job in this
    component's queue that is useless if not served within `work_timeout`; the manager re-queues
    missing leases every `scan_every` (default: the work timeout).
    """

    hosts: Annotated[int, Field(ge=1)]
    lifetime: Duration
    work_timeout: Duration
    via: str | None = None
    scan_every: Duration | None = None


class Backlog(_Strict):
    """Work produced at `rate` per second, processed at `drain_rps` while dependencies are up.

    Consumers of the resulting state fail while the backlog's delay exceeds `tolerance`.
    With `release_rps`, work produced while the dependencies are down is held upstream (it is
    not in this component's queue yet) and handed over at `release_rps` once they are back.
    Components listed in `until_drained` have their own deferred work in the backlog: they
    fail until it is empty, not only until new work is fresh again.
    """

    rate: Annotated[float, Field(ge=0)]
    drain_rps: Annotated[float, Field(gt=0)]
    tolerance: Duration
    release_rps: Annotated[float, Field(gt=0)] | None = None
    until_drained: list[str] = Field(default_factory=list)


class HealthCheck(_Strict):
    """Health checks on `checks` (default: this component) that may remove capacity automatically.

    Every `interval`, targets in service whose check does not answer within `timeout` are removed
    (when `failover` is on) and removed targets that pass are returned; `max_removal` limits the
    share of capacity removed per interval (a velocity limit); `check_rps` is the checks' load on
    the targets. When the checker is a component of its own (`checks:` names another) it does the
    checking work too, and a failed check costs it `failed_check_cost` more than a passing one.
    """

    checks: str | None = None
    interval: Duration = 10.0
    timeout: Duration = 2.0
    failover: bool = True
    max_removal: Annotated[float, Field(gt=0, le=1)] | None = None
    check_rps: Annotated[float, Field(ge=0)] = 0.0
    failed_check_cost: Annotated[float, Field(ge=0)] = 1.0
