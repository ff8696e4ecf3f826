"""Mitigations as what-ifs: a file of named changes, each a transform of the validated model.

A mitigations file (docs/risk.md has the reference)::

    version: 1
    mitigations:
      - name: Orders table as a global table in us-west-2
        cost_per_year: 60000
        changes:
          - add_replica: {component: orders-db, region: us-west-2, failover: 1m}

Transforms never edit the model in place: each builds new `Component`s (validated again) and
returns a new `Model` plus the stream aliases that keep common random numbers for components it
renamed. Changes that only the time-stepped simulator can judge (throttle, circuit_breaker,
retry_budget) change the model's dynamics keys (and a throttle's intake limit), and are valued by
simulating outages (simulated.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aftershock.errors import AftershockError, did_you_mean
from aftershock.model.durations import DURATION_HINT, parse_duration
from aftershock.model.dynamics import CircuitBreaker, RetryBudget
from aftershock.model.load import Model
from aftershock.model.schema import Component, Duration, Failure, Name, Placement
from aftershock.model.source import Document, read_document


class MitigationError(AftershockError):
    """A mitigations file is not valid, or does not fit the model."""


class _Change(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AddReplica(_Change):
    """Run a second copy of `component` in another region (or zone) behind `any_of` with failover."""

    component: Name
    region: str | None = None
    zone: str | None = None
    failover: Duration | None = None
    requires: list[Name] | None = None  # the replica's hard dependencies (default: the original's)
    name: Name | None = None


class SecondProvider(_Change):
    """Add an alternative to `component` from another provider, behind `any_of` with failover."""

    component: Name
    provider: str
    region: str | None = None
    failover: Duration | None = None
    failure: Failure | None = None  # default: the catalog's profile for the kind and provider
    requires: list[Name] = []  # an independent stack by default
    name: Name | None = None


class ServeStale(_Change):
    """Resolvers keep serving the last good answer of `record` for `max_stale` while it is broken."""

    record: Name
    max_stale: Duration = parse_duration("1d")


class SetTtl(_Change):
    """Change a record's TTL (and, optionally, its negative-caching TTL)."""

    record: Name
    ttl: Duration
    negative_ttl: Duration | None = None


class RemoveDependency(_Change):
    """`component` no longer depends on `dependency` at all (e.g. a hidden cross-region call)."""

    component: Name
    dependency: Name


class SoftenDependency(_Change):
    """`component` degrades instead of failing when `dependency` is down (requires -> uses)."""

    component: Name
    dependency: Name


class ChangeFailure(_Change):
    """Make `component` fail less often or recover faster (factors), or give it a new profile."""

    component: Name
    rate_factor: Annotated[float, Field(ge=0)] = 1.0
    duration_factor: Annotated[float, Field(gt=0)] = 1.0
    failure: Failure | None = None


class Throttle(_Change):
    """Limit what `component` takes in: an intake rate (`rps`, excess refused at once) and/or a
    bound on its queue (`queue_limit`, which needs `capacity` in the model)."""

    component: Name
    rps: Annotated[float, Field(gt=0)] | None = None
    queue_limit: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _something(self) -> Throttle:
        if self.rps is None and self.queue_limit is None:
            raise ValueError("give rps (intake limit) and/or queue_limit")
        return self


class AddCircuitBreaker(_Change):
    """A circuit breaker on `component`'s calls to `dependency` (all its calls when not given)."""

    component: Name
    dependency: Name | None = None
    threshold: Annotated[float, Field(gt=0, le=1)] = 0.5
    window: Duration = 10.0
    open_for: Duration = 30.0


class AddRetryBudget(_Change):
    """A retry token bucket on `component`'s calls to `dependency` (all its calls when not given)."""

    component: Name
    dependency: Name | None = None
    ratio: Annotated[float, Field(gt=0, le=1)] = 0.1
    burst: Annotated[float, Field(ge=0)] = 100.0


CHANGES: dict[str, type[_Change]] = {
    "add_replica": AddReplica,
    "second_provider": SecondProvider,
    "serve_stale": ServeStale,
    "ttl": SetTtl,
    "remove_dependency": RemoveDependency,
    "soften_dependency": SoftenDependency,
    "change_failure": ChangeFailure,
    "throttle": Throttle,
    "circuit_breaker": AddCircuitBreaker,
    "retry_budget": AddRetryBudget,
}
SIMULATOR_ONLY = ("throttle", "circuit_breaker", "retry_budget")


@dataclass(frozen=True)
class Mitigation:
    """A named set of changes, with what it costs per year."""

    name: str
    changes: tuple[tuple[str, _Change], ...]
    cost_per_year: float | None = None
    description: str | None = None
    keys: tuple[Any, ...] = ()  # where it is written in its file
    document: Document | None = field(default=None, repr=False, compare=False)

    @property
    def simulator_only(self) -> list[str]:
        """The changes only the simulator can value (a mitigation is all of them, or none)."""
        return [kind for kind, _ in self.changes if kind in SIMULATOR_ONLY]

    def error(self, message: str, keys: tuple[Any, ...] = (), hint: str | None = None) -> MitigationError:
        """A located error about this mitigation (raise it)."""
        if self.document is None:
            return MitigationError(f"mitigation '{self.name}': {message}", hint=hint)
        line, col = self.document.locate(self.keys + keys)
        return MitigationError(f"mitigation '{self.name}': {message}", file=self.document.path,
                               line=line, column=col, hint=hint)


# --- reading the file ------------------------------------------------------------------------------


def read_mitigations(path: str | Path, text: str | None = None) -> list[Mitigation]:
    """Read and validate a mitigations file (errors name the file, line and column)."""
    doc = read_document(path, text=text)

    def fail(message: str, keys: tuple[Any, ...], hint: str | None = None, key: bool = False) -> MitigationError:
        line, col = doc.locate_key(keys) if key else doc.locate(keys)
        return MitigationError(message, file=doc.path, line=line, column=col, hint=hint)

    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("mitigations"), list):
        raise fail("a mitigations file is a mapping with a `mitigations:` list", (),
                   "start with `version: 1` and `mitigations:` (see docs/risk.md)")
    for key in data:
        if key not in ("version", "mitigations", "description"):
            raise fail(f"unknown key '{key}'", (key,), did_you_mean(key, ["version", "mitigations"]), key=True)
    if data.get("version", 1) != 1:
        raise fail(f"unsupported mitigations version {data['version']!r}", ("version",), "write `version: 1`")
    out: list[Mitigation] = []
    seen: set[str] = set()
    allowed = ("name", "description", "cost_per_year", "changes")
    for i, entry in enumerate(data["mitigations"]):
        here = ("mitigations", i)
        if not isinstance(entry, dict):
            raise fail("a mitigation is a mapping with `name` and `changes`", here)
        for key in entry:
            if key not in allowed:
                hint = did_you_mean(key, allowed + tuple(CHANGES)) or "allowed: " + ", ".join(allowed)
                if key in CHANGES:
                    hint = f"put it in a list under `changes:` (changes: [{{{key}: {{...}}}}])"
                raise fail(f"unknown key '{key}'", (*here, key), hint, key=True)
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise fail("a mitigation needs a `name`", here, "give every mitigation a short name")
        if name in seen:
            raise fail(f"mitigation '{name}' is listed twice", (*here, "name"))
        seen.add(name)
        cost = entry.get("cost_per_year")
        if cost is not None and (isinstance(cost, bool) or not isinstance(cost, int | float) or cost < 0):
            raise fail("cost_per_year must be a number >= 0", (*here, "cost_per_year"))
        changes = entry.get("changes")
        if not isinstance(changes, list) or not changes:
            raise fail("a mitigation needs a non-empty `changes:` list", here,
                       "for example changes: [{ttl: {record: api-dns, ttl: 1h}}]")
        parsed = []
        for j, change in enumerate(changes):
            at = (*here, "changes", j)
            if not isinstance(change, dict) or len(change) != 1:
                raise fail("each change is a mapping with exactly one key, the kind of change", at,
                           "kinds: " + ", ".join(CHANGES))
            [(kind, body)] = change.items()
            if kind not in CHANGES:
                raise fail(f"unknown change '{kind}'", (*at, kind),
                           did_you_mean(kind, CHANGES) or "kinds: " + ", ".join(CHANGES), key=True)
            try:
                parsed.append((kind, CHANGES[kind].model_validate(body or {})))
            except ValidationError as exc:
                errors = exc.errors(include_url=False)
                # a misspelt key also makes the right one "missing": report the misspelling
                err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
                loc = tuple(err["loc"])
                what = ".".join(map(str, loc))
                msg = str(err["msg"]).removeprefix("Value error, ")
                if err["type"] == "extra_forbidden":
                    fields = list(CHANGES[kind].model_fields)
                    raise fail(f"{kind}: unknown key '{loc[-1]}'", (*at, kind, *loc),
                               did_you_mean(str(loc[-1]), fields) or "allowed: " + ", ".join(fields),
                               key=True) from None
                if err["type"] == "missing":
                    raise fail(f"{kind}: missing required key '{what}'", (*at, kind)) from None
                raise fail(f"{kind}: {what}: {msg}" if what else f"{kind}: {msg}", (*at, kind, *loc),
                           DURATION_HINT if "duration" in msg else None) from None
        kinds = [kind for kind, _ in parsed]
        timed = [k for k in kinds if k in SIMULATOR_ONLY]
        if timed and len(timed) < len(kinds):
            other = next(k for k in kinds if k not in SIMULATOR_ONLY)
            raise fail(f"mitigation '{name}' mixes {timed[0]} (valued by the simulator) with {other} "
                       "(valued by the Monte Carlo)", (*here, "changes"),
                       "give each kind its own mitigation; their values are not additive in general")
        out.append(Mitigation(name.strip(), tuple(parsed), float(cost) if cost is not None else None,
                              entry.get("description"), here, doc))
    return out


# --- applying a mitigation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """The model with a mitigation applied, and the random streams renamed components keep."""

    model: Model
    stream_aliases: dict[str, str]
    intake_rps: dict[str, float] = field(default_factory=dict)  # throttles: component -> intake limit


def apply_mitigation(model: Model, mitigation: Mitigation) -> Variant:
    """The model with every change of the mitigation applied, in order."""
    comps = dict(model.components)
    aliases: dict[str, str] = {}
    intake: dict[str, float] = {}
    for j, (kind, change) in enumerate(mitigation.changes):
        at = ("changes", j, kind)
        if isinstance(change, Throttle) and change.rps is not None:
            intake[change.component] = change.rps
        try:
            _TRANSFORMS[kind](comps, aliases, change, lambda m, k=(), h=None, at=at: mitigation.error(m, at + k, h))
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            raise mitigation.error(f"{kind} makes an invalid component: {err['msg']}", at) from None
    return Variant(dataclasses.replace(model, components=comps), aliases, intake)


Fail = Callable[..., MitigationError]


def _rebuild(component: Component, **updates: Any) -> Component:
    """A validated copy of a component with some keys changed."""
    data = component.model_dump(exclude_defaults=True)
    data.update(updates)
    return Component.model_validate({k: v for k, v in data.items() if v is not None})


def _need(comps: dict[str, Component], name: str, fail: Fail, key: str) -> Component:
    if name not in comps:
        raise fail(f"unknown component '{name}'", (key,), did_you_mean(name, comps) or "name a component of the model")
    return comps[name]


def _add_alternative(comps: dict[str, Component], aliases: dict[str, str], name: str,
                     alternative: Component, alt_name: str, failover: float | None, primary_where: str,
                     fail: Fail) -> None:
    """Turn `name` into an any_of group of its original (renamed) and an alternative."""
    original = comps[name]
    primary_name = f"{name}@{primary_where}"
    if alt_name in comps or primary_name in comps or alt_name == primary_name:
        raise fail(f"the replica's name '{alt_name}' is taken", (), "give it a `name:`")
    for dep in alternative.requires + alternative.uses:
        if dep not in comps:
            raise fail(f"unknown component '{dep}' in requires", ("requires",), did_you_mean(dep, comps))
    comps[primary_name] = _rebuild(original, impact=None)
    comps[alt_name] = alternative
    comps[name] = Component.model_validate({
        "description": f"{name}: {primary_name} or {alt_name} (what-if)",
        "any_of": [primary_name, alt_name],
        **({"failover": failover} if failover else {}),
        **({"impact": original.impact.model_dump()} if original.impact else {}),
        "tags": dict(original.tags),
    })
    aliases[primary_name] = aliases.get(name, name)


def _add_replica(comps: dict[str, Component], aliases: dict[str, str], change: AddReplica, fail: Fail) -> None:
    original = _need(comps, change.component, fail, "component")
    if original.is_group or original.kind == "dns_record":
        raise fail(f"'{change.component}' is a {'group' if original.is_group else 'dns_record'}; "
                   "a replica copies one component", ("component",),
                   "add the replica to one member, or use ttl/serve_stale for a record")
    if change.region is None and change.zone is None:
        raise fail("add_replica needs a `region` or a `zone`", ())
    where = original.placement or Placement()
    placed = Placement(provider=where.provider, region=change.region or where.region,
                       zone=change.zone if change.zone else None if change.region else where.zone)
    if placed == where:
        raise fail("the replica would sit where the original is", ("region",), "name another region or zone")
    replica = _rebuild(original, impact=None, placement=placed.model_dump(exclude_none=True),
                       requires=change.requires if change.requires is not None else original.requires)
    label = change.zone or change.region
    _add_alternative(comps, aliases, change.component, replica, change.name or f"{change.component}@{label}",
                     change.failover, (where.zone if change.zone else where.region) or "primary", fail)


def _second_provider(comps: dict[str, Component], aliases: dict[str, str], change: SecondProvider, fail: Fail) -> None:
    original = _need(comps, change.component, fail, "component")
    if original.is_group:
        raise fail(f"'{change.component}' is a group", ("component",), "add the provider to its members")
    where = original.placement or Placement()
    if where.provider == change.provider:
        raise fail(f"'{change.component}' already runs on {change.provider}", ("provider",))
    alternative = Component.model_validate({
        "kind": original.kind,
        "description": f"{change.component} from {change.provider} (what-if)",
        "requires": change.requires,
        "placement": {"provider": change.provider, **({"region": change.region} if change.region else {})},
        **({"failure": change.failure.model_dump(exclude_none=True)} if change.failure else {}),
    })
    _add_alternative(comps, aliases, change.component, alternative,
                     change.name or f"{change.component}@{change.provider}", change.failover,
                     where.provider or "primary", fail)


def _record(comps: dict[str, Component], name: str, fail: Fail) -> Component:
    record = _need(comps, name, fail, "record")
    if record.kind != "dns_record":
        raise fail(f"'{name}' is not a dns_record", ("record",), "name the component of kind dns_record")
    return record


def _serve_stale(comps: dict[str, Component], aliases: dict[str, str], change: ServeStale, fail: Fail) -> None:
    comps[change.record] = _rebuild(_record(comps, change.record, fail), serve_stale=change.max_stale)


def _set_ttl(comps: dict[str, Component], aliases: dict[str, str], change: SetTtl, fail: Fail) -> None:
    record = _record(comps, change.record, fail)
    updates: dict[str, Any] = {"ttl": change.ttl}
    if change.negative_ttl is not None:
        updates["negative_ttl"] = change.negative_ttl
    comps[change.record] = _rebuild(record, **updates)


def _remove_dependency(comps: dict[str, Component], aliases: dict[str, str], change: RemoveDependency,
                       fail: Fail) -> None:
    comp = _need(comps, change.component, fail, "component")
    if change.dependency not in comp.requires + comp.uses + list(comp.calls):
        raise fail(f"'{change.component}' does not depend on '{change.dependency}'", ("dependency",),
                   did_you_mean(change.dependency, comp.requires + comp.uses))
    comps[change.component] = _rebuild(
        comp,
        requires=[d for d in comp.requires if d != change.dependency],
        uses=[d for d in comp.uses if d != change.dependency],
        calls={k: v.model_dump(exclude_defaults=True) for k, v in comp.calls.items() if k != change.dependency},
    )


def _soften_dependency(comps: dict[str, Component], aliases: dict[str, str], change: SoftenDependency,
                       fail: Fail) -> None:
    comp = _need(comps, change.component, fail, "component")
    if change.dependency not in comp.requires:
        raise fail(f"'{change.component}' does not require '{change.dependency}'", ("dependency",),
                   did_you_mean(change.dependency, comp.requires))
    comps[change.component] = _rebuild(
        comp,
        requires=[d for d in comp.requires if d != change.dependency],
        uses=list(dict.fromkeys([*comp.uses, change.dependency])),
    )


def _change_failure(comps: dict[str, Component], aliases: dict[str, str], change: ChangeFailure, fail: Fail) -> None:
    from aftershock.risk.profiles import component_profile

    comp = _need(comps, change.component, fail, "component")
    if change.failure is not None:
        new = change.failure
    else:
        kind = comp.kind or ("group" if comp.is_group else "service")
        prof = component_profile(comp, kind)
        if prof.always_failed:
            raise fail(f"'{change.component}' is always failed (unavailability 1)", ("component",))
        if prof.sigma > 0:
            duration = {"median": prof.median_s * change.duration_factor,
                        "p90": prof.duration_quantile_s(0.9) * change.duration_factor}
            new = Failure(rate_per_year=prof.rate_per_year * change.rate_factor, duration=duration)
        else:
            new = Failure(rate_per_year=prof.rate_per_year * change.rate_factor,
                          mean_duration=prof.mean_duration_s * change.duration_factor)
    data = comp.model_dump(exclude_defaults=True)
    data.pop("unavailability", None)
    data["failure"] = new.model_dump(exclude_none=True)
    comps[change.component] = Component.model_validate(data)


def _throttle(comps: dict[str, Component], aliases: dict[str, str], change: Throttle, fail: Fail) -> None:
    comp = _need(comps, change.component, fail, "component")
    if change.queue_limit is not None:
        if comp.capacity is None:
            raise fail(f"'{change.component}' has no `capacity`, so no queue to bound", ("queue_limit",),
                       "give it capacity: {rps: ...} in the model, or throttle with rps")
        capacity = comp.capacity.model_dump(exclude_none=True) | {"queue_limit": change.queue_limit}
        comps[change.component] = _rebuild(comp, capacity=capacity)


def _edit_calls(comps: dict[str, Component], name: str, dependency: str | None, fail: Fail, what: str,
                **updates: Any) -> None:
    """Set keys on one call edge of a component, or on all of them."""
    comp = _need(comps, name, fail, "component")
    if not comp.calls:
        raise fail(f"'{name}' calls nothing (no `calls:` in the model), so a {what} has no effect to value",
                   ("component",), "describe its calls: {dependency: {timeout: 2s, attempts: 3}} first")
    if dependency is not None and dependency not in comp.calls:
        raise fail(f"'{name}' has no `calls:` entry for '{dependency}'", ("dependency",),
                   did_you_mean(dependency, comp.calls) or f"it calls {', '.join(comp.calls)}")
    calls = {dep: call.model_dump(exclude_defaults=True) | (updates if dependency in (None, dep) else {})
             for dep, call in comp.calls.items()}
    comps[name] = _rebuild(comp, calls=calls)


def _circuit_breaker(comps: dict[str, Component], aliases: dict[str, str], change: AddCircuitBreaker,
                     fail: Fail) -> None:
    breaker = CircuitBreaker(threshold=change.threshold, window=change.window, open_for=change.open_for)
    _edit_calls(comps, change.component, change.dependency, fail, "circuit breaker",
                circuit_breaker=breaker.model_dump())


def _retry_budget(comps: dict[str, Component], aliases: dict[str, str], change: AddRetryBudget, fail: Fail) -> None:
    budget = RetryBudget(ratio=change.ratio, burst=change.burst)
    _edit_calls(comps, change.component, change.dependency, fail, "retry budget", retry_budget=budget.model_dump())


_TRANSFORMS: dict[str, Callable[..., None]] = {
    "throttle": _throttle,
    "circuit_breaker": _circuit_breaker,
    "retry_budget": _retry_budget,
    "add_replica": _add_replica,
    "second_provider": _second_provider,
    "serve_stale": _serve_stale,
    "ttl": _set_ttl,
    "remove_dependency": _remove_dependency,
    "soften_dependency": _soften_dependency,
    "change_failure": _change_failure,
}
