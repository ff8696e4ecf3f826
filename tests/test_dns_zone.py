"""The static zone: authoritative answers, CNAME chains, wildcards, NODATA/NXDOMAIN with the SOA."""

from __future__ import annotations

import pytest
from dnslib import QTYPE, DNSLabel

from aftershock.chaos.zone import Zone, ZoneError, negative_soa

ZONE = Zone.from_text(
    """$ORIGIN shop.example.
$TTL 300
@        IN SOA ns1 hostmaster 7 3600 600 86400 45
@        IN NS  ns1
ns1      IN A   127.0.0.1
app      IN A   127.0.0.10
app      IN A   127.0.0.11
www      IN CNAME app
old      IN CNAME www
away     IN CNAME target.elsewhere.example.
*.wild   IN A   127.0.0.12
x.deep.a IN A   127.0.0.13
"""
)


def names(answer) -> list[tuple[str, str, str]]:
    return [(str(rr.rname), QTYPE[rr.rtype], str(rr.rdata)) for rr in answer.answer]


def test_an_answer_and_a_cname_chain_inside_the_zone():
    assert names(ZONE.lookup("app.shop.example", QTYPE.A)) == [
        ("app.shop.example.", "A", "127.0.0.10"),
        ("app.shop.example.", "A", "127.0.0.11"),
    ]
    chain = ZONE.lookup("old.shop.example", QTYPE.A)
    assert [n[1] for n in names(chain)] == ["CNAME", "CNAME", "A", "A"] and chain.rcode == 0


def test_a_cname_leaving_the_zone_stops_there():
    answer = ZONE.lookup("away.shop.example", QTYPE.A)
    assert names(answer) == [("away.shop.example.", "CNAME", "target.elsewhere.example.")]


def test_wildcards_answer_under_their_owner_name():
    answer = ZONE.lookup("anything.wild.shop.example", QTYPE.A)
    assert names(answer) == [("anything.wild.shop.example.", "A", "127.0.0.12")]
    assert ZONE.lookup("wild.shop.example", QTYPE.A).rcode == 0  # an empty non-terminal: NODATA


def test_nodata_nxdomain_and_empty_non_terminals_carry_the_soa():
    nodata = ZONE.lookup("app.shop.example", QTYPE.MX)
    assert nodata.rcode == 0 and not nodata.answer and nodata.authority[0].rdata.times[-1] == 45
    nx = ZONE.lookup("missing.shop.example", QTYPE.A)
    assert nx.rcode == 3 and nx.authority[0].rtype == QTYPE.SOA
    ent = ZONE.lookup("deep.a.shop.example", QTYPE.A)
    assert ent.rcode == 0 and not ent.answer  # has a name below it, so it exists


def test_names_outside_the_zone_are_not_answered():
    assert ZONE.lookup("other.example", QTYPE.A) is None


def test_negative_soa_uses_the_zone_apex_or_the_parent_name():
    in_zone = negative_soa(DNSLabel("app.shop.example"), 7, ZONE)
    assert (
        str(in_zone.rname) == "shop.example." and in_zone.ttl == 7 and in_zone.rdata.times[-1] == 7
    )
    outside = negative_soa(DNSLabel("dynamodb.us-east-1.amazonaws.com"), 900)
    assert str(outside.rname) == "us-east-1.amazonaws.com." and outside.rdata.times[-1] == 900


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("$ORIGIN a.example.\napp IN A 192.0.2.1\n", "no SOA record"),
        ("$ORIGIN a.example.\n@ IN SOA ns hm 1 2 3 4 5\napp IN A not-an-address\n", "cannot parse"),
        ("$ORIGIN a.example.\n@ IN SOA ns hm 1 2 3 4 5\nx IN BOGUS 1\n", "cannot parse"),
        ("", "cannot parse|no records"),
    ],
)
def test_a_bad_zone_is_a_clear_error(tmp_path, text, message):
    path = tmp_path / "bad.zone"
    path.write_text(text)
    with pytest.raises(ZoneError, match=message) as info:
        Zone.from_file(path)
    assert info.value.file == str(path)
    if "SOA ns" in text:
        assert info.value.line == 3


def test_a_missing_zone_file():
    with pytest.raises(ZoneError, match="not found"):
        Zone.from_file("/nonexistent/zone.db")
