"""The provider catalog: cloud services and the internal dependencies their providers published.

A model refers to a provider service as `provider:service@region` (`aws:dynamodb@us-east-1`) or,
for a global service, `provider:service` (`aws:iam`). Loading the model expands each reference
lazily into the chain behind it, and nothing else: `aws:lambda@us-east-1` brings DynamoDB, its DNS
record, EC2 launches, ... in us-east-1, each edge tagged with the public report it comes from.
A regional service requires its region; a global service whose control plane lives in one region
requires that region. A component the model defines itself (same name) wins over the catalog.

The data is one YAML file per provider in `catalog/providers/` (see docs/catalog.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from aftershock.errors import AftershockError, did_you_mean
from aftershock.model.schema import KINDS, Component
from aftershock.model.source import Document, read_document

DATA_DIR = Path(__file__).resolve().parent / "providers"

REFERENCE = re.compile(
    r"^(?P<provider>[a-z][a-z0-9]*):(?P<service>[a-z0-9][a-z0-9-]*)(?:@(?P<region>[a-z0-9-]+))?$"
)


class CatalogError(AftershockError):
    """A provider reference that the catalog cannot resolve, or invalid catalog data."""


@dataclass(frozen=True)
class Source:
    """A public document an edge comes from (a post-incident report or the provider's docs)."""

    key: str
    title: str
    url: str
    date: str | None = None

    def cite(self) -> str:
        """One-line citation: title (url, date)."""
        return f"{self.title} ({self.url}{', ' + self.date if self.date else ''})"


@dataclass(frozen=True)
class Edge:
    """A published dependency of one catalog service on another."""

    to: str
    source: Source
    why: str
    hard: bool = True


@dataclass(frozen=True)
class Service:
    """One service of a provider, as written in the catalog file."""

    provider: str
    name: str
    kind: str
    regional: bool
    description: str
    edges: tuple[Edge, ...]
    record: str | None = None
    home_region: str | None = None
    home_source: Source | None = None


@dataclass
class ProviderCatalog:
    """The catalog file of one provider."""

    provider: str
    title: str
    document: Document
    sources: dict[str, Source]
    regions: tuple[str, ...]
    region_source: Source | None
    services: dict[str, Service] = field(default_factory=dict)


@dataclass(frozen=True)
class Reference:
    """A resolved `provider:service[@region]`."""

    provider: str
    service: str
    region: str | None

    @property
    def name(self) -> str:
        """The component name it expands to (canonical form of the reference)."""
        base = f"{self.provider}:{self.service}"
        return f"{base}@{self.region}" if self.region else base


@cache
def load_catalog() -> dict[str, ProviderCatalog]:
    """Every provider catalog shipped in `catalog/providers/`, validated (cached)."""
    catalogs: dict[str, ProviderCatalog] = {}
    for path in sorted(DATA_DIR.glob("*.yaml")):
        catalog = _read_catalog(read_document(path))
        catalogs[catalog.provider] = catalog
    for catalog in catalogs.values():
        _check_edges(catalog, catalogs)
    return catalogs


def looks_like_reference(text: str) -> bool:
    """Whether `text` is written like a provider reference of a known provider."""
    m = REFERENCE.match(text)
    return m is not None and m["provider"] in load_catalog()


def resolve(text: str) -> Reference:
    """Check a reference against the catalog; a CatalogError with a hint says what is wrong."""
    return _resolve(text, load_catalog())


def _resolve(text: str, catalogs: dict[str, ProviderCatalog]) -> Reference:
    m = REFERENCE.match(text)
    if m is None or m["provider"] not in catalogs:
        provider = text.split(":", 1)[0]
        raise CatalogError(
            f"'{text}' is not a provider reference",
            hint=(did_you_mean(provider, catalogs) if ":" in text else None)
            or "write provider:service@region, e.g. aws:dynamodb@us-east-1; providers: "
            + ", ".join(catalogs),
        )
    catalog = catalogs[m["provider"]]
    service = catalog.services.get(m["service"])
    if service is None:
        raise CatalogError(
            f"the {catalog.title} catalog has no service '{m['service']}'",
            hint=did_you_mean(m["service"], catalog.services)
            or f"see `aftershock catalog {catalog.provider}` for its services",
        )
    region = m["region"]
    if service.regional and region is None:
        example = catalog.regions[0] if catalog.regions else "REGION"
        raise CatalogError(
            f"'{text}' is a regional service: say which region",
            hint=f"for example {catalog.provider}:{service.name}@{example}",
        )
    if not service.regional and region is not None:
        raise CatalogError(
            f"'{catalog.provider}:{service.name}' is global; it takes no @region",
            hint=f"write {catalog.provider}:{service.name}"
            + (f" (its control plane lives in {service.home_region})" if service.home_region else ""),
        )
    if region is not None and catalog.regions and region not in catalog.regions:
        raise CatalogError(
            f"unknown {catalog.title} region '{region}'",
            hint=did_you_mean(region, catalog.regions)
            or "regions: " + ", ".join(catalog.regions),
        )
    return Reference(catalog.provider, service.name, region)


@dataclass
class ExpandedService:
    """A catalog service expanded for one region: the component and where its data is written."""

    component: Component
    document: Document
    keys: tuple[Any, ...]
    edges: tuple[tuple[str, Edge], ...]


def expand(references: Iterable[str], defined: Iterable[str] = ()) -> dict[str, ExpandedService]:
    """Components for `references` and everything they depend on, breadth first.

    Names in `defined` are the model's own components: they are neither generated nor followed.
    """
    defined = set(defined)
    catalogs = load_catalog()
    todo = [resolve(r) for r in references]
    out: dict[str, ExpandedService] = {}
    while todo:
        ref = todo.pop()
        if ref.name in out or ref.name in defined:
            continue
        catalog = catalogs[ref.provider]
        service = catalog.services[ref.service]
        targets = [(_target(catalog, service, edge.to, ref.region), edge) for edge in service.edges]
        targets += _implicit_edges(catalog, service, ref.region)
        out[ref.name] = ExpandedService(
            component=_component(catalog, service, ref, targets),
            document=catalog.document,
            keys=("services", service.name),
            edges=tuple((t.name, e) for t, e in targets),
        )
        todo.extend(t for t, _ in targets)
    return out


def expand_model_references(model: Any) -> None:
    """Add the catalog components a loaded `Model` refers to (called by model/load.py).

    A reference that looks like `provider:service...` but does not resolve is a located error.
    """
    from aftershock.model.load import Origin

    roots: list[str] = []
    for name, component in model.components.items():
        for keys, ref in component.references():
            if ref in model.components or ":" not in ref:
                continue
            if not looks_like_reference(ref):
                continue  # not ours: the model's own reference check reports it
            try:
                resolve(ref)
            except CatalogError as exc:
                raise model.error(exc.message, name, keys, hint=exc.hint) from None
            roots.append(ref)
    if not roots:
        return
    for name, expanded in expand(roots, defined=model.components).items():
        model.components[name] = expanded.component
        model.origins[name] = Origin(expanded.document, expanded.keys)


def edge_sources(name: str) -> list[dict[str, str]]:
    """The published source of each dependency of an expanded catalog component."""
    expanded = expand([name])[resolve(name).name]
    return [
        {"to": to, "source": e.source.title, "url": e.source.url, "date": e.source.date or "",
         "why": e.why, "hard": str(e.hard).lower()}
        for to, e in expanded.edges
    ]


def services(provider: str | None = None) -> list[Service]:
    """Every catalog service (of one provider, when given), in file order."""
    catalogs = load_catalog()
    if provider is not None and provider not in catalogs:
        raise CatalogError(
            f"no catalog for provider '{provider}'",
            hint=did_you_mean(provider, catalogs) or "providers: " + ", ".join(catalogs),
        )
    chosen = [catalogs[provider]] if provider else list(catalogs.values())
    return [s for c in chosen for s in c.services.values()]


# --- building components ------------------------------------------------------------------------


def _target(catalog: ProviderCatalog, service: Service, to: str, region: str | None) -> Reference:
    if ":" in to:
        return resolve(to)
    name, _, fixed = to.partition("@")
    target = catalog.services[name]
    if not target.regional:
        return Reference(catalog.provider, name, None)
    return Reference(catalog.provider, name, fixed or region)


def _implicit_edges(
    catalog: ProviderCatalog, service: Service, region: str | None
) -> list[tuple[Reference, Edge]]:
    """A regional service requires its region; a global one with a home region requires that."""
    if service.kind == "region" or "region" not in catalog.services:
        return []
    if service.regional and region is not None and catalog.region_source is not None:
        why = f"a regional service fails with its region ({region})"
        return [(Reference(catalog.provider, "region", region), Edge("region", catalog.region_source, why))]
    if service.home_region is not None and service.home_source is not None:
        why = f"its control plane is hosted in {service.home_region}"
        edge = Edge(f"region@{service.home_region}", service.home_source, why)
        return [(Reference(catalog.provider, "region", service.home_region), edge)]
    return []


def _component(
    catalog: ProviderCatalog,
    service: Service,
    ref: Reference,
    targets: list[tuple[Reference, Edge]],
) -> Component:
    tags: dict[str, str] = {
        "source": f"catalog:{catalog.provider}",
        "catalog_service": f"{catalog.provider}:{service.name}",
        "scope": "regional" if service.regional else "global",
    }
    if service.home_region:
        tags["home_region"] = service.home_region
    for target, edge in targets:
        tags[f"source.{target.name}"] = edge.source.cite()
    data: dict[str, Any] = {
        "kind": service.kind,
        "description": service.description,
        "requires": list(dict.fromkeys(t.name for t, e in targets if e.hard)),
        "uses": list(dict.fromkeys(t.name for t, e in targets if not e.hard)),
        "placement": {"provider": catalog.provider, "region": ref.region},
        "tags": tags,
    }
    if service.record is not None:
        data["record"] = service.record.format(region=ref.region or "")
    return Component.model_validate(data)


# --- reading the data ---------------------------------------------------------------------------


def _fail(doc: Document, keys: tuple[Any, ...], message: str, hint: str | None = None) -> CatalogError:
    line, column = doc.locate(keys)
    return CatalogError(message, file=doc.path, line=line, column=column, hint=hint)


def _read_catalog(doc: Document) -> ProviderCatalog:
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        raise _fail(doc, (), "a provider catalog is a mapping with `provider` and `services`")
    sources: dict[str, Source] = {}
    for key, s in (data.get("sources") or {}).items():
        if not isinstance(s, dict) or not s.get("title") or not s.get("url"):
            raise _fail(doc, ("sources", key), f"source '{key}' needs a title and a url")
        date = s.get("date")
        sources[key] = Source(key, str(s["title"]), str(s["url"]), str(date) if date else None)

    def source(key: Any, where: tuple[Any, ...]) -> Source:
        if key not in sources:
            raise _fail(doc, where, f"unknown source '{key}'", did_you_mean(str(key), sources))
        return sources[key]

    region_key = data.get("region_source")
    catalog = ProviderCatalog(
        provider=str(data["provider"]),
        title=str(data.get("title") or data["provider"]),
        document=doc,
        sources=sources,
        regions=tuple(data.get("regions") or ()),
        region_source=source(region_key, ("region_source",)) if region_key else None,
    )
    for name, spec in data["services"].items():
        spec = spec or {}
        where = ("services", name)
        kind = spec.get("kind", "provider_service")
        if kind not in KINDS:
            raise _fail(doc, (*where, "kind"), f"unknown kind '{kind}'", did_you_mean(kind, KINDS))
        scope = spec.get("scope", "regional")
        if scope not in ("regional", "global"):
            raise _fail(doc, (*where, "scope"), "scope is regional or global")
        edges: list[Edge] = []
        for strength in ("requires", "uses"):
            for i, e in enumerate(spec.get(strength) or []):
                at = (*where, strength, i)
                if not isinstance(e, dict) or "to" not in e or "source" not in e or "why" not in e:
                    raise _fail(doc, at, "an edge is {to, source, why}: every edge cites its source")
                edges.append(Edge(str(e["to"]), source(e["source"], at), str(e["why"]), strength == "requires"))
        home = spec.get("home_region")
        catalog.services[str(name)] = Service(
            provider=catalog.provider,
            name=str(name),
            kind=kind,
            regional=scope == "regional",
            description=str(spec.get("description", "")).strip(),
            edges=tuple(edges),
            record=spec.get("record"),
            home_region=home,
            home_source=source(spec["home_source"], (*where, "home_source")) if home else None,
        )
        if kind == "dns_record" and not spec.get("record"):
            raise _fail(doc, where, f"dns_record '{name}' needs `record:`")
    return catalog


def _check_edges(catalog: ProviderCatalog, catalogs: dict[str, ProviderCatalog]) -> None:
    """Every edge target exists, with a region where one is needed."""
    doc = catalog.document
    for service in catalog.services.values():
        for i, edge in enumerate(service.edges):
            where = ("services", service.name, "requires" if edge.hard else "uses", i)
            if ":" in edge.to:
                try:
                    _resolve(edge.to, catalogs)
                except CatalogError as exc:
                    raise _fail(doc, where, exc.message, exc.hint) from None
                continue
            name, _, fixed = edge.to.partition("@")
            target = catalog.services.get(name)
            if target is None:
                raise _fail(doc, where, f"edge to unknown service '{name}'",
                            did_you_mean(name, catalog.services))
            if target.regional and not service.regional and not fixed:
                raise _fail(doc, where, f"global '{service.name}' needs `{name}@REGION`")
            if fixed and fixed not in catalog.regions:
                raise _fail(doc, where, f"unknown region '{fixed}'", did_you_mean(fixed, catalog.regions))
        if service.home_region and service.home_region not in catalog.regions:
            raise _fail(doc, ("services", service.name, "home_region"), "unknown home region")
