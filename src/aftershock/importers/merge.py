"""Merging imports from several sources into one model v1, and writing it out.

The same service seen by two sources is one component: its edges are the union (a hard edge
wins over a soft one), its tags are merged (first source wins on a conflict) and `tags.source`
lists every source. Edges into telemetry back ends are soft unless the user says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from aftershock.importers.result import Draft, ImportResult
from aftershock.importers.secrets import scrub_tags

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def merge(results: Iterable[ImportResult]) -> ImportResult:
    """One result holding every component, edge, skipped item and assumption of `results`."""
    out = ImportResult()
    for r in results:
        out.sources += r.sources
        out.skipped += r.skipped
        for a in r.assumptions:
            out.assume(a)
        for d in r.components.values():
            _merge_draft(out, d)
    return out


def _merge_draft(out: ImportResult, d: Draft) -> None:
    target = out.components.get(d.name)
    if target is None:
        out.components[d.name] = Draft(
            name=d.name, kind=d.kind, description=d.description, requires=dict(d.requires),
            uses=dict(d.uses), any_of=list(d.any_of) if d.any_of else None,
            placement=dict(d.placement), tags=dict(d.tags), sources=list(d.sources),
            placeholder=d.placeholder, record=d.record, ttl_s=d.ttl_s,
        )
        return
    if target.placeholder and not d.placeholder:
        target.kind = d.kind or target.kind
        target.placeholder = False
    elif not d.placeholder and target.kind in (None, "service") and d.kind not in (None, "service"):
        target.kind = d.kind  # a more specific kind (datastore, queue, ...) from another source
    target.description = target.description or d.description
    target.record = target.record or d.record
    target.ttl_s = target.ttl_s if target.ttl_s is not None else d.ttl_s
    for dep, why in d.requires.items():
        target.depend(dep, why)
    for dep, why in d.uses.items():
        target.depend(dep, why, hard=False)
    if d.any_of and not target.any_of:
        target.any_of = list(d.any_of)
    for key, value in d.placement.items():
        target.placement.setdefault(key, value)
    for key, value in d.tags.items():
        target.tags.setdefault(key, value)
    for s in d.sources:
        if s not in target.sources:
            target.sources.append(s)


def apply_strength(
    result: ImportResult, soft: Iterable[str] = (), hard: Iterable[str] = (), telemetry_soft: bool = True
) -> None:
    """Make edges into `soft` components (and telemetry back ends) `uses`, and into `hard` ones
    `requires`, whatever the sources said."""
    soft, hard = set(soft), set(hard)
    telemetry = {n for n, d in result.components.items() if d.tags.get("role") == "telemetry"}
    for name in sorted((soft | hard) - set(result.components)):
        result.assume(f"--soft/--hard names '{name}', which no source defines (ignored)")
    if telemetry_soft:
        soft |= telemetry - hard
        if telemetry - hard:
            result.assume(
                "edges into telemetry back ends (" + ", ".join(sorted(telemetry - hard)) + ") are soft "
                "(`uses`): exporting telemetry does not stop a service; `--hard NAME` changes that"
            )
    for d in result.components.values():
        if telemetry_soft and d.name in telemetry and d.name not in hard:
            soft_out = set(d.requires)  # a collector scraping a service does not need it
        else:
            soft_out = set()
        for dep in [x for x in d.requires if x in soft or x in soft_out]:
            d.uses[dep] = d.requires.pop(dep)
        for dep in [x for x in d.uses if x in hard]:
            d.requires[dep] = d.uses.pop(dep)
    if soft - telemetry:
        result.assume("edges into " + ", ".join(sorted(soft - telemetry)) + " are soft (--soft)")


def close_references(result: ImportResult) -> None:
    """Give every edge target that no source defined a placeholder component (said so)."""
    from aftershock.catalog.providers import looks_like_reference

    for d in list(result.components.values()):
        for dep in [*d.requires, *d.uses, *(d.any_of or [])]:
            if dep in result.components or looks_like_reference(dep):
                continue
            result.components[dep] = Draft(name=dep, placeholder=True)
            result.assume(f"'{dep}' is referenced by '{d.name}' but defined by no source: "
                          "added as a placeholder")


def to_model(result: ImportResult, name: str = "imported") -> dict[str, Any]:
    """The model v1 document (a plain dict) for `result`, components sorted by name."""
    close_references(result)
    components: dict[str, Any] = {}
    for cname in sorted(result.components):
        d = result.components[cname]
        c: dict[str, Any] = {}
        kind = d.kind
        if kind == "dns_record" and not d.record:
            kind = "endpoint"  # a record whose name is unknown cannot be a dns_record
        if kind:
            c["kind"] = kind
        if d.description:
            c["description"] = d.description
        if kind == "dns_record":
            c["record"] = d.record
            if d.ttl_s is not None:
                c["ttl"] = f"{d.ttl_s:g}s"
        if d.requires:
            c["requires"] = sorted(d.requires)
        if d.uses:
            c["uses"] = sorted(d.uses)
        if d.any_of:
            c["any_of"] = list(d.any_of)
        if d.placement:
            c["placement"] = dict(sorted(d.placement.items()))
        tags: dict[str, Any] = {}
        if d.sources:
            tags["source"] = ", ".join(d.sources)
        if d.placeholder:
            tags["placeholder"] = True
        tags.update(sorted(d.tags.items()))
        for dep in sorted({**d.requires, **d.uses}):
            tags[f"evidence.{dep}"] = ({**d.requires, **d.uses})[dep]
        c["tags"] = scrub_tags(tags)
        components[cname] = c
    return {"version": 1, "name": name, "components": components}


def to_yaml(result: ImportResult, name: str = "imported") -> str:
    """The model as YAML text, with a header naming the sources and what was skipped."""
    def one_line(text: object) -> str:  # a message may hold newlines; a comment may not
        return "".join(c if c.isprintable() else " " for c in " ".join(str(text).split()))

    lines = ["# Generated by `aftershock import` from:"]
    lines += [f"#   {one_line(s)}" for s in result.sources]
    if result.assumptions:
        lines.append("# Assumptions:")
        lines += [f"#   - {one_line(a)}" for a in result.assumptions]
    if result.skipped:
        lines.append("# Skipped:")
        lines += [f"#   - {one_line(s)}" for s in result.skipped]
    body = yaml.dump(to_model(result, name), Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     width=100)
    return "\n".join(lines) + "\n" + body


def summary(result: ImportResult, output: str | None = None) -> dict[str, Any]:
    """JSON-ready report of an import: counts, assumptions and what was skipped."""
    return {
        "output": output,
        "sources": result.sources,
        "components": len(result.components),
        "edges": result.edge_count,
        "placeholders": sorted(n for n, d in result.components.items() if d.placeholder),
        "assumptions": result.assumptions,
        "skipped": [s.to_dict() for s in result.skipped],
    }
