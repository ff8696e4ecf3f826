"""`aftershock report`: results (JSON from any command's `--format json`) to HTML and Markdown."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from aftershock.cli.app import app, console, load_graph


@app.command()
def report(
    results: Annotated[
        list[Path],
        typer.Argument(help="result JSON files (`-` reads standard input); a bundle JSON also works"),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="the HTML file to write")] = Path(
        "aftershock-report.html"
    ),
    model: Annotated[
        Path | None,
        typer.Option(help="the model the results are about: adds the interactive graph, SPOFs, cycles"),
    ] = None,
    markdown: Annotated[Path | None, typer.Option(help="also write a Markdown summary here")] = None,
    bundle: Annotated[
        Path | None, typer.Option(help="also write the report's data (graph + results) as JSON")
    ] = None,
    title: Annotated[str | None, typer.Option(help="page title")] = None,
) -> None:
    """Write a self-contained HTML report (graph, cascade timeline, losses, tables) of results."""
    import json

    from rich.progress import Progress, SpinnerColumn, TextColumn

    from aftershock.report.html import build_bundle, render_html, safe_json

    loaded = [_read_result(p) for p in results]
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), console=console, transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("loading the model", total=None)
        graph = load_graph(model) if model is not None else None
        progress.update(task, description="computing every component's blast radius")
        data = build_bundle(loaded, graph=graph, title=title)
        progress.update(task, description="rendering")
        page = render_html(data)
    _write(output, page)
    if markdown is not None:
        from aftershock.report.markdown import report_markdown

        _write(markdown, report_markdown(data))
    if bundle is not None:
        _write(bundle, json.dumps(json.loads(safe_json(data)), indent=1))
    kinds = ", ".join(r["kind"] for r in data["results"]) or "no results"
    graph_note = "" if data["graph"] else " (no graph: pass --model MODEL to add it)"
    console.print(f"wrote {output} ({len(page) / 1e6:.1f} MB; {kinds}){graph_note}", highlight=False,
                  markup=False)


def _read_result(path: Path) -> Any:
    from aftershock.model.source import read_document

    if str(path) == "-":
        return read_document("<stdin>.json", text=sys.stdin.read()).data
    return read_document(path).data  # JSON by suffix, else YAML (a superset of JSON)


def _write(path: Path, text: str) -> None:
    from aftershock.errors import AftershockError

    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise AftershockError(f"cannot write: {exc.strerror}", file=str(path)) from None
