"""Chaos Toolkit extension: drive the aftershock DNS proxy from an experiment.

Actions (`aftershock.chaos.ctk.actions`): `inject_dns_fault`, `clear_dns_faults`.
Probes (`aftershock.chaos.ctk.probes`): `dns_fault_hits`, `resolve`.

The proxy's control API is found at the experiment's configuration key
`aftershock_dns_control` (default http://127.0.0.1:5380) and the DNS server at
`aftershock_dns_server` (default 127.0.0.1:5353).
"""

from __future__ import annotations

from typing import Any

from aftershock.chaos.ctk.actions import clear_dns_faults, inject_dns_fault
from aftershock.chaos.ctk.probes import dns_fault_hits, resolve

__all__ = ["clear_dns_faults", "discover", "dns_fault_hits", "inject_dns_fault", "resolve"]


def discover(discover_system: bool = True) -> dict[str, Any]:
    """Discover this extension's activities and, when asked, the proxy it would drive."""
    from chaoslib.discovery.discover import (
        discover_actions,
        discover_probes,
        initialize_discovery_result,
    )

    from aftershock import __version__ as version
    from aftershock.chaos.ctk.client import ControlClient, ControlError

    discovery = initialize_discovery_result("aftershock", version, "dns")
    discovery["activities"].extend(discover_actions("aftershock.chaos.ctk.actions"))
    discovery["activities"].extend(discover_probes("aftershock.chaos.ctk.probes"))
    if discover_system:
        client = ControlClient.from_configuration(None)
        try:
            discovery["system"] = {"dns_proxy": client.get("/health"), "control": client.base_url}
        except ControlError as exc:
            discovery["system"] = {"dns_proxy": None, "control": client.base_url, "error": str(exc)}
    return discovery
