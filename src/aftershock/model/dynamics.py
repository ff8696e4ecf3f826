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
        return self


class Load(_Strict):
    """Organic open-loop load entering at this component."""

    rps: Annotated[float, Field(ge=0)]


class Backoff(_Strict):
    """Retry backoff: exponential from `base`, capped at `max`, with jitter."""

    base: Duration = 0.1
    max: Duration = 10.0
    jitter: Literal["full", "none"] = "full"


class Calls(_Strict):
    """How a component calls one dependency: timeout, attempts, backoff."""

    timeout: Duration = 5.0
    attempts: Annotated[int, Field(ge=1)] = 1
    backoff: Backoff = Backoff()
