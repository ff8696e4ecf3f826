"""Chaos Toolkit probes: how often the proxy injected faults, and what a name resolves to."""

from __future__ import annotations

from typing import Any

from aftershock.chaos.ctk.actions import _failing_activity
from aftershock.chaos.ctk.client import DEFAULT_DNS_SERVER, DNS_SERVER_KEY, ControlClient

__all__ = ["dns_fault_hits", "resolve"]


def dns_fault_hits(
    rule_id: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> int:
    """How many answers one rule (or, without `rule_id`, every rule) has faulted so far."""
    client = ControlClient.from_configuration(configuration)
    if rule_id is not None:
        return int(_failing_activity(lambda: client.get(f"/rules/{rule_id}"))["hits"])
    return sum(int(r["hits"]) for r in _failing_activity(lambda: client.get("/rules"))["rules"])


def resolve(
    name: str,
    type: str = "A",
    server: str | None = None,
    tcp: bool = False,
    timeout: float = 2.0,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Ask a DNS server (default: the proxy) for `name`: {"rcode", "answers", "ttl"}; a timeout
    is reported as rcode "TIMEOUT" rather than failing the probe, so tolerances can test it."""
    import dns.exception
    import dns.message
    import dns.query
    import dns.rcode

    host, port = _endpoint(
        server or (configuration or {}).get(DNS_SERVER_KEY) or DEFAULT_DNS_SERVER
    )
    query = dns.message.make_query(name, type)
    send = dns.query.tcp if tcp else dns.query.udp
    try:
        response = send(query, host, port=port, timeout=timeout)
    except dns.exception.Timeout:
        return {"rcode": "TIMEOUT", "answers": [], "ttl": None}
    answers = [rdata.to_text() for rrset in response.answer for rdata in rrset]
    ttl = min((rrset.ttl for rrset in response.answer), default=None)
    return {"rcode": dns.rcode.to_text(response.rcode()), "answers": answers, "ttl": ttl}


def _endpoint(text: str) -> tuple[str, int]:
    text = str(text)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest.lstrip(":") or 53)
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, int(port)
    return text, 53
