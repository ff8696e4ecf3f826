"""A DNS server on UDP and TCP that forwards to an upstream (or answers from a static zone) and
injects the faults its rules ask for.

One asyncio loop serves both transports. UDP sockets are read directly on readiness, many
datagrams per wake-up (asyncio's datagram transport reads one per loop iteration, which halved
throughput here). Queries are parsed with dnslib; a query that no rule touches is forwarded as raw bytes (only its ID is rewritten) and the upstream's reply is relayed
the same way, so EDNS options and flags pass through untouched. Everything that grows with load
is bounded: queries in flight upstream, delayed answers, TCP connections, rate-limit buckets.

Safety: only clients in the allow-list (loopback by default) are served; others get a bare
REFUSED no larger than their query (no amplification), and every client is rate limited.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import random
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from dnslib import AAAA, EDNS0, OPCODE, QTYPE, RR, A, DNSError, DNSHeader, DNSRecord

from aftershock.chaos.rules import Rule, RuleStore
from aftershock.chaos.zone import Zone, negative_soa, normalise

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
HEADER = struct.Struct("!HHHHHH")
MIN_UDP_PAYLOAD = 512
UDP_BATCH = 64  # datagrams read per readiness event
SOCKET_BUFFER_BYTES = 4 * 1024 * 1024
PARSE_CACHE_LIMIT = 4096


@dataclass
class ProxyConfig:
    """Where the proxy listens, where it forwards, and its safety limits."""

    listen_host: str = "127.0.0.1"
    listen_port: int = 5353
    upstream: tuple[str, int] | None = None
    allow: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = LOOPBACK
    rate_limit_qps: float = 5000.0  # per client address; 0 turns the limit off
    rate_limit_burst: float = 10000.0
    upstream_timeout_s: float = 2.0
    upstream_sockets: int = 4  # source ports spread over, against reply spoofing
    max_pending: int = 8192  # queries in flight upstream (and delayed answers), in total
    max_tcp_connections: int = 128
    tcp_idle_timeout_s: float = 10.0
    max_udp_payload: int = 1232  # what we advertise in our own OPT records (DNS flag day 2020)
    max_rate_buckets: int = 65536
    seed: int | None = None


@dataclass
class ProxyCounters:
    """What the proxy has done since it started."""

    queries: int = 0
    answered: int = 0
    forwarded: int = 0
    from_zone: int = 0
    faults: int = 0
    dropped: int = 0
    malformed: int = 0
    formerr: int = 0
    refused_clients: int = 0
    rate_limited: int = 0
    upstream_timeouts: int = 0
    upstream_overload: int = 0
    truncated: int = 0
    tcp_queries: int = 0
    tcp_rejected: int = 0
    internal_errors: int = 0
    send_errors: int = 0


class FaultLog:
    """Writes one JSON line per injected fault (and per proxy event worth auditing)."""

    def __init__(
        self, stream: IO[str] | None = None, scenario_clock: Callable[[], float] | None = None
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        # In a rehearsal, lines also carry the scenario time, to line up with the simulation.
        self.scenario_clock = scenario_clock

    def write(self, event: str, **fields: Any) -> None:
        """One structured line: time, event name, fields."""
        now = time.time()
        stamp = (
            time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
        )
        record: dict[str, Any] = {"ts": stamp, "event": event}
        if self.scenario_clock is not None:
            record["scenario_s"] = round(self.scenario_clock(), 3)
        line = json.dumps({**record, **fields}, separators=(",", ":"))
        with contextlib.suppress(OSError, ValueError):
            self.stream.write(line + "\n")
            self.stream.flush()


class RateLimiter:
    """A token bucket per client address, with a bounded number of buckets."""

    def __init__(self, qps: float, burst: float, max_buckets: int) -> None:
        self.qps, self.burst, self.max_buckets = qps, max(burst, 1.0), max_buckets
        self._buckets: dict[str, list[float]] = {}

    def allow(self, client: str, now: float) -> bool:
        """Take a token for `client`; False when its bucket is empty."""
        if self.qps <= 0:
            return True
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= self.max_buckets:
                self._evict(now)
            bucket = self._buckets[client] = [self.burst, now]
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.qps)
        bucket[1] = now
        if tokens < 1.0:
            bucket[0] = tokens
            return False
        bucket[0] = tokens - 1.0
        return True

    def _evict(self, now: float) -> None:
        # Buckets that have refilled carry no state worth keeping; if none has, drop them all.
        full = [
            c for c, (t, last) in self._buckets.items() if t + (now - last) * self.qps >= self.burst
        ]
        for client in full or list(self._buckets):
            del self._buckets[client]

    def __len__(self) -> int:
        return len(self._buckets)


@dataclass(slots=True)
class Question:
    """A parsed query: the dnslib record plus what the proxy keys on.

    `record` is shared between queries with the same bytes (see `DnsProxy.screen`), so its
    header ID is not this query's: `ident` is.
    """

    record: DNSRecord
    qname: str
    qtype: str
    max_udp_size: int
    has_edns: bool
    ident: int
    question_wire: bytes  # the question section, lower-cased (to match the upstream's reply)


@dataclass
class _Pending:
    client: tuple[Any, ...]
    original_id: bytes
    question: bytes
    deadline: float
    max_size: int
    rule: Rule | None
    query: Question = field(repr=False)


class DnsProxy:
    """The fault-injecting DNS proxy; `await start()`, then `await close()`."""

    def __init__(
        self,
        config: ProxyConfig,
        rules: RuleStore,
        zone: Zone | None = None,
        log: FaultLog | None = None,
    ) -> None:
        self.config = config
        self.rules = rules
        self.zone = zone
        self.log = log or FaultLog()
        self.counters = ProxyCounters()
        self.rng = random.Random(config.seed)
        self.limiter = RateLimiter(
            config.rate_limit_qps, config.rate_limit_burst, config.max_rate_buckets
        )
        self.started_monotonic = time.monotonic()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._udp: socket.socket | None = None
        self._tcp: asyncio.base_events.Server | None = None
        self._upstreams: list[_UpstreamSocket] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._tcp_connections = 0
        self._delayed = 0
        self._sweeper: asyncio.Task[None] | None = None
        self._parsed: dict[bytes, Question] = {}
        self._allowed: dict[str, bool] = {}

    # ---- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind UDP and TCP on the listen address (port 0 picks a free one, same for both)."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        host, port = self.config.listen_host, self.config.listen_port
        for attempt in range(20 if port == 0 else 1):
            # Port 0: UDP picks a free port, which TCP may not have free; then try another.
            self._udp = _udp_socket(host, port)
            try:
                self._tcp = await asyncio.start_server(
                    self._serve_tcp, host, self._udp.getsockname()[1], reuse_address=True
                )
                break
            except OSError:
                self._udp.close()
                if attempt == 19 or port != 0:
                    raise
        try:
            if self.config.upstream is not None:
                for _ in range(max(1, self.config.upstream_sockets)):
                    self._upstreams.append(_UpstreamSocket(self, self.config.upstream))
        except OSError:
            self._close_sockets()
            raise
        loop.add_reader(self._udp.fileno(), self._read_clients)
        for upstream in self._upstreams:
            loop.add_reader(upstream.sock.fileno(), upstream.read)
        self._sweeper = asyncio.create_task(self._sweep_forever())

    @property
    def listening(self) -> bool:
        """Whether the sockets are bound."""
        return self._udp is not None and self._udp.fileno() >= 0

    @property
    def port(self) -> int:
        """The bound port (UDP and TCP share it)."""
        assert self._udp is not None
        return self._udp.getsockname()[1]

    async def close(self) -> None:
        """Stop listening and cancel whatever is in flight."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        for task in list(self._tasks):
            task.cancel()
        self._close_sockets()
        if self._tcp is not None:
            self._tcp.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._tcp.wait_closed(), 1.0)

    def _close_sockets(self) -> None:
        for sock in [self._udp, *(u.sock for u in self._upstreams)]:
            if sock is None or sock.fileno() < 0:
                continue
            if self._loop is not None:
                with contextlib.suppress(Exception):
                    self._loop.remove_reader(sock.fileno())
            sock.close()

    def stats(self) -> dict[str, Any]:
        """Counters and gauges for the control API."""
        return {
            **asdict(self.counters),
            "pending_upstream": self._pending_total(),
            "delayed": self._delayed,
            "tcp_connections": self._tcp_connections,
            "rate_buckets": len(self.limiter),
            "uptime_s": round(time.monotonic() - self.started_monotonic, 3),
        }

    # ---- the packet path --------------------------------------------------------------------

    def screen(self, data: bytes, client: str, tcp: bool) -> bytes | Question | None:
        """First look at a packet: a reply to send at once, a question to answer, or None (drop)."""
        self.counters.queries += 1
        data = bytes(data)  # (a no-op for the bytes a socket gives)
        if len(data) < HEADER.size:
            self.counters.malformed += 1
            return None  # not even a header: nothing to reply to
        if data[2] & 0x80:
            self.counters.malformed += 1
            return None  # a response sent to us: never answer it (reflection loops)
        allowed = self._allowed.get(client)
        if allowed is None:
            if len(self._allowed) >= self.config.max_rate_buckets:
                self._allowed.clear()
            allowed = self._allowed[client] = _allowed(client, self.config.allow)
        if not allowed:
            self.counters.refused_clients += 1
            if not self.limiter.allow("refused:" + client, time.monotonic()):
                return None
            return _bare_reply(data, REFUSED)
        if not self.limiter.allow(client, time.monotonic()):
            self.counters.rate_limited += 1
            return None
        # Clients repeat questions: the parse of the bytes after the ID is memoised (bounded).
        template = self._parsed.get(data[2:])
        if template is None:
            parsed = self._parse(data)
            if isinstance(parsed, bytes):
                return parsed
            template = parsed
            if len(self._parsed) >= PARSE_CACHE_LIMIT:
                self._parsed.clear()
            self._parsed[data[2:]] = template
        return Question(
            template.record,
            template.qname,
            template.qtype,
            65535 if tcp else template.max_udp_size,
            template.has_edns,
            (data[0] << 8) | data[1],
            template.question_wire,
        )

    def _parse(self, data: bytes) -> bytes | Question:
        """dnslib's parse of a query, or the FORMERR/NOTIMP reply it deserves."""
        try:
            record = DNSRecord.parse(data)
        except (DNSError, ValueError, IndexError, UnicodeError, struct.error):
            self.counters.malformed += 1
            self.counters.formerr += 1
            return _bare_reply(data, FORMERR)
        if record.header.opcode != OPCODE.QUERY:
            return _bare_reply(data, NOTIMP)
        if len(record.questions) != 1:
            self.counters.formerr += 1
            return _bare_reply(data, FORMERR)
        q = record.questions[0]
        opt = next((rr for rr in record.ar if rr.rtype == QTYPE.OPT), None)
        max_udp = max(MIN_UDP_PAYLOAD, opt.rclass) if opt is not None else MIN_UDP_PAYLOAD
        qlen = _question_length(data)
        return Question(
            record=record,
            qname=normalise(q.qname),
            qtype=QTYPE.forward.get(q.qtype) or f"TYPE{q.qtype}",
            max_udp_size=max_udp,
            has_edns=opt is not None,
            ident=record.header.id,
            question_wire=data[HEADER.size : HEADER.size + qlen].lower(),
        )

    def choose_rule(self, query: Question, client: str, transport: str) -> Rule | None:
        """The rule that decides this query (logged and counted), or None."""
        rule = self.rules.ruleset.decide(query.qname, query.qtype, None, self.rng)
        if rule is not None:
            self.counters.faults += 1
            self.log.write(
                "dns_fault",
                rule=rule.id,
                action=rule.action,
                name=query.qname,
                type=query.qtype,
                client=client,
                transport=transport,
            )
        return rule

    def fault_reply(self, query: Question, rule: Rule) -> bytes | None:
        """The answer of a replacing action (`empty`, `nxdomain`, ...); None for `drop`."""
        action = rule.action
        if action == "drop":
            self.counters.dropped += 1
            return None
        if action in ("empty", "nxdomain"):
            soa = negative_soa(query.record.q.qname, rule.negative_ttl_s, self.zone)
            rcode = NOERROR if action == "empty" else NXDOMAIN
            return self.reply(query, rcode, authority=[soa])
        if action == "servfail":
            return self.reply(query, SERVFAIL, aa=False)
        if action == "refused":
            return self.reply(query, REFUSED, aa=False)
        if action == "wrong_address":
            owner = query.record.q.qname
            ttl = rule.ttl_s or 0
            answers = [
                RR(
                    owner,
                    QTYPE.A if ":" not in a else QTYPE.AAAA,
                    ttl=ttl,
                    rdata=A(a) if ":" not in a else AAAA(a),
                )
                for a in rule.addresses_for(query.qtype)
            ]
            authority = [] if answers else [negative_soa(query.record.q.qname, ttl, self.zone)]
            return self.reply(query, NOERROR, answers=answers, authority=authority)
        raise AssertionError(f"not a replacing action: {action}")

    def zone_reply(self, query: Question) -> bytes | None:
        """The static zone's answer, or None when the name is not in the zone."""
        if self.zone is None:
            return None
        found = self.zone.lookup(query.qname, query.record.q.qtype)
        if found is None:
            return None
        self.counters.from_zone += 1
        return self.reply(query, found.rcode, answers=found.answer, authority=found.authority)

    def reply(
        self,
        query: Question,
        rcode: int,
        answers: Iterable[RR] = (),
        authority: Iterable[RR] = (),
        aa: bool = True,
    ) -> bytes:
        """A response to `query` built by dnslib, with our OPT record when the query had one."""
        header = query.record.header
        response = DNSRecord(
            DNSHeader(
                id=query.ident,
                qr=1,
                aa=int(aa),
                rd=header.rd,
                ra=int(self.config.upstream is not None),
                rcode=rcode,
            ),
            q=query.record.q,
        )
        for rr in answers:
            response.add_answer(rr)
        for rr in authority:
            response.add_auth(rr)
        if query.has_edns:
            response.add_ar(EDNS0(udp_len=self.config.max_udp_payload))
        return response.pack()

    def fit(self, query: Question, wire: bytes) -> bytes:
        """The reply, or a truncated one (TC set, question only) when it exceeds the client's size."""
        if len(wire) <= query.max_udp_size:
            return wire
        self.counters.truncated += 1
        header = query.record.header
        response = DNSRecord(
            DNSHeader(
                id=query.ident, qr=1, tc=1, rd=header.rd, ra=int(self.config.upstream is not None)
            ),
            q=query.record.q,
        )
        if query.has_edns:
            response.add_ar(EDNS0(udp_len=self.config.max_udp_payload))
        return response.pack()

    def local_answer(self, query: Question, rule: Rule | None) -> bytes | None:
        """An answer that needs no upstream: a replacing fault, the zone, or REFUSED when nothing
        can answer. None means "forward it" (or drop, for `drop`)."""
        if rule is not None and rule.action not in ("delay", "ttl"):
            return self.fault_reply(query, rule)
        zone_wire = self.zone_reply(query)
        if zone_wire is not None:
            if rule is not None and rule.action == "ttl":
                zone_wire = _with_ttl(zone_wire, rule.ttl_s or 0)
            return zone_wire
        if self.config.upstream is None:
            return self.reply(query, REFUSED, aa=False)
        return None

    # ---- UDP ---------------------------------------------------------------------------------

    def _read_clients(self) -> None:
        """Drain the client socket: many datagrams per wake-up, not asyncio's one."""
        sock = self._udp
        for _ in range(UDP_BATCH):
            try:
                data, addr = sock.recvfrom(65535)  # type: ignore[union-attr]
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. ICMP errors queued on the socket: next datagram
                continue
            try:
                self.on_udp(data, addr)
            except Exception as exc:  # a bug must cost one query, never the server
                self.internal_error(exc, "udp")

    def on_udp(self, data: bytes, addr: tuple[Any, ...]) -> None:
        """Handle one datagram from a client."""
        screened = self.screen(data, addr[0], tcp=False)
        if screened is None:
            return
        if isinstance(screened, bytes):
            self._send_udp(screened, addr)
            return
        rule = self.choose_rule(screened, addr[0], "udp")
        if rule is not None and rule.action == "drop":
            self.counters.dropped += 1
            return
        if rule is not None and rule.action == "delay":
            if self._delayed + self._pending_total() >= self.config.max_pending:
                self.counters.upstream_overload += 1
                self._send_udp(self.reply(screened, SERVFAIL, aa=False), addr)
                return
            self._spawn(self._delayed_udp(data, screened, rule, addr))
            return
        self._answer_udp(data, screened, rule, addr)

    def _answer_udp(
        self, data: bytes, query: Question, rule: Rule | None, addr: tuple[Any, ...]
    ) -> None:
        wire = self.local_answer(query, rule)
        if wire is not None:
            self._send_udp(self.fit(query, wire), addr)
            return
        if not self._upstreams or self._pending_total() >= self.config.max_pending:
            self.counters.upstream_overload += 1
            self._send_udp(self.reply(query, SERVFAIL, aa=False), addr)
            return
        ttl_rule = rule if rule is not None and rule.action == "ttl" else None
        upstream = self._upstreams[self.counters.queries % len(self._upstreams)]
        if not upstream.forward(data, query, addr, ttl_rule):
            self.counters.upstream_overload += 1
            self._send_udp(self.reply(query, SERVFAIL, aa=False), addr)

    async def _delayed_udp(
        self, data: bytes, query: Question, rule: Rule, addr: tuple[Any, ...]
    ) -> None:
        self._delayed += 1
        try:
            await asyncio.sleep(_delay_s(rule, self.rng))
        finally:
            self._delayed -= 1
        self._answer_udp(data, query, rule, addr)

    def _send_udp(self, wire: bytes, addr: tuple[Any, ...]) -> None:
        if self._udp is None:
            return
        try:
            self._udp.sendto(wire, addr)
            self.counters.answered += 1
        except OSError:  # full send buffer or unreachable client: UDP may lose it
            self.counters.send_errors += 1

    def relay_from_upstream(self, pending: _Pending, wire: bytes) -> None:
        """Send an upstream reply back to its client: original ID, TTLs rewritten if asked, fitted."""
        self.counters.forwarded += 1
        if pending.rule is not None:
            wire = _with_ttl(wire, pending.rule.ttl_s or 0)
        wire = pending.original_id + wire[2:]
        if len(wire) > pending.max_size:
            wire = self.fit(pending.query, wire)
        self._send_udp(wire, pending.client)

    def upstream_timed_out(self, pending: _Pending) -> None:
        """An upstream never answered: SERVFAIL to the client, like a resolver would."""
        self.counters.upstream_timeouts += 1
        self._send_udp(self.reply(pending.query, SERVFAIL, aa=False), pending.client)

    def internal_error(self, exc: Exception, transport: str) -> None:
        """Count and log an unexpected error on the packet path (the query gets no answer)."""
        self.counters.internal_errors += 1
        self.log.write("internal_error", transport=transport, error=f"{type(exc).__name__}: {exc}")

    def _pending_total(self) -> int:
        if len(self._upstreams) == 1:
            return len(self._upstreams[0].pending)
        return sum([len(u.pending) for u in self._upstreams])

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(0.1)
            now = time.monotonic()
            for upstream in self._upstreams:
                upstream.expire(now)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- TCP ---------------------------------------------------------------------------------

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("?",)
        if self._tcp_connections >= self.config.max_tcp_connections:
            self.counters.tcp_rejected += 1
            writer.close()
            return
        self._tcp_connections += 1
        try:
            while True:
                try:
                    size_bytes = await asyncio.wait_for(
                        reader.readexactly(2), self.config.tcp_idle_timeout_s
                    )
                    size = struct.unpack("!H", size_bytes)[0]
                    data = await asyncio.wait_for(
                        reader.readexactly(size), self.config.tcp_idle_timeout_s
                    )
                except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                    return
                self.counters.tcp_queries += 1
                try:
                    wire = await self.answer_tcp(data, peer[0])
                except Exception as exc:  # a bug must cost one query, never the server
                    self.internal_error(exc, "tcp")
                    return
                if wire is None:
                    continue
                self.counters.answered += 1
                writer.write(struct.pack("!H", len(wire)) + wire)
                await writer.drain()
        except ConnectionError:
            return
        finally:
            self._tcp_connections -= 1
            writer.close()

    async def answer_tcp(self, data: bytes, client: str) -> bytes | None:
        """The reply to one query received over TCP (None: no reply)."""
        screened = self.screen(data, client, tcp=True)
        if not isinstance(screened, Question):
            return screened
        rule = self.choose_rule(screened, client, "tcp")
        if rule is not None and rule.action == "drop":
            self.counters.dropped += 1
            return None
        if rule is not None and rule.action == "delay":
            await asyncio.sleep(_delay_s(rule, self.rng))
        wire = self.local_answer(screened, rule)
        if wire is not None:
            return wire
        assert self.config.upstream is not None
        try:
            reply = await asyncio.wait_for(
                _tcp_exchange(self.config.upstream, data), self.config.upstream_timeout_s
            )
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            self.counters.upstream_timeouts += 1
            return self.reply(screened, SERVFAIL, aa=False)
        self.counters.forwarded += 1
        if rule is not None and rule.action == "ttl":
            reply = _with_ttl(reply, rule.ttl_s or 0)
        return data[:2] + reply[2:]


class _UpstreamSocket:
    """One connected UDP socket to the upstream, with its queries in flight keyed by our ID."""

    def __init__(self, proxy: DnsProxy, upstream: tuple[str, int]) -> None:
        self.proxy = proxy
        family = socket.AF_INET6 if ":" in upstream[0] else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sock.connect(upstream)
        self.pending: dict[int, _Pending] = {}
        self._ids: list[int] = []

    def forward(
        self, data: bytes, query: Question, client: tuple[Any, ...], rule: Rule | None
    ) -> bool:
        """Send the query upstream under a fresh random ID; False if no ID is free."""
        for _ in range(8):
            new_id = self.next_id()
            if new_id not in self.pending:
                break
        else:
            return False
        self.pending[new_id] = _Pending(
            client=client,
            original_id=data[:2],
            question=query.question_wire,
            deadline=time.monotonic() + self.proxy.config.upstream_timeout_s,
            max_size=query.max_udp_size,
            rule=rule,
            query=query,
        )
        try:  # noqa: SIM105 - cheaper than contextlib.suppress on the hot path
            self.sock.send(struct.pack("!H", new_id) + data[2:])
        except OSError:  # refused by ICMP or a full buffer: the sweep answers SERVFAIL
            pass
        return True

    def next_id(self) -> int:
        """An unpredictable 16-bit query ID (from the OS's random source, drawn in batches)."""
        if not self._ids:
            self._ids = list(struct.unpack("!4096H", os.urandom(8192)))
        return self._ids.pop()

    def read(self) -> None:
        """Drain replies from the upstream."""
        for _ in range(UDP_BATCH):
            try:
                data = self.sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # ICMP port unreachable from the upstream: the sweep times out
                continue
            try:
                self.reply_received(data)
            except Exception as exc:  # a bug must cost one query, never the server
                self.proxy.internal_error(exc, "upstream")

    def reply_received(self, data: bytes) -> None:
        """Match an upstream reply to its query and relay it."""
        if len(data) < HEADER.size:
            return
        pending = self.pending.get(struct.unpack_from("!H", data)[0])
        if pending is None:
            return
        # The reply must echo our question (case-insensitively): a cheap check against spoofing.
        echoed = data[HEADER.size : HEADER.size + len(pending.question)]
        if echoed != pending.question and echoed.lower() != pending.question:
            return
        del self.pending[struct.unpack_from("!H", data)[0]]
        self.proxy.relay_from_upstream(pending, data)

    def expire(self, now: float) -> None:
        """Time out queries whose deadline passed (they were inserted in deadline order)."""
        while self.pending:
            key = next(iter(self.pending))
            pending = self.pending[key]
            if pending.deadline > now:
                return
            del self.pending[key]
            self.proxy.upstream_timed_out(pending)


async def _tcp_exchange(upstream: tuple[str, int], data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(*upstream)
    try:
        writer.write(struct.pack("!H", len(data)) + data)
        await writer.drain()
        size = struct.unpack("!H", await reader.readexactly(2))[0]
        return await reader.readexactly(size)
    finally:
        writer.close()


def _udp_socket(host: str, port: int) -> socket.socket:
    """A non-blocking UDP socket bound to (host, port) with room for bursts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER_BYTES)
        sock.setblocking(False)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _allowed(client: str, networks: tuple[Any, ...]) -> bool:
    try:
        address = ipaddress.ip_address(client.split("%")[0])
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in net for net in networks)


def _bare_reply(data: bytes, rcode: int) -> bytes:
    """A header-only response echoing the query's ID, opcode and RD (never larger than a query)."""
    ident, flags = struct.unpack_from("!HH", data)
    flags = 0x8000 | (flags & 0x7900) | rcode  # QR, opcode, RD kept
    return HEADER.pack(ident, flags, 0, 0, 0, 0)


def _question_length(data: bytes) -> int:
    """Length of the (already validated) question section: the name's labels, type and class."""
    i = HEADER.size
    while i < len(data):
        n = data[i]
        if n == 0:
            return i + 1 + 4 - HEADER.size
        if n & 0xC0:
            return i + 2 + 4 - HEADER.size
        i += n + 1
    return len(data) - HEADER.size


def _rewrite_ttls(record: DNSRecord, ttl: int) -> None:
    for rr in (*record.rr, *record.auth, *record.ar):
        if rr.rtype != QTYPE.OPT:
            rr.ttl = ttl


def _with_ttl(wire: bytes, ttl: int) -> bytes:
    """The same message with every record's TTL set to `ttl` (unchanged if it does not parse)."""
    try:
        record = DNSRecord.parse(wire)
    except (DNSError, ValueError, IndexError, UnicodeError, struct.error):
        return wire
    _rewrite_ttls(record, ttl)
    return record.pack()


def _delay_s(rule: Rule, rng: random.Random) -> float:
    return max(0.0, rule.delay_s + rng.uniform(-rule.jitter_s, rule.jitter_s))
