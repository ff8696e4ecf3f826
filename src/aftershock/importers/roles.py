"""Guessing what a workload is from its name or image: a datastore, a cache, a queue, telemetry."""

from __future__ import annotations

import re

_KIND_BY_IMAGE = (
    (re.compile(r"postgres|mysql|mariadb|mongo|cassandra|scylla|cockroach|couchdb|clickhouse|"
                r"elasticsearch|opensearch|influxdb|neo4j|etcd|minio"), "datastore"),
    (re.compile(r"redis|valkey|memcached|keydb|dragonfly"), "cache"),
    (re.compile(r"kafka|rabbitmq|nats|pulsar|activemq|redpanda|zookeeper"), "queue"),
)

# Observability back ends: exporting telemetry to them does not stop a service from serving.
TELEMETRY = re.compile(
    r"(^|[/_.-])(otel-?collector|opentelemetry-collector|otelcol[a-z-]*|jaeger|zipkin|prometheus|"
    r"grafana|loki|tempo|fluentd|fluent-bit|datadog-agent|signoz|victoria-?metrics|alloy)($|[/_.:-])"
)


def kind_from_image(image: str | None, name: str = "") -> str:
    """A model kind for a container image (or its name): datastore, cache, queue or service."""
    text = f"{image or ''} {name}".lower()
    for pattern, kind in _KIND_BY_IMAGE:
        if pattern.search(text):
            return kind
    return "service"


def is_telemetry(name: str, image: str | None = None) -> bool:
    """Whether a workload is an observability back end (collector, tracing, metrics, logs)."""
    return any(TELEMETRY.search(t.lower()) for t in (name, image or "") if t)
