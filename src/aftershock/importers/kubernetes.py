"""Kubernetes manifests: workloads, the Services and Ingresses in front of them, and the services
each workload names in its environment or ConfigMaps.

A workload becomes a component named after it (`name`, or `name.namespace` outside `default`).
An address in an env var (`CART_SERVICE_ADDR=cartservice:7070`, `redis://cache.shop.svc:6379`)
that names a Service becomes a hard edge to the workloads that Service selects. Secrets are never
read. Replicas become a redundancy group; a zone topology spread places the replicas in zones.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aftershock.importers.addresses import (
    hosts_in,
    hosts_in_argument,
    hosts_in_text,
    kubernetes_service,
)
from aftershock.importers.documents import read_text, read_yaml_documents
from aftershock.importers.replicas import add_replicas
from aftershock.importers.result import ImportResult, component_name, malformed, source_label
from aftershock.importers.roles import is_telemetry, kind_from_image
from aftershock.model.source import Document

WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod", "Job", "CronJob",
             "DeploymentConfig"}
ZONE_KEYS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
_GENERIC_ZONES = ["zone-1", "zone-2", "zone-3"]
_PUBLIC_TLDS = {"com", "net", "org", "io", "dev", "app", "co", "cloud", "ai", "biz", "info", "me",
                "us", "uk", "de", "eu", "fr", "jp", "internal", "local", "localhost"}


@dataclass
class _Workload:
    name: str
    namespace: str
    doc: Document
    kind: str
    labels: dict[str, str]
    pod: dict[str, Any]
    replicas: int | None
    env: list[tuple[str, str]] = field(default_factory=list)  # (variable, value)
    autoscaled: str | None = None  # "min..max" replicas of a HorizontalPodAutoscaler
    arguments: list[str] = field(default_factory=list)  # container command and args
    files: list[str] = field(default_factory=list)  # text of ConfigMaps mounted as volumes


@dataclass
class _Service:
    name: str
    namespace: str
    selector: dict[str, str]
    type: str
    external_name: str | None
    line: int | None
    path: str


def import_kubernetes(paths: list[str | Path] | str | Path) -> ImportResult:
    """Components and edges of one or more manifest files (multi-document YAML)."""
    if isinstance(paths, str | Path):
        paths = [paths]
    result = ImportResult(sources=[f"k8s:{p}" for p in paths])
    docs: list[Document] = []
    for path in map(str, paths):
        read = read_yaml_documents(path, read_text(path))
        if read.error is not None:
            result.skip(path, "the rest of the file", read.error.message, read.error.line)
        docs.extend(read.documents)
    workloads, services, ingresses, configmaps = _sort(result, docs)
    good: list[_Workload] = []
    for w in workloads:
        with malformed(result, w.doc.path, f"{w.kind} {w.name}", w.doc.locate(())[0]):
            _add_workload(result, w, configmaps)
            good.append(w)
    services = [s for s in services if isinstance(s.selector, dict)]
    cluster = _Cluster(services, good)
    for w in good:
        draft = result.components[_qualified(w.name, w.namespace)]
        for variable, value in w.env:
            hard = not variable.upper().startswith("OTEL_")
            for host in hosts_in(variable, value):
                _depend_on_host(result, w, draft, host, f"env {variable}", hard, cluster)
        for argument in w.arguments:
            for host in hosts_in_argument(argument):
                _depend_on_host(result, w, draft, host, "container argument", True, cluster)
        for text in w.files:  # config files name many hosts: only Services of these manifests
            for host in hosts_in_text(text):
                if cluster.find(host, w.namespace) is not None:
                    _depend_on_host(result, w, draft, host, "mounted ConfigMap", True, cluster)
    for s in services:
        if s.type in ("LoadBalancer", "NodePort"):
            entry = result.draft(_qualified(s.name, s.namespace), _source(s.path), kind="load_balancer")
            for target in cluster.selected(s):
                entry.depend(target, f"Service {s.name} ({s.type})")
    for doc in ingresses:
        with malformed(result, doc.path, "an Ingress", doc.locate(())[0]):
            _add_ingress(result, doc, cluster)
    return result


class _Cluster:
    """Services by (namespace, name) and the workloads each selects (computed once)."""

    def __init__(self, services: list[_Service], workloads: list[_Workload]) -> None:
        self.services = {(s.namespace, s.name): s for s in services}
        self._by_label: dict[tuple[str, str, str], list[_Workload]] = defaultdict(list)
        for w in workloads:
            for k, v in w.labels.items():
                self._by_label[(w.namespace, str(k), str(v))].append(w)
        self._selected: dict[tuple[str, str], list[str]] = {}
        self.reported: set[tuple[str, str]] = set()

    def find(self, host: str, namespace: str) -> _Service | None:
        """The Service a host name refers to from `namespace`, if any."""
        name, ns = kubernetes_service(host, namespace)
        return self.services.get((ns or namespace, name))

    def selected(self, s: _Service) -> list[str]:
        """Components of the workloads a Service selects."""
        key = (s.namespace, s.name)
        if key not in self._selected:
            # Candidates carry the selector's rarest label; then check every label.
            lists = [self._by_label.get((s.namespace, str(k), str(v)), [])
                     for k, v in s.selector.items()]
            candidates = min(lists, key=len) if lists else []
            self._selected[key] = [
                _qualified(w.name, w.namespace) for w in candidates
                if all(str(w.labels.get(k)) == str(v) for k, v in s.selector.items())
            ]
        return self._selected[key]


def _source(path: str) -> str:
    return source_label("k8s", path)


def _qualified(name: str, namespace: str | None) -> str:
    base = component_name(name)
    return base if namespace in (None, "", "default") else f"{base}.{component_name(namespace)}"


def _sort(
    result: ImportResult, docs: list[Document]
) -> tuple[list[_Workload], list[_Service], list[Document], dict[tuple[str, str], dict[str, str]]]:
    workloads: list[_Workload] = []
    services: list[_Service] = []
    ingresses: list[Document] = []
    configmaps: dict[tuple[str, str], dict[str, str]] = {}
    ignored: dict[tuple[str, str], list[int | None]] = defaultdict(list)
    autoscalers: dict[tuple[str, str, str], tuple[int, int]] = {}
    for doc in _flatten(docs):
        with malformed(result, doc.path, "a document", doc.locate(())[0]):
            data = doc.data
            if not isinstance(data, dict) or "kind" not in data:
                result.skip(doc.path, "a document", "not a Kubernetes object (no `kind`)", doc.locate(())[0])
                continue
            kind = str(data["kind"])
            meta = data.get("metadata") or {}
            name = str(meta["name"]) if meta.get("name") else None
            namespace = str(meta.get("namespace") or "default")
            spec = data.get("spec") or {}
            line = doc.locate(())[0]
            if not name:
                result.skip(doc.path, f"a {kind}", "it has no metadata.name", line)
            elif kind in WORKLOADS:
                pod, labels = _pod_template(kind, spec)
                replicas = spec.get("replicas", 1) if kind in ("Deployment", "StatefulSet",
                                                               "ReplicaSet", "DeploymentConfig") else None
                labels = labels or meta.get("labels") or {}
                workloads.append(_Workload(name, namespace, doc, kind,
                                           labels if isinstance(labels, dict) else {},
                                           pod, replicas if isinstance(replicas, int) else None))
            elif kind == "Service":
                services.append(_Service(name, namespace, spec.get("selector") or {},
                                         spec.get("type", "ClusterIP"), spec.get("externalName"),
                                         line, doc.path))
            elif kind == "Ingress":
                ingresses.append(doc)
            elif kind == "ConfigMap":
                configmaps[(namespace, name)] = {str(k): str(v) for k, v in (data.get("data") or {}).items()}
            elif kind == "HorizontalPodAutoscaler":
                target = spec.get("scaleTargetRef") or {}
                autoscalers[(namespace, str(target.get("kind")), str(target.get("name")))] = (
                    int(spec.get("minReplicas", 1)), int(spec["maxReplicas"]))
            else:
                ignored[(doc.path, kind)].append(line)
    for w in workloads:
        # An autoscaler overrides `replicas`; the replicas always there are its minimum.
        scaled = autoscalers.get((w.namespace, w.kind, w.name))
        if scaled is not None:
            w.replicas, w.autoscaled = scaled[0], f"{scaled[0]}..{scaled[1]}"
    for (path, kind), lines in ignored.items():
        what = f"{len(lines)} {kind}" + ("s" if len(lines) > 1 else "")
        reason = ("Secrets are never read" if kind == "Secret"
                  else f"a {kind} states no runtime dependency")
        result.skip(path, what, reason, lines[0])
    return workloads, services, ingresses, configmaps


def _flatten(docs: list[Document]) -> list[Document]:
    """`kind: List` documents hold their objects in `items`."""
    out: list[Document] = []
    for doc in docs:
        if isinstance(doc.data, dict) and doc.data.get("kind") == "List":
            for i, item in enumerate(doc.data.get("items") or []):
                out.append(_Sub(doc, ("items", i), item))
        else:
            out.append(doc)
    return out


class _Sub(Document):
    """An object inside a `List`: locations are relative to the list item."""

    def __init__(self, parent: Document, keys: tuple[Any, ...], data: Any) -> None:
        super().__init__(path=parent.path, text=parent.text, data=data)
        self._parent, self._keys = parent, keys

    def locate(self, keys: tuple[Any, ...]) -> tuple[int | None, int | None]:
        return self._parent.locate(self._keys + keys)


def _pod_template(kind: str, spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    if kind == "Pod":
        return spec, {}
    if kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    template = spec.get("template") or {}
    return template.get("spec") or {}, (template.get("metadata") or {}).get("labels") or {}


def _add_workload(
    result: ImportResult, w: _Workload, configmaps: dict[tuple[str, str], dict[str, str]]
) -> None:
    containers = list(w.pod.get("containers") or [])
    images = " ".join(str(c.get("image", "")) for c in containers if isinstance(c, dict))
    kind = "job" if w.kind in ("Job", "CronJob") else kind_from_image(images, w.name)
    draft = result.draft(_qualified(w.name, w.namespace), _source(w.doc.path), kind=kind)
    draft.tags["k8s_kind"] = w.kind
    if w.autoscaled:
        draft.tags["autoscaled"] = w.autoscaled
    if is_telemetry(w.name, images):
        draft.tags["role"] = "telemetry"
    for c in containers + list(w.pod.get("initContainers") or []):
        if not isinstance(c, dict):
            continue
        for e in c.get("env") or []:
            if not isinstance(e, dict) or "name" not in e:
                continue
            if "value" in e:
                w.env.append((str(e["name"]), str(e["value"])))
            ref = (e.get("valueFrom") or {}).get("configMapKeyRef")
            if ref:
                value = configmaps.get((w.namespace, ref.get("name")), {}).get(ref.get("key"))
                if value is not None:
                    w.env.append((str(e["name"]), value))
        for src in c.get("envFrom") or []:
            ref = (src or {}).get("configMapRef")
            if ref:
                w.env.extend(configmaps.get((w.namespace, ref.get("name")), {}).items())
        w.arguments += [str(a) for a in list(c.get("command") or []) + list(c.get("args") or [])]
    for volume in w.pod.get("volumes") or []:
        ref = (volume or {}).get("configMap") if isinstance(volume, dict) else None
        if ref:
            w.files.extend(configmaps.get((w.namespace, ref.get("name")), {}).values())
    if w.replicas is not None:
        add_replicas(result, draft, w.replicas, _source(w.doc.path), _zones(result, w))
    elif w.kind == "DaemonSet":
        draft.tags["replicas"] = "one per node"


def _zones(result: ImportResult, w: _Workload) -> list[str] | None:
    """Zones the replicas are spread over, when the pod spec asks for a zone spread."""
    spread = any((c or {}).get("topologyKey") in ZONE_KEYS
                 for c in w.pod.get("topologySpreadConstraints") or [])
    anti = ((w.pod.get("affinity") or {}).get("podAntiAffinity") or {})
    for rule in (anti.get("requiredDuringSchedulingIgnoredDuringExecution") or []) + [
        (r or {}).get("podAffinityTerm") or {}
        for r in anti.get("preferredDuringSchedulingIgnoredDuringExecution") or []
    ]:
        spread = spread or (rule or {}).get("topologyKey") in ZONE_KEYS
    if not spread or not w.replicas or w.replicas < 2:
        return None
    node = ((w.pod.get("affinity") or {}).get("nodeAffinity") or {})
    required = (node.get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in required.get("nodeSelectorTerms") or []:
        for expr in (term or {}).get("matchExpressions") or []:
            if expr.get("key") in ZONE_KEYS and expr.get("operator") == "In" and expr.get("values"):
                return [str(v) for v in expr["values"]]
    result.assume(f"{w.name}: replicas spread over zones whose names the manifest does not give; "
                  f"placed round-robin in {', '.join(_GENERIC_ZONES)}")
    return list(_GENERIC_ZONES)


def _depend_on_host(
    result: ImportResult,
    w: _Workload,
    draft: Any,
    host: str,
    evidence: str,
    hard: bool,
    cluster: _Cluster,
) -> None:
    if host in ("localhost", "0.0.0.0") or host.replace(".", "").isdigit():
        return
    service = cluster.find(host, w.namespace)
    if service is not None:
        if service.external_name:
            target = component_name(service.external_name)
            result.draft(target, _source(service.path), kind="external")
            draft.depend(target, f"{evidence} (ExternalName {service.name})", hard=hard)
            return
        targets = cluster.selected(service)
        if not targets and (service.namespace, service.name) not in cluster.reported:
            cluster.reported.add((service.namespace, service.name))
            result.skip(service.path, f"Service {service.name}",
                        "its selector matches no workload in these manifests", service.line)
        for target in targets:
            draft.depend(target, f"{evidence} -> Service {service.name}", hard=hard)
        return
    labels = host.split(".")
    cluster_local = (len(labels) <= 2 and labels[-1] not in _PUBLIC_TLDS) or ".svc" in host
    if cluster_local:  # `svc`, `svc.ns`, `svc.ns.svc.cluster.local`: named as a workload would be
        service_name, namespace = kubernetes_service(host, w.namespace)
        name, kind = _qualified(service_name, namespace), "service"
    else:
        name, kind = component_name(host), "external"
    node = result.draft(name, "", kind=kind)
    if not node.sources:
        node.placeholder = True
    if is_telemetry(name):
        node.tags["role"] = "telemetry"
    draft.depend(name, evidence, hard=hard)
    result.assume(f"'{name}' is named by the {evidence} of '{w.name}' but no manifest defines it: "
                  f"added as a placeholder ({kind})")


def _add_ingress(result: ImportResult, doc: Document, cluster: _Cluster) -> None:
    meta = doc.data.get("metadata") or {}
    namespace = meta.get("namespace") or "default"
    spec = doc.data.get("spec") or {}
    entry = result.draft(_qualified(f"ingress-{meta['name']}", namespace), _source(doc.path),
                         kind="load_balancer")
    backends = [spec.get("defaultBackend") or spec.get("backend") or {}]
    for rule in spec.get("rules") or []:
        for p in ((rule or {}).get("http") or {}).get("paths") or []:
            backends.append((p or {}).get("backend") or {})
    for b in backends:
        name = (b.get("service") or {}).get("name") or b.get("serviceName")
        if not name:
            continue
        service = cluster.find(name, namespace)
        if service is None:
            result.skip(doc.path, f"Ingress backend '{name}'", "no such Service in these manifests",
                        doc.locate(())[0])
            continue
        if service.external_name:
            external = component_name(str(service.external_name))
            result.draft(external, _source(service.path), kind="external")
            entry.depend(external, f"Ingress {meta['name']} (ExternalName {service.name})")
        for target in cluster.selected(service):
            entry.depend(target, f"Ingress {meta['name']}")
