"""Chaos Toolkit actions: inject DNS faults into the aftershock proxy, and clear them."""

from __future__ import annotations

from typing import Any

from aftershock.chaos.ctk.client import ControlClient, ControlError

__all__ = ["clear_dns_faults", "inject_dns_fault"]


def inject_dns_fault(
    match: str,
    action: str = "empty",
    type: str | list[str] | None = None,
    probability: float = 1.0,
    duration: str | None = None,
    delay: str | None = None,
    jitter: str | None = None,
    addresses: list[str] | None = None,
    ttl: str | int | None = None,
    negative_ttl: str | int | None = None,
    rule_id: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Add a fault rule to the running proxy (empty, nxdomain, servfail, refused, drop, delay,
    wrong_address, ttl) for names matching `match`; `duration` (e.g. 30s) ends it by itself.
    Returns the rule as the proxy holds it."""
    rule: dict[str, Any] = {"match": match, "action": action}
    optional = {
        "id": rule_id,
        "type": type,
        "delay": delay,
        "jitter": jitter,
        "addresses": addresses,
        "ttl": ttl,
        "negative_ttl": negative_ttl,
    }
    rule.update({k: v for k, v in optional.items() if v is not None})
    if probability != 1.0:
        rule["probability"] = probability
    if duration is not None:
        rule["until"] = f"+{duration}" if not str(duration).startswith("+") else duration
    return _failing_activity(
        lambda: ControlClient.from_configuration(configuration).post("/rules", rule)
    )["rules"][0]


def clear_dns_faults(
    rule_ids: list[str] | None = None,
    include_file_rules: bool = False,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> int:
    """Remove the given rules, or every rule added through the API (and the rules file's too
    when `include_file_rules`). Returns how many were removed."""
    client = ControlClient.from_configuration(configuration)
    if rule_ids:
        removed = 0
        for rule_id in rule_ids:
            try:
                client.delete(f"/rules/{rule_id}")
                removed += 1
            except ControlError as exc:
                if "HTTP 404" not in str(exc):  # already gone is fine for a rollback
                    raise _activity_failed(exc) from None
        return removed
    path = "/rules?all=1" if include_file_rules else "/rules"
    return _failing_activity(lambda: client.delete(path))["removed"]


def _failing_activity(call: Any) -> Any:
    """Run a control call; its failure becomes Chaos Toolkit's ActivityFailed."""
    try:
        return call()
    except ControlError as exc:
        raise _activity_failed(exc) from None


def _activity_failed(exc: ControlError) -> Exception:
    from chaoslib.exceptions import ActivityFailed

    return ActivityFailed(str(exc))
