"""The typer application, the shared options and the error handling every command gets."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from aftershock.errors import AftershockError

app = typer.Typer(
    name="aftershock",
    help="How an outage in something you depend on cascades, what it costs, and what would stop it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


class OutputFormat(StrEnum):
    """How a command prints its result."""

    text = "text"
    json = "json"


FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="text or json")]
ModelArg = Annotated[Path, typer.Argument(help="model file (YAML or JSON)", show_default=False)]


HtmlOption = Annotated[
    Path | None,
    typer.Option("--html", help="also write a self-contained HTML report here", show_default=False),
]


def write_html_option(path: Path | None, result: Any, graph: Any = None) -> None:
    """Write the HTML report of `result` (a dict or an object with `to_dict()`) when `path` is set,
    with the model's graph when `graph` (a CompiledGraph) is given; say where it went on stderr."""
    if path is None:
        return
    from aftershock.report.html import write_html_report

    data = result.to_dict() if hasattr(result, "to_dict") else result
    write_html_report(data, path, graph=graph)
    err_console.print(f"wrote {path}", highlight=False, markup=False)


def load_graph(path: Path):
    """Load, validate and compile a model file."""
    from aftershock.model.compile import compile_model
    from aftershock.model.load import load_model

    return compile_model(load_model(path))


def emit(result: Any, fmt: OutputFormat, text: Callable[[Any], None]) -> None:
    """Print `result` as JSON (its `to_dict()`, or itself) or through the text renderer."""
    if fmt is OutputFormat.json:
        data = result.to_dict() if hasattr(result, "to_dict") else result
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n")
    else:
        text(result)


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def main() -> None:
    """Entry point: run the app; a user error prints one located message and exits 2."""
    try:
        app()  # standalone: usage errors print click's message and exit 2
    except AftershockError as exc:
        err_console.print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        sys.exit(2)
