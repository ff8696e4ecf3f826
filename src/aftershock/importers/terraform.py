"""Terraform state: `terraform show -json` output, or a raw state file (format version 4).

Each managed resource whose type has a known runtime role (a database, a function, a load
balancer, a network, ...) becomes a component named by its address, with its provider, region
and zone as `placement`, and hard edges along Terraform's dependencies (through resources that
were left out, such as IAM policy attachments). A resource of a type the provider catalog knows
also requires the catalog service in its region (`aws_dynamodb_table` in us-east-1 requires
`aws:dynamodb@us-east-1`), which brings the provider's published internal chain with it.

Secrets: only the attributes in `_COPIED` are ever read (region, zone, location, load balancer
type, a DNS record's name and TTL), never one marked sensitive (`sensitive_values`,
`sensitive_attributes`), and never a value that looks like a credential.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aftershock.importers.documents import read_json_lines, read_text
from aftershock.importers.result import ImportResult, component_name, malformed, source_label
from aftershock.importers.secrets import looks_secret
from aftershock.model.source import Document

PROVIDERS = {"aws": "aws", "google": "gcp", "google-beta": "gcp", "azurerm": "azure",
             "cloudflare": "cloudflare"}

# resource type -> (model kind, catalog service or None)
ROLES: dict[str, tuple[str, str | None]] = {
    "aws_dynamodb_table": ("datastore", "dynamodb"),
    "aws_lambda_function": ("function", "lambda"),
    "aws_instance": ("service", "ec2"),
    "aws_autoscaling_group": ("group", "autoscaling"),
    "aws_lb": ("load_balancer", None),
    "aws_alb": ("load_balancer", "alb"),
    "aws_elb": ("load_balancer", None),
    "aws_sqs_queue": ("queue", "sqs"),
    "aws_s3_bucket": ("datastore", "s3"),
    "aws_db_instance": ("datastore", "rds"),
    "aws_rds_cluster": ("datastore", "rds"),
    "aws_elasticache_cluster": ("cache", "elasticache"),
    "aws_elasticache_replication_group": ("cache", "elasticache"),
    "aws_ecs_service": ("service", "ecs"),
    "aws_eks_cluster": ("service", "eks"),
    "aws_api_gateway_rest_api": ("endpoint", "api-gateway"),
    "aws_apigatewayv2_api": ("endpoint", "api-gateway"),
    "aws_cloudfront_distribution": ("cdn", "cloudfront"),
    "aws_route53_record": ("dns_record", "route53"),
    "aws_redshift_cluster": ("datastore", "redshift"),
    "aws_ebs_volume": ("datastore", "ebs"),
    "aws_sns_topic": ("queue", None),
    "aws_kinesis_stream": ("queue", None),
    "aws_vpc": ("network", None),
    "aws_subnet": ("network", None),
    "aws_nat_gateway": ("network", None),
    "google_compute_instance": ("service", "compute"),
    "google_storage_bucket": ("datastore", "cloud-storage"),
    "google_bigquery_dataset": ("datastore", "bigquery"),
    "google_pubsub_topic": ("queue", "pubsub"),
    "google_cloud_run_service": ("service", "cloud-run"),
    "google_cloud_run_v2_service": ("service", "cloud-run"),
    "google_cloudfunctions_function": ("function", "cloud-functions"),
    "google_cloudfunctions2_function": ("function", "cloud-functions"),
    "google_container_cluster": ("service", "gke-api"),
    "google_sql_database_instance": ("datastore", "cloud-sql"),
    "google_spanner_instance": ("datastore", "spanner"),
    "google_firestore_database": ("datastore", "firestore"),
    "google_compute_network": ("network", None),
    "google_compute_subnetwork": ("network", None),
    "azurerm_linux_virtual_machine": ("service", "vm"),
    "azurerm_windows_virtual_machine": ("service", "vm"),
    "azurerm_virtual_machine": ("service", "vm"),
    "azurerm_storage_account": ("datastore", "storage"),
    "azurerm_mssql_database": ("datastore", "sql-database"),
    "azurerm_cosmosdb_account": ("datastore", "cosmos-db"),
    "azurerm_kubernetes_cluster": ("service", "aks"),
    "azurerm_linux_web_app": ("service", "app-service"),
    "azurerm_windows_web_app": ("service", "app-service"),
    "azurerm_linux_function_app": ("function", "functions"),
    "azurerm_cdn_frontdoor_profile": ("cdn", "front-door"),
    "azurerm_virtual_network": ("network", None),
    "azurerm_subnet": ("network", None),
    "cloudflare_record": ("dns_record", "dns"),
    "cloudflare_workers_kv_namespace": ("datastore", "workers-kv"),
    "cloudflare_access_application": ("service", "access"),
}
_COPIED = ("region", "availability_zone", "zone", "location", "load_balancer_type", "name", "ttl",
           "arn", "fqdn", "hostname")
_ARN = re.compile(r"^arn:[a-z-]+:[a-z0-9-]+:(?P<region>[a-z0-9-]*):")
_ZONE_SUFFIX = re.compile(r"^(?P<region>[a-z]+(?:-[a-z]+)+-?\d+)-?[a-z]$")


@dataclass
class _Resource:
    address: str
    type: str
    provider: str | None
    attributes: dict[str, Any]  # only the `_COPIED` ones that are neither sensitive nor secret
    depends: list[str]


def import_terraform(path: str | Path) -> ImportResult:
    """Components and edges of a Terraform state (JSON)."""
    path = str(path)
    result = ImportResult(sources=[f"terraform:{path}"])
    read = read_json_lines(path, read_text(path))
    if read.error is not None or not read.documents:
        err = read.error
        result.skip(path, "the file", err.message if err else "empty", err.line if err else None)
        return result
    data = read.documents[0].data
    if not isinstance(data, dict):
        result.skip(path, "the file", "not a Terraform state (a JSON object)")
        return result
    if "values" in data or "format_version" in data:
        resources = _show_json(result, path, read.documents[0])
    elif "resources" in data:
        resources = _raw_state(result, path, read.documents[0])
    else:
        result.skip(path, "the file", "neither `terraform show -json` output nor a state file")
        return result
    _build(result, resources, source_label("terraform", path), path)
    return result


def _safe(values: dict[str, Any], sensitive: Any) -> dict[str, Any]:
    """The copied attributes that are not sensitive and do not look like secrets."""
    marked = set(sensitive) if isinstance(sensitive, dict | list | set) else set()
    out: dict[str, Any] = {}
    for key in _COPIED:
        value = values.get(key)
        if key in marked or not isinstance(value, str | int | float) or isinstance(value, bool):
            continue
        if looks_secret(key, value):
            continue
        out[key] = value
    return out


def _show_json(result: ImportResult, path: str, doc: Document) -> list[_Resource]:
    out: list[_Resource] = []

    def walk(module: Any, keys: tuple[Any, ...]) -> None:
        with malformed(result, path, "a module", _at(doc, keys)):
            for i, r in enumerate(module.get("resources") or []):
                where = _at(doc, (*keys, "resources", i))
                label = r.get("address", "?") if isinstance(r, dict) else f"#{i}"
                with malformed(result, path, f"resource {label}", where):
                    if r.get("mode") != "managed":
                        continue
                    sensitive = r.get("sensitive_values") or {}
                    sensitive_keys = [k for k, v in sensitive.items() if v is True or v]
                    out.append(_Resource(
                        address=str(r["address"]), type=str(r["type"]),
                        provider=_provider(r.get("provider_name")),
                        attributes=_safe(r.get("values") or {}, sensitive_keys),
                        depends=[str(d) for d in r.get("depends_on") or []],
                    ))
            for j, child in enumerate(module.get("child_modules") or []):
                walk(child, (*keys, "child_modules", j))

    with malformed(result, path, "values.root_module", _at(doc, ("values",))):
        walk(((doc.data.get("values") or {}).get("root_module")) or {}, ("values", "root_module"))
    return out


def _at(doc: Document, keys: tuple[Any, ...]) -> Callable[[], int | None]:
    """The line of `keys`, computed only when an entity there is skipped."""
    return lambda: doc.locate(keys)[0]


def _raw_state(result: ImportResult, path: str, doc: Document) -> list[_Resource]:
    out: list[_Resource] = []
    with malformed(result, path, "resources", _at(doc, ("resources",))):
        for i, r in enumerate(doc.data.get("resources") or []):
            what = (f"resource {r.get('type', '?')}.{r.get('name', '?')}" if isinstance(r, dict)
                    else f"resource #{i}")
            with malformed(result, path, what, _at(doc, ("resources", i))):
                if r.get("mode") != "managed":
                    continue
                prefix = f"{r['module']}." if r.get("module") else ""
                base = f"{prefix}{r['type']}.{r['name']}"
                for inst in r.get("instances") or []:
                    key = inst.get("index_key")
                    address = base if key is None else (
                        f"{base}[{key!r}]" if isinstance(key, int) else f'{base}["{key}"]')
                    sensitive = [p[0].get("value") for p in inst.get("sensitive_attributes") or []
                                 if isinstance(p, list) and p and isinstance(p[0], dict)]
                    out.append(_Resource(
                        address=address, type=str(r["type"]), provider=_provider(r.get("provider")),
                        attributes=_safe(inst.get("attributes") or {}, sensitive),
                        depends=[str(d) for d in inst.get("dependencies") or []],
                    ))
    return out


def _provider(text: Any) -> str | None:
    """`registry.terraform.io/hashicorp/aws` or `provider["registry.terraform.io/hashicorp/aws"]`."""
    if not isinstance(text, str):
        return None
    name = text.rstrip('"]').rsplit("/", 1)[-1].split(".")[0]
    return PROVIDERS.get(name, name)


def _region_zone(r: _Resource) -> tuple[str | None, str | None]:
    a = r.attributes
    zone = a.get("availability_zone") or a.get("zone")
    region = a.get("region")
    if region is None and isinstance(a.get("arn"), str):
        m = _ARN.match(a["arn"])
        region = m["region"] if m and m["region"] else None
    if region is None and isinstance(zone, str):
        m = _ZONE_SUFFIX.match(zone)
        region = m["region"] if m else None
    if region is None and isinstance(a.get("location"), str):
        region = a["location"].lower().replace(" ", "")
    return (str(region) if region else None), (str(zone) if zone else None)


def _base(address: str) -> str:
    """Address without its instance key: module.x.aws_instance.web[0] -> module.x.aws_instance.web."""
    return re.sub(r"\[[^\]]*\]$", "", address)


def _build(result: ImportResult, resources: list[_Resource], source: str, path: str) -> None:
    kept = {r.address: r for r in resources if r.type in ROLES}
    by_base: dict[str, list[str]] = {}
    for r in resources:
        by_base.setdefault(_base(r.address), []).append(r.address)
    everything = {r.address: r for r in resources}
    left_out: dict[str, int] = {}
    for r in resources:
        if r.type not in ROLES:
            left_out[r.type] = left_out.get(r.type, 0) + 1
    for rtype, n in sorted(left_out.items()):
        result.skip(path, f"{n} {rtype}", "no runtime role known for this type (its dependencies "
                    "are followed through it)")
    names = {a: component_name(a) for a in kept}
    for address, r in kept.items():
        kind, service = ROLES[r.type]
        if r.type == "aws_lb":
            service = "nlb" if r.attributes.get("load_balancer_type") == "network" else "alb"
        region, zone = _region_zone(r)
        draft = result.draft(names[address], source, kind="service" if kind == "group" else kind)
        draft.tags["terraform_type"] = r.type
        draft.placement.update({k: v for k, v in (("provider", r.provider), ("region", region),
                                                  ("zone", zone)) if v})
        if kind == "dns_record":
            record = r.attributes.get("fqdn") or r.attributes.get("hostname") or r.attributes.get("name")
            if record:
                draft.record = str(record)
            if isinstance(r.attributes.get("ttl"), int | float):
                draft.ttl_s = float(r.attributes["ttl"])
        for dep in _runtime_dependencies(r, kept, everything, by_base):
            draft.depend(names[dep], "terraform dependency")
        if service is not None and r.provider is not None:
            _depend_on_catalog(result, path, draft, r, service, region)
    for lb, targets in _load_balancer_targets(resources, kept, by_base).items():
        draft = result.components[names[lb]]
        members = sorted({names[t] for t in targets})
        if len(members) == 1:
            draft.depend(members[0], "terraform listener -> target group -> target")
        elif members:
            draft.any_of = members  # up while any target is up


# Resources that attach targets to a target group, and listeners that bind groups to a balancer.
_ATTACHMENTS = {"aws_lb_target_group_attachment", "aws_alb_target_group_attachment",
                "aws_autoscaling_attachment", "aws_ecs_service", "aws_autoscaling_group"}
_LISTENERS = {"aws_lb_listener", "aws_alb_listener", "aws_lb_listener_rule"}
_TARGET_GROUPS = {"aws_lb_target_group", "aws_alb_target_group"}


def _load_balancer_targets(
    resources: list[_Resource], kept: dict[str, _Resource], by_base: dict[str, list[str]]
) -> dict[str, set[str]]:
    """Targets behind each load balancer: Terraform links them only through listeners and
    attachments, which depend on the balancer and the target, never the other way round."""
    types = {r.address: r.type for r in resources}

    def addresses(dep: str) -> list[str]:
        return [dep] if dep in types else by_base.get(_base(dep), [])

    group_members: dict[str, set[str]] = {}
    for r in resources:
        if r.type not in _ATTACHMENTS:
            continue
        deps = [a for d in r.depends for a in addresses(d)]
        groups = [a for a in deps if types.get(a) in _TARGET_GROUPS]
        targets = [a for a in deps if a in kept and types[a] not in _TARGET_GROUPS]
        if r.type in ("aws_ecs_service", "aws_autoscaling_group") and r.address in kept:
            targets = [r.address]
        for g in groups:
            group_members.setdefault(g, set()).update(targets)
    out: dict[str, set[str]] = {}
    for r in resources:
        if r.type not in _LISTENERS:
            continue
        deps = [a for d in r.depends for a in addresses(d)]
        balancers = [a for a in deps if a in kept and types[a] in ("aws_lb", "aws_alb", "aws_elb")]
        members = {m for a in deps if types.get(a) in _TARGET_GROUPS for m in group_members.get(a, ())}
        for lb in balancers:
            if members:
                out.setdefault(lb, set()).update(members)
    return out


def _runtime_dependencies(
    r: _Resource, kept: dict[str, _Resource], everything: dict[str, _Resource],
    by_base: dict[str, list[str]],
) -> list[str]:
    """Kept resources `r` depends on, following dependencies through left-out resources."""
    out: list[str] = []
    seen: set[str] = set()
    todo = list(r.depends)
    while todo:
        dep = todo.pop()
        for address in by_base.get(_base(dep), [dep]) if dep not in everything else [dep]:
            if address in seen or address == r.address:
                continue
            seen.add(address)
            if address in kept:
                out.append(address)
            elif address in everything:
                todo.extend(everything[address].depends)
    return sorted(out)


def _depend_on_catalog(
    result: ImportResult, path: str, draft: Any, r: _Resource, service: str, region: str | None
) -> None:
    from aftershock.catalog.providers import CatalogError, load_catalog, resolve

    catalog = load_catalog().get(r.provider or "")
    if catalog is None or service not in catalog.services:
        return
    ref = f"{r.provider}:{service}" + (f"@{region}" if catalog.services[service].regional else "")
    try:
        draft.depend(resolve(ref).name, "provider catalog")
    except CatalogError as exc:
        result.skip(path, f"catalog edge of {r.address}", f"{exc.message} (region unknown?)")
