"""Rich terminal renderings of analysis results."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from aftershock.analysis.overview import Analysis
from aftershock.analysis.structure import BlastRadius
from aftershock.demo import DemoStory


def money(value: float) -> str:
    """$1,234,567 style."""
    return f"${value:,.0f}"


def print_blast(console: Console, blast: BlastRadius) -> None:
    """What a failure takes down and degrades, and what that costs per hour."""
    verb = "fails" if len(blast.failed) == 1 else "fail together"
    console.print(f"[bold]If {', '.join(blast.failed)} {verb}[/]:")
    table = Table(show_header=True, header_style="bold")
    table.add_column("state")
    table.add_column("count", justify="right")
    table.add_column("components")
    table.add_row("[red]down[/]", str(len(blast.down)), ", ".join(blast.down) or "-")
    table.add_row("[yellow]degraded[/]", str(len(blast.degraded)), ", ".join(blast.degraded) or "-")
    console.print(table)
    console.print(f"revenue at risk: [bold]{money(blast.revenue_per_hour_at_risk)}[/] per hour")


def print_spofs(console: Console, spofs: dict[str, list[str]]) -> None:
    """Single points of failure per target."""
    table = Table(title="Single points of failure", header_style="bold")
    table.add_column("target")
    table.add_column("count", justify="right")
    table.add_column("components whose failure alone takes it down")
    for target, names in spofs.items():
        table.add_row(target, str(len(names)), ", ".join(names) or "[green]none[/]")
    console.print(table)


def print_cycles(console: Console, cycles: list[list[str]]) -> None:
    """Hard dependency cycles."""
    if not cycles:
        console.print("hard dependency cycles: [green]none[/]")
        return
    table = Table(title="Hard dependency cycles (recovery-deadlock risks)", header_style="bold")
    table.add_column("size", justify="right")
    table.add_column("members")
    for members in cycles:
        table.add_row(str(len(members)), " -> ".join(members))
    console.print(table)


def print_analysis(console: Console, result: Analysis) -> None:
    """Counts, cycles, SPOFs and the components whose failure costs most."""
    c = result.counts
    console.print(
        f"[bold]{result.model}[/]: {c['components']} components, {c['requires_edges']} hard and "
        f"{c['uses_edges']} soft dependencies, {c['groups']} redundancy groups, {c['targets']} targets"
    )
    print_cycles(console, result.cycles)
    print_spofs(console, result.spofs)
    table = Table(
        title="Largest blast radius (single failures, by revenue at risk)", header_style="bold"
    )
    table.add_column("component")
    table.add_column("revenue/hour at risk", justify="right")
    table.add_column("down", justify="right")
    table.add_column("degraded", justify="right")
    table.add_column("targets taken down")
    for row in result.top_blast:
        table.add_row(
            row.component,
            money(row.revenue_per_hour_at_risk),
            str(row.down_count),
            str(row.degraded_count),
            ", ".join(row.targets_down) or "-",
        )
    console.print(table)


def print_demo(console: Console, story: DemoStory) -> None:
    """The demo's story in the order a newcomer needs it."""
    console.rule(f"[bold]aftershock demo[/] — {story.model}")
    console.print(
        f"{story.components} components, {len(story.inherited)} of them inside AWS that the shop "
        "never chose to depend on.\n"
    )
    console.print(
        f"[bold]1. What can take {story.target} down on its own?[/] "
        f"({money(story.target_revenue_per_hour)} per hour)"
    )
    console.print(
        f"   {len(story.spofs)} single points of failure; [bold red]{len(story.hidden_spofs)}[/] of them "
        f"are AWS internals: {', '.join(story.hidden_spofs)}"
    )
    console.print(
        f"   The deepest is [bold red]{story.trigger}[/] — the DNS record "
        f"[bold]{story.trigger_record}[/]:"
    )
    console.print("   " + " -> ".join(story.chain) + "\n")
    blast = story.blast
    console.print(
        "[bold]2. On 2025-10-19 at 23:48 PDT that record went empty.[/] What goes with it:"
    )
    print_blast(console, blast)
    console.print(
        f"   Over the ~15 hours us-east-1 was impaired that is up to "
        f"[bold red]{money(story.incident_cost)}[/] at risk."
    )
    if story.survivors:
        console.print(f"   Still up: {', '.join(story.survivors)} (multi-region or independent).\n")
    table = Table(
        title="3. Where one failure costs most (revenue per hour at risk)", header_style="bold"
    )
    table.add_column("component")
    table.add_column("at risk / hour", justify="right")
    table.add_column("down", justify="right")
    for row in story.ranking:
        table.add_row(row.component, money(row.revenue_per_hour_at_risk), str(row.down_count))
    console.print(table)
    console.print(
        "\nNext: [bold]aftershock analyze[/] MODEL, [bold]aftershock blast[/] MODEL COMPONENT, "
        "[bold]aftershock spof[/] MODEL --target C — the demo model is at examples/acme-shop/."
    )
