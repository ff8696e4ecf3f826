"""`aftershock dns-proxy`: arguments, located errors, --print-rules, the scenario bridge, and the
real command serving DNS until it is told to stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime

import dns.message
import dns.query
import dns.rcode
import pytest

from aftershock.chaos.peers import free_port, wait_until_answering
from aftershock.chaos.scenario_bridge import plan_rehearsal
from aftershock.model.load import load_model_text
from aftershock.sim.scenario import ScenarioError

MODEL = """version: 1
name: mini
components:
  ddb-dns:
    kind: dns_record
    record: dynamodb.us-east-1.amazonaws.com
    ttl: 5m
    negative_ttl: 15m
  dynamodb: {kind: datastore, resolves: ddb-dns}
  app: {kind: service, requires: [dynamodb]}
"""
SCENARIO = """version: 1
start: 2025-10-19T23:00:00-07:00
duration: 24h
faults:
  - {target: ddb-dns, kind: dns_empty, at: "23:48", until: "02:25"}
  - {target: dynamodb, kind: outage, at: +10s, for: 10s}
  - {target: ddb-dns, kind: dns_slow, at: +1h, for: 10m, delay: 3s}
"""


@pytest.fixture
def files(tmp_path):
    (tmp_path / "model.yaml").write_text(MODEL)
    (tmp_path / "scenario.yaml").write_text(SCENARIO)
    return tmp_path


def test_scenario_faults_become_timed_rules(files):
    model = load_model_text(MODEL)
    now = 1_700_000_000.0
    plan = plan_rehearsal(files / "scenario.yaml", model, speed=60, now_epoch_s=now)
    empty, slow, ttl = plan.rules
    assert (empty.match, empty.action) == ("dynamodb.us-east-1.amazonaws.com", "empty")
    assert empty.start_epoch_s == pytest.approx(now + 48 * 60 / 60)  # 23:00 -> 23:48
    assert empty.end_epoch_s == pytest.approx(now + (3 * 3600 + 25 * 60) / 60)  # -> 02:25 next day
    assert empty.negative_ttl_s == 15  # 15 minutes of negative caching, 60x faster
    assert (slow.action, slow.delay_s, slow.start_epoch_s) == (
        "delay",
        3.0,
        pytest.approx(now + 60),
    )
    assert (ttl.action, ttl.ttl_s, ttl.start_epoch_s) == ("ttl", 5, None)  # 5m TTL at 60x
    assert plan.skipped == [{"target": "dynamodb", "kind": "outage", "why": "not a DNS fault"}]


@pytest.mark.parametrize(
    ("fault", "message", "hint"),
    [
        (
            "{target: dynamodb, kind: dns_empty, at: +1m}",
            "'dynamodb' is a datastore, not a dns_record",
            "dns_record",
        ),
        ("{target: ddb-dsn, kind: dns_empty, at: +1m}", "unknown component 'ddb-dsn'", "ddb-dns"),
        ("{target: ddb-dns, kind: dns_empty, at: soon}", "'soon' is not a time", "+5m"),
        ("{target: ddb-dns, kind: dns_empty, at: +5m, until: +1m}", "ends before it starts", None),
    ],
)
def test_scenario_errors_are_located(tmp_path, fault, message, hint):
    path = tmp_path / "s.yaml"
    path.write_text(f"version: 1\nduration: 1h\nfaults:\n  - {fault}\n")
    with pytest.raises(ScenarioError) as info:
        plan_rehearsal(path, load_model_text(MODEL))
    assert message in info.value.message and info.value.file == str(path) and info.value.line == 4
    if hint:
        assert hint in info.value.hint


def test_print_rules_for_a_scenario(run_cli, files):
    result = run_cli(
        "dns-proxy",
        "--scenario",
        files / "scenario.yaml",
        "--model",
        files / "model.yaml",
        "--speed",
        "60",
        "--print-rules",
    )
    assert result.exit_code == 0, result.stderr
    rules = json.loads(result.stdout)["rules"]
    assert [r["action"] for r in rules] == ["empty", "delay", "ttl"]
    start = datetime.fromisoformat(rules[0]["from"])
    end = datetime.fromisoformat(rules[0]["until"])
    assert (end - start).total_seconds() == pytest.approx((2 * 3600 + 37 * 60) / 60, abs=1)
    assert "outage on dynamodb: not a DNS fault, skipped" in result.stderr


def test_a_bad_rules_file_exits_2_with_its_location(run_cli, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - {match: a.example, action: nxdomian}\n")
    result = run_cli("dns-proxy", "--rules", rules, "--print-rules")
    assert result.exit_code == 2
    assert (
        f"{rules}:2" in result.stderr
        and "nxdomian" in result.stderr
        and "nxdomain" in result.stderr
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--listen", "localhost:53"], "not an IP address"),
        (["--control", "0.0.0.0:5380", "--zone", "x"], "only binds to loopback"),
        (["--upstream", "127.0.0.1:99999"], "not an IP address"),
        (["--allow", "10.0.0.300/8", "--upstream", "127.0.0.1"], "is not a network"),
        ([], "nothing to answer with"),
        (["--scenario", "s.yaml"], "go together"),
    ],
)
def test_bad_arguments_exit_2(run_cli, args, message):
    result = run_cli("dns-proxy", *args)
    assert result.exit_code == 2 and message in result.stderr


def test_the_command_serves_reloads_and_stops_on_sigterm(tmp_path):
    zone = tmp_path / "zone.db"
    zone.write_text(
        "$ORIGIN shop.example.\n@ 60 IN SOA ns hm 1 3600 600 86400 30\ndb 60 IN A 127.0.0.20\n"
    )
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - {match: db.shop.example, action: servfail}\n")
    dns_port, control_port = free_port(), free_port()
    log = tmp_path / "faults.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from aftershock.cli import main; main()",
            "dns-proxy",
            "--listen",
            f"127.0.0.1:{dns_port}",
            "--zone",
            str(zone),
            "--rules",
            str(rules),
            "--control",
            f"127.0.0.1:{control_port}",
            "--log",
            str(log),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_answering(dns_port, "db.shop.example")
        r = dns.query.udp(
            dns.message.make_query("db.shop.example", "A"), "127.0.0.1", port=dns_port, timeout=2
        )
        assert r.rcode() == dns.rcode.SERVFAIL
        os.kill(process.pid, signal.SIGHUP)  # reload on demand (unchanged file: same rules)
        time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        events = [json.loads(line)["event"] for line in log.read_text().splitlines()]
        assert events[0] == "proxy_started" and "dns_fault" in events and "rules_reloaded" in events
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)


def test_a_port_in_use_is_a_clear_error(run_cli, tmp_path):
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        zone = tmp_path / "z.db"
        zone.write_text("$ORIGIN a.example.\n@ 60 IN SOA ns hm 1 3600 600 86400 30\n")
        result = run_cli(
            "dns-proxy", "--listen", f"127.0.0.1:{port}", "--zone", zone, "--control", "off"
        )
    assert result.exit_code == 2 and "cannot bind" in result.stderr


def test_a_fault_without_an_end_lasts_until_its_restore_or_the_run_end(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "version: 1\nduration: 1h\nfaults:\n"
        "  - {target: ddb-dns, kind: dns_servfail, at: +10s}\n"
        "  - {target: ddb-dns, kind: dns_nxdomain, at: +20m}\n"
        "actions:\n  - {at: +70s, kind: restore, target: ddb-dns}\n"
    )
    now = 1_700_000_000.0
    plan = plan_rehearsal(path, load_model_text(MODEL), speed=10, now_epoch_s=now)
    servfail, nxdomain, _ttl = plan.rules
    assert (servfail.start_epoch_s, servfail.end_epoch_s) == (now + 1, now + 7)
    assert nxdomain.end_epoch_s == now + 360  # the end of the 1 h run, at 10x


def test_a_scenario_rehearsed_on_the_wire(tmp_path):
    import urllib.request

    from aftershock.chaos.dnsproxy import FaultLog, ProxyConfig
    from aftershock.chaos.service import ProxyService, ServiceOptions
    from aftershock.chaos.zone import Zone

    path = tmp_path / "s.yaml"
    path.write_text(
        "version: 1\nduration: 1h\nfaults:\n  - {target: ddb-dns, kind: dns_empty, at: +2s, for: 2s}\n"
    )
    plan = plan_rehearsal(path, load_model_text(MODEL), speed=2)
    zone = Zone.from_text(
        "$ORIGIN amazonaws.com.\n@ 60 IN SOA ns hm 1 3600 600 86400 30\n"
        "dynamodb.us-east-1 60 IN A 127.0.0.40\n"
    )
    lines: list[str] = []
    log = FaultLog(
        type("Lines", (), {"write": lambda _s, t: lines.append(t), "flush": lambda _s: None})(),
        plan.scenario_s,
    )
    options = ServiceOptions(zone=zone, rules=plan.rules, control_port=0, log=log, rehearsal=plan)
    service = ProxyService(ProxyConfig(listen_port=0), options).start_in_thread()

    def ask():
        q = dns.message.make_query("dynamodb.us-east-1.amazonaws.com", "A")
        r = dns.query.udp(q, "127.0.0.1", port=service.port, timeout=2)
        soa = [rr.minimum for rrset in r.authority for rr in rrset]
        return [str(x) for rrset in r.answer for x in rrset], [rrset.ttl for rrset in r.answer], soa

    try:
        seen = []
        deadline = plan.started_epoch_s + 2.6  # the window is [+1 s, +2 s) of real time
        while time.time() < deadline:
            seen.append((round(time.time() - plan.started_epoch_s, 2), ask()))
            time.sleep(0.05)
        with urllib.request.urlopen(service.control.url + "/health", timeout=2) as response:
            health = json.loads(response.read())
    finally:
        service.stop()
    assert health["scenario"]["speed"] == 2 and 5.0 < health["scenario"]["now_s"] < 20.0
    faults = [json.loads(line) for line in lines if '"dns_fault"' in line]
    assert faults and all(f["action"] in ("empty", "ttl") for f in faults)
    assert all(2.0 <= f["scenario_s"] < 4.2 for f in faults if f["action"] == "empty")
    before = [answer for t, answer in seen if t < 0.9]
    during = [answer for t, answer in seen if 1.1 < t < 1.9]
    after = [answer for t, answer in seen if t > 2.1]
    assert before and during and after
    assert all(a == (["127.0.0.40"], [150], []) for a in before)  # the model's 5m TTL at 2x
    assert all(a == ([], [], [450]) for a in during)  # emptied; negative TTL 15m at 2x
    assert all(a[0] == ["127.0.0.40"] for a in after)
