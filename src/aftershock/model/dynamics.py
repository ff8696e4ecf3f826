"""Model keys for dynamics (capacity, load, calls): optional, read by the simulator only."""

from __future__ import annotations

import re
from datetime import UTC, timedelta, timezone, tzinfo
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

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


_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_OFFSET = re.compile(r"^(?:UTC)?([+-])(\d{2}):(\d{2})$")


def time_zone(name: str) -> tzinfo:
    """An IANA zone (`America/New_York`, daylight saving included), `UTC`, or a fixed `-04:00`."""
    if name in ("UTC", "Z"):
        return UTC
    fixed = _OFFSET.match(name)
    if fixed:
        sign = -1 if fixed[1] == "-" else 1
        return timezone(sign * timedelta(hours=int(fixed[2]), minutes=int(fixed[3])))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}: write an IANA name such as "
                         "America/New_York, UTC, or a fixed offset such as -04:00") from None


def clock_minutes(text: str) -> int:
    """Minutes after midnight of an "HH:MM" clock time."""
    match = _CLOCK.match(text.strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"{text!r} is not a clock time: write \"HH:MM\", from \"00:00\" to \"23:59\"")
    return int(match[1]) * 60 + int(match[2])


class Daily(_Strict):
    """How organic load follows the clock: `factors` times `rps` at local clock times ("HH:MM" in
    `timezone`), linear between them (`shape: steps`: held until the next), the same every day.

    In a list of profiles (users in several time zones) each has a `share`, and the load follows
    the sum of share x factor.
    """

    timezone: str
    factors: dict[str, Annotated[float, Field(ge=0)]]
    shape: Literal["linear", "steps"] = "linear"
    share: Annotated[float, Field(gt=0)] = 1.0

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        time_zone(name)
        return name

    @field_validator("factors", mode="before")
    @classmethod
    def _clock_keys(cls, factors: Any) -> Any:
        if not isinstance(factors, dict):
            return factors
        if not factors:
            raise ValueError("give at least one clock time and its factor, e.g. {\"00:00\": 1}")
        seen: dict[int, str] = {}
        for key in factors:
            if isinstance(key, int) and not isinstance(key, bool):
                hours, minutes = divmod(key, 60)
                raise ValueError(f"clock time read as the number {key}: quote it, "
                                 f"\"{hours:02d}:{minutes:02d}\" (YAML reads an unquoted "
                                 "10:00 as 600)")
            minute = clock_minutes(str(key))
            if minute in seen:
                raise ValueError(f"clock time {key!r} is given twice (also as {seen[minute]!r})")
            seen[minute] = str(key)
        return factors

    def points(self) -> list[tuple[int, float]]:
        """(minutes after midnight, factor), in clock order."""
        return sorted((clock_minutes(k), v) for k, v in self.factors.items())


class Load(_Strict):
    """Organic open-loop load entering at this component; its clients give up after `timeout`.

    With `daily`, the load is `rps` times the profile's factor at the current local time.
    """

    rps: Annotated[float, Field(ge=0)]
    timeout: Duration | None = None
    daily: Annotated[
        # Tags in brackets: error paths leave them out, as they leave out pydantic's type names.
        Annotated[Daily, Tag("[one]")] | Annotated[tuple[Daily, ...], Tag("[several]")],
        Discriminator(lambda v: "[several]" if isinstance(v, list | tuple) else "[one]"),
    ] | None = None

    @field_validator("daily")
    @classmethod
    def _one_shape_and_shares(cls, daily: Daily | tuple[Daily, ...] | None) -> Any:
        if not isinstance(daily, tuple):
            return daily
        if not daily:
            raise ValueError("give at least one profile, or leave `daily` out")
        if len(daily) > 1 and any("share" not in d.model_fields_set for d in daily):
            raise ValueError("in a list of profiles give each its `share` of the load "
                             "(e.g. share: 0.47): the load follows the sum of share x factor")
        if len({d.shape for d in daily}) > 1:
            raise ValueError("the profiles of one `daily` list must have one shape "
                             "(all linear or all steps): their sum is then of that shape too")
        return daily

    def profiles(self) -> tuple[Daily, ...]:
        """The daily profiles, as a tuple (one, several, or none)."""
        if self.daily is None:
            return ()
        return self.daily if isinstance(self.daily, tuple) else (self.daily,)


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

    `rate: load` takes the component's organic load as it is at each moment (its `load.rps`,
    daily profile and load faults): pent-up demand. Consumers of the resulting state fail while the backlog's delay exceeds `tolerance`.
    With `release_rps`, work produced while the dependencies are down is held upstream (it is
    not in this component's queue yet) and handed over at `release_rps` once they are back.
    Components listed in `until_drained` have their own deferred work in the backlog: they
    fail until it is empty, not only until new work is fresh again. `through` names a component
    the work passes (a load balancer in front): the drain is scaled by the share of it working.
    """

    rate: Annotated[float, Field(ge=0)] | Literal["load"]
    drain_rps: Annotated[float, Field(gt=0)]
    tolerance: Duration
    release_rps: Annotated[float, Field(gt=0)] | None = None
    until_drained: list[str] = Field(default_factory=list)
    through: str | None = None


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
