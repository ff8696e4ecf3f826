"""A static zone (RFC 1035 master file) the proxy answers from when there is no upstream.

Parsing is dnslib's; this module only indexes the records and answers a question the way an
authoritative server does: answer, CNAME chain inside the zone, `*` wildcards, NODATA and
NXDOMAIN with the zone's SOA in the authority section (so resolvers cache the negative answer
for the SOA minimum, RFC 2308).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dnslib import QTYPE, RR, SOA, DNSLabel

from aftershock.errors import AftershockError

MAX_ZONE_BYTES = 16 * 1024 * 1024
MAX_CNAME_CHAIN = 8


class ZoneError(AftershockError):
    """A zone file is not valid."""


def normalise(name: str | DNSLabel) -> str:
    """Lower-case name without the trailing dot (how rules and zones key names)."""
    return str(name).rstrip(".").lower()


@dataclass
class ZoneAnswer:
    """What the zone says about a question: an rcode and the records of each section."""

    rcode: int
    answer: list[RR] = field(default_factory=list)
    authority: list[RR] = field(default_factory=list)


class Zone:
    """Records indexed by owner name and type, with the SOA of every apex in the file."""

    def __init__(self, records: list[RR]) -> None:
        self.records: dict[str, dict[int, list[RR]]] = {}
        self.apexes: dict[str, RR] = {}
        self._names_below: set[str] = set()  # every ancestor of an owner (empty non-terminals)
        for rr in records:
            owner = normalise(rr.rname)
            self.records.setdefault(owner, {}).setdefault(rr.rtype, []).append(rr)
            if rr.rtype == QTYPE.SOA:
                self.apexes[owner] = rr
            labels = owner.split(".")
            for i in range(1, len(labels)):
                self._names_below.add(".".join(labels[i:]))

    @classmethod
    def from_text(cls, text: str, *, origin: str = "", file: str = "<zone>") -> Zone:
        """Parse master-file text; a bad line is a located error."""
        try:
            records = list(RR.fromZone(text, origin=origin))
        except Exception as exc:  # dnslib raises several types on bad input
            line = _first_bad_line(text, origin)
            raise ZoneError(
                f"cannot parse the zone: {exc or type(exc).__name__}",
                file=file,
                line=line,
                hint="write RFC 1035 master-file lines, e.g. `app IN A 192.0.2.1`",
            ) from None
        if not records:
            raise ZoneError("the zone holds no records", file=file)
        if not any(rr.rtype == QTYPE.SOA for rr in records):
            raise ZoneError(
                "the zone has no SOA record",
                file=file,
                hint="add `@ IN SOA ns hostmaster 1 3600 600 86400 60`; its minimum is the "
                "negative-caching TTL",
            )
        return cls(records)

    @classmethod
    def from_file(cls, path: str | Path) -> Zone:
        """Read a zone file."""
        p = Path(path)
        if not p.is_file():
            raise ZoneError("zone file not found", file=str(path), hint="check the path")
        if p.stat().st_size > MAX_ZONE_BYTES:
            raise ZoneError(f"zone file is over {MAX_ZONE_BYTES} bytes", file=str(path))
        return cls.from_text(p.read_text(encoding="utf-8"), file=str(path))

    def apex_of(self, qname: str) -> str | None:
        """The closest apex at or above `qname`, if the zone is authoritative for it."""
        labels = qname.split(".")
        for i in range(len(labels)):
            candidate = ".".join(labels[i:])
            if candidate in self.apexes:
                return candidate
        return "" if "" in self.apexes else None

    def soa_for(self, qname: str) -> RR | None:
        """The SOA record of the zone that holds `qname`."""
        apex = self.apex_of(qname)
        return None if apex is None else self.apexes[apex]

    def lookup(self, qname: str, qtype: int) -> ZoneAnswer | None:
        """The authoritative answer for (name, type), or None when the name is outside the zone."""
        apex = self.apex_of(qname)
        if apex is None:
            return None
        soa = self.apexes[apex]
        result = ZoneAnswer(rcode=0)
        name = qname
        for _ in range(MAX_CNAME_CHAIN):
            rrsets = self.records.get(name) or self._wildcard(name, apex)
            if rrsets is None:
                if name == qname and name not in self._names_below:
                    result.rcode = 3  # NXDOMAIN
                if not result.answer:
                    result.authority.append(soa)
                return result
            if qtype == QTYPE.ANY:
                result.answer += [_renamed(rr, name) for rrs in rrsets.values() for rr in rrs]
                return result
            if qtype in rrsets:
                result.answer += [_renamed(rr, name) for rr in rrsets[qtype]]
                return result
            cname = rrsets.get(QTYPE.CNAME)
            if not cname:
                if not result.answer:
                    result.authority.append(soa)  # NODATA
                return result
            result.answer.append(_renamed(cname[0], name))
            name = normalise(cname[0].rdata.label)
            if self.apex_of(name) != apex:
                return result  # the target lives elsewhere; the resolver follows it
        return result

    def _wildcard(self, name: str, apex: str) -> dict[int, list[RR]] | None:
        labels = name.split(".")
        for i in range(1, len(labels)):
            parent = ".".join(labels[i:])
            wild = self.records.get("*." + parent)
            if wild is not None:
                return wild
            if parent == apex or parent in self.records or parent in self._names_below:
                return None  # closest encloser found, no wildcard under it (RFC 4592)
        return None


def _first_bad_line(text: str, origin: str) -> int | None:
    """Best effort: the first record line dnslib cannot parse on its own (with $ORIGIN/$TTL)."""
    ttl = 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.split(";")[0].strip()
        if not stripped or line[:1].isspace() or "(" in stripped or ")" in stripped:
            continue  # continuation lines and multi-line records are not checked alone
        directive = stripped.split()
        if directive[0].upper() == "$ORIGIN" and len(directive) > 1:
            origin = directive[1]
            continue
        if directive[0].upper() == "$TTL" and len(directive) > 1:
            ttl = int(directive[1]) if directive[1].isdigit() else ttl
            continue
        try:
            RR.fromZone(stripped, origin=origin, ttl=ttl)
        except Exception:
            return number
    return None


def _renamed(rr: RR, owner: str) -> RR:
    """A copy of a record with the owner written as asked (for wildcard answers)."""
    if normalise(rr.rname) == owner and not str(rr.rname).startswith("*"):
        return rr
    return RR(rname=owner + ".", rtype=rr.rtype, rclass=rr.rclass, ttl=rr.ttl, rdata=rr.rdata)


def negative_soa(qname: DNSLabel, minimum_s: int, zone: Zone | None = None) -> RR:
    """The SOA to put in the authority section of an injected empty/NXDOMAIN answer.

    Its TTL and minimum are both `minimum_s`, so a resolver caches the negative answer exactly
    that long (RFC 2308 section 5: the lesser of the two). The owner is the zone apex when a
    static zone holds the name, else the name's parent (a plausible zone cut).
    """
    base = zone.soa_for(normalise(qname)) if zone is not None else None
    if base is not None:
        owner = base.rname
        soa = base.rdata
        mname, rname, serial = soa.mname, soa.rname, soa.times[0]
    else:
        labels = qname.label
        owner = DNSLabel(labels[1:] if len(labels) > 1 else labels)
        mname, rname, serial = "ns.aftershock.invalid.", "hostmaster.aftershock.invalid.", 1
    rdata = SOA(mname=mname, rname=rname, times=(serial, 3600, 600, 86400, minimum_s))
    return RR(rname=owner, rtype=QTYPE.SOA, ttl=minimum_s, rdata=rdata)
