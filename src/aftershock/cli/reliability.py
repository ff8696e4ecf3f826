"""Commands over exact reliability: availability, cutsets, importance, fta, export-mef."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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
from aftershock.errors import AftershockError

TargetOption = Annotated[str, typer.Option("--target", "-t", help="the component whose DOWN state is the top event")]
MaxOrderOption = Annotated[int | None, typer.Option("--max-order", help="keep cut sets of at most N events")]
CutoffOption = Annotated[float, typer.Option("--cutoff", help="drop cut sets less probable than P")]
LimitOption = Annotated[int, typer.Option("--limit", help="list at most K cut sets (all are counted)")]
DefaultOption = Annotated[
    float | None,
    typer.Option("--default-unavailability", help="probability for components that give none"),
]
MemoryOption = Annotated[int, typer.Option("--max-memory", help="memory budget of the BDD/ZBDD in MiB")]

HOURS_PER_YEAR = 8760.0


def _budget(mib: int) -> int:
    """--max-memory in bytes."""
    if mib < 16:
        raise AftershockError(f"--max-memory {mib} MiB is too small", hint="give 16 or more (MiB)")
    return mib * 1024**2


def _check_default(value: float | None) -> None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise AftershockError(f"--default-unavailability {value} is not a probability",
                              hint="give a value in [0, 1], e.g. 0.001")


def _tree(model: Path, target: str, default: float | None, required: bool):
    from aftershock.analysis.fault_tree_compile import fault_tree_of

    _check_default(default)
    graph = load_graph(model)
    return graph, fault_tree_of(graph, target, default_unavailability=default,
                                require_probabilities=required)


@app.command()
def availability(
    model: ModelArg,
    target: Annotated[str | None, typer.Option("--target", "-t", help="one target (default: every target)")] = None,
    default_unavailability: DefaultOption = None,
    max_memory: MemoryOption = 2048,
    fmt: FormatOption = OutputFormat.text,
    html: HtmlOption = None,
) -> None:
    """Exact steady-state unavailability of a target (or every target), with the approximations."""
    from aftershock.analysis.fault_tree_compile import fault_tree_of
    from aftershock.analysis.faulttree import analyze_fault_tree

    _check_default(default_unavailability)
    graph = load_graph(model)
    targets = [target] if target is not None else graph.default_targets
    if not targets:
        raise AftershockError("the model has no target (no component with `impact` or a `tier` tag)",
                              file=graph.model.path, hint="name one with --target")
    rows = []
    for name in targets:
        tree = fault_tree_of(graph, name, default_unavailability=default_unavailability,
                             require_probabilities=True)
        result = analyze_fault_tree(tree, limit=5, max_memory=_budget(max_memory))
        row = result.to_dict()
        row["target"] = name
        p = result.probability or 0.0
        row["availability"] = 1.0 - p
        row["downtime_hours_per_year"] = p * HOURS_PER_YEAR
        rows.append(row)
    data: Any = rows[0] if target is not None else {"model": graph.model.name, "targets": rows}
    write_html_option(html, data, graph)
    emit(data, fmt, lambda _: _print_availability(rows))


@app.command()
def cutsets(
    model: ModelArg,
    target: TargetOption,
    max_order: MaxOrderOption = None,
    cutoff: CutoffOption = 0.0,
    limit: LimitOption = 20,
    default_unavailability: DefaultOption = None,
    max_memory: MemoryOption = 2048,
    fmt: FormatOption = OutputFormat.text,
    html: HtmlOption = None,
) -> None:
    """Minimal cut sets of a target: the sets of components whose failure together takes it down."""
    from aftershock.analysis.faulttree import analyze_fault_tree

    graph, tree = _tree(model, target, default_unavailability, required=cutoff > 0)
    result = analyze_fault_tree(tree, max_order=max_order, cutoff=cutoff, limit=limit,
                                max_memory=_budget(max_memory))
    data = result.to_dict()
    data["target"] = target
    write_html_option(html, data, graph)
    emit(data, fmt, lambda _: _print_analysis(result, target))


@app.command()
def importance(
    model: ModelArg,
    target: TargetOption,
    default_unavailability: DefaultOption = None,
    max_memory: MemoryOption = 2048,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Birnbaum, Fussell-Vesely, RAW and RRW of every component a target depends on."""
    from aftershock.analysis.faulttree import FaultTreeBDD
    from aftershock.analysis.importance import importance as rank

    _, tree = _tree(model, target, default_unavailability, required=True)
    result = rank(FaultTreeBDD.build(tree, max_memory=_budget(max_memory)))
    data = result.to_dict()
    data["target"] = target
    emit(data, fmt, lambda _: _print_importance(result))


@app.command()
def fta(
    files: Annotated[list[Path], typer.Argument(help="Open-PSA MEF files (merged)", show_default=False)],
    top: Annotated[str | None, typer.Option("--top", help="top gate (default: the one unused gate)")] = None,
    max_order: MaxOrderOption = None,
    cutoff: CutoffOption = 0.0,
    limit: LimitOption = 20,
    with_importance: Annotated[bool, typer.Option("--importance", help="add importance measures")] = False,
    max_memory: MemoryOption = 2048,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Analyse an Open-PSA MEF fault tree: exact probability, minimal cut sets, approximations."""
    from aftershock.analysis.faulttree import FaultTreeBDD, analyze_fault_tree
    from aftershock.analysis.importance import importance as rank
    from aftershock.analysis.mef import read_fault_tree

    budget = _budget(max_memory)
    tree = read_fault_tree(files, top=top)
    bdd = FaultTreeBDD.build(tree, max_memory=budget)
    result = analyze_fault_tree(tree, max_order=max_order, cutoff=cutoff, limit=limit,
                                max_memory=budget, bdd=bdd)
    data = result.to_dict()
    ranked = rank(bdd) if with_importance and result.probability is not None else None
    if ranked is not None:
        data["importance"] = ranked.to_dict()["events"]

    def text(_: Any) -> None:
        _print_analysis(result, tree.top)
        if ranked is not None:
            _print_importance(ranked)

    emit(data, fmt, text)


@app.command("export-mef")
def export_mef(
    model: ModelArg,
    target: TargetOption,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write here (default: stdout)")] = None,
    default_unavailability: DefaultOption = None,
) -> None:
    """Write a target's fault tree as Open-PSA MEF XML, for SCRAM, XFTA and other PSA tools."""
    from aftershock.analysis.mef import write_mef

    _, tree = _tree(model, target, default_unavailability, required=False)
    text = write_mef(tree)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        gates, events = tree.reachable()
        console.print(f"wrote {output} ({len(gates)} gates, {len(events)} basic events)")


# -- text renderers -------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _print_availability(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title="Exact steady-state availability", header_style="bold")
    for col in ("target", "unavailability", "availability", "downtime h/year", "cut sets",
                "rare-event", "MCUB"):
        table.add_column(col, justify="left" if col == "target" else "right")
    for r in rows:
        approx = r["approximations"]
        table.add_row(r["target"], _fmt(r["probability"]), f"{r['availability']:.9f}",
                      f"{r['downtime_hours_per_year']:.3g}", f"{r['mcs_count']:,}",
                      _fmt(approx["rare_event"]), _fmt(approx["mcub"]))
    console.print(table)


def _print_analysis(result: Any, name: str) -> None:
    from rich.markup import escape
    from rich.table import Table

    console.print(f"[bold]{escape(name)}[/]: {result.basic_events} basic events, "
                  f"BDD of {result.bdd_nodes:,} nodes")
    if result.probability is None:
        console.print(f"[yellow]qualitative only[/]: {result.missing_probabilities} basic event(s) "
                      "have no probability")
    else:
        console.print(f"exact probability   {_fmt(result.probability)}")
        console.print(f"rare-event approx.  {_fmt(result.rare_event)}  ({_off(result.rare_event, result.probability)})")
        console.print(f"MCUB approx.        {_fmt(result.mcub)}  ({_off(result.mcub, result.probability)})")
    limits = []
    if result.max_order is not None:
        limits.append(f"order <= {result.max_order}")
    if result.cutoff > 0:
        limits.append(f"probability >= {result.cutoff:g}")
    console.print(f"minimal cut sets    {result.mcs_count:,}" + (f" ({', '.join(limits)})" if limits else ""))
    if not result.cut_sets:
        return
    table = Table(header_style="bold")
    table.add_column("#", justify="right")
    table.add_column("order", justify="right")
    table.add_column("probability", justify="right")
    table.add_column("cut set")
    for i, (cs, q) in enumerate(zip(result.cut_sets, result.cut_set_probabilities, strict=True), 1):
        table.add_row(str(i), str(len(cs)), _fmt(q), escape(", ".join(cs) or "(always)"))
    console.print(table)
    if result.mcs_count > len(result.cut_sets):
        console.print(f"... {result.mcs_count - len(result.cut_sets):,} more (raise --limit)")


def _off(approx: float | None, exact: float | None) -> str:
    if approx is None or exact is None or exact == 0:
        return "-"
    return f"{(approx - exact) / exact:+.2%} from exact"


def _print_importance(result: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"Importance to {escape(result.top_event)} (P = {_fmt(result.probability)})",
                  header_style="bold")
    for col in ("basic event", "p", "Birnbaum", "Fussell-Vesely", "RAW", "RRW"):
        table.add_column(col, justify="left" if col == "basic event" else "right")
    for e in result.events:
        rrw = "inf" if e.rrw is None and e.fussell_vesely is not None else _fmt(e.rrw)
        table.add_row(escape(e.event), _fmt(e.probability), _fmt(e.birnbaum), _fmt(e.fussell_vesely),
                      _fmt(e.raw), rrw)
    console.print(table)
