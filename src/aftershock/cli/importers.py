"""Commands `import` (what teams already have -> model v1) and `catalog` (provider services)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from aftershock.cli.app import FormatOption, OutputFormat, app, console, emit, err_console

if TYPE_CHECKING:
    from aftershock.importers.result import ImportResult


def _names(values: list[str] | None) -> list[str]:
    return [n.strip() for v in values or [] for n in v.split(",") if n.strip()]


@app.command("import")
def import_(
    sources: Annotated[list[str], typer.Argument(
        help="files or folders: Backstage, Kubernetes, docker-compose, OTLP/Jaeger JSON, Terraform "
             "state (format detected; force one with a prefix, e.g. k8s:FILE)",
        show_default=False)],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="model file to write "
                                                "(default: print the model)")] = None,
    name: Annotated[str | None, typer.Option(help="model name (default: the output file's stem)")] = None,
    env_file: Annotated[Path | None, typer.Option(help="env file for docker-compose `${VAR}` "
                                                  "(default: .env beside the compose file)")] = None,
    soft: Annotated[list[str] | None, typer.Option(help="components whose dependents only degrade "
                                                   "without them (comma-separated, repeatable)")] = None,
    hard: Annotated[list[str] | None, typer.Option(help="components that stay hard dependencies, "
                                                   "even telemetry")] = None,
    telemetry_soft: Annotated[bool, typer.Option(help="treat edges into telemetry back ends "
                                                 "(otel-collector, jaeger, ...) as soft")] = True,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Build a model from what you already have; list what was skipped and what was assumed."""
    from aftershock.importers import import_sources

    result = import_sources(sources, env_file=str(env_file) if env_file else None,
                            soft=_names(soft), hard=_names(hard), telemetry_soft=telemetry_soft)
    _write(result, output, name, fmt)


def _write(
    result: ImportResult, output: Path | None, name: str | None, fmt: OutputFormat
) -> None:
    """Write (or print) the model of an import, validated, and its report."""
    from aftershock.importers.merge import summary, to_yaml
    from aftershock.model.load import load_model_text

    model_name = name or (output.stem if output else "imported")
    text = to_yaml(result, model_name)
    load_model_text(text, path=str(output or "<imported>"))  # the output is a valid model v1
    if output is not None:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    report = summary(result, str(output) if output else None)
    if fmt is OutputFormat.json and output is None:  # stdout holds the model
        err_console.out(json.dumps(report, indent=2), highlight=False)
        return
    emit(report, fmt, _print_report if output else _print_report_stderr)


@app.command()
def discover(
    region: Annotated[list[str] | None, typer.Option(help="region to read (repeatable; default: "
                                                     "the session's region)")] = None,
    all_regions: Annotated[bool, typer.Option(help="read every region the account has")] = False,
    endpoint_url: Annotated[str | None, typer.Option(help="AWS API endpoint (e.g. a moto server)")]
    = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="model file to write")] = None,
    name: Annotated[str | None, typer.Option(help="model name")] = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Read-only discovery of an AWS account (boto3): DynamoDB, Lambda, load balancers, Route 53."""
    from aftershock.importers.aws_discover import discover_aws

    result = discover_aws(region, all_regions=all_regions, endpoint_url=endpoint_url)
    _write(result, output, name or (output.stem if output else "aws"), fmt)


def _print_report(report: dict, out: Console | None = None) -> None:
    out = out or console
    where = f"wrote {escape(report['output'])}: " if report["output"] else ""
    out.print(f"[green]ok[/] {where}{report['components']} components, {report['edges']} edges "
              f"from {len(report['sources'])} source(s)")
    for a in report["assumptions"]:
        out.print(f"  assumed: {escape(a)}", highlight=False, soft_wrap=True)
    for s in report["skipped"]:
        where = f"{s['file']}:{s['line']}" if s["line"] else s["file"]
        out.print(f"  [yellow]skipped[/] {escape(where)}: {escape(s['what'])}: {escape(s['why'])}",
                  highlight=False, soft_wrap=True)


def _print_report_stderr(report: dict) -> None:
    _print_report(report, err_console)


@app.command()
def catalog(
    what: Annotated[str | None, typer.Argument(
        help="a provider (aws) or a reference (aws:lambda@us-east-1); nothing lists providers")] = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Provider services and their published internal dependencies, with sources."""
    from aftershock.catalog import providers as cat

    catalogs = cat.load_catalog()
    if what is None:
        data: object = [{"provider": p, "title": c.title, "services": len(c.services),
                         "sources": len(c.sources)} for p, c in catalogs.items()]
        emit(data, fmt, lambda rows: [console.print(
            f"{r['provider']:<11} {r['services']:>3} services  {r['sources']:>2} sources  {r['title']}")
            for r in rows])
        return
    if ":" not in what:
        rows = [{"reference": f"{s.provider}:{s.name}" + ("@REGION" if s.regional else ""),
                 "kind": s.kind, "home_region": s.home_region, "description": s.description}
                for s in cat.services(what)]
        emit(rows, fmt, lambda rs: [console.print(
            f"[bold]{escape(r['reference'])}[/]"
            + (f" (control plane in {r['home_region']})" if r["home_region"] else "")
            + f"\n  {escape(r['description'])}", highlight=False, soft_wrap=True) for r in rs])
        return
    expanded = cat.expand([what])
    chain = {name: cat.edge_sources(name) for name in expanded}
    emit({"reference": cat.resolve(what).name, "components": chain}, fmt, _print_chain)


def _print_chain(data: dict) -> None:
    console.print(f"[bold]{escape(data['reference'])}[/] expands to {len(data['components'])} components")
    for name, edges in data["components"].items():
        console.print(f"[bold]{escape(name)}[/]", highlight=False)
        for e in edges:
            arrow = "requires" if e["hard"] == "true" else "uses"
            console.print(f"  {arrow} {escape(e['to'])}: {escape(e['why'])}\n"
                          f"    [dim]{escape(e['source'])} {escape(e['url'])}[/]",
                          highlight=False, soft_wrap=True)
