"""Distributed traces: OpenTelemetry OTLP JSON (as the collector's file exporter and `otlp/json`
write them, one export or one per line), Jaeger JSON (the `/api/traces` and UI export format) and
Zipkin v2 JSON (`/api/v2/traces` span lists).

An edge is a parent span in one service with a child span in another: the parent's service
calls the child's. Each edge counts its calls and the fraction that failed (child span status
error, or `error=true` in Jaeger). A client span with no child in another service names what it
called from its attributes: `peer.service`, a database (`db.system` + `server.address` /
`net.peer.name`), a messaging system (`messaging.system`), or an external host
(`server.address`, `net.peer.name`, `http.host`). No other attribute (statements, URLs, headers)
is ever read into the model. Edges are hard: traces show calls, not whether a caller survives
their failure (pass `--soft NAME` to say so).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aftershock.importers.documents import read_json_lines, read_text
from aftershock.importers.result import ImportResult, component_name, malformed, source_label
from aftershock.model.source import Document

_CLIENT_KINDS = {3, 4, "SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "client", "producer"}


@dataclass
class Span:
    """The few fields of a span an import needs."""

    trace: str
    span: str
    parent: str | None
    service: str
    client: bool
    error: bool
    attributes: dict[str, str]
    start_s: float | None = None  # seconds since the epoch, when the span says
    end_s: float | None = None


def import_traces(path: str | Path) -> ImportResult:
    """Service-to-service edges, with call counts and error rates, from one trace file."""
    path = str(path)
    result = ImportResult(sources=[f"traces:{path}"])
    read = read_json_lines(path, read_text(path))
    if read.error is not None:
        result.skip(path, "a record", read.error.message, read.error.line)
    spans: list[Span] = []
    for doc in read.documents:
        line = getattr(doc, "line", None)
        data = doc.data
        if isinstance(data, dict) and "resourceSpans" in data:
            with malformed(result, path, "an OTLP record", line):
                spans += _otlp_spans(result, path, doc)
        elif isinstance(data, dict) and isinstance(data.get("data"), list):
            with malformed(result, path, "a Jaeger record", line):
                spans += _jaeger_spans(result, path, doc)
        elif isinstance(data, list):
            with malformed(result, path, "a Zipkin record", line):
                spans += _zipkin_spans(result, path, doc)
        else:
            result.skip(path, "a record", "not OTLP JSON (resourceSpans), Jaeger JSON (data) or "
                        "Zipkin v2 JSON (a list of spans)", line)
    _edges(result, spans, source_label("traces", path))
    return result


def _value(v: Any) -> str | None:
    """A scalar from an OTLP AnyValue ({"stringValue": ...}, {"intValue": ...}, ...)."""
    if not isinstance(v, dict):
        return None
    for key in ("stringValue", "intValue", "boolValue", "doubleValue"):
        if key in v:
            return str(v[key]).lower() if key == "boolValue" else str(v[key])
    return None


_WANTED = ("peer.service", "db.system", "db.system.name", "server.address", "net.peer.name",
           "messaging.system", "http.host", "rpc.system")


def _otlp_attributes(items: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for a in items or []:
        if isinstance(a, dict) and a.get("key") in _WANTED:
            value = _value(a.get("value"))
            if value is not None:
                out[a["key"]] = value
    return out


def _at(doc: Document, *keys: Any) -> Callable[[], int | None]:
    """The line of `keys` in `doc`, computed only when asked (on a skip)."""
    return lambda: doc.locate(keys)[0]


def _otlp_spans(result: ImportResult, path: str, doc: Document) -> list[Span]:
    spans: list[Span] = []
    for i, rs in enumerate(doc.data.get("resourceSpans") or []):
        line = _at(doc, "resourceSpans", i)
        with malformed(result, path, "a resource's spans", line):
            resource = {a.get("key"): _value(a.get("value"))
                        for a in ((rs or {}).get("resource") or {}).get("attributes") or []
                        if isinstance(a, dict)}
            service = resource.get("service.name")
            if not service:
                result.skip(path, "a resource's spans", "the resource has no service.name", line)
                continue
            scopes = "scopeSpans" if rs.get("scopeSpans") else "instrumentationLibrarySpans"
            for j, ss in enumerate(rs.get(scopes) or []):
                for k, s in enumerate((ss or {}).get("spans") or []):
                    line = _at(doc, "resourceSpans", i, scopes, j, "spans", k)
                    with malformed(result, path, "a span", line):
                        if not isinstance(s, dict) or not s.get("spanId"):
                            result.skip(path, "a span", "it has no spanId", line)
                            continue
                        status = (s.get("status") or {}).get("code")
                        spans.append(Span(
                            trace=str(s.get("traceId", "")), span=str(s["spanId"]),
                            parent=str(s["parentSpanId"]) if s.get("parentSpanId") else None,
                            service=service, client=s.get("kind") in _CLIENT_KINDS,
                            error=status in (2, "STATUS_CODE_ERROR"),
                            attributes=_otlp_attributes(s.get("attributes")),
                            start_s=_seconds(s.get("startTimeUnixNano"), 1e-9),
                            end_s=_seconds(s.get("endTimeUnixNano"), 1e-9),
                        ))
    return spans


def _jaeger_spans(result: ImportResult, path: str, doc: Document) -> list[Span]:
    spans: list[Span] = []
    for i, trace in enumerate(doc.data.get("data") or []):
        with malformed(result, path, "a trace", _at(doc, "data", i)):
            processes = (trace or {}).get("processes") or {}
            for k, s in enumerate((trace or {}).get("spans") or []):
                line = _at(doc, "data", i, "spans", k)
                with malformed(result, path, "a span", line):
                    if not isinstance(s, dict) or not s.get("spanID"):
                        result.skip(path, "a span", "it has no spanID", line)
                        continue
                    service = s.get("process", {}).get("serviceName") if "process" in s else \
                        (processes.get(s.get("processID")) or {}).get("serviceName")
                    if not service:
                        result.skip(path, f"span {s['spanID']}", "its process has no serviceName", line)
                        continue
                    tags = {t.get("key"): t.get("value") for t in s.get("tags") or [] if isinstance(t, dict)}
                    parent = next((r.get("spanID") for r in s.get("references") or []
                                   if isinstance(r, dict) and r.get("refType") == "CHILD_OF"), None)
                    spans.append(Span(
                        trace=str(s.get("traceID", "")), span=str(s["spanID"]), parent=parent,
                        service=service, client=tags.get("span.kind") in ("client", "producer"),
                        error=tags.get("error") in (True, "true") or tags.get("otel.status_code") == "ERROR",
                        attributes={k: str(v) for k, v in tags.items() if k in _WANTED},
                        start_s=_seconds(s.get("startTime"), 1e-6),
                        end_s=_end(s.get("startTime"), s.get("duration"), 1e-6),
                    ))
    return spans


def _zipkin_spans(result: ImportResult, path: str, doc: Document) -> list[Span]:
    """Zipkin v2 JSON: a list of spans with `localEndpoint.serviceName` and `parentId`."""
    spans: list[Span] = []
    for k, s in enumerate(doc.data):
        line = _at(doc, k)
        with malformed(result, path, "a span", line):
            service = (s.get("localEndpoint") or {}).get("serviceName")
            if not s.get("id") or not service:
                result.skip(path, "a span", "it has no id or no localEndpoint.serviceName", line)
                continue
            tags = s.get("tags") or {}
            attributes = {key: str(tags[key]) for key in _WANTED if key in tags}
            remote = (s.get("remoteEndpoint") or {}).get("serviceName")
            if remote and "peer.service" not in attributes:
                attributes["peer.service"] = str(remote)
            spans.append(Span(
                trace=str(s.get("traceId", "")), span=str(s["id"]),
                parent=str(s["parentId"]) if s.get("parentId") else None,
                service=str(service), client=s.get("kind") in ("CLIENT", "PRODUCER"),
                error="error" in tags, attributes=attributes,
                start_s=_seconds(s.get("timestamp"), 1e-6),
                end_s=_end(s.get("timestamp"), s.get("duration"), 1e-6),
            ))
    return spans


def _seconds(value: Any, unit_s: float) -> float | None:
    """A timestamp in seconds from an integer (or numeric string) count of `unit_s`."""
    try:
        return int(value) * unit_s if value not in (None, "", 0, "0") else None
    except (TypeError, ValueError):
        return None


def _end(start: Any, duration: Any, unit_s: float) -> float | None:
    begin, length = _seconds(start, unit_s), _seconds(duration, unit_s)
    return begin + length if begin is not None and length is not None else begin


def _window_s(spans: list[Span]) -> float | None:
    """Seconds between the first span's start and the last span's end (None if unknown or 0)."""
    starts = [s.start_s for s in spans if s.start_s is not None]
    ends = [s.end_s for s in spans if s.end_s is not None]
    if not starts or not ends:
        return None
    window = max(ends) - min(starts)
    return window if window > 0 else None


def _edges(result: ImportResult, spans: list[Span], source: str) -> None:
    by_id = {(s.trace, s.span): s for s in spans}
    calls: Counter[tuple[str, str]] = Counter()
    errors: Counter[tuple[str, str]] = Counter()
    has_remote_child: set[tuple[str, str]] = set()
    for s in spans:
        result.draft(component_name(s.service), source, kind="service")
        parent = by_id.get((s.trace, s.parent)) if s.parent else None
        if parent is not None and parent.service != s.service:
            key = (component_name(parent.service), component_name(s.service))
            calls[key] += 1
            errors[key] += s.error
            has_remote_child.add((parent.trace, parent.span))
    missing = sum(1 for s in spans if s.parent and (s.trace, s.parent) not in by_id)
    if missing:
        result.assume(f"{missing} span(s) have a parent outside this file (a partial trace): "
                      "their caller is unknown")
    for s in spans:
        if not s.client or (s.trace, s.span) in has_remote_child:
            continue
        target = _called(result, s, source)
        if target is not None:
            key = (component_name(s.service), target)
            calls[key] += 1
            errors[key] += s.error
    window = _window_s(spans)
    if window is not None:
        result.assume(f"call rates (`rps.DEP`) are calls over the traces' time window, {window:g} s; "
                      "a sampled trace file understates them by its sampling ratio")
    for (caller, callee), n in calls.items():
        draft = result.components[caller]
        draft.depend(callee, f"traces: {n} calls")
        draft.tags[f"calls.{callee}"] = n
        draft.tags[f"error_rate.{callee}"] = round(errors[(caller, callee)] / n, 4)
        if window is not None:
            draft.tags[f"rps.{callee}"] = round(n / window, 6)


def _called(result: ImportResult, s: Span, source: str) -> str | None:
    """The component a client span with no traced callee called, from its attributes."""
    a = s.attributes
    host = a.get("server.address") or a.get("net.peer.name") or a.get("http.host")
    if a.get("db.system") or a.get("db.system.name"):
        system = a.get("db.system") or a.get("db.system.name") or ""
        name = a.get("peer.service") or host or system
        kind = "cache" if system in ("redis", "memcached", "valkey") else "datastore"
    elif a.get("peer.service"):
        name, kind = a["peer.service"], "service"
    elif a.get("messaging.system"):
        name, kind = host or a["messaging.system"], "queue"
    elif host:
        name, kind = host, "external"
    else:
        return None
    target = component_name(name.split(":")[0])
    if not target:
        return None
    draft = result.draft(target, source, kind=kind)
    if a.get("db.system") or a.get("db.system.name"):
        draft.tags["db_system"] = a.get("db.system") or a.get("db.system.name") or ""
    return target
