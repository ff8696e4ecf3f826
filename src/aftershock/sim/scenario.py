"""Scenario files: when faults strike, which operator actions follow, how long and how finely to run.

A scenario is YAML (docs/scenarios.md)::

    version: 1
    start: 2025-10-19T23:00:00-07:00     # optional; without it times are offsets like +5m
    duration: 24h
    step: 1s
    faults:
      - {target: ddb-dns, kind: dns_empty, at: "23:48", until: "02:25"}
      - {target: db, kind: outage, at: +10s, for: 10s}
    actions:
      - {at: "04:14", kind: throttle, target: dwfm, rps: 50}

Times are offsets (`+5m`, or a number of seconds), clock times (`"23:48"`, the first such moment at
or after `start`, so they roll over midnight) or ISO datetimes. Every error is located in the file.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aftershock.errors import AftershockError, did_you_mean
from aftershock.model.durations import DURATION_HINT, parse_duration
from aftershock.model.source import Document, read_document

FAULT_KINDS = (
    "outage",
    "errors",
    "capacity",
    "load",
    "latency",
    "dns_empty",
    "dns_nxdomain",
    "dns_servfail",
    "dns_slow",
)
ACTION_KINDS = ("restore", "throttle", "relax", "drop_queue", "restart", "disable", "enable")
DNS_FAULTS = {"dns_empty", "dns_nxdomain", "dns_servfail", "dns_slow"}

_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")

TimeValue = str | int | float | datetime | date


class ScenarioError(AftershockError):
    """A scenario file is not valid."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FaultSpec(_Strict):
    """One fault as written: what, where, when, and its size."""

    target: str
    kind: Literal[FAULT_KINDS]  # type: ignore[valid-type]
    at: TimeValue = 0
    until: TimeValue | None = None
    for_: str | int | float | None = Field(default=None, alias="for")
    factor: float | None = Field(default=None, ge=0)
    rps: float | None = Field(default=None, ge=0)
    mode: Literal["timeout", "error"] = "timeout"
    delay: str | int | float | None = None

    @model_validator(mode="after")
    def _one_end(self) -> FaultSpec:
        if self.until is not None and self.for_ is not None:
            raise ValueError("give `until` or `for`, not both")
        if self.kind == "errors" and (self.factor is None or self.factor > 1):
            raise ValueError("an errors fault needs `factor` (share of requests refused, 0..1)")
        if self.kind == "capacity" and self.factor is None:
            raise ValueError("a capacity fault needs `factor` (share of capacity left, e.g. 0.2)")
        if self.kind == "load" and (self.rps is None) == (self.factor is None):
            raise ValueError("a load fault needs `rps` (the new organic load) or `factor`")
        if self.kind == "latency" and self.delay is None:
            raise ValueError("a latency fault needs `delay` (added to every request, e.g. 2s)")
        return self


class ActionSpec(_Strict):
    """One operator action as written."""

    at: TimeValue
    kind: Literal[ACTION_KINDS]  # type: ignore[valid-type]
    target: str
    rps: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _rate(self) -> ActionSpec:
        if self.kind == "throttle" and self.rps is None:
            raise ValueError("a throttle needs `rps` (the intake rate it allows)")
        return self


class Thresholds(_Strict):
    """Success fractions below which a component counts as down, or as degraded."""

    down: float = Field(default=0.5, gt=0, le=1)
    degraded: float = Field(default=0.99, gt=0, le=1)


class ScenarioFile(_Strict):
    """The top level of a scenario file."""

    version: Literal[1] = 1
    name: str | None = None
    description: str | None = None
    start: datetime | None = None
    duration: str | int | float
    step: str | int | float = 1.0
    points: int = Field(default=720, ge=2, le=100_000)
    thresholds: Thresholds = Thresholds()
    faults: list[FaultSpec] = []
    actions: list[ActionSpec] = []


@dataclass(frozen=True)
class Fault:
    """A resolved fault: seconds from the start; `end_s` is inf when only an action ends it."""

    target: str
    kind: str
    start_s: float
    end_s: float
    factor: float | None = None
    rps: float | None = None
    mode: str = "timeout"
    delay_s: float | None = None


@dataclass(frozen=True)
class Action:
    """A resolved operator action at `at_s` seconds from the start."""

    target: str
    kind: str
    at_s: float
    rps: float | None = None


@dataclass(frozen=True)
class Scenario:
    """A validated scenario, every time in seconds from its start."""

    duration_s: float
    step_s: float = 1.0
    faults: tuple[Fault, ...] = ()
    actions: tuple[Action, ...] = ()
    start: datetime | None = None
    points: int = 720
    down_below: float = 0.5
    degraded_below: float = 0.99
    name: str | None = None
    path: str | None = None
    _origins: dict[tuple[str, int], tuple[int | None, int | None]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def steps(self) -> int:
        """Number of steps in the run."""
        return max(1, math.ceil(self.duration_s / self.step_s - 1e-9))

    def clock(self, offset_s: float) -> str | None:
        """ISO 8601 time of an offset, when the scenario has a start."""
        if self.start is None:
            return None
        return (self.start + timedelta(seconds=float(offset_s))).isoformat()

    def error(self, message: str, section: str, index: int, hint: str | None = None) -> ScenarioError:
        """A located error about faults[index] or actions[index]."""
        line, column = self._origins.get((section, index), (None, None))
        return ScenarioError(message, file=self.path, line=line, column=column, hint=hint)


def load_scenario(path: str | Path, names: set[str] | None = None) -> Scenario:
    """Read and validate a scenario file; `names` (the model's components) checks every target."""
    return _build(read_document(path), names)


def load_scenario_text(text: str, names: set[str] | None = None, path: str = "<scenario>") -> Scenario:
    """Validate a scenario given as YAML text."""
    return _build(read_document(path, text=text), names)


def _build(doc: Document, names: set[str] | None) -> Scenario:
    if not isinstance(doc.data, dict):
        raise ScenarioError(
            "a scenario is a mapping with `duration`, `faults` and `actions`",
            file=doc.path, line=1, column=1, hint="start the file with `version: 1`",
        )
    try:
        spec = ScenarioFile.model_validate(doc.data)
    except ValidationError as exc:
        raise _located(doc, exc) from None
    start = spec.start
    duration_s = _duration(doc, ("duration",), spec.duration)
    step_s = _duration(doc, ("step",), spec.step)
    if duration_s <= 0:
        raise _error(doc, ("duration",), "duration must be above zero", "for example duration: 2h")
    if step_s <= 0 or step_s > duration_s:
        raise _error(doc, ("step",), "step must be above zero and at most the duration", "e.g. 1s")
    thresholds = spec.thresholds
    if thresholds.down > thresholds.degraded:
        raise _error(doc, ("thresholds",), "thresholds.down must not exceed thresholds.degraded")
    origins: dict[tuple[str, int], tuple[int | None, int | None]] = {}
    faults = []
    for i, f in enumerate(spec.faults):
        origins[("faults", i)] = doc.locate(("faults", i))
        _check_target(doc, ("faults", i, "target"), f.target, names)
        begin = _time(doc, ("faults", i, "at"), f.at, start)
        if f.until is not None:
            end = _time(doc, ("faults", i, "until"), f.until, start)
            if end <= begin:
                raise _error(doc, ("faults", i, "until"), "the fault ends before it starts",
                             "`until` is a time after `at`; use `for:` for a length")
        elif f.for_ is not None:
            end = begin + _duration(doc, ("faults", i, "for"), f.for_)
        else:
            end = math.inf
        delay = _duration(doc, ("faults", i, "delay"), f.delay) if f.delay is not None else None
        faults.append(Fault(f.target, f.kind, begin, end, f.factor, f.rps, f.mode, delay))
    actions = []
    for i, a in enumerate(spec.actions):
        origins[("actions", i)] = doc.locate(("actions", i))
        _check_target(doc, ("actions", i, "target"), a.target, names)
        actions.append(Action(a.target, a.kind, _time(doc, ("actions", i, "at"), a.at, start), a.rps))
    for section, items in (("faults", faults), ("actions", actions)):
        for i, item in enumerate(items):
            t = item.start_s if isinstance(item, Fault) else item.at_s
            if t > duration_s:
                raise _error(doc, (section, i, "at"), f"happens at +{t:g}s, after the run ends "
                             f"(+{duration_s:g}s)", "lengthen `duration` or move the event")
    return Scenario(
        duration_s=duration_s,
        step_s=step_s,
        faults=tuple(faults),
        actions=tuple(sorted(actions, key=lambda a: a.at_s)),
        start=start,
        points=spec.points,
        down_below=thresholds.down,
        degraded_below=thresholds.degraded,
        name=spec.name,
        path=doc.path,
        _origins=origins,
    )


def _error(doc: Document, keys: tuple[Any, ...], message: str, hint: str | None = None) -> ScenarioError:
    line, column = doc.locate(keys)
    return ScenarioError(message, file=doc.path, line=line, column=column, hint=hint)


def _check_target(doc: Document, keys: tuple[Any, ...], target: str, names: set[str] | None) -> None:
    if names is not None and target not in names:
        raise _error(doc, keys, f"unknown component '{target}'",
                     did_you_mean(target, names) or "targets are component names of the model")


def _duration(doc: Document, keys: tuple[Any, ...], value: Any) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise _error(doc, keys, str(exc), DURATION_HINT) from None


def _source_token(doc: Document, keys: tuple[Any, ...]) -> str | None:
    """The text of a scalar as written (YAML reads an unquoted 23:48 as the number 1428)."""
    line, column = doc.locate(keys)
    if line is None or column is None:
        return None
    text = doc.text.splitlines()[line - 1][column - 1:]
    match = re.match(r"[\"']?([0-9:]+)", text)
    return match.group(1) if match else None


def _time(doc: Document, keys: tuple[Any, ...], value: Any, start: datetime | None) -> float:
    """Seconds from the start of a time written as an offset, a clock time or a datetime."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        token = _source_token(doc, keys)
        if token and ":" in token:
            value = token
        else:
            if value < 0:
                raise _error(doc, keys, "a time cannot be negative")
            return float(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time())
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("+"):
            return _duration(doc, keys, text[1:])
        clock = _CLOCK.match(text)
        if clock:
            if start is None:
                raise _error(doc, keys, f"clock time '{text}' needs `start:` in the scenario",
                             "add start: 2025-10-19T23:00:00-07:00, or write an offset like +5m")
            h, m, s = int(clock[1]), int(clock[2]), int(clock[3] or 0)
            if h > 23 or m > 59 or s > 59:
                raise _error(doc, keys, f"'{text}' is not a clock time", "write HH:MM or HH:MM:SS")
            first = start.replace(hour=h, minute=m, second=s, microsecond=0)
            if first < start:
                first += timedelta(days=1)
            return (first - start).total_seconds()
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            try:
                return parse_duration(text)
            except ValueError:
                raise _error(doc, keys, f"'{text}' is not a time",
                             "write +5m (offset), \"23:48\" (clock) or an ISO datetime") from None
    if isinstance(value, datetime):
        if start is None:
            raise _error(doc, keys, "a datetime needs `start:` in the scenario",
                         "add start:, or write an offset like +5m")
        if value.tzinfo is None and start.tzinfo is not None:
            value = value.replace(tzinfo=start.tzinfo)
        elif value.tzinfo is not None and start.tzinfo is None:
            value = value.astimezone().replace(tzinfo=None)
        offset = (value - start).total_seconds()
        if offset < 0:
            raise _error(doc, keys, "this time is before the scenario's start")
        return offset
    raise _error(doc, keys, f"{value!r} is not a time", "write +5m, \"23:48\" or an ISO datetime")


def _located(doc: Document, exc: ValidationError) -> ScenarioError:
    err = exc.errors(include_url=False)[0]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or "function" in p)))
    loc = tuple("for" if p == "for_" else p for p in loc)
    msg = str(err["msg"]).removeprefix("Value error, ")
    hint = None
    if err["type"] == "extra_forbidden":
        line, column = doc.locate_key(loc)
        allowed = _allowed(loc[:-1])
        hint = did_you_mean(str(loc[-1]), allowed) or ("allowed keys: " + ", ".join(allowed))
        message = f"unknown key '{loc[-1]}'"
    else:
        line, column = doc.locate(loc if err["type"] != "missing" else loc[:-1])
        if err["type"] == "missing":
            message = f"missing required key '{loc[-1]}'"
        elif err["type"] == "literal_error" and loc and loc[-1] == "kind":
            kinds = FAULT_KINDS if loc[0] == "faults" else ACTION_KINDS
            message = f"unknown {loc[0][:-1]} kind {err['input']!r}"
            hint = did_you_mean(str(err["input"]), kinds) or "kinds: " + ", ".join(kinds)
        else:
            where = ".".join(str(p) for p in loc)
            message = f"{where}: {msg}" if where else msg
    return ScenarioError(message, file=doc.path, line=line, column=column, hint=hint)


def _allowed(loc: tuple[Any, ...]) -> list[str]:
    if not loc:
        return list(ScenarioFile.model_fields)
    model = {"faults": FaultSpec, "actions": ActionSpec, "thresholds": Thresholds}.get(str(loc[0]))
    if model is None:
        return []
    return [f.alias or name for name, f in model.model_fields.items()]
