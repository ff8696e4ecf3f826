"""The proxy on the wire: every fault mode seen by dig and by dnspython, over UDP and TCP;
forwarding to a real dnsmasq; truncation and TCP fallback; EDNS passthrough; safety limits."""

from __future__ import annotations

import re
import shutil
import socket
import struct
import subprocess
import threading
import time

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from dnslib import EDNS0, QTYPE, RR, A, DNSRecord, EDNSOption

from aftershock.chaos.dnsproxy import ProxyConfig
from aftershock.chaos.peers import Dnsmasq
from aftershock.chaos.rules import parse_rule
from aftershock.chaos.service import ProxyService, ServiceOptions
from aftershock.chaos.zone import Zone

BIG = 100  # A records of big.shop.example: ~1.7 kB, over 1232 and 512 bytes
ZONE = "\n".join(
    [
        "$ORIGIN shop.example.",
        "$TTL 300",
        "@ IN SOA ns1 hostmaster 1 3600 600 86400 30",
        "@ IN NS ns1",
        "ns1 IN A 127.0.0.1",
        "app IN A 127.0.0.10",
        "app IN AAAA ::1",
        "db IN A 127.0.0.20",
        "www IN CNAME app",
        *[f"big IN A 10.0.{i // 256}.{i % 256}" for i in range(BIG)],
    ]
)
DIG = shutil.which("dig")
needs_dig = pytest.mark.skipif(DIG is None, reason="dig (Debian dnsutils) is not installed")
needs_dnsmasq = pytest.mark.skipif(
    not Dnsmasq.available(), reason="dnsmasq (Debian) is not installed"
)


def start(**config) -> ProxyService:
    zone = config.pop("zone", Zone.from_text(ZONE))
    rules = config.pop("rules", ())
    return ProxyService(
        ProxyConfig(listen_port=0, **config),
        ServiceOptions(zone=zone, rules=rules, control_port=None),
    ).start_in_thread()


@pytest.fixture(scope="module")
def proxy():
    service = start(upstream_timeout_s=0.5)
    yield service
    service.stop()


@pytest.fixture(autouse=False)
def fault(proxy):
    """Install one rule for the test and remove it afterwards."""
    installed = []

    def install(**raw):
        rule = parse_rule(raw)
        proxy.store.add([rule])
        installed.append(rule.id)
        return rule

    yield install
    for rule_id in installed:
        proxy.store.remove(rule_id)


def ask(port: int, name: str, qtype: str = "A", *, tcp: bool = False, timeout: float = 2.0):
    """dnspython: the response (or raises dns.exception.Timeout)."""
    query = dns.message.make_query(name, qtype)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(query, "127.0.0.1", port=port, timeout=timeout)


def addresses(response) -> list[str]:
    return sorted(str(r) for rrset in response.answer for r in rrset if rrset.rdtype in (1, 28))


def dig(port: int, name: str, qtype: str = "A", *options: str) -> tuple[str, list[list[str]], str]:
    """dig: (status or 'timeout', answer records as field lists, full output)."""
    assert DIG is not None
    out = subprocess.run(
        [
            DIG,
            "-p",
            str(port),
            "@127.0.0.1",
            name,
            qtype,
            "+time=1",
            "+tries=1",
            "+norecurse",
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=20,
    ).stdout
    status = re.search(r"status: (\w+)", out)
    answers = []
    section = None
    for line in out.splitlines():
        if line.startswith(";; ANSWER SECTION"):
            section = "answer"
        elif line.startswith(";;"):
            section = None if line.startswith(";; ") and "SECTION" in line else section
        elif section == "answer" and line.strip():
            answers.append(line.split())
    return (status.group(1) if status else "timeout"), answers, out


CLIENTS = ["dnspython-udp", "dnspython-tcp", "dig-udp", "dig-tcp"]


def query(client: str, port: int, name: str, qtype: str = "A"):
    """(status, addresses, ttls, soa minimum or None, seconds) through one client."""
    began = time.monotonic()
    if client.startswith("dnspython"):
        try:
            r = ask(port, name, qtype, tcp=client.endswith("tcp"), timeout=1.0)
        except dns.exception.Timeout:
            return "timeout", [], [], None, time.monotonic() - began
        soa = [
            rr.minimum for rrset in r.authority for rr in rrset if rrset.rdtype == dns.rdatatype.SOA
        ]
        ttls = [rrset.ttl for rrset in r.answer]
        return (
            dns.rcode.to_text(r.rcode()),
            addresses(r),
            ttls,
            (soa or [None])[0],
            time.monotonic() - began,
        )
    status, answers, out = dig(port, name, qtype, *(["+tcp"] if client.endswith("tcp") else []))
    soa = re.search(r"\tSOA\t\S+ \S+ \d+ \d+ \d+ \d+ (\d+)", out)
    values = sorted(a[4] for a in answers if a[3] in ("A", "AAAA"))
    return (
        status,
        values,
        [int(a[1]) for a in answers],
        int(soa.group(1)) if soa else None,
        time.monotonic() - began,
    )


@pytest.mark.parametrize("client", CLIENTS)
def test_no_rule_answers_from_the_zone(proxy, client):
    if client.startswith("dig") and DIG is None:
        pytest.skip("dig (Debian dnsutils) is not installed")
    status, addrs, ttls, _, _ = query(client, proxy.port, "app.shop.example")
    assert (status, addrs, ttls) == ("NOERROR", ["127.0.0.10"], [300])
    assert query(client, proxy.port, "nope.shop.example")[0] == "NXDOMAIN"


MODES = {
    "empty": ({"negative_ttl": "7s"}, lambda r: r[0] == "NOERROR" and r[1] == [] and r[3] == 7),
    "nxdomain": ({"negative_ttl": 9}, lambda r: r[0] == "NXDOMAIN" and r[1] == [] and r[3] == 9),
    "servfail": ({}, lambda r: r[0] == "SERVFAIL" and r[1] == []),
    "refused": ({}, lambda r: r[0] == "REFUSED" and r[1] == []),
    "drop": ({}, lambda r: r[0] == "timeout" and r[4] >= 0.9),
    "delay": (
        {"delay": "400ms", "jitter": "50ms"},
        lambda r: r[1] == ["127.0.0.20"] and r[4] >= 0.35,
    ),
    "wrong_address": (
        {"addresses": ["192.0.2.7", "192.0.2.8"], "ttl": 5},
        lambda r: r[1] == ["192.0.2.7", "192.0.2.8"] and r[2] == [5, 5][: len(r[2])],
    ),
    "ttl": ({"ttl": 0}, lambda r: r[1] == ["127.0.0.20"] and set(r[2]) == {0}),
}


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("action", list(MODES))
def test_every_fault_mode_with_every_client(proxy, fault, client, action):
    if client.startswith("dig") and DIG is None:
        pytest.skip("dig (Debian dnsutils) is not installed")
    options, expected = MODES[action]
    rule = fault(match="db.shop.example", type="A", action=action, **options)
    result = query(client, proxy.port, "db.shop.example")
    assert expected(result), result
    assert rule.hits == 1
    # the other type and other names are untouched
    assert query(client, proxy.port, "app.shop.example")[1] == ["127.0.0.10"]


def test_wrong_address_for_ipv6_and_types_without_addresses(proxy, fault):
    fault(match="app.shop.example", action="wrong_address", addresses=["192.0.2.7", "2001:db8::7"])
    assert addresses(ask(proxy.port, "app.shop.example", "AAAA")) == ["2001:db8::7"]
    mx = ask(proxy.port, "app.shop.example", "MX")
    assert mx.rcode() == 0 and not mx.answer and mx.authority  # NODATA with an SOA


def test_probability_and_windows_on_the_wire(proxy, fault):
    fault(match="*.shop.example", action="servfail", probability=0.5)
    statuses = [ask(proxy.port, "app.shop.example").rcode() for _ in range(200)]
    share = statuses.count(dns.rcode.SERVFAIL) / len(statuses)
    assert 0.35 < share < 0.65
    assert set(statuses) == {dns.rcode.NOERROR, dns.rcode.SERVFAIL}


def test_a_window_opens_and_closes(proxy, fault):
    fault(match="db.shop.example", action="nxdomain", **{"from": "+0.5s", "until": "+2s"})
    assert ask(proxy.port, "db.shop.example").rcode() == dns.rcode.NOERROR  # at ~0 s
    time.sleep(1.0)
    assert ask(proxy.port, "db.shop.example").rcode() == dns.rcode.NXDOMAIN  # at ~1 s
    time.sleep(1.2)
    assert ask(proxy.port, "db.shop.example").rcode() == dns.rcode.NOERROR  # after 2 s


def test_a_matched_name_is_answered_without_upstream_or_zone():
    service = start(
        zone=None,
        rules=[parse_rule({"match": "dynamodb.us-east-1.amazonaws.com", "action": "empty"})],
    )
    try:
        r = ask(service.port, "dynamodb.us-east-1.amazonaws.com")
        assert r.rcode() == 0 and not r.answer
        soa = r.authority[0]
        assert soa.name.to_text() == "us-east-1.amazonaws.com." and soa[0].minimum == 60
        assert ask(service.port, "other.example").rcode() == dns.rcode.REFUSED
    finally:
        service.stop()


# ---- truncation, TCP fallback, EDNS --------------------------------------------------------------


def test_truncation_and_tcp_fallback_with_dnspython(proxy):
    query_no_edns = dns.message.make_query("big.shop.example", "A")
    udp = dns.query.udp(query_no_edns, "127.0.0.1", port=proxy.port, timeout=2)
    assert udp.flags & dns.flags.TC and not udp.answer
    response, used_tcp = dns.query.udp_with_fallback(
        query_no_edns, "127.0.0.1", port=proxy.port, timeout=2
    )
    assert used_tcp and len(addresses(response)) == BIG
    with_edns = dns.message.make_query("big.shop.example", "A", use_edns=0, payload=4096)
    big = dns.query.udp(with_edns, "127.0.0.1", port=proxy.port, timeout=2)
    assert not big.flags & dns.flags.TC and len(addresses(big)) == BIG
    assert big.edns == 0  # our OPT record answers theirs


@needs_dig
def test_truncation_and_tcp_fallback_with_dig(proxy):
    status, answers, out = dig(proxy.port, "big.shop.example", "A", "+bufsize=1232")
    assert "Truncated, retrying in TCP mode" in out
    assert status == "NOERROR" and len(answers) == BIG


def test_truncation_is_passed_through_a_forwarding_proxy(proxy):
    front = start(zone=None, upstream=("127.0.0.1", proxy.port))
    try:
        q = dns.message.make_query("big.shop.example", "A")
        response, used_tcp = dns.query.udp_with_fallback(q, "127.0.0.1", port=front.port, timeout=2)
        assert used_tcp and len(addresses(response)) == BIG
        assert front.proxy.counters.forwarded >= 1 and front.proxy.counters.tcp_queries == 1
    finally:
        front.stop()


class RecordingUpstream:
    """A one-thread UDP server that records the queries it gets and answers with an EDNS option."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.seen: list[DNSRecord] = []
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        deadline = time.monotonic() + 30  # bounded even if a test forgets to stop it
        while self.running and time.monotonic() < deadline:
            try:
                data, addr = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = DNSRecord.parse(data)
            self.seen.append(query)
            reply = query.reply()
            reply.add_answer(RR(query.q.qname, QTYPE.A, rdata=A("192.0.2.99"), ttl=42))
            reply.add_ar(EDNS0(udp_len=1232, opts=[EDNSOption(65002, b"from-upstream")]))
            self.sock.sendto(reply.pack(), addr)

    def stop(self) -> None:
        self.running = False
        self.thread.join(2)
        self.sock.close()


def test_edns_options_pass_through_both_ways():
    upstream = RecordingUpstream()
    front = start(zone=None, upstream=("127.0.0.1", upstream.port))
    try:
        option = dns.edns.GenericOption(65001, b"from-client")
        q = dns.message.make_query(
            "x.example", "A", use_edns=0, payload=3000, options=[option], want_dnssec=True
        )
        r = dns.query.udp(q, "127.0.0.1", port=front.port, timeout=2)
        assert addresses(r) == ["192.0.2.99"] and r.answer[0].ttl == 42
        assert [(o.otype, o.data) for o in r.options] == [(65002, b"from-upstream")]
        opt = next(rr for rr in upstream.seen[0].ar if rr.rtype == QTYPE.OPT)
        assert opt.rclass == 3000  # the client's payload size reached the upstream
        assert [(o.code, o.data) for o in opt.rdata] == [(65001, b"from-client")]
        assert opt.ttl & 0x8000  # the DO bit too
    finally:
        front.stop()
        upstream.stop()


# ---- forwarding to a real upstream --------------------------------------------------------------


@pytest.fixture(scope="module")
def dnsmasq():
    if not Dnsmasq.available():
        pytest.skip("dnsmasq (Debian) is not installed")
    server = Dnsmasq(
        {"api.corp.example": ["127.0.0.30"], "db.corp.example": ["127.0.0.31"]},
        local_domains=("corp.example",),
        local_ttl_s=120,
    )
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("tcp", [False, True])
def test_forwarding_to_dnsmasq_with_faults(dnsmasq, tcp):
    front = start(
        zone=None,
        upstream=("127.0.0.1", dnsmasq.port),
        rules=[
            parse_rule({"match": "db.corp.example", "action": "empty", "negative_ttl": 5}),
            parse_rule({"match": "api.corp.example", "type": "A", "action": "ttl", "ttl": 0}),
        ],
    )
    try:
        api = ask(front.port, "api.corp.example", tcp=tcp)
        assert addresses(api) == ["127.0.0.30"] and api.answer[0].ttl == 0
        db = ask(front.port, "db.corp.example", tcp=tcp)
        assert db.rcode() == 0 and not db.answer and db.authority[0][0].minimum == 5
        nx = ask(front.port, "nope.corp.example", tcp=tcp)
        assert nx.rcode() == dns.rcode.NXDOMAIN  # dnsmasq's own answer, relayed
        counters = front.proxy.counters
        assert counters.forwarded == 2 and counters.faults == 2
    finally:
        front.stop()


@needs_dig
def test_dig_through_the_proxy_to_dnsmasq(dnsmasq):
    front = start(zone=None, upstream=("127.0.0.1", dnsmasq.port))
    try:
        status, answers, _ = dig(front.port, "api.corp.example", "A", "+recurse")
        assert status == "NOERROR" and answers[0][4] == "127.0.0.30" and int(answers[0][1]) == 120
    finally:
        front.stop()


def test_an_upstream_that_never_answers_gives_servfail_and_bounded_memory():
    blackhole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blackhole.bind(("127.0.0.1", 0))
    front = start(
        zone=None, upstream=blackhole.getsockname(), upstream_timeout_s=0.3, max_pending=40
    )
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)  # hold 300 replies
    client.settimeout(2)
    try:
        for i in range(300):
            client.sendto(DNSRecord.question(f"q{i}.example").pack(), ("127.0.0.1", front.port))
        time.sleep(0.05)
        assert front.proxy.stats()["pending_upstream"] <= 40
        replies = []
        deadline = time.monotonic() + 5
        while len(replies) < 300 and time.monotonic() < deadline:
            try:
                replies.append(DNSRecord.parse(client.recv(4096)).header.rcode)
            except TimeoutError:
                break
        assert len(replies) == 300 and set(replies) == {2}  # SERVFAIL: overload or timeout
        counters = front.proxy.counters
        assert counters.upstream_overload >= 200 and counters.upstream_timeouts >= 1
        assert front.proxy.stats()["pending_upstream"] == 0
    finally:
        front.stop()
        client.close()
        blackhole.close()


# ---- safety: allow-list, rate limit ---------------------------------------------------------------


def raw_exchange(
    port: int, packet: bytes, *, source: str = "127.0.0.1", timeout: float = 0.5
) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.settimeout(timeout)
        sock.sendto(packet, ("127.0.0.1", port))
        try:
            return sock.recv(65535)
        except TimeoutError:
            return None


def test_clients_outside_the_allow_list_get_a_bare_refused_and_no_forwarding(dnsmasq):
    import ipaddress

    front = start(
        zone=None,
        upstream=("127.0.0.1", dnsmasq.port),
        allow=(ipaddress.ip_network("127.0.0.1/32"),),
    )
    try:
        query = DNSRecord.question("api.corp.example")
        query.add_ar(EDNS0(udp_len=4096))
        packet = query.pack()
        reply = raw_exchange(front.port, packet, source="127.0.0.2")
        assert reply is not None and len(reply) <= len(packet)  # no amplification
        parsed = DNSRecord.parse(reply)
        assert parsed.header.rcode == 5 and parsed.header.id == query.header.id and not parsed.rr
        assert front.proxy.counters.forwarded == 0 and front.proxy.counters.refused_clients == 1
        allowed = DNSRecord.parse(raw_exchange(front.port, packet, source="127.0.0.1"))
        assert str(allowed.a.rdata) == "127.0.0.30"
    finally:
        front.stop()


def test_per_client_rate_limit():
    front = start(rate_limit_qps=5, rate_limit_burst=20)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.3)
            for i in range(100):
                q = DNSRecord.question("app.shop.example")
                q.header.id = i
                sock.sendto(q.pack(), ("127.0.0.1", front.port))
            got = 0
            while True:
                try:
                    sock.recv(4096)
                    got += 1
                except TimeoutError:
                    break
        assert 20 <= got <= 35  # the burst, plus what refilled (5/s) while sending
        assert front.proxy.counters.rate_limited == 100 - got
        other = raw_exchange(
            front.port, DNSRecord.question("app.shop.example").pack(), source="127.0.0.3"
        )
        assert other is not None  # another client has its own bucket
    finally:
        front.stop()


def test_the_default_listen_address_is_loopback():
    assert ProxyConfig().listen_host == "127.0.0.1"
    assert all(net.is_loopback for net in ProxyConfig().allow)


def test_responses_sent_to_the_proxy_are_ignored(proxy):
    response = DNSRecord.question("app.shop.example").reply().pack()
    assert raw_exchange(proxy.port, response) is None


def test_tcp_pipelined_queries_on_one_connection(proxy):
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=2) as sock:
        for i, name in enumerate(["app.shop.example", "db.shop.example", "www.shop.example"]):
            q = DNSRecord.question(name)
            q.header.id = 1000 + i
            wire = q.pack()
            sock.sendall(struct.pack("!H", len(wire)) + wire)
        stream = sock.makefile("rb")
        got = []
        for _ in range(3):
            size = struct.unpack("!H", stream.read(2))[0]
            got.append(DNSRecord.parse(stream.read(size)))
        assert [g.header.id for g in got] == [1000, 1001, 1002]
        assert [str(g.rr[-1].rdata) for g in got] == ["127.0.0.10", "127.0.0.20", "127.0.0.10"]


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback (::1) on this machine")
def test_listening_on_ipv6_loopback():
    service = start(listen_host="::1")
    try:
        for send in (dns.query.udp, dns.query.tcp):
            r = send(
                dns.message.make_query("app.shop.example", "A"), "::1", port=service.port, timeout=2
            )
            assert addresses(r) == ["127.0.0.10"]
    finally:
        service.stop()


def test_rate_limit_buckets_are_bounded():
    from aftershock.chaos.dnsproxy import RateLimiter

    limiter = RateLimiter(qps=10, burst=5, max_buckets=100)
    for i in range(1000):
        assert limiter.allow(f"10.0.{i // 256}.{i % 256}", now=float(i))
    assert len(limiter) <= 100
    for _ in range(5):
        assert limiter.allow("10.9.9.9", now=2000.0)
    assert not limiter.allow("10.9.9.9", now=2000.0)  # the busy client keeps its empty bucket
    assert limiter.allow("10.9.9.9", now=2000.2)  # refilled at 10/s


def test_tcp_connections_are_capped():
    front = start(max_tcp_connections=2)
    try:
        held = [socket.create_connection(("127.0.0.1", front.port), timeout=2) for _ in range(2)]
        time.sleep(0.1)
        with socket.create_connection(("127.0.0.1", front.port), timeout=2) as third:
            assert third.recv(10) == b""  # closed at once
        assert front.proxy.counters.tcp_rejected == 1
        for sock in held:
            sock.close()
        time.sleep(0.1)
        r = dns.query.tcp(
            dns.message.make_query("app.shop.example", "A"), "127.0.0.1", port=front.port, timeout=2
        )
        assert addresses(r) == ["127.0.0.10"]
    finally:
        front.stop()
