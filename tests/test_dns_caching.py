"""A real caching resolver between client and proxy: an emptied record keeps failing after the
fault is cleared, for as long as the SOA minimum of the negative answer says (RFC 2308)."""

from __future__ import annotations

import time

import dns.message
import dns.query
import dns.rcode
import pytest

from aftershock.chaos.dnsproxy import ProxyConfig
from aftershock.chaos.peers import Dnsmasq, Unbound
from aftershock.chaos.rules import parse_rule
from aftershock.chaos.service import ProxyService, ServiceOptions
from aftershock.chaos.zone import Zone

ZONE = """$ORIGIN shop.example.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 60
@ IN NS ns1
ns1 IN A 127.0.0.1
db IN A 127.0.0.20
"""
NEGATIVE_TTL_S = 3


@pytest.fixture
def proxy():
    service = ProxyService(
        ProxyConfig(listen_port=0), ServiceOptions(zone=Zone.from_text(ZONE), control_port=None)
    ).start_in_thread()
    yield service
    service.stop()


def resolve(port: int, tcp: bool = False) -> tuple[str, list[str]]:
    query = dns.message.make_query("db.shop.example", "A")
    send = dns.query.tcp if tcp else dns.query.udp
    r = send(query, "127.0.0.1", port=port, timeout=3)
    return dns.rcode.to_text(r.rcode()), [
        str(x) for rrset in r.answer for x in rrset if rrset.rdtype == 1
    ]


def failing_for_after_clear(
    proxy: ProxyService, resolver_port: int, action: str, tcp: bool
) -> float:
    """Seconds the resolver keeps returning the negative answer after the rule is removed."""
    expected = "NOERROR" if action == "empty" else "NXDOMAIN"
    proxy.store.add(
        [
            parse_rule(
                {
                    "id": "f",
                    "match": "db.shop.example",
                    "action": action,
                    "negative_ttl": NEGATIVE_TTL_S,
                }
            )
        ]
    )
    assert resolve(resolver_port, tcp) == (expected, [])  # the resolver caches the negative answer
    cached_at = time.monotonic()
    proxy.store.remove("f")
    assert resolve(proxy.port) == ("NOERROR", ["127.0.0.20"])  # the fault is gone at the source...
    deadline = cached_at + NEGATIVE_TTL_S + 5
    while time.monotonic() < deadline:
        status, addresses = resolve(resolver_port, tcp)
        if addresses:
            return time.monotonic() - cached_at
        assert status == expected  # ...but the resolver still says the record is empty
        time.sleep(0.1)
    pytest.fail(f"the resolver still failed {NEGATIVE_TTL_S + 5}s after the fault was cleared")


@pytest.mark.slow
@pytest.mark.skipif(not Unbound.available(), reason="unbound (Debian) is not installed")
@pytest.mark.parametrize(("action", "tcp"), [("empty", False), ("nxdomain", True)])
def test_unbound_keeps_an_emptied_record_failing_for_the_soa_minimum(proxy, action, tcp):
    with Unbound(proxy.port) as unbound:
        outlived_s = failing_for_after_clear(proxy, unbound.port, action, tcp)
    assert NEGATIVE_TTL_S - 0.6 <= outlived_s <= NEGATIVE_TTL_S + 1.2


@pytest.mark.slow
@pytest.mark.skipif(not Dnsmasq.available(), reason="dnsmasq (Debian) is not installed")
def test_dnsmasq_keeps_an_emptied_record_failing_for_the_soa_minimum(proxy):
    with Dnsmasq(forward={"shop.example": proxy.port}) as resolver:
        outlived_s = failing_for_after_clear(proxy, resolver.port, "empty", False)
    assert NEGATIVE_TTL_S - 0.6 <= outlived_s <= NEGATIVE_TTL_S + 1.2


@pytest.mark.skipif(not Unbound.available(), reason="unbound (Debian) is not installed")
def test_a_ttl_0_rule_makes_the_resolver_ask_every_time(proxy):
    proxy.store.add([parse_rule({"match": "db.shop.example", "action": "ttl", "ttl": 0})])
    with Unbound(proxy.port) as unbound:
        before = proxy.proxy.counters.queries
        for _ in range(5):
            assert resolve(unbound.port) == ("NOERROR", ["127.0.0.20"])
        assert proxy.proxy.counters.queries - before >= 5  # nothing was served from cache
