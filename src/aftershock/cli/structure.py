"""Commands over the model's structure: validate, schema, analyze, blast, spof."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from aftershock.cli.app import (
    FormatOption,
    HtmlOption,
    ModelArg,
    OutputFormat,
    app,
    console,
    emit,
    load_graph,
    write_html_option,
)


@app.command()
def validate(model: ModelArg, fmt: FormatOption = OutputFormat.text) -> None:
    """Check a model file; print what it holds, or one located error (exit 2)."""
    graph = load_graph(model)
    summary = {"model": graph.model.name, "valid": True, "components": graph.n}
    emit(
        summary,
        fmt,
        lambda s: console.print(f"[green]ok[/] {s['model']}: {s['components']} components"),
    )


@app.command()
def schema() -> None:
    """Print the JSON Schema of model format v1 (for editors and CI)."""
    from aftershock.model.schema import json_schema

    typer.echo(json.dumps(json_schema(), indent=2))


@app.command()
def analyze(
    model: ModelArg,
    top: Annotated[int, typer.Option(help="how many components to rank by blast radius")] = 10,
    fmt: FormatOption = OutputFormat.text,
    html: HtmlOption = None,
) -> None:
    """Counts, hard cycles, single points of failure, and the largest blast radii."""
    from aftershock.analysis.overview import analyze as run
    from aftershock.report.terminal import print_analysis

    graph = load_graph(model)
    result = run(graph, top=top)
    write_html_option(html, result, graph)
    emit(result, fmt, lambda r: print_analysis(console, r))


@app.command()
def blast(
    model: ModelArg,
    components: Annotated[list[str], typer.Argument(help="components that fail together")],
    fmt: FormatOption = OutputFormat.text,
    html: HtmlOption = None,
) -> None:
    """What is down and degraded when the given components fail."""
    from aftershock.analysis.structure import blast_radius
    from aftershock.report.terminal import print_blast

    graph = load_graph(model)
    result = blast_radius(graph, components)
    write_html_option(html, result, graph)
    emit(result, fmt, lambda r: print_blast(console, r))


@app.command()
def spof(
    model: ModelArg,
    target: Annotated[str | None, typer.Option(help="one target (default: every target)")] = None,
    fmt: FormatOption = OutputFormat.text,
    html: HtmlOption = None,
) -> None:
    """Single points of failure of one target, or of every component with impact or a tier tag."""
    from aftershock.analysis.structure import all_single_points_of_failure
    from aftershock.report.terminal import print_spofs

    graph = load_graph(model)
    if target is not None:
        spofs = all_single_points_of_failure(graph, [target])
        data: dict[str, object] = {"target": target, "spofs": spofs[target]}
    else:
        spofs = all_single_points_of_failure(graph)
        data = {"targets": spofs}
    write_html_option(html, data, graph)
    emit(data, fmt, lambda _: print_spofs(console, spofs))
