"""Rich terminal renderings of risk and what-if results."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from aftershock.risk.results import RiskResult
from aftershock.risk.whatif import WhatIfResult


def money(value: float) -> str:
    """$1,234,567 style."""
    return f"-${-value:,.0f}" if value < 0 else f"${value:,.0f}"


def _ci(lo: float, hi: float, fmt=money) -> str:
    return f"[dim]{fmt(lo)}..{fmt(hi)}[/]"


def hours(value: float) -> str:
    """Hours with sensible precision."""
    return f"{value:.2f} h" if value < 100 else f"{value:,.0f} h"


def print_risk(console: Console, result: RiskResult, top: int = 10) -> None:
    """Per-target availability, downtime and loss with intervals, then the top contributors."""
    console.print(
        f"[bold]{result.model}[/]: {result.trials:,} trials of {hours(result.horizon_hours)} "
        f"(seed {result.seed}, backend {result.backend}); intervals are 95%"
    )
    table = Table(title="Targets", header_style="bold")
    for col, just in (("target", "left"), ("availability", "right"), ("downtime mean", "right"),
                      ("p90", "right"), ("p99", "right"), ("incidents", "right"),
                      ("expected loss (95% CI)", "right"), ("p99 loss", "right")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for name, t in result.targets.items():
        d, loss = t.down_hours, t.loss
        lo, hi = loss.moments.mean_ci()
        table.add_row(
            name,
            f"{100 * (1 - t.unavailability):.4f}%",
            hours(d.mean),
            hours(d.quantile(0.9)),
            hours(d.quantile(0.99)),
            f"{t.incidents.mean:.1f}",
            f"{money(loss.mean)} {_ci(lo, hi)}" if t.revenue_per_hour else "-",
            money(loss.quantile(0.99)) if t.revenue_per_hour else "-",
        )
    console.print(table)
    total = result.total_loss
    lo, hi = total.moments.mean_ci()
    console.print(
        f"expected annual loss [bold]{money(total.mean)}[/] {_ci(lo, hi)}; "
        f"P50 {money(total.quantile(0.5))}, P90 {money(total.quantile(0.9))}, "
        f"P95 {money(total.quantile(0.95))}, P99 {money(total.quantile(0.99))}"
    )
    table = Table(title=f"Top {top} contributors to the expected loss", header_style="bold")
    table.add_column("source")
    table.add_column("kind")
    table.add_column("expected loss (95% CI)", justify="right")
    table.add_column("share", justify="right")
    table.add_column("figures from")
    for c in result.contributors[:top]:
        lo, hi = c.expected_loss.mean_ci()
        origin = "default" if c.profile_source.startswith("default") else (
            "model + default duration" if "default" in c.profile_source else "model")
        table.add_row(c.name, c.kind, f"{money(c.expected_loss.mean)} {_ci(lo, hi)}", f"{100 * c.share:.1f}%",
                      origin)
    console.print(table)
    for note in result.notes:
        console.print(f"[dim]note: {note}[/]")


def print_whatif(console: Console, result: WhatIfResult) -> None:
    """The ranked table of mitigations."""
    base = result.baseline
    lo, hi = base.total_loss.moments.mean_ci()
    console.print(
        f"[bold]{base.model}[/]: baseline expected annual loss [bold]{money(base.total_loss.mean)}[/] "
        f"{_ci(lo, hi)} over {base.trials:,} trials (seed {base.seed}); common random numbers"
    )
    table = Table(title="Mitigations ranked by expected annual loss removed", header_style="bold")
    for col, just in (("#", "right"), ("mitigation", "left"), ("loss removed (95% CI)", "right"),
                      ("cost/yr", "right"), ("net", "right"), ("removed per $", "right"),
                      ("value #", "right")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for m in result.ranked:
        if not m.evaluated:
            table.add_row("-", m.name, "[yellow]not evaluated[/]", money(m.cost_per_year)
                          if m.cost_per_year is not None else "-", "-", "-", "-")
            continue
        removed, ci = m.removed or 0.0, m.removed_ci
        cost = m.cost_per_year
        table.add_row(
            str(m.rank), m.name,
            f"{money(removed)} {_ci(*ci)}" if ci is not None else f"{money(removed)} [dim](simulator)[/]",
            money(cost) if cost is not None else "-",
            money(removed - cost) if cost is not None else "-",
            f"{m.removed_per_cost:.2f}" if m.removed_per_cost is not None else "-",
            str(m.value_rank) if m.value_rank is not None else "-",
        )
    console.print(table)
    for m in result.mitigations:
        if not m.evaluated:
            console.print(f"[yellow]not evaluated[/] {m.name}: {m.reason}")
        elif m.simulated is not None:
            for note in m.simulated.notes:
                console.print(f"[dim]{m.name}: {note}[/]")
