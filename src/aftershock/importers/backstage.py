"""Backstage catalog files (catalog-info.yaml): Components, Resources, APIs, Systems.

- `spec.dependsOn` of a Component or Resource -> hard edges to the entities named;
- an API is a component of kind `endpoint` that requires the Component(s) providing it
  (`providesApis`; several providers make it an `any_of` group); `consumesApis` -> the consumer
  requires the API;
- `spec.system`, `spec.lifecycle`, `spec.owner`, and any annotation or label whose key ends in
  `tier` become tags; the annotation `aftershock.io/provider-service` (a catalog reference such
  as `aws:dynamodb@us-east-1`, comma-separated for several) adds hard edges into the provider
  catalog. Systems, Domains, Groups, Users, Locations and Templates are not runtime components.

Entity references follow the Backstage format `[kind:][namespace/]name`
(backstage.io/docs/features/software-catalog/references).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aftershock.importers.documents import read_text, read_yaml_documents
from aftershock.importers.result import ImportResult, component_name, malformed, source_label
from aftershock.model.source import Document

PROVIDER_ANNOTATION = "aftershock.io/provider-service"
RUNTIME_KINDS = {"component", "resource", "api"}
_RESOURCE_KINDS = {
    "database": "datastore", "db": "datastore", "s3-bucket": "datastore", "bucket": "datastore",
    "storage": "datastore", "queue": "queue", "topic": "queue", "kafka-topic": "queue",
    "cache": "cache", "redis": "cache", "cdn": "cdn", "load-balancer": "load_balancer",
    "dns": "external", "function": "function", "saas": "saas", "network": "network",
}
_COMPONENT_KINDS = {"service": "service", "website": "endpoint", "library": "service",
                    "function": "function", "job": "job"}


def parse_ref(ref: str, default_kind: str, namespace: str = "default") -> tuple[str, str, str]:
    """(kind, namespace, name) of a Backstage entity reference, kind lower-cased."""
    kind, sep, rest = ref.partition(":")
    if not sep:
        kind, rest = default_kind, ref
    ns, sep, name = rest.partition("/")
    if not sep:
        ns, name = namespace, rest
    return kind.strip().lower(), ns.strip().lower(), name.strip()


def entity_name(name: str, namespace: str) -> str:
    """Component name of an entity: its name, qualified by namespace outside `default`."""
    base = component_name(name)
    return base if namespace in ("", "default") else f"{base}.{component_name(namespace)}"


def import_backstage(paths: list[str | Path] | str | Path) -> ImportResult:
    """Components and edges of Backstage catalog files, read together so that a reference
    resolves to an entity in any of them (several entities a file, `---` separated)."""
    if isinstance(paths, str | Path):
        paths = [paths]
    result = ImportResult(sources=[f"backstage:{p}" for p in paths])
    docs: list[Document] = []
    todo = [str(p) for p in paths]
    seen = {str(Path(p).resolve()) for p in todo}
    while todo:
        path = todo.pop(0)
        read = read_yaml_documents(path, read_text(path))
        if read.error is not None:
            result.skip(path, "the rest of the file", read.error.message, read.error.line)
        docs.extend(read.documents)
        for doc in read.documents:
            for target in _location_targets(result, doc):
                if str(target.resolve()) not in seen:
                    seen.add(str(target.resolve()))
                    todo.append(str(target))
                    result.sources.append(f"backstage:{target}")
    entities: dict[tuple[str, str, str], Document] = {}
    for doc in docs:
        with malformed(result, doc.path, "an entity", lambda d=doc: d.locate(())[0]):
            _collect(result, doc.path, doc, entities)
    providers: dict[tuple[str, str], list[str]] = {}
    for (_kind, ns, name), doc in entities.items():
        with malformed(result, doc.path, f"providesApis of '{name}'", doc.locate(("spec",))[0]):
            for api in (doc.data.get("spec") or {}).get("providesApis") or []:
                _, api_ns, api_name = parse_ref(str(api), "api", ns)
                providers.setdefault((api_ns, api_name), []).append(entity_name(name, ns))
    known = {(k, ns, n.lower()) for k, ns, n in entities}
    for (kind, ns, name), doc in entities.items():
        with malformed(result, doc.path, f"{kind} '{name}'", doc.locate(())[0]):
            _add_entity(result, doc, source_label("backstage", doc.path), kind, ns, name,
                        providers, known)
    return result


def _location_targets(result: ImportResult, doc: Document) -> list[Path]:
    """Files a `kind: Location` entity points at (relative paths and globs; URLs are not fetched)."""
    data = doc.data
    if not isinstance(data, dict) or str(data.get("kind", "")).lower() != "location":
        return []
    spec = data.get("spec") if isinstance(data.get("spec"), dict) else {}
    targets = [spec["target"]] if isinstance(spec.get("target"), str) else []
    targets += [t for t in spec.get("targets") or [] if isinstance(t, str)]
    base = Path(doc.path).parent
    found: list[Path] = []
    for target in targets:
        line = doc.locate(("spec",))[0]
        if "://" in target:
            result.skip(doc.path, f"Location target '{target}'", "remote targets are not fetched; "
                        "download the file and pass it", line)
            continue
        try:
            pattern = Path(target)
            root, rel = (Path(pattern.anchor), str(pattern.relative_to(pattern.anchor))) \
                if pattern.is_absolute() else (base, target)
            matches = sorted(p for p in root.glob(rel) if p.is_file()) if target else []
        except (ValueError, OSError, NotImplementedError) as exc:
            result.skip(doc.path, f"Location target '{target}'", f"not a usable path ({exc})", line)
            continue
        if not matches:
            result.skip(doc.path, f"Location target '{target}'", "no such file", line)
        found += matches
    return found


def _collect(
    result: ImportResult, path: str, doc: Document, entities: dict[tuple[str, str, str], Document]
) -> None:
    """Keep a runtime entity (Component, Resource, API); say why any other document is skipped."""
    data = doc.data
    line = doc.locate(())[0]
    if not isinstance(data, dict) or not str(data.get("apiVersion", "")).startswith("backstage.io/"):
        result.skip(path, "a document", "not a Backstage entity (apiVersion backstage.io/...)", line)
        return
    kind = str(data.get("kind", "")).lower()
    meta = data.get("metadata") or {}
    if not meta.get("name"):
        result.skip(path, f"a {kind or 'entity'}", "it has no metadata.name", line)
        return
    if kind == "location":
        return  # its targets are read (see _location_targets)
    if kind not in RUNTIME_KINDS:
        why = ("recorded as the `system` tag of its components" if kind == "system"
               else f"a {kind} is not a runtime component")
        result.skip(path, f"{kind} '{meta['name']}'", why, line)
        return
    entities[(kind, str(meta.get("namespace") or "default").lower(), str(meta["name"]))] = doc


def _add_entity(
    result: ImportResult,
    doc: Document,
    source: str,
    kind: str,
    ns: str,
    name: str,
    providers: dict[tuple[str, str], list[str]],
    known: set[tuple[str, str, str]],
) -> None:
    data = doc.data
    meta = data.get("metadata") or {}
    spec = data.get("spec") or {}
    stype = str(spec.get("type", "")).lower()
    if kind == "api":
        model_kind = "endpoint"
    elif kind == "resource":
        model_kind = _RESOURCE_KINDS.get(stype, "external" if not stype else "datastore")
    else:
        model_kind = _COMPONENT_KINDS.get(stype, "service")
    draft = result.draft(entity_name(name, ns), source, kind=model_kind,
                         description=meta.get("description"))
    draft.tags["backstage_kind"] = kind
    if stype:
        draft.tags["backstage_type"] = stype
    for key in ("lifecycle", "owner", "system"):
        if isinstance(spec.get(key), str):
            value = spec[key]
            draft.tags[key] = parse_ref(value, key, ns)[2] if key != "lifecycle" else value
    for mapping in (meta.get("annotations") or {}, meta.get("labels") or {}):
        for key, value in mapping.items():
            if str(key).lower().rsplit("/", 1)[-1].endswith("tier"):
                draft.tags["tier"] = str(value)
    for i, ref in enumerate(spec.get("dependsOn") or []):
        dkind, dns, dname = parse_ref(str(ref), "component", ns)
        if (dkind, dns, dname.lower()) not in known:
            result.skip(doc.path, f"dependsOn '{ref}' of '{name}'",
                        "no Component or Resource by that reference in these files",
                        doc.locate(("spec", "dependsOn", i))[0])
            continue
        draft.depend(entity_name(dname, dns), f"backstage dependsOn {ref}")
    for i, ref in enumerate(spec.get("consumesApis") or []):
        _, ans, aname = parse_ref(str(ref), "api", ns)
        if ("api", ans, aname.lower()) not in known and (ans, aname) not in providers:
            result.skip(doc.path, f"consumesApis '{ref}' of '{name}'", "no API by that name in these files",
                        doc.locate(("spec", "consumesApis", i))[0])
            continue
        api = entity_name(aname, ans)
        result.draft(api, source, kind="endpoint")
        draft.depend(api, f"backstage consumesApis {ref}")
    if kind == "api":
        provided_by = providers.get((ns, name), [])
        if len(provided_by) == 1:
            draft.depend(provided_by[0], "backstage providesApis")
        elif len(provided_by) > 1:
            draft.any_of = sorted(provided_by)
            draft.tags["providers"] = len(provided_by)
    refs = str((meta.get("annotations") or {}).get(PROVIDER_ANNOTATION, ""))
    for ref in filter(None, (r.strip() for r in refs.split(","))):
        _depend_on_provider(result, doc, draft, ref)


def _depend_on_provider(result: ImportResult, doc: Document, draft: Any, ref: str) -> None:
    from aftershock.catalog.providers import CatalogError, resolve

    try:
        resolved = resolve(ref)
    except CatalogError as exc:
        line = doc.locate(("metadata", "annotations", PROVIDER_ANNOTATION))[0]
        result.skip(doc.path, f"provider reference '{ref}'", f"{exc.message} ({exc.hint})", line)
        return
    draft.depend(resolved.name, f"annotation {PROVIDER_ANNOTATION}")
