"""Commands `replay` (a catalogued incident through the simulator) and `race` (its DNS trigger)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from aftershock.cli.app import FormatOption, OutputFormat, app, console, emit

if TYPE_CHECKING:
    from aftershock.sim.race import RaceEstimate, RaceRun, TraceEvent


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
    incident: Annotated[str, typer.Option(help="incident whose race model to use")] = (
        "aws-us-east-1-2025-10"
    ),
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Race in DynamoDB's DNS automation: how often the record goes empty, with and without guards."""
    from dataclasses import replace

    from aftershock.sim.incidents import load_race_parameters
    from aftershock.sim.race import GUARDS, estimate_race, simulate_race

    params, _ = load_race_parameters(incident)
    if enactors is not None:
        if enactors < 1:
            raise typer.BadParameter("at least one Enactor", param_hint="--enactors")
        params = replace(params, enactors=enactors)
    if stall_probability is not None:
        params = replace(params, stall_probability=stall_probability)
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
    emit(result, fmt, lambda _: _print_race(estimates, example))


def _print_race(estimates: list[RaceEstimate], example: RaceRun | None) -> None:
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
