"""Fuzzing the packet path: malformed, truncated and mutated packets never crash or hang the
proxy, and get a FORMERR where one is due."""

from __future__ import annotations

import socket
import struct
import time

import dns.message
import dns.query
import pytest
from dnslib import EDNS0, QTYPE, DNSHeader, DNSQuestion, DNSRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftershock.chaos.dnsproxy import DnsProxy, FaultLog, ProxyConfig, Question
from aftershock.chaos.rules import ACTIONS, RuleStore, parse_rule
from aftershock.chaos.service import ProxyService, ServiceOptions
from aftershock.chaos.zone import Zone

ZONE = Zone.from_text(
    "$ORIGIN shop.example.\n@ 300 IN SOA ns hm 1 3600 600 86400 30\napp 300 IN A 127.0.0.10\n"
    "www 300 IN CNAME app\n* 300 IN TXT wildcard\n"
)
RULE_OPTIONS = {
    "delay": {"delay": "10ms"},
    "wrong_address": {"addresses": ["192.0.2.1", "2001:db8::1"]},
    "ttl": {"ttl": 0},
}


def offline_proxy(action: str | None = None) -> DnsProxy:
    """A proxy whose packet path we call directly (no sockets)."""
    rules = (
        []
        if action is None
        else [parse_rule({"match": "~.", "action": action, **RULE_OPTIONS.get(action, {})})]
    )
    return DnsProxy(ProxyConfig(rate_limit_qps=0), RuleStore(rules), ZONE, FaultLog(_Discard()))


class _Discard:
    """A text stream that forgets what it is given (the fault log of offline proxies)."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


labels = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_*", min_size=1, max_size=20)
names = st.lists(labels, min_size=1, max_size=5).map(".".join)
qtypes = st.sampled_from(["A", "AAAA", "TXT", "MX", "CNAME", "SOA", "ANY", "SRV", "NS", "PTR"])


@st.composite
def valid_queries(draw) -> bytes:
    header = DNSHeader(id=draw(st.integers(0, 65535)), rd=draw(st.integers(0, 1)))
    q = DNSRecord(header, q=DNSQuestion(draw(names), getattr(QTYPE, draw(qtypes))))
    if draw(st.booleans()):
        q.add_ar(EDNS0(udp_len=draw(st.integers(0, 65535))))
    return q.pack()


def check_reply(data: bytes, reply: bytes) -> DNSRecord:
    """A reply is a parseable response to this query's ID."""
    parsed = DNSRecord.parse(reply)
    assert parsed.header.qr == 1
    assert parsed.header.id == struct.unpack_from("!H", data)[0]
    return parsed


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_random_bytes_never_crash_the_screen(data):
    proxy = offline_proxy()
    result = proxy.screen(data, "127.0.0.1", tcp=False)
    if len(data) < 12 or data[2] & 0x80:
        assert result is None
    elif isinstance(result, bytes):
        parsed = check_reply(data, result)
        assert parsed.header.rcode in (1, 4)  # FORMERR, or NOTIMP for other opcodes
        assert len(result) <= len(data)


@settings(max_examples=300, deadline=None)
@given(valid_queries(), st.data())
def test_every_truncated_query_gets_formerr_or_nothing(full, data):
    cut = data.draw(st.integers(0, len(full) - 1))
    packet = full[:cut]
    result = offline_proxy().screen(packet, "127.0.0.1", tcp=False)
    if cut < 12:
        assert result is None
    else:
        assert isinstance(result, bytes) and check_reply(packet, result).header.rcode == 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    valid_queries(),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
    st.sampled_from([None, *ACTIONS]),
)
def test_mutated_queries_are_answered_or_refused_cleanly(full, flips, action):
    packet = bytearray(full)
    for position, value in flips:
        packet[position % len(packet)] = value
    packet = bytes(packet)
    proxy = offline_proxy(action)
    result = proxy.screen(packet, "127.0.0.1", tcp=False)
    if isinstance(result, bytes):
        check_reply(packet, result)
    elif isinstance(result, Question):
        rule = proxy.choose_rule(result, "127.0.0.1", "udp")
        wire = proxy.local_answer(result, rule)
        if wire is not None:
            parsed = check_reply(packet, proxy.fit(result, wire))
            assert len(proxy.fit(result, wire)) <= result.max_udp_size
            assert parsed.header.rcode in (0, 2, 3, 5)


@settings(max_examples=200, deadline=None)
@given(valid_queries())
def test_valid_queries_get_an_answer_that_fits(full):
    proxy = offline_proxy()
    result = proxy.screen(full, "127.0.0.1", tcp=False)
    assert isinstance(result, Question)
    wire = proxy.local_answer(result, None)
    assert wire is not None  # zone answer, or REFUSED (no upstream) for names outside it
    fitted = proxy.fit(result, wire)
    parsed = check_reply(full, fitted)
    assert len(fitted) <= result.max_udp_size
    assert parsed.q.qname == DNSRecord.parse(full).q.qname
    if result.has_edns:
        assert any(rr.rtype == QTYPE.OPT for rr in parsed.ar)


@pytest.fixture(scope="module")
def live_proxy():
    service = ProxyService(
        ProxyConfig(listen_port=0, rate_limit_qps=0, tcp_idle_timeout_s=0.5),
        ServiceOptions(zone=ZONE, control_port=None),
    ).start_in_thread()
    yield service
    service.stop()


def still_answers(port: int) -> bool:
    r = dns.query.udp(
        dns.message.make_query("app.shop.example", "A"), "127.0.0.1", port=port, timeout=2
    )
    t = dns.query.tcp(
        dns.message.make_query("app.shop.example", "A"), "127.0.0.1", port=port, timeout=2
    )
    return bool(r.answer) and bool(t.answer)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(min_size=0, max_size=700))
def test_junk_on_the_wire_udp_and_tcp(live_proxy, junk):
    port = live_proxy.port
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(junk, ("127.0.0.1", port))
    with socket.create_connection(("127.0.0.1", port), timeout=2) as tcp:
        tcp.sendall(struct.pack("!H", len(junk)) + junk)
        tcp.settimeout(2)
        if len(junk) >= 12 and not junk[2] & 0x80:
            size = struct.unpack("!H", tcp.recv(2))[0]
            assert size >= 12
    assert still_answers(port)
    assert live_proxy.proxy.counters.internal_errors == 0


def test_a_tcp_client_that_stalls_mid_message_is_dropped(live_proxy):
    port = live_proxy.port
    with socket.create_connection(("127.0.0.1", port), timeout=3) as stalled:
        stalled.sendall(struct.pack("!H", 200) + b"\x00" * 10)  # promises 200 bytes, sends 10
        began = time.monotonic()
        assert still_answers(port)  # others are served meanwhile
        assert stalled.recv(10) == b""  # closed by the idle timeout
        assert time.monotonic() - began < 2.5


def test_memos_stay_bounded_under_many_distinct_names():
    from aftershock.chaos.dnsproxy import PARSE_CACHE_LIMIT
    from aftershock.chaos.rules import RuleSet

    proxy = offline_proxy("servfail")
    for i in range(3 * PARSE_CACHE_LIMIT):
        q = DNSRecord(DNSHeader(id=i % 65536), q=DNSQuestion(f"n{i}.example"))
        screened = proxy.screen(bytes(q.pack()), f"127.0.{i % 200}.1", tcp=False)
        assert isinstance(screened, Question)
        assert proxy.choose_rule(screened, "127.0.0.1", "udp") is not None
    assert len(proxy._parsed) <= PARSE_CACHE_LIMIT
    assert len(proxy.rules.ruleset._candidates) <= RuleSet.CACHE_LIMIT
