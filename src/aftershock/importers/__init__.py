"""Importers: what teams already have (Backstage, Kubernetes, docker-compose, OpenTelemetry traces,
Terraform state) turned into a model v1, one module per format, merged by `importers.merge`.

`import_sources(["k8s.yaml", "traces.json"])` detects each format, imports what it can (listing
what it skipped and why) and returns one merged `ImportResult`; `merge.to_yaml` writes the model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

from aftershock.errors import AftershockError, did_you_mean
from aftershock.gc_pause import collector_paused
from aftershock.importers.documents import read_text
from aftershock.importers.merge import apply_strength, merge
from aftershock.importers.result import ImportResult

FORMATS = ("backstage", "kubernetes", "compose", "otel", "jaeger", "zipkin", "terraform")
_ALIASES = {"k8s": "kubernetes", "docker-compose": "compose", "otlp": "otel", "tf": "terraform",
            "tfstate": "terraform"}
_YAML_SUFFIXES = (".yaml", ".yml", ".json")


_SNIFF_CHARS = 1_000_000


def detect_format(path: str | Path) -> str:
    """The format of an input file, from the keys near its start (not its name).

    Only the first megabyte is looked at, so a large trace export is parsed once, by its importer.
    """
    text = read_text(path)
    sniff = text[:_SNIFF_CHARS]
    head = sniff.lstrip()[:1]
    if head in ("{", "["):
        if '"resourceSpans"' in sniff:
            return "otel"
        if '"traceID"' in sniff and '"spans"' in sniff:
            return "jaeger"
        if head == "[" and '"traceId"' in sniff:
            return "zipkin"
        if '"terraform_version"' in sniff or ('"format_version"' in sniff and '"values"' in sniff):
            return "terraform"
    # Not just "backstage.io/": Kubernetes objects often carry backstage.io/kubernetes-id labels.
    if re.search(r'apiVersion"?\s*:\s*"?backstage\.io/', sniff):
        return "backstage"
    if re.search(r'"?apiVersion"?\s*:', sniff) and re.search(r'"?kind"?\s*:', sniff):
        return "kubernetes"
    if re.search(r'(^|\n|\{)\s*"?services"?\s*:', sniff):
        return "compose"
    raise AftershockError(
        "cannot tell the format of this file",
        file=str(path),
        hint="prefix it with its format, e.g. k8s:FILE; formats: " + ", ".join(FORMATS),
    )


def split_source(source: str) -> tuple[str | None, str]:
    """`format:path` -> (format, path); a plain path -> (None, path)."""
    prefix, sep, rest = source.partition(":")
    if sep and (prefix in FORMATS or prefix in _ALIASES):
        return _ALIASES.get(prefix, prefix), rest
    return None, source


def importer(fmt: str) -> Callable[..., ImportResult]:
    """The import function of a format."""
    if fmt == "backstage":
        from aftershock.importers.backstage import import_backstage as fn
    elif fmt == "kubernetes":
        from aftershock.importers.kubernetes import import_kubernetes as fn
    elif fmt == "compose":
        from aftershock.importers.compose import import_compose as fn
    elif fmt in ("otel", "jaeger", "zipkin"):
        from aftershock.importers.otel import import_traces as fn
    elif fmt == "terraform":
        from aftershock.importers.terraform import import_terraform as fn
    else:
        raise AftershockError(f"unknown format '{fmt}'",
                              hint=did_you_mean(fmt, FORMATS) or "formats: " + ", ".join(FORMATS))
    return fn


def import_sources(
    sources: Iterable[str],
    *,
    env_file: str | None = None,
    soft: Iterable[str] = (),
    hard: Iterable[str] = (),
    telemetry_soft: bool = True,
) -> ImportResult:
    """Import and merge every source (`path`, `format:path`, or a folder of manifests)."""
    with collector_paused():
        return _import_all(list(sources), env_file, soft, hard, telemetry_soft)


def _import_all(
    sources: list[str], env_file: str | None, soft: Iterable[str], hard: Iterable[str],
    telemetry_soft: bool,
) -> ImportResult:
    results: list[ImportResult] = []
    # Formats whose references cross files are read together, at the place of their first file.
    together: dict[str, tuple[int, list[str]]] = {}
    for source in sources:
        fmt, path = split_source(source)
        files = _files(path)
        if not files:
            raise AftershockError("no YAML or JSON file in this folder", file=path)
        for file in files:
            kind = fmt or detect_format(file)
            if kind in ("kubernetes", "backstage"):
                together.setdefault(kind, (len(results) + len(together), []))[1].append(file)
            elif kind == "compose":
                results.append(importer(kind)(file, env_file=env_file))
            else:
                results.append(importer(kind)(file))
    for kind, (position, files) in sorted(together.items(), key=lambda kv: kv[1][0]):
        results.insert(position, importer(kind)(files))
    result = merge(results)
    apply_strength(result, soft, hard, telemetry_soft)
    return result


def _files(path: str) -> list[str]:
    p = Path(path)
    if p.is_dir():
        return sorted(str(f) for f in p.rglob("*") if f.suffix in _YAML_SUFFIXES and f.is_file())
    if not p.exists():
        raise AftershockError("file not found", file=path, hint="check the path")
    return [path]
