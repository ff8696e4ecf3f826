"""Replicas as redundancy groups: a workload with n replicas is up while any replica is up.

The workload keeps its own edges (a bad release or a failed dependency takes every replica), and
its `any_of` lists one component per replica. When the replicas are spread over zones, each
replica requires its zone, so a zone outage removes the replicas placed there.
"""

from __future__ import annotations

from aftershock.importers.result import Draft, ImportResult

MAX_REPLICA_COMPONENTS = 32


def add_replicas(
    result: ImportResult,
    draft: Draft,
    replicas: int,
    source: str,
    zones: list[str] | None = None,
) -> None:
    """Record `replicas` on `draft`; above one, make it a group of replicas (spread over `zones`)."""
    draft.tags["replicas"] = replicas
    if replicas <= 1:
        return
    if replicas > MAX_REPLICA_COMPONENTS:
        result.assume(f"{draft.name}: {replicas} replicas modelled as {MAX_REPLICA_COMPONENTS} "
                      "(more members do not change which failures take the group down)")
    members: list[str] = []
    for i in range(min(replicas, MAX_REPLICA_COMPONENTS)):
        member = result.draft(f"{draft.name}/replica-{i + 1}", source, kind=draft.kind)
        member.tags["replica_of"] = draft.name
        if zones:
            zone = zones[i % len(zones)]
            member.placement["zone"] = zone
            result.draft(zone_component(zone), source, kind="zone").placement["zone"] = zone
            member.depend(zone_component(zone), "zone spread")
        members.append(member.name)
    draft.any_of = members


def zone_component(zone: str) -> str:
    """Component name of an availability zone (shared by every workload placed in it)."""
    return f"zone:{zone}"
