"""Finding the services a configuration value points at: `cart:7070`, `http://quote:8090/x`,
`redis://user:pw@cache.prod.svc.cluster.local:6379` (the password is never kept)."""

from __future__ import annotations

import re

# Variables whose name says they hold an address, even when the value is a bare host name.
ADDRESS_VARIABLE = re.compile(
    r"(_|^)(ADDR|ADDRESS|HOST|HOSTNAME|URL|URI|ENDPOINT|SERVER|SERVICE_HOST|DSN|BROKERS?)$",
    re.IGNORECASE,
)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://(?:[^@/\s]*@)?(?P<host>[^:/?#\s,]+)", re.IGNORECASE)
_HOST_PORT = re.compile(r"^(?P<host>[a-z0-9][a-z0-9.-]*):(?P<port>\d{1,5})$", re.IGNORECASE)
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$", re.IGNORECASE)


def hosts_in(variable: str, value: str) -> list[str]:
    """Host names a configuration value points at (lower case, no ports, no credentials).

    A value counts as an address when it is a URL or `host:port`, or when the variable's name
    says it holds one (`*_ADDR`, `*_HOST`, `*_URL`, ...). Comma-separated lists are split.
    """
    hosts: list[str] = []
    named = bool(ADDRESS_VARIABLE.search(variable))
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        m = _URL.match(part) or _HOST_PORT.match(part)
        if m:
            if _HOST.match(m["host"]):
                hosts.append(m["host"])
            continue
        if named and _HOST.match(part) and not part.replace(".", "").isdigit():
            hosts.append(part)
    return [h.lower().rstrip(".") for h in hosts]


def kubernetes_service(host: str, namespace: str | None) -> tuple[str, str | None]:
    """(service, namespace) a cluster DNS name refers to: `svc`, `svc.ns`, `svc.ns.svc[.cluster.local]`."""
    labels = host.split(".")
    if len(labels) >= 3 and labels[2] == "svc":
        return labels[0], labels[1]
    if len(labels) >= 4 and labels[3] == "svc":  # a StatefulSet pod: pod.svc.ns.svc.cluster.local
        return labels[1], labels[2]
    if len(labels) == 2:
        return labels[0], labels[1]
    return labels[0], namespace if len(labels) == 1 else None


_URL_IN_TEXT = re.compile(r"[a-z][a-z0-9+.-]*://(?:[^@/\s]*@)?([a-z0-9][a-z0-9.-]*)", re.IGNORECASE)
_HOST_PORT_IN_TEXT = re.compile(r"(?<![\w.-])([a-z][a-z0-9.-]*[a-z0-9]):\d{2,5}\b", re.IGNORECASE)


def hosts_in_text(text: str) -> list[str]:
    """Host names of every URL and `host:port` inside a configuration file's text."""
    found = _URL_IN_TEXT.findall(text) + _HOST_PORT_IN_TEXT.findall(text)
    return list(dict.fromkeys(h.lower().rstrip(".") for h in found if _HOST.match(h)))


def hosts_in_argument(argument: str) -> list[str]:
    """Host names in a command-line argument: `--cart-addr=cart:7070`, `http://x`, `x:80`."""
    flag, sep, value = argument.partition("=")
    if sep and flag.startswith("-"):
        return hosts_in(flag.lstrip("-").replace("-", "_"), value)
    return hosts_in("", argument)
