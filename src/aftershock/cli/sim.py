"""`aftershock simulate`: run a scenario through a model over time."""

from __future__ import annotations

from pathlib import Path
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
def simulate(
    model: ModelArg,
    scenario: Annotated[Path, typer.Argument(help="scenario file (YAML)", show_default=False)],
    series: Annotated[Path | None, typer.Option(
        "--series", help="also write every time series to FILE.csv or FILE.parquet")] = None,
    series_limit: Annotated[int, typer.Option(help="components with series in the JSON")] = 50,
    fmt: FormatOption = OutputFormat.text,
    html: HtmlOption = None,
) -> None:
    """Cascade through time: windows down/degraded per component, losses, time series."""
    from rich.progress import Progress

    from aftershock.sim.engine import Simulation
    from aftershock.sim.scenario import load_scenario

    if series is not None and series.suffix not in (".csv", ".parquet"):
        from aftershock.errors import AftershockError

        raise AftershockError(f"unknown series format '{series.suffix}'", file=str(series),
                              hint="write FILE.csv or FILE.parquet")
    graph = load_graph(model)
    sc = load_scenario(scenario, set(graph.names))
    sim = Simulation(graph, sc)
    show = console.is_terminal and fmt is OutputFormat.text and sc.steps > 20_000
    if show:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("simulating", total=1.0)
            result = sim.run(lambda share: bar.update(task, completed=share))
    else:
        result = sim.run()
    if series is not None:
        result.write_series(series)

    wants_dict = html is not None or fmt is OutputFormat.json
    data = result.to_dict(series_limit=series_limit) if wants_dict else None  # built once for both
    write_html_option(html, data, graph)
    emit(data if fmt is OutputFormat.json else result, fmt, print_simulation)


def print_simulation(result) -> None:  # result: SimResult (imported lazily)
    """Terminal rendering: one line per impaired component, then losses and the summary."""
    from datetime import timedelta

    from rich.table import Table

    from aftershock.model.durations import format_duration

    sc = result.scenario
    table = Table(title=f"{result.model}: {sc.name or sc.path or 'scenario'}", title_justify="left")
    for col in ("component", "state", "from", "to", "for"):
        table.add_column(col)
    rows = sorted(((w.start_s, name, w) for name, ws in result.windows.items() for w in ws))
    def at(seconds: float) -> str:
        if sc.start is None:
            return f"+{format_duration(seconds)}"
        return (sc.start + timedelta(seconds=seconds)).strftime("%m-%d %H:%M:%S")

    for _, name, w in rows:
        when, until = at(w.start_s), at(w.end_s)
        color = "red" if w.state == "down" else "yellow"
        table.add_row(name, f"[{color}]{w.state}[/]", when, until + (" (open)" if w.open else ""),
                      format_duration(w.duration_s))
    console.print(table)
    for name, dollars in sorted(result.loss.items(), key=lambda kv: -kv[1]):
        if dollars > 0:
            console.print(f"loss {name}: ${dollars:,.0f}")
    s = result.summary
    state = "[green]recovered[/]" if s["recovered"] else "[red]still down: " + ", ".join(
        s["down_at_end"][:8]) + "[/]"
    console.print(f"{s['components_down']} down, {s['components_impaired']} impaired, "
                  f"total loss ${s['total_loss']:,.0f}; at the end: {state}")
