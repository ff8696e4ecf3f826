"""docker-compose files: services, `depends_on`, `links`, addresses in `environment`, replicas.

`${VAR}` is interpolated from the env file (`.env` beside the compose file, or the one given), as
Compose does; the shell environment is deliberately not read, so an import is reproducible.
Values are only scanned for host names: no environment value is ever copied into the model.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aftershock.importers.addresses import hosts_in
from aftershock.importers.documents import read_text, read_yaml_documents
from aftershock.importers.replicas import add_replicas
from aftershock.importers.result import ImportResult, component_name, malformed, source_label
from aftershock.importers.roles import is_telemetry, kind_from_image
from aftershock.model.source import Document

_VAR = re.compile(r"\$(?:\$|\{(?P<braced>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")
_IP = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
_LOCAL = {"localhost", "0.0.0.0", "host.docker.internal"}


def read_env_file(path: str | Path) -> dict[str, str]:
    """KEY=VALUE lines of a Compose env file (comments and blank lines ignored, later wins)."""
    env: dict[str, str] = {}
    for raw in read_text(path).splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = re.sub(r"\s+#.*$", "", value)  # inline comment after an unquoted value
        env[key.strip()] = _interpolate(value, env)
    return env


def _interpolate(text: str, env: dict[str, str]) -> str:
    """Compose-style `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `$VAR`, `$$`."""

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        expr = m["braced"] if m["braced"] is not None else m["bare"]
        for sep in (":-", "-", ":?", "?", ":+", "+"):
            if sep in expr:
                name, _, default = expr.partition(sep)
                value = env.get(name)
                if sep in (":-",):
                    return value if value else _interpolate(default, env)
                if sep == "-":
                    return value if value is not None else _interpolate(default, env)
                if sep in (":+", "+"):
                    return _interpolate(default, env) if value else ""
                return value or ""
        return env.get(expr, "")

    return _VAR.sub(one, text)


def import_compose(path: str | Path, *, env_file: str | Path | None = None) -> ImportResult:
    """Components and edges of one docker-compose file."""
    path = str(path)
    result = ImportResult(sources=[f"compose:{path}"])
    source = source_label("compose", path)
    env: dict[str, str] = {}
    default_env = Path(path).parent / ".env"
    if env_file is not None:
        env = read_env_file(env_file)
    elif default_env.is_file():
        env = read_env_file(default_env)
    read = read_yaml_documents(path, read_text(path))
    if read.error is not None:
        result.skip(path, "the rest of the file", read.error.message, read.error.line)
    if not read.documents:
        return result
    doc = read.documents[0]
    services = doc.data.get("services") if isinstance(doc.data, dict) else None
    if not isinstance(services, dict):
        result.skip(path, "the file", "no `services:` mapping (is it a compose file?)", 1)
        return result
    names = {raw: component_name(str(raw)) for raw in services}
    aliases = {str(raw).lower(): name for raw, name in names.items()}
    with malformed(result, path, "network aliases", 1):
        aliases = _aliases(services, names)
    for raw, spec in services.items():
        if not isinstance(spec, dict):
            result.skip(path, f"service '{raw}'", "its definition is not a mapping", _line(doc, raw))
            continue
        with malformed(result, path, f"service '{raw}'", _line(doc, raw)):
            _import_service(result, doc, source, raw, spec, names, aliases, env)
    return result


def _aliases(services: dict[str, Any], names: dict[str, str]) -> dict[str, str]:
    """Every host name a service answers to (service name, container_name, hostname, aliases)."""
    aliases: dict[str, str] = {}
    for raw, spec in services.items():
        aliases[str(raw).lower()] = names[raw]
        if not isinstance(spec, dict):
            continue
        for key in ("container_name", "hostname"):
            if isinstance(spec.get(key), str):
                aliases[spec[key].lower()] = names[raw]
        networks = spec.get("networks")
        if isinstance(networks, dict):
            for net in networks.values():
                for alias in (net or {}).get("aliases", []) if isinstance(net, dict) else []:
                    aliases[str(alias).lower()] = names[raw]
    return aliases


def _line(doc: Document, raw: str, *keys: Any) -> int | None:
    return doc.locate(("services", raw, *keys))[0]


def _import_service(
    result: ImportResult,
    doc: Document,
    source: str,
    raw: str,
    spec: dict[str, Any],
    names: dict[str, str],
    aliases: dict[str, str],
    env: dict[str, str],
) -> None:
    name = names[raw]
    image = _interpolate(str(spec.get("image", "")), env)
    draft = result.draft(name, source, kind=kind_from_image(image, str(raw)))
    if is_telemetry(str(raw), image):
        draft.tags["role"] = "telemetry"
    depends = spec.get("depends_on") or {}
    if isinstance(depends, list):
        depends = {d: {} for d in depends}
    for dep, cond in depends.items():
        cond = cond if isinstance(cond, dict) else {}
        target = names.get(dep)
        if target is None:
            result.skip(doc.path, f"depends_on '{dep}' of '{raw}'", "no such service in this file",
                        _line(doc, raw, "depends_on"))
            continue
        condition = cond.get("condition", "service_started")
        if condition == "service_completed_successfully":
            result.assume(f"{name} -> {target}: `service_completed_successfully` is a one-off "
                          "start-up job, not a runtime dependency; no edge")
            continue
        draft.depend(target, f"depends_on ({condition})", hard=cond.get("required", True) is not False)
    for link in spec.get("links") or []:
        target = aliases.get(str(link).split(":")[0].lower())
        if target:
            draft.depend(target, "links")
    # `network_mode: service:x` shares x's network stack; `volumes_from: [x]` mounts x's volumes.
    network = str(spec.get("network_mode", ""))
    shared = [(network.removeprefix("service:"), "network_mode")] if network.startswith("service:") else []
    shared += [(str(v).split(":")[0], "volumes_from") for v in spec.get("volumes_from") or []]
    for other, why in shared:
        if names.get(other):
            draft.depend(names[other], why)
    for variable, value in _environment(spec, env):
        for host in hosts_in(variable, value):
            _depend_on_host(result, doc, raw, draft, host, variable, aliases)
    replicas = _replicas(spec)
    if replicas is not None:
        add_replicas(result, draft, replicas, source)


def _environment(spec: dict[str, Any], env: dict[str, str]) -> list[tuple[str, str]]:
    """(variable, interpolated value) of a service's `environment` (list or mapping form)."""
    items = spec.get("environment") or {}
    pairs: list[tuple[str, str]] = []
    if isinstance(items, dict):
        pairs = [(str(k), "" if v is None else str(v)) for k, v in items.items()]
    elif isinstance(items, list):
        for item in items:
            key, sep, value = str(item).partition("=")
            # A bare `- VAR` takes its value from the project environment (the env file).
            pairs.append((key, value if sep else env.get(key, "")))
    return [(k, _interpolate(v, env)) for k, v in pairs]


def _depend_on_host(
    result: ImportResult,
    doc: Document,
    raw: str,
    draft: Any,
    host: str,
    variable: str,
    aliases: dict[str, str],
) -> None:
    if host in _LOCAL or _IP.match(host):
        return
    target = aliases.get(host)
    if target is not None:
        hard = not variable.upper().startswith("OTEL_")
        draft.depend(target, f"env {variable}", hard=hard)
        return
    placeholder = component_name(host)
    kind = "external" if "." in host else "service"
    node = result.draft(placeholder, "", kind=kind)
    if not node.sources:
        node.placeholder = True
    if is_telemetry(host):
        node.tags["role"] = "telemetry"
    draft.depend(placeholder, f"env {variable}")
    result.assume(f"'{placeholder}' is named by `{variable}` of '{raw}' but defined in no source: "
                  f"added as a placeholder ({kind})")


def _replicas(spec: dict[str, Any]) -> int | None:
    deploy = spec.get("deploy")
    if isinstance(deploy, dict) and isinstance(deploy.get("replicas"), int):
        return deploy["replicas"]
    scale = spec.get("scale")
    return scale if isinstance(scale, int) else None
