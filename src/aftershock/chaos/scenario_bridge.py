"""Rehearse a simulation scenario for real: its DNS faults become proxy rules with time windows.

A scenario fault such as `{target: ddb-dns, kind: dns_empty, at: "23:48", until: "02:25"}` on a
model component `ddb-dns: {kind: dns_record, record: dynamodb.us-east-1.amazonaws.com,
negative_ttl: 15m}` becomes the rule
`{match: dynamodb.us-east-1.amazonaws.com, action: empty, negative_ttl: 900, from/until: ...}`,
with scenario time mapped onto the wall clock from now, `speed` times faster. At `speed > 1`
the record's TTL and negative TTL are divided by the same factor, so caches expire on the
same scenario-time schedule the simulator assumes. Faults that are not DNS faults are listed as
skipped: the simulator plays them, the proxy cannot.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aftershock.chaos.rules import DEFAULT_NEGATIVE_TTL_S, Rule, parse_rule
from aftershock.errors import AftershockError, did_you_mean
from aftershock.model.durations import parse_duration
from aftershock.model.load import Model
from aftershock.model.source import Document, read_document

DNS_FAULT_ACTIONS = {
    "dns_empty": "empty",
    "dns_nxdomain": "nxdomain",
    "dns_servfail": "servfail",
    "dns_slow": "delay",
}
DEFAULT_SLOW_DELAY = "2s"
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


class ScenarioError(AftershockError):
    """A scenario cannot be rehearsed."""


@dataclass
class RehearsalPlan:
    """Rules that play a scenario's DNS faults, and the faults left to the simulator."""

    rules: list[Rule]
    skipped: list[dict[str, Any]] = field(default_factory=list)
    speed: float = 1.0
    started_epoch_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what `--print-rules` shows)."""
        return {
            "speed": self.speed,
            "rules": [r.to_dict() for r in self.rules],
            "skipped": self.skipped,
        }


def plan_rehearsal(
    scenario_path: str | Path,
    model: Model,
    *,
    speed: float = 1.0,
    now_epoch_s: float | None = None,
) -> RehearsalPlan:
    """Turn the DNS faults of a scenario file into timed rules for the proxy."""
    if speed <= 0:
        raise ScenarioError("--speed must be above 0", hint="60 plays an hour in a minute")
    doc = read_document(scenario_path)
    now = time.time() if now_epoch_s is None else now_epoch_s
    if not isinstance(doc.data, dict):
        raise _error(doc, (), "a scenario is a mapping with `faults:`")
    start = _start_of(doc)
    faults = doc.data.get("faults") or []
    if not isinstance(faults, list):
        raise _error(doc, ("faults",), "`faults` must be a list")
    plan = RehearsalPlan(rules=[], speed=speed, started_epoch_s=now)
    ttl_rules: dict[str, Rule] = {}
    for i, fault in enumerate(faults):
        keys = ("faults", i)
        if not isinstance(fault, dict):
            raise _error(
                doc, keys, "a fault is a mapping like {target: X, kind: dns_empty, at: +5m}"
            )
        kind, target = fault.get("kind"), fault.get("target")
        if kind not in DNS_FAULT_ACTIONS:
            plan.skipped.append({"target": target, "kind": kind, "why": "not a DNS fault"})
            continue
        component = model.components.get(str(target))
        if component is None:
            raise _error(
                doc,
                (*keys, "target"),
                f"no component '{target}' in the model",
                did_you_mean(str(target), model.components),
            )
        if component.kind != "dns_record":
            raise _error(
                doc,
                (*keys, "target"),
                f"'{target}' is a {component.kind or 'component'}, not a dns_record",
                "DNS faults target a component of kind dns_record with a `record:` name",
            )
        name = component.record or (str(target) if "." in str(target) else None)
        if name is None:
            raise model.error(
                "a dns_record needs `record:` (the DNS name) to be rehearsed",
                str(target),
                (),
                "e.g. record: dynamodb.us-east-1.amazonaws.com",
            )
        begin_s = _offset(doc, fault, "at", start, (*keys, "at"))
        end_s = _end_offset(doc, fault, begin_s, start, keys)
        raw: dict[str, Any] = {
            "id": f"{target}-{i + 1}",
            "match": name,
            "action": DNS_FAULT_ACTIONS[kind],
            "from": datetime.fromtimestamp(now + begin_s / speed).astimezone().isoformat(),
            "comment": f"scenario fault {i + 1}: {kind} on {target}",
        }
        if end_s is not None:
            raw["until"] = datetime.fromtimestamp(now + end_s / speed).astimezone().isoformat()
        if kind in ("dns_empty", "dns_nxdomain"):
            negative = (
                component.negative_ttl
                if component.negative_ttl is not None
                else DEFAULT_NEGATIVE_TTL_S
            )
            raw["negative_ttl"] = max(1, round(negative / speed))
        if kind == "dns_slow":
            raw["delay"] = fault.get("delay", DEFAULT_SLOW_DELAY)
            if "jitter" in fault:
                raw["jitter"] = fault["jitter"]
        plan.rules.append(_rule(doc, raw, keys, now))
        if component.ttl is not None and name not in ttl_rules:
            ttl_rules[name] = _rule(
                doc,
                {
                    "id": f"{target}-ttl",
                    "match": name,
                    "action": "ttl",
                    "ttl": max(0, round(component.ttl / speed)),
                    "comment": f"the model's ttl of {target} at speed {speed:g}",
                },
                keys,
                now,
            )
    # TTL rules come last: a fault rule, while active, decides first.
    plan.rules.extend(ttl_rules.values())
    return plan


def _rule(doc: Document, raw: dict[str, Any], keys: tuple[Any, ...], now: float) -> Rule:
    line, col = doc.locate(keys)
    return parse_rule(
        raw,
        loaded_epoch_s=now,
        source="scenario",
        where=f"fault {keys[-1] + 1}",
        locate=lambda _k: (doc.path, line, col),
    )


def _start_of(doc: Document) -> datetime | None:
    start = doc.data.get("start")
    if start is None:
        return None
    if isinstance(start, datetime):
        return start
    try:
        return datetime.fromisoformat(str(start))
    except ValueError:
        raise _error(
            doc, ("start",), f"'{start}' is not a date-time", "e.g. 2025-10-19T23:00:00-07:00"
        ) from None


def _offset(
    doc: Document, fault: dict[str, Any], key: str, start: datetime | None, keys: tuple[Any, ...]
) -> float:
    """Seconds after the scenario start: `+90s`, a clock time `23:48` (needs `start`), a date-time."""
    value = fault.get(key, "+0s")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)  # plain seconds (note: YAML reads unquoted 23:48 as 1428)
    text = str(value).strip()
    if text.startswith("+"):
        try:
            return parse_duration(text[1:])
        except ValueError:
            raise _error(
                doc, keys, f"'{value}' is not an offset", "write +30s, +5m or +1h"
            ) from None
    clock = _CLOCK.match(text)
    if clock and start is not None:
        hours, minutes, seconds = int(clock[1]), int(clock[2]), int(clock[3] or 0)
        moment = start.replace(hour=hours, minute=minutes, second=seconds, microsecond=0)
        if moment < start:
            moment += timedelta(days=1)  # a clock time before the start is on the next day
        return (moment - start).total_seconds()
    if clock:
        raise _error(
            doc, keys, f"clock time '{value}' needs the scenario's `start`", "or write +5m"
        )
    if isinstance(value, datetime) or "T" in text:
        if start is None:
            raise _error(doc, keys, "a date-time needs the scenario's `start`")
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(text)
        return (moment - start).total_seconds()
    raise _error(doc, keys, f"'{value}' is not a time", "write +5m, 23:48 or a date-time")


def _end_offset(
    doc: Document,
    fault: dict[str, Any],
    begin_s: float,
    start: datetime | None,
    keys: tuple[Any, ...],
) -> float | None:
    if "for" in fault:
        try:
            return begin_s + parse_duration(fault["for"])
        except ValueError:
            raise _error(doc, (*keys, "for"), f"'{fault['for']}' is not a duration") from None
    if "until" in fault:
        end = _offset(doc, fault, "until", start, (*keys, "until"))
        if end <= begin_s and _CLOCK.match(str(fault["until"]).strip()):
            end += 86400.0  # until 02:25 after at 23:48: the next day
        if end <= begin_s:
            raise _error(doc, (*keys, "until"), "the fault ends before it starts")
        return end
    duration = doc.data.get("duration")
    if duration is not None:
        try:
            return parse_duration(duration)
        except ValueError:
            raise _error(doc, ("duration",), f"'{duration}' is not a duration") from None
    return None


def _error(
    doc: Document, keys: tuple[Any, ...], message: str, hint: str | None = None
) -> ScenarioError:
    line, col = doc.locate(keys)
    return ScenarioError(message, file=doc.path, line=line, column=col, hint=hint)
