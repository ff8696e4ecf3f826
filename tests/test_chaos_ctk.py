"""The Chaos Toolkit extension against a running proxy, and the sample experiment end to end:
it deviates for the plain shop app and passes once the app serves stale addresses."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("chaoslib", reason="chaostoolkit-lib (the [chaos] extra) is not installed")

from aftershock.chaos.ctk import discover
from aftershock.chaos.ctk.actions import clear_dns_faults, inject_dns_fault
from aftershock.chaos.ctk.probes import dns_fault_hits, resolve
from aftershock.chaos.dnsproxy import ProxyConfig
from aftershock.chaos.peers import free_port
from aftershock.chaos.service import ProxyService, ServiceOptions
from aftershock.chaos.zone import Zone

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "chaos"


@pytest.fixture
def proxy():
    service = ProxyService(
        ProxyConfig(listen_port=0),
        ServiceOptions(zone=Zone.from_file(EXAMPLES / "shop.zone"), control_port=0),
    ).start_in_thread()
    service.configuration = {
        "aftershock_dns_control": service.control.url,
        "aftershock_dns_server": f"127.0.0.1:{service.port}",
    }
    yield service
    service.stop()


def test_discovery_lists_the_four_activities_with_their_arguments(proxy, monkeypatch):
    monkeypatch.setattr("aftershock.chaos.ctk.client.DEFAULT_CONTROL_URL", proxy.control.url)
    found = discover(discover_system=True)
    names = {(a["type"], a["name"]) for a in found["activities"]}
    assert names == {
        ("action", "inject_dns_fault"),
        ("action", "clear_dns_faults"),
        ("probe", "dns_fault_hits"),
        ("probe", "resolve"),
    }
    inject = next(a for a in found["activities"] if a["name"] == "inject_dns_fault")
    assert [arg["name"] for arg in inject["arguments"]][:3] == ["match", "action", "type"]
    assert found["system"]["dns_proxy"]["status"] == "ok"


def test_actions_and_probes_drive_the_proxy(proxy):
    config = proxy.configuration
    assert resolve("db.shop.example", configuration=config) == {
        "rcode": "NOERROR",
        "answers": ["127.0.0.20"],
        "ttl": 60,
    }
    rule = inject_dns_fault("db.shop.example", "nxdomain", rule_id="nx", configuration=config)
    assert rule["id"] == "nx" and rule["active"]
    assert resolve("db.shop.example", configuration=config)["rcode"] == "NXDOMAIN"
    inject_dns_fault("api.shop.example", "drop", configuration=config)
    assert resolve("api.shop.example", timeout=0.3, configuration=config)["rcode"] == "TIMEOUT"
    assert dns_fault_hits("nx", configuration=config) == 1
    assert dns_fault_hits(configuration=config) == 2
    assert clear_dns_faults(["nx", "missing"], configuration=config) == 1
    assert clear_dns_faults(configuration=config) == 1
    assert resolve("db.shop.example", configuration=config)["answers"] == ["127.0.0.20"]


def test_a_fault_with_a_duration_ends_by_itself(proxy):
    config = proxy.configuration
    inject_dns_fault("db.shop.example", "servfail", duration="0.5s", configuration=config)
    assert resolve("db.shop.example", configuration=config)["rcode"] == "SERVFAIL"
    time.sleep(0.6)
    assert resolve("db.shop.example", configuration=config)["rcode"] == "NOERROR"


def test_bad_input_and_an_absent_proxy_fail_the_activity(proxy):
    from chaoslib.exceptions import ActivityFailed

    with pytest.raises(ActivityFailed, match=r"unknown action 'emtpy'.*did you mean 'empty'"):
        inject_dns_fault("db.shop.example", "emtpy", configuration=proxy.configuration)
    with pytest.raises(ActivityFailed, match="is `aftershock dns-proxy` running"):
        dns_fault_hits(configuration={"aftershock_dns_control": f"http://127.0.0.1:{free_port()}"})


def start_shop(dns_port: int, serve_stale_s: float) -> tuple[subprocess.Popen, str]:
    port, backend_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            str(EXAMPLES / "app.py"),
            "--port",
            str(port),
            "--dns",
            f"127.0.0.1:{dns_port}",
            "--backend",
            f"127.0.0.20:{backend_port}",
            "--serve-stale",
            str(serve_stale_s),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=1):
                return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the shop app did not start: {process.stderr.read().decode()[-500:]}")


@pytest.mark.slow
@pytest.mark.parametrize(("serve_stale_s", "deviates"), [(0, True), (300, False)])
def test_the_sample_experiment(proxy, serve_stale_s, deviates):
    from chaoslib.experiment import run_experiment
    from chaoslib.loader import load_experiment

    shop, url = start_shop(proxy.port, serve_stale_s)
    try:
        experiment = load_experiment(str(EXAMPLES / "experiment.json"))
        journal = run_experiment(
            experiment, experiment_vars=({**proxy.configuration, "app_url": url}, {})
        )
    finally:
        shop.kill()
        shop.wait(5)
    assert journal["status"] == "completed", json.dumps(journal, default=str)[:800]
    assert journal["deviated"] is deviates  # `chaos run` exits non-zero on a deviation
    assert journal["steady_states"]["before"]["steady_state_met"] is True
    assert journal["steady_states"]["after"]["steady_state_met"] is not deviates
    method = {run["activity"]["name"]: run for run in journal["run"]}
    assert method["the-record-resolves-to-nothing"]["output"]["rcode"] == "NOERROR"
    assert method["the-record-resolves-to-nothing"]["output"]["answers"] == []
    assert method["faults-injected"]["output"] >= 1
    assert [r["status"] for r in journal["rollbacks"]] == ["succeeded"]
    assert proxy.store.all() == []  # the rollback cleared the fault


def test_the_example_files_are_valid():
    from chaoslib.experiment import ensure_experiment_is_valid
    from chaoslib.loader import load_experiment

    from aftershock.chaos.rules import load_rules_file
    from aftershock.chaos.scenario_bridge import plan_rehearsal
    from aftershock.model.load import load_model

    assert len(load_rules_file(EXAMPLES / "rules.yaml")) == 5
    assert Zone.from_file(EXAMPLES / "shop.zone").lookup("db.shop.example", 1).answer
    plan = plan_rehearsal(EXAMPLES / "scenario.yaml", load_model(EXAMPLES / "model.yaml"), speed=60)
    assert [r.action for r in plan.rules] == ["empty", "ttl"] and plan.rules[
        0
    ].match == "db.shop.example"
    ensure_experiment_is_valid(load_experiment(str(EXAMPLES / "experiment.json")))
