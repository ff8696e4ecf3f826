"""The incident catalog: recorded incidents as data (timeline windows, model, scenario, parameters).

An incident `ID` is a set of files in `aftershock/catalog/incidents/`:

- `ID.yaml` — title, sources, time zone, the recorded windows per service (each with its source),
  and the what-if counterfactuals;
- `ID.model.yaml` — the model of the affected slice, every unpublished parameter with its rationale;
- `ID.scenario.yaml` — only the trigger and the operator actions;
- `ID.race.yaml` (optional) — parameters of the trigger's own discrete-event model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from aftershock.errors import AftershockError, did_you_mean
from aftershock.model.durations import DURATION_HINT, parse_duration
from aftershock.model.source import Document, read_document
from aftershock.sim.race import RaceParameters

CATALOG_DIR = Path(__file__).resolve().parents[1] / "catalog" / "incidents"


class IncidentError(AftershockError):
    """An incident file is not valid, or an incident or what-if is unknown."""


@dataclass(frozen=True)
class RecordedWindow:
    """A period in which a service was impaired, as the incident's source of record tells it."""

    service: str
    start_s: float
    end_s: float
    source: str
    note: str = ""


@dataclass(frozen=True)
class WhatIfCheck:
    """The outcome a counterfactual is expected to have, verified on every run."""

    component: str
    recovers_within_s: float | None = None  # None with expect False: never recovers
    expect: bool = True
    shorter_than_baseline: bool = False


@dataclass(frozen=True)
class WhatIf:
    """A counterfactual: actions removed from the scenario and/or parameters changed in the model."""

    name: str
    description: str
    remove_actions: tuple[str, ...] = ()
    set_parameters: dict[str, Any] = field(default_factory=dict)
    check: WhatIfCheck | None = None


@dataclass(frozen=True)
class Parameter:
    """An unpublished number: where it is set, its value, how it was chosen and why."""

    at: str
    value: Any
    kind: str
    why: str


@dataclass(frozen=True)
class Incident:
    """One catalogued incident."""

    id: str
    title: str
    sources: tuple[str, ...]
    start: datetime
    model_path: Path
    scenario_path: Path
    recorded: dict[str, tuple[RecordedWindow, ...]]
    whatifs: dict[str, WhatIf]
    document: Document
    mechanisms: dict[str, Any] = field(default_factory=dict)
    parameters: tuple[Parameter, ...] = ()

    def offset_s(self, when: datetime) -> float:
        """Seconds from the incident's start to `when`."""
        return (when - self.start).total_seconds()

    def clock(self, offset_s: float) -> str:
        """Local wall-clock time of an offset, `HH:MM` (with `+1d` on later days)."""
        when = self.start + timedelta(seconds=offset_s)
        days = (when.date() - self.start.date()).days
        return when.strftime("%H:%M") + (f" +{days}d" if days else "")


def incident_ids() -> list[str]:
    """Every incident in the catalog."""
    return sorted(p.name.removesuffix(".yaml") for p in CATALOG_DIR.glob("*.yaml")
                  if p.name.count(".") == 1)


def _error(doc: Document, keys: tuple[Any, ...], message: str, hint: str | None = None, *,
           at_key: bool = False) -> IncidentError:
    """A located error; `at_key` points at the mapping key itself (for unknown keys)."""
    line, column = doc.locate_key(keys) if at_key and keys else doc.locate(keys)
    return IncidentError(message, file=doc.path, line=line, column=column, hint=hint)


def _require(doc: Document, mapping: Any, keys: tuple[Any, ...], key: str) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise _error(doc, keys, f"missing key '{key}'")
    return mapping[key]


def _time(doc: Document, keys: tuple[Any, ...], value: Any, tz: timezone) -> datetime:
    try:
        when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        raise _error(doc, keys, f"'{value}' is not a date and time",
                     hint="write it like 2025-10-19T23:48") from None
    return when if when.tzinfo else when.replace(tzinfo=tz)


def _tz(doc: Document, value: Any) -> timezone:
    try:
        parsed = datetime.fromisoformat(f"2000-01-01T00:00{value}")
    except ValueError:
        raise _error(doc, ("timezone",), f"'{value}' is not a UTC offset", hint='write it like "-07:00"'
                     ) from None
    assert parsed.tzinfo is not None
    return timezone(parsed.utcoffset() or timedelta(0))


def load_incident(incident_id: str) -> Incident:
    """Read an incident's index file; unknown ids get a did-you-mean."""
    ids = incident_ids()
    if incident_id not in ids:
        raise IncidentError(
            f"unknown incident '{incident_id}'",
            hint=did_you_mean(incident_id, ids) or "see `aftershock replay --list`",
        )
    return read_incident(CATALOG_DIR / f"{incident_id}.yaml")


def read_incident(path: Path) -> Incident:
    """Parse and check one incident index file."""
    doc = read_document(path)
    data = doc.data
    if not isinstance(data, dict):
        raise _error(doc, (), "an incident file is a mapping")
    tz = _tz(doc, _require(doc, data, (), "timezone"))
    start = _time(doc, ("start",), _require(doc, data, (), "start"), tz)
    recorded: dict[str, tuple[RecordedWindow, ...]] = {}
    for service, windows in _mapping(doc, ("recorded",), _require(doc, data, (), "recorded")).items():
        if not isinstance(windows, list):
            raise _error(doc, ("recorded", service), "a service's recorded windows are a list")
        rows = []
        for i, w in enumerate(windows):
            keys = ("recorded", service, i)
            _only(doc, keys, w, {"start", "end", "source", "note"})
            begin = _time(doc, (*keys, "start"), _require(doc, w, keys, "start"), tz)
            end = _time(doc, (*keys, "end"), _require(doc, w, keys, "end"), tz)
            if end <= begin:
                raise _error(doc, (*keys, "end"), "a window ends after it starts")
            rows.append(RecordedWindow(service, (begin - start).total_seconds(),
                                       (end - start).total_seconds(),
                                       str(_require(doc, w, keys, "source")), str(w.get("note", ""))))
        recorded[str(service)] = tuple(rows)
    whatifs = {}
    for name, spec in _mapping(doc, ("whatif",), data.get("whatif")).items():
        keys = ("whatif", name)
        _only(doc, keys, spec, {"description", "remove_actions", "set", "check"})
        removed = spec.get("remove_actions") or []
        if not isinstance(removed, list):
            raise _error(doc, (*keys, "remove_actions"), "remove_actions is a list of action ids")
        whatifs[str(name)] = WhatIf(
            name=str(name),
            description=str(_require(doc, spec, keys, "description")),
            remove_actions=tuple(str(a) for a in removed),
            set_parameters=dict(_mapping(doc, (*keys, "set"), spec.get("set"))),
            check=_check(doc, (*keys, "check"), spec.get("check")),
        )
    parameters = []
    listed = data.get("parameters") or []
    if not isinstance(listed, list):
        raise _error(doc, ("parameters",), "`parameters` is a list of {at, value, kind, why}")
    for i, entry in enumerate(listed):
        keys = ("parameters", i)
        _only(doc, keys, entry, {"at", "value", "kind", "why"})
        kind = _require(doc, entry, keys, "kind")
        if not isinstance(kind, str) or kind not in ("published", "chosen", "fitted"):
            raise _error(doc, (*keys, "kind"), f"unknown parameter kind '{kind}'",
                         hint="published, chosen or fitted")
        parameters.append(Parameter(str(_require(doc, entry, keys, "at")),
                                    _require(doc, entry, keys, "value"), kind,
                                    str(_require(doc, entry, keys, "why"))))
    base = Path(doc.path).parent
    return Incident(
        id=Path(doc.path).name.removesuffix(".yaml"),
        title=str(_require(doc, data, (), "title")),
        sources=tuple(str(s) for s in (data.get("sources") or ()) if isinstance(s, str)),
        start=start,
        model_path=base / str(_require(doc, data, (), "model")),
        scenario_path=base / str(_require(doc, data, (), "scenario")),
        recorded=recorded,
        whatifs=whatifs,
        document=doc,
        mechanisms=_mechanisms(doc, data.get("mechanisms") or {}),
        parameters=tuple(parameters),
    )


def _mapping(doc: Document, keys: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """`value` as a mapping (None is empty); anything else is a located error."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _error(doc, keys, f"`{keys[-1]}` is a mapping")
    return value


def _only(doc: Document, keys: tuple[Any, ...], spec: Any, allowed: set[str]) -> None:
    """Refuse a mapping with keys outside `allowed` (located at the key, with a hint)."""
    if not isinstance(spec, dict):
        raise _error(doc, keys, "expected a mapping")
    for key in spec:
        if key not in allowed:
            raise _error(doc, (*keys, key), f"unknown key '{key}'", at_key=True,
                         hint=did_you_mean(str(key), allowed) or "allowed: " + ", ".join(sorted(allowed)))


def _check(doc: Document, keys: tuple[Any, ...], spec: Any) -> WhatIfCheck | None:
    if spec is None:
        return None
    _only(doc, keys, spec, {"component", "recovers_within", "expect", "shorter_than_baseline"})
    within = spec.get("recovers_within")
    try:
        within_s = parse_duration(within) if within is not None else None
    except ValueError as exc:
        raise _error(doc, (*keys, "recovers_within"), str(exc),
                     hint=DURATION_HINT) from None
    return WhatIfCheck(str(_require(doc, spec, keys, "component")), within_s,
                       bool(spec.get("expect", True)), bool(spec.get("shorter_than_baseline", False)))


_MECHANISM_KEYS = {
    "latch": {"after_s"},
    "propagation": {"rate", "drain_rps", "tolerance_s", "via", "launcher", "hosts", "serving",
                    "fleet", "release_rps"},
}


def _mechanisms(doc: Document, spec: Any) -> dict[str, Any]:
    """Check the `mechanisms:` block (kinds and keys; numbers must be numbers)."""
    _only(doc, ("mechanisms",), spec, set(_MECHANISM_KEYS))
    for kind, per_component in spec.items():
        for component, params in _mapping(doc, ("mechanisms", kind), per_component).items():
            keys = ("mechanisms", kind, component)
            _only(doc, keys, params, _MECHANISM_KEYS[kind])
            for key, value in params.items():
                numeric = key not in ("via", "launcher", "hosts", "serving")
                if numeric and (isinstance(value, bool) or not isinstance(value, int | float)):
                    raise _error(doc, (*keys, key), f"'{key}' must be a number")
                if not numeric and not isinstance(value, str):
                    raise _error(doc, (*keys, key), f"'{key}' names a component")
            if kind == "latch" and "after_s" not in params:
                raise _error(doc, keys, "missing key 'after_s'")
            if kind == "propagation":
                for key in ("rate", "drain_rps", "tolerance_s"):
                    _require(doc, params, keys, key)
                if (params["drain_rps"] <= 0 or params.get("fleet", 1) <= 0
                        or params.get("release_rps", 1) <= 0):
                    raise _error(doc, keys, "drain_rps, release_rps and fleet must be above zero")
    return spec


def load_race_parameters(incident_id: str) -> tuple[RaceParameters, dict[str, str]]:
    """The race model's parameters for an incident, and the rationale of each."""
    path = CATALOG_DIR / f"{incident_id}.race.yaml"
    if not path.is_file():
        raise IncidentError(f"incident '{incident_id}' has no race model",
                            hint=f"expected {path.name} in the incident catalog")
    return read_race_parameters(path)


def read_race_parameters(path: Path) -> tuple[RaceParameters, dict[str, str]]:
    """Parse a race parameter file: `parameters: {name: {value, rationale}}`."""
    doc = read_document(path)
    params = _require(doc, doc.data, (), "parameters")
    if not isinstance(params, dict):
        raise _error(doc, ("parameters",), "`parameters` is a mapping of name: {value, rationale}")
    fields = RaceParameters.__dataclass_fields__
    values, why = {}, {}
    for name, entry in params.items():
        keys = ("parameters", name)
        if name not in fields:
            raise _error(doc, keys, f"unknown race parameter '{name}'",
                         hint=did_you_mean(name, fields) or "see RaceParameters", at_key=True)
        values[name] = _require(doc, entry, keys, "value")
        why[name] = str(_require(doc, entry, keys, "rationale"))
    try:
        return RaceParameters(**values), why
    except (TypeError, ValueError) as exc:
        raise _error(doc, ("parameters",), str(exc)) from None
