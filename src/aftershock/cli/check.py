"""`aftershock check`: the CI gate. Exit 0 when every rule holds, 1 when one is violated, 2 on bad input."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from aftershock.cli.app import FormatOption, ModelArg, OutputFormat, app, console, emit, load_graph

if TYPE_CHECKING:
    from aftershock.gate.check import CheckResult

STATUS_STYLE = {"pass": "[green]pass[/]", "fail": "[bold red]FAIL[/]", "known": "[yellow]known[/]"}


@app.command()
def check(
    model: ModelArg,
    policy: Annotated[Path, typer.Option("--policy", "-p", help="policy file (YAML), see docs/ci.md")],
    baseline: Annotated[
        Path | None,
        typer.Option(help="the model before the change: only violations it does not have fail"),
    ] = None,
    junit: Annotated[
        Path | None, typer.Option(help="write JUnit XML here (one testcase per rule x target)")
    ] = None,
    markdown: Annotated[Path | None, typer.Option(help="write a Markdown summary here (PR comment)")] = None,
    html: Annotated[Path | None, typer.Option(help="write a self-contained HTML report here")] = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Check a model against a policy: no new SPOF, availability, cycles, regions, blast radius."""
    from rich.progress import Progress

    from aftershock.gate.check import check_model
    from aftershock.gate.policy import load_policy

    rules = load_policy(policy)
    graph = load_graph(model)
    old = load_graph(baseline) if baseline is not None else None
    with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task("checking rules", total=len(rules.rules))
        result = check_model(graph, rules, old, on_rule=lambda _: progress.advance(task))
    data = result.to_dict()
    if junit is not None:
        from aftershock.report.junit import write_junit

        write_junit(result, junit)
    if markdown is not None:
        from aftershock.report.markdown import check_markdown

        markdown.write_text(check_markdown(data), encoding="utf-8")
    if html is not None:
        from aftershock.report.html import write_html_report

        write_html_report(data, html, graph=graph)
    emit(data, fmt, lambda _: print_check(result))
    if not result.passed:
        raise typer.Exit(1)


def print_check(result: CheckResult) -> None:
    """One row per rule x target; violations listed, new ones first; a verdict line."""
    from rich.markup import escape
    from rich.table import Table

    title = f"{result.policy_name} ({result.policy})" if result.policy_name else result.policy
    table = Table(title=f"Policy {escape(title)} on {escape(result.model)}", header_style="bold")
    table.add_column("rule")
    table.add_column("target")
    table.add_column("status")
    table.add_column("detail")
    for o in result.outcomes:
        lines = [escape(o.detail)]
        new = [escape(v.subject) for v in o.violations if not v.known]
        known = [escape(v.subject) for v in o.violations if v.known]
        if new:
            lines.append(("[red]new:[/] " if result.baseline else "") + ", ".join(new))
        if known:
            lines.append("[yellow]already in baseline:[/] " + ", ".join(known))
        table.add_row(escape(o.rule.name), escape(o.target), STATUS_STYLE[o.status], "\n".join(lines))
    console.print(table)
    c = result.counts
    known = f", {c['known']} with only violations already in the baseline" if result.baseline else ""
    verdict = "[green]passed[/]" if result.passed else "[bold red]failed[/]"
    console.print(f"check {verdict}: {c['pass']} pass, {c['fail']} fail{known}")
