"""Rehearse a simulation scenario for real: its DNS faults become proxy rules with time windows.

A scenario fault such as `{target: ddb-dns, kind: dns_empty, at: "23:48", until: "02:25"}` on a
model component `ddb-dns: {kind: dns_record, record: dynamodb.us-east-1.amazonaws.com,
negative_ttl: 15m}` becomes the rule
`{match: dynamodb.us-east-1.amazonaws.com, action: empty, negative_ttl: 900, from/until: ...}`,
with scenario time mapped onto the wall clock from now, `speed` times faster. At `speed > 1`
the record's TTL and negative TTL are divided by the same factor, so caches expire on the
same scenario-time schedule the simulator assumes. A fault without an end lasts until a
`restore` action on its target, or the end of the run. Faults that are not DNS faults are listed
as skipped: the simulator plays them, the proxy cannot. The scenario is read by the simulator's
own parser (`aftershock.sim.scenario`), so both read the same file the same way.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from aftershock.chaos.rules import DEFAULT_NEGATIVE_TTL_S, Rule, parse_rule
from aftershock.errors import AftershockError
from aftershock.model.load import Model
from aftershock.sim.scenario import DNS_FAULTS, Scenario, load_scenario

DNS_FAULT_ACTIONS = {
    "dns_empty": "empty",
    "dns_nxdomain": "nxdomain",
    "dns_servfail": "servfail",
    "dns_slow": "delay",
}
assert set(DNS_FAULT_ACTIONS) == set(DNS_FAULTS), "the simulator's DNS fault kinds changed"
DEFAULT_SLOW_DELAY_S = 2.0


@dataclass
class RehearsalPlan:
    """Rules that play a scenario's DNS faults, and the faults left to the simulator."""

    rules: list[Rule]
    skipped: list[dict[str, Any]] = field(default_factory=list)
    speed: float = 1.0
    started_epoch_s: float = 0.0

    def scenario_s(self) -> float:
        """The scenario time now: seconds since the rehearsal started, times the speed."""
        return (time.time() - self.started_epoch_s) * self.speed

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
    """Turn the DNS faults of a scenario file (read by the simulator's own parser) into timed
    rules for the proxy, starting now and running `speed` times faster than scenario time."""
    if speed <= 0:
        raise AftershockError("--speed must be above 0", hint="60 plays an hour in a minute")
    scenario = load_scenario(scenario_path, set(model.components))
    now = time.time() if now_epoch_s is None else now_epoch_s
    plan = RehearsalPlan(rules=[], speed=speed, started_epoch_s=now)
    ttl_rules: dict[str, Rule] = {}
    for i, fault in enumerate(scenario.faults):
        if fault.kind not in DNS_FAULT_ACTIONS:
            plan.skipped.append(
                {"target": fault.target, "kind": fault.kind, "why": "not a DNS fault"}
            )
            continue
        component = model.components[fault.target]
        if component.kind != "dns_record":
            raise scenario.error(
                f"'{fault.target}' is a {component.kind or 'component'}, not a dns_record",
                "faults",
                i,
                "DNS faults target a component of kind dns_record with a `record:` name",
            )
        name = component.record or (fault.target if "." in fault.target else None)
        if name is None:
            raise model.error(
                "a dns_record needs `record:` (the DNS name) to be rehearsed",
                fault.target,
                (),
                "e.g. record: dynamodb.us-east-1.amazonaws.com",
            )
        end_s = _end_s(scenario, i)
        raw: dict[str, Any] = {
            "id": f"{fault.target}-{i + 1}",
            "match": name,
            "action": DNS_FAULT_ACTIONS[fault.kind],
            "from": _wall_clock(now + fault.start_s / speed),
            "until": _wall_clock(now + end_s / speed),
            "comment": f"scenario fault {i + 1}: {fault.kind} on {fault.target}",
        }
        if fault.kind in ("dns_empty", "dns_nxdomain"):
            negative = component.negative_ttl
            raw["negative_ttl"] = max(1, round((negative or DEFAULT_NEGATIVE_TTL_S) / speed))
        if fault.kind == "dns_slow":
            raw["delay"] = fault.delay_s if fault.delay_s is not None else DEFAULT_SLOW_DELAY_S
        plan.rules.append(_rule(scenario, i, raw, now))
        if component.ttl is not None and name not in ttl_rules:
            ttl = {
                "id": f"{fault.target}-ttl",
                "match": name,
                "action": "ttl",
                "ttl": max(0, round(component.ttl / speed)),
                "comment": f"the model's ttl of {fault.target} at speed {speed:g}",
            }
            ttl_rules[name] = _rule(scenario, i, ttl, now)
    # TTL rules come last: a fault rule, while active, decides first.
    plan.rules.extend(ttl_rules.values())
    return plan


def _end_s(scenario: Scenario, index: int) -> float:
    """When a fault ends: its own end, else the first `restore` of its target, else the run's end."""
    fault = scenario.faults[index]
    if math.isfinite(fault.end_s):
        return fault.end_s
    restores = [
        a.at_s
        for a in scenario.actions
        if a.kind == "restore" and a.target == fault.target and a.at_s >= fault.start_s
    ]
    return min(restores, default=scenario.duration_s)


def _wall_clock(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s).astimezone().isoformat()


def _rule(scenario: Scenario, index: int, raw: dict[str, Any], now: float) -> Rule:
    err = scenario.error("", "faults", index)
    return parse_rule(
        raw,
        loaded_epoch_s=now,
        source="scenario",
        where=f"fault {index + 1}",
        locate=lambda _keys: (err.file, err.line, err.column),
    )
