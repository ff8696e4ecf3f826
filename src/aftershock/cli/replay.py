"""Commands `replay` (a catalogued incident through the simulator) and `race` (its DNS trigger)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from aftershock.cli.app import (
    FormatOption,
    HtmlOption,
    OutputFormat,
    app,
    console,
    emit,
    load_graph,
    write_html_option,
)

if TYPE_CHECKING:
    from aftershock.sim.race import RaceEstimate, RaceRun, TraceEvent
    from aftershock.sim.replay import ReplayResult


@app.command()
def replay(
    incident: Annotated[str | None, typer.Argument(help="incident id (see --list)")] = None,
    list_: Annotated[bool, typer.Option("--list", help="list the catalogued incidents")] = False,
    whatif: Annotated[str | None, typer.Option(help="run a counterfactual (see the incident)")] = (
        None
    ),
    parameters: Annotated[bool, typer.Option(help="also print every unpublished parameter")] = (
        False
    ),
    vary: Annotated[list[str] | None, typer.Option(
        help="sensitivity: replay with component.key=V1,V2,... (one key at a time; repeatable)",
    )] = None,
    fmt: FormatOption = OutputFormat.text,
    html: HtmlOption = None,
) -> None:
    """Replay a catalogued incident: recorded windows beside simulated ones, per service."""
    from aftershock.sim.incidents import IncidentError, incident_ids, load_incident

    if list_ or incident is None:
        if not list_:
            raise IncidentError("name an incident to replay", hint="see `aftershock replay --list`")
        rows = []
        for iid in incident_ids():
            inc = load_incident(iid)
            rows.append({"id": iid, "title": inc.title, "whatifs": list(inc.whatifs),
                         "services": len(inc.recorded)})
        emit({"incidents": rows}, fmt, lambda d: _print_incidents(d["incidents"]))
        return
    from aftershock.sim.replay import replay as run

    if vary:
        _vary(incident, vary, fmt)
        return
    if fmt is OutputFormat.text and console.is_terminal:
        from rich.progress import Progress

        with Progress(console=console, transient=True) as bar:
            task = bar.add_task(f"replaying {incident}", total=1.0)
            result = run(incident, whatif, progress=lambda share: bar.update(task, completed=share))
    else:
        result = run(incident, whatif)
    if html is not None:  # the graph view shows the incident's model (without what-if edits)
        write_html_option(html, result, load_graph(result.incident.model_path))
    emit(result, fmt, lambda r: _print_replay(r, parameters))


def _vary(incident: str, specs: list[str], fmt: OutputFormat) -> None:
    """Replay once per value of each `component.key=V1,V2` and tabulate the outcome."""
    import math

    import yaml

    from aftershock.sim.incidents import IncidentError, load_incident
    from aftershock.sim.replay import sensitivity

    variations: dict[str, list] = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        if not sep or not key or not values:
            raise IncidentError(f"--vary '{spec}' is not component.key=V1,V2,...",
                                hint="for example --vary dwfm.lease.hosts=50000,100000")
        variations[key.strip()] = [yaml.safe_load(v) for v in values.split(",") if v.strip()]
    inc = load_incident(incident)
    rows = sensitivity(incident, variations)

    def clock(t: float | None) -> str:
        if t is None:
            return "still impaired"
        return "-" if math.isnan(t) else inc.clock(t)

    data = {"incident": incident, "rows": [
        {"at": r.at, "value": r.value, "reproduced": r.reproduced, "recorded": r.recorded,
         "ends_s": {k: (None if v is None or math.isnan(v) else v) for k, v in r.ends.items()}}
        for r in rows]}

    def show(_: object) -> None:
        from rich.table import Table

        table = Table(title=f"Sensitivity of {incident} (end of each service's first window, PDT)",
                      header_style="bold")
        services = list(rows[0].ends) if rows else []
        for col in ("change", *services, "within 15 min"):
            table.add_column(col)
        for r in rows:
            table.add_row(f"{r.at} = {r.value}", *(clock(r.ends[s]) for s in services),
                          f"{r.reproduced}/{r.recorded}")
        console.print(table)

    emit(data, fmt, show)


def _print_incidents(rows: list[dict]) -> None:
    from rich.table import Table

    table = Table(header_style="bold")
    for col in ("incident", "title", "recorded services", "what-ifs"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["id"], r["title"], str(r["services"]), ", ".join(r["whatifs"]))
    console.print(table)


def _minutes(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds / 60:+.0f}"


def _print_replay(result: ReplayResult, parameters: bool) -> None:
    from rich.markup import escape
    from rich.table import Table

    inc = result.incident
    title = f"[bold]{escape(inc.title)}[/]"
    if result.whatif is not None:
        title += f"\nwhat-if [bold]{result.whatif.whatif.name}[/]: {escape(result.whatif.whatif.description)}"
    console.print(title)
    table = Table(header_style="bold", caption="times PDT; errors in minutes (simulated - recorded)")
    for col in ("service", "recorded", "simulated", "start err", "end err", "within 15 min"):
        table.add_column(col, justify="right" if "err" in col else "left")
    for m in result.matches:
        if m.recorded is None:
            continue
        rec = f"{inc.clock(m.recorded.start_s)} - {inc.clock(m.recorded.end_s)}"
        if m.simulated is None:
            sim = "[red]not impaired[/]"
        else:
            end = "still impaired" if m.simulated[1] is None else inc.clock(m.simulated[1])
            sim = f"{inc.clock(m.simulated[0])} - {end}"
        ok = "[green]yes[/]" if m.within_tolerance else "[red]no[/]"
        table.add_row(m.service, rec, sim, _minutes(m.start_error_s), _minutes(m.end_error_s), ok)
    console.print(table)
    extra = [m for m in result.matches if m.recorded is None and m.simulated is not None]
    if extra:
        console.print("simulated only (no recorded window): " + ", ".join(
            f"{m.service} {inc.clock(m.simulated[0])}-"
            f"{'open' if m.simulated[1] is None else inc.clock(m.simulated[1])}" for m in extra))
    console.print(f"[bold]{result.reproduced_count} of {result.recorded_count}[/] recorded windows "
                  "reproduced within 15 minutes at both ends.")
    misses = [m for m in result.matches if m.recorded is not None and not m.within_tolerance]
    if misses:
        console.print("Not reproduced: " + ", ".join(sorted({m.service for m in misses}))
                      + " (see docs/replay.md for why).")
    if result.whatif is not None:
        w = result.whatif
        verdict = {True: "[green]as expected[/]", False: "[red]NOT as expected[/]",
                   None: "no check"}[w.holds]
        console.print(f"what-if outcome: {escape(w.observed)} - {verdict}")
    if parameters:
        ptable = Table(title="Unpublished parameters", header_style="bold")
        for col in ("where", "value", "kind", "why"):
            ptable.add_column(col)
        for p in inc.parameters:
            ptable.add_row(p.at, str(p.value), p.kind, escape(p.why))
        console.print(ptable)
    else:
        fitted = sum(1 for p in inc.parameters if p.kind == "fitted")
        console.print(f"{len(inc.parameters)} unpublished parameters ({fitted} fitted to a recorded "
                      "time); --parameters lists them with their rationale.")


class GuardChoice(StrEnum):
    """Which guard the DNS automation runs with (`all` compares every one)."""

    none = "none"
    cas = "cas"
    keep_active = "keep-active"
    no_empty = "no-empty"
    all = "all"


@app.command()
def race(
    enactors: Annotated[int | None, typer.Option(help="number of Enactors (catalog: 3)")] = None,
    seeds: Annotated[int, typer.Option(min=1, help="runs (one hour of automation each)")] = 300,
    guard: Annotated[GuardChoice, typer.Option(help="none, cas, keep-active, no-empty or all")] = (
        GuardChoice.all
    ),
    stall_probability: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="chance that an apply stalls")
    ] = None,
    show: Annotated[bool, typer.Option("--show/--no-show", help="print one run where it fired")] = True,
    parameters: Annotated[bool, typer.Option(help="also print each parameter and why")] = False,
    incident: Annotated[str, typer.Option(help="incident whose race model to use")] = (
        "aws-us-east-1-2025-10"
    ),
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Race in DynamoDB's DNS automation: how often the record goes empty, with and without guards."""
    from dataclasses import replace

    from aftershock.sim.incidents import load_race_parameters
    from aftershock.sim.race import GUARDS, estimate_race, simulate_race

    params, why = load_race_parameters(incident)
    if enactors is not None:
        if enactors < 1:
            raise typer.BadParameter("at least one Enactor", param_hint="--enactors")
        params = replace(params, enactors=enactors)
        why["enactors"] = "set on the command line"
    if stall_probability is not None:
        params = replace(params, stall_probability=stall_probability)
        why["stall_probability"] = "set on the command line"
    chosen = GUARDS if guard is GuardChoice.all else (guard.value,)
    estimates = [estimate_race(params, g, seeds) for g in chosen]
    example = None
    fired = [e for e in estimates if e.first_empty_seed is not None]
    if show and fired:
        example = simulate_race(params, fired[0].guard, fired[0].first_empty_seed, trace=True)
    result = {
        "incident": incident,
        "estimates": [e.to_dict() for e in estimates],
        "example": None if example is None else {
            "seed": example.seed,
            "guard": example.guard,
            "empty_at_s": example.empty_at_s,
            "trace": [vars(t) for t in _explaining_steps(example.trace)],
        },
    }
    result["rationale"] = why
    emit(result, fmt, lambda _: _print_race(estimates, example, why if parameters else None))


def _print_race(estimates: list[RaceEstimate], example: RaceRun | None,
                why: dict[str, str] | None) -> None:
    from rich.table import Table

    p = estimates[0].params
    console.print(
        f"[bold]DNS automation race[/]: {p.enactors} Enactors, a plan every ~{p.plan_interval_s:g} s, "
        f"stalls {p.stall_probability:g} of applies (mean {p.stall_mean_s:g} s), clean-up keeps "
        f"{p.cleanup_keep} generations; {estimates[0].seeds} runs of {p.horizon_s / 3600:g} h each"
    )
    table = Table(header_style="bold")
    for col in ("guard", "empty record", "probability", "95% interval", "stale writes",
                "cleanable"):
        table.add_column(col, justify="left" if col == "guard" else "right")
    for e in estimates:
        low, high = e.interval
        colour = "red" if e.empties else "green"
        table.add_row(e.guard, f"[{colour}]{e.empties}/{e.seeds}[/]", f"{e.probability:.3f}",
                      f"{low:.3f}-{high:.3f}", str(e.stale_writes),
                      str(e.cleanable_stale_writes))
    console.print(table)
    if example is not None:
        console.print(f"[bold]How it fired[/] (guard {example.guard}, seed {example.seed}; last steps):")
        for t in _explaining_steps(example.trace):
            who = f"Enactor {t.enactor + 1}" if t.enactor is not None else "Planner"
            console.print(f"  {t.time_s:9.1f} s  {who}: {t.what} (plan {t.generation})")
    if why is not None:
        from dataclasses import asdict

        from rich.markup import escape

        ptable = Table(title="Parameters (AWS published the structure, not these numbers)",
                       header_style="bold")
        for col in ("parameter", "value", "why"):
            ptable.add_column(col)
        for name, value in asdict(p).items():
            ptable.add_row(name, f"{value:g}", escape(why.get(name, "code default")))
        console.print(ptable)


def _explaining_steps(trace: list[TraceEvent]) -> list[TraceEvent]:
    """The slow apply behind the last stale write, the write it overwrote, and what followed."""
    stale = [i for i, t in enumerate(trace) if "stale plan" in t.what]
    if not stale:
        return trace[-8:]
    last = stale[-1]
    plan = trace[last].generation
    slow = [t for t in trace[:last] if "slow apply" in t.what and t.generation == plan][-1:]
    overwritten = [t for t in trace[:last] if t.what == "writes the record"][-1:]
    return slow + overwritten + trace[last:]
