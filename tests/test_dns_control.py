"""The control API (list, add, remove rules; counters; health; stats) and hot reload of the rules file."""

from __future__ import annotations

import http.client
import json
import time

import dns.message
import dns.query
import dns.rcode
import pytest

from aftershock.chaos.dnsproxy import FaultLog, ProxyConfig
from aftershock.chaos.service import ProxyService, ServiceOptions
from aftershock.chaos.zone import Zone

ZONE = Zone.from_text(
    "$ORIGIN shop.example.\n@ 60 IN SOA ns hm 1 3600 600 86400 30\ndb 60 IN A 127.0.0.20\n"
)


class Recorder:
    """A text stream that keeps the fault log's lines."""

    def __init__(self) -> None:
        self.lines: list[dict] = []

    def write(self, text: str) -> None:
        self.lines += [json.loads(line) for line in text.splitlines() if line]

    def flush(self) -> None:
        pass


@pytest.fixture
def service(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - {id: slow, match: slow.shop.example, action: delay, delay: 1ms}\n"
    )
    log = Recorder()
    svc = ProxyService(
        ProxyConfig(listen_port=0),
        ServiceOptions(rules_path=rules, zone=ZONE, control_port=0, log=FaultLog(log)),  # type: ignore[arg-type]
    ).start_in_thread()
    svc.log_lines = log.lines
    svc.rules_file = rules
    yield svc
    svc.stop()


def call(svc, method: str, path: str, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", svc.control.port, timeout=5)
    data = None if body is None else json.dumps(body).encode()
    sent = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=data, headers={**sent, **(headers or {})})
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    return response.status, (json.loads(raw) if raw else None)


def resolve(svc, name="db.shop.example") -> tuple[str, int]:
    r = dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", port=svc.port, timeout=2)
    return dns.rcode.to_text(r.rcode()), len(r.answer)


def test_health_and_stats(service):
    status, health = call(service, "GET", "/health")
    assert status == 200 and health["status"] == "ok" and health["rules"] == 1
    assert (
        health["listen"].endswith(f":{service.port}") and health["control"] == service.control.url
    )
    resolve(service)
    status, stats = call(service, "GET", "/stats")
    assert status == 200 and stats["queries"] == 1 and stats["from_zone"] == 1


def test_add_inject_count_and_remove_a_rule(service):
    status, added = call(
        service, "POST", "/rules", {"id": "e", "match": "db.shop.example", "action": "empty"}
    )
    assert status == 201 and added["rules"][0]["id"] == "e"
    assert resolve(service) == ("NOERROR", 0)
    assert resolve(service) == ("NOERROR", 0)
    status, one = call(service, "GET", "/rules/e")
    assert (status, one["hits"], one["matched"], one["active"]) == (200, 2, 2, True)
    faults = [line for line in service.log_lines if line["event"] == "dns_fault"]
    assert len(faults) == 2 and faults[0]["rule"] == "e" and faults[0]["name"] == "db.shop.example"
    assert call(service, "DELETE", "/rules/e")[0] == 204
    assert call(service, "DELETE", "/rules/e")[0] == 404
    assert resolve(service) == ("NOERROR", 1)


def test_add_several_and_clear(service):
    body = {
        "rules": [
            {"match": "a.shop.example", "action": "servfail"},
            {"match": "b.shop.example", "action": "drop"},
        ]
    }
    status, added = call(service, "POST", "/rules", body)
    assert status == 201 and len(added["rules"]) == 2
    assert len(call(service, "GET", "/rules")[1]["rules"]) == 3
    assert call(service, "DELETE", "/rules")[1] == {"removed": 2}
    assert [r["id"] for r in call(service, "GET", "/rules")[1]["rules"]] == ["slow"]
    assert call(service, "DELETE", "/rules?all=1")[1] == {"removed": 1}


def test_a_bad_rule_is_a_400_with_a_hint(service):
    status, error = call(service, "POST", "/rules", {"match": "db.shop.example", "action": "emtpy"})
    assert status == 400 and "unknown action 'emtpy'" in error["error"] and "empty" in error["hint"]
    status, error = call(
        service, "POST", "/rules", [{"id": "slow", "match": "x.example", "action": "drop"}]
    )
    assert status == 400 and "used twice" in error["error"]


def test_writes_need_json_and_a_loopback_host(service):
    conn = http.client.HTTPConnection("127.0.0.1", service.control.port, timeout=5)
    conn.request(
        "POST",
        "/rules",
        body=b'{"match":"x.example","action":"drop"}',
        headers={"Content-Type": "text/plain"},
    )
    assert conn.getresponse().status == 415  # a form post from a web page cannot add rules
    conn.close()
    status, _ = call(service, "DELETE", "/rules", headers={"Host": "evil.example"})
    assert status == 403  # DNS rebinding
    conn = http.client.HTTPConnection("127.0.0.1", service.control.port, timeout=5)
    conn.request("POST", "/rules", body=b"{not json", headers={"Content-Type": "application/json"})
    assert conn.getresponse().status == 400
    conn.close()


def test_the_rules_file_is_reloaded_when_it_changes(service):
    assert resolve(service) == ("NOERROR", 1)
    service.rules_file.write_text(
        "rules:\n  - {id: nx, match: db.shop.example, action: nxdomain}\n"
    )
    deadline = time.monotonic() + 5
    while resolve(service)[0] != "NXDOMAIN" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert resolve(service)[0] == "NXDOMAIN"
    assert any(line["event"] == "rules_reloaded" for line in service.log_lines)
    # a broken file keeps the rules that work, and says why
    service.rules_file.write_text(
        "rules:\n  - {id: nx, match: db.shop.example, action: nxdomian}\n"
    )
    deadline = time.monotonic() + 5
    while not any(line["event"] == "rules_reload_failed" for line in service.log_lines):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    failure = next(line for line in service.log_lines if line["event"] == "rules_reload_failed")
    assert "rules.yaml:2" in failure["error"] and "nxdomian" in failure["error"]
    assert resolve(service)[0] == "NXDOMAIN"


def test_reload_through_the_api(service):
    service.rules_file.write_text(
        "rules:\n  - {id: sf, match: db.shop.example, action: servfail}\n"
    )
    assert call(service, "POST", "/reload", {})[1] == {"reloaded": 1}
    assert resolve(service)[0] == "SERVFAIL"
    service.rules_file.write_text("rules: [{match: db.shop.example}]\n")
    status, error = call(service, "POST", "/reload", {})
    assert (
        status == 400 and "missing required key 'action'" in error["error"] and error["line"] == 1
    )
