"""`aftershock dns-proxy`: a DNS server that injects the faults of a rules file or a scenario."""

from __future__ import annotations

import ipaddress
import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from aftershock.cli.app import app, err_console
from aftershock.errors import AftershockError


def parse_endpoint(text: str, default_port: int, what: str) -> tuple[str, int]:
    """`127.0.0.1:5353`, `[::1]:5353`, `127.0.0.1` or `::1` -> (host, port)."""
    text = text.strip()
    host, port = text, str(default_port)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.lstrip(":") or port
    elif text.count(":") == 1:
        host, port = text.split(":")
    try:
        address = str(ipaddress.ip_address(host))
        number = int(port)
        if not 0 <= number <= 65535:
            raise ValueError
    except ValueError:
        raise AftershockError(
            f"{what} '{text}' is not an IP address with an optional port",
            hint="write 127.0.0.1:5353 or [::1]:5353 (host names are not resolved)",
        ) from None
    return address, number


def _is_loopback(host: str) -> bool:
    return ipaddress.ip_address(host).is_loopback


@app.command("dns-proxy")
def dns_proxy(
    listen: Annotated[
        str, typer.Option(help="address:port to serve DNS on (UDP and TCP)")
    ] = "127.0.0.1:5353",
    upstream: Annotated[
        str | None, typer.Option(help="resolver to forward to, address:port (default: none)")
    ] = None,
    zone: Annotated[
        Path | None, typer.Option(help="static zone (RFC 1035 master file) to answer from")
    ] = None,
    rules: Annotated[
        Path | None, typer.Option(help="rules file (YAML/JSON); reloaded when it changes")
    ] = None,
    scenario: Annotated[
        Path | None,
        typer.Option(help="simulation scenario whose DNS faults to play (needs --model)"),
    ] = None,
    model: Annotated[
        Path | None, typer.Option(help="model naming the scenario's dns_record targets")
    ] = None,
    speed: Annotated[float, typer.Option(help="scenario seconds per real second")] = 1.0,
    control: Annotated[
        str, typer.Option(help="control API address:port (loopback only), or 'off'")
    ] = "127.0.0.1:5380",
    allow: Annotated[
        list[str] | None,
        typer.Option(help="client networks served (repeat; default: loopback only)"),
    ] = None,
    rate_limit: Annotated[
        float, typer.Option(help="queries per second per client (0: no limit)")
    ] = 5000.0,
    upstream_timeout: Annotated[
        float, typer.Option(help="seconds before an upstream query fails")
    ] = 2.0,
    log: Annotated[
        Path | None, typer.Option(help="write the fault log here (default: stderr)")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="seed for probabilistic rules and jitter")
    ] = None,
    print_rules: Annotated[
        bool, typer.Option(help="print the rules that would be loaded, then exit")
    ] = False,
) -> None:
    """Serve DNS on a loopback port, forwarding or answering from a zone, and inject faults
    (empty, nxdomain, servfail, refused, drop, delay, wrong_address, ttl) by rule."""
    from aftershock.chaos.dnsproxy import FaultLog, ProxyConfig
    from aftershock.chaos.rules import load_rules_file
    from aftershock.chaos.service import ProxyService, ServiceOptions
    from aftershock.chaos.zone import Zone

    host, port = parse_endpoint(listen, 5353, "--listen")
    forward_to = parse_endpoint(upstream, 53, "--upstream") if upstream else None
    networks = _networks(allow)
    if not _is_loopback(host) and allow is None:
        err_console.print(
            f"warning: listening on {host}, but only loopback clients are served; "
            "give --allow NETWORK to serve others"
        )
    control_endpoint = (
        None if control.lower() == "off" else parse_endpoint(control, 5380, "--control")
    )
    if control_endpoint is not None and not _is_loopback(control_endpoint[0]):
        raise AftershockError(
            f"the control API has no authentication, so it only binds to loopback, not {control_endpoint[0]}",
            hint="use --control 127.0.0.1:5380 and reach it through an SSH tunnel",
        )
    scenario_rules = []
    plan = None
    if scenario is not None or model is not None:
        if scenario is None or model is None:
            raise AftershockError(
                "--scenario and --model go together", hint="give both, or neither"
            )
        from aftershock.chaos.scenario_bridge import plan_rehearsal
        from aftershock.model.load import load_model

        plan = plan_rehearsal(scenario, load_model(model), speed=speed)
        scenario_rules = plan.rules
        for skipped in plan.skipped:
            err_console.print(
                f"scenario: {skipped['kind']} on {skipped['target']}: {skipped['why']}, skipped"
            )
    file_rules = load_rules_file(rules) if rules is not None else []
    if print_rules:
        sys.stdout.write(
            json.dumps({"rules": [r.to_dict() for r in [*file_rules, *scenario_rules]]}, indent=2)
            + "\n"
        )
        return
    if forward_to is None and zone is None and not file_rules and not scenario_rules:
        raise AftershockError(
            "nothing to answer with",
            hint="give --upstream 127.0.0.1:53, --zone FILE, --rules FILE or --scenario/--model",
        )
    config = ProxyConfig(
        listen_host=host,
        listen_port=port,
        upstream=forward_to,
        allow=networks,
        rate_limit_qps=rate_limit,
        rate_limit_burst=max(rate_limit * 2, 1.0),
        upstream_timeout_s=upstream_timeout,
        seed=seed,
    )
    log_stream = open(log, "a", encoding="utf-8", buffering=1) if log else None  # noqa: SIM115
    options = ServiceOptions(
        rules_path=rules,
        rules=scenario_rules,
        zone=Zone.from_file(zone) if zone is not None else None,
        control_host=control_endpoint[0] if control_endpoint else "127.0.0.1",
        control_port=control_endpoint[1] if control_endpoint else None,
        log=FaultLog(log_stream, plan.scenario_s if plan is not None else None),
        on_ready=_print_ready,
        rehearsal=plan,
    )
    try:
        service = ProxyService(config, options)
        service.run_forever()
    except OSError as exc:
        raise AftershockError(
            f"cannot bind: {exc.strerror or exc}",
            hint="is another server on that port? try another --listen",
        ) from None
    finally:
        if log_stream is not None:
            log_stream.close()


def _print_ready(service) -> None:  # a ProxyService (imported lazily)
    """Tell the person at the terminal where the proxy listens and which rules it holds."""
    from rich.table import Table

    info = service.describe()
    where = f"DNS on {info['listen']} (UDP and TCP)"
    where += f", forwarding to {info['upstream']}" if info["upstream"] else ""
    where += ", answering from the zone" if info["zone"] else ""
    err_console.print(f"[bold]aftershock dns-proxy[/]: {where}", highlight=False)
    if info["control"]:
        err_console.print(f"control API: {info['control']}/rules", highlight=False)
    if "scenario" in info:
        clock = info["scenario"]
        err_console.print(
            f"scenario time 0 = {clock['started']}, played at {clock['speed']:g}x", highlight=False
        )
    rules = service.store.all()
    if rules:
        table = Table("id", "match", "type", "action", "window", box=None, show_edge=False)
        for rule in rules:
            types = ",".join(sorted(rule.types)) if rule.types else "any"
            table.add_row(rule.id, rule.match, types, rule.action, _window(rule))
        err_console.print(table)
    err_console.print("faults are logged one JSON line each; Ctrl-C stops", highlight=False)


def _window(rule) -> str:  # a Rule
    if rule.start_epoch_s is None and rule.end_epoch_s is None:
        return "always"

    def clock(epoch_s: float | None) -> str:
        return "" if epoch_s is None else time.strftime("%H:%M:%S", time.localtime(epoch_s))

    return f"{clock(rule.start_epoch_s)}-{clock(rule.end_epoch_s)}"


def _networks(allow: list[str] | None) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    from aftershock.chaos.dnsproxy import LOOPBACK

    if not allow:
        return LOOPBACK
    networks = []
    for item in allow:
        for part in item.split(","):
            try:
                networks.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise AftershockError(
                    f"--allow '{part}' is not a network", hint="write 10.0.0.0/8 or 192.0.2.1"
                ) from None
    return (*LOOPBACK, *networks)
