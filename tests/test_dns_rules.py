"""Fault rules: parsing with located errors, matching by name/type/window/probability, the store."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aftershock.chaos.rules import (
    ACTIONS,
    KEYS,
    RuleError,
    RuleSet,
    RuleStore,
    load_rules_file,
    parse_rule,
)

ISSUE_EXAMPLE = r"""rules:
  - {match: dynamodb.us-east-1.amazonaws.com, type: A, action: empty}
  - {match: "*.flaky.example", action: servfail, probability: 0.3}
  - {match: slow.example, action: delay, delay: 2s, jitter: 500ms}
  - {match: moved.example, action: wrong_address, addresses: [192.0.2.7]}
  - {match: "~^api[0-9]+\\.example$", action: nxdomain, from: "+1m", until: "+5m"}
"""


def test_the_issue_example_loads(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(ISSUE_EXAMPLE)
    loaded = 1_000_000.0
    rules = load_rules_file(path, loaded_epoch_s=loaded)
    assert [r.action for r in rules] == ["empty", "servfail", "delay", "wrong_address", "nxdomain"]
    assert rules[0].types == frozenset({"A"})
    assert rules[1].probability == 0.3
    assert (rules[2].delay_s, rules[2].jitter_s) == (2.0, 0.5)
    assert rules[3].addresses == ("192.0.2.7",)
    assert (rules[4].start_epoch_s, rules[4].end_epoch_s) == (loaded + 60, loaded + 300)
    assert [r.id for r in rules] == ["file1", "file2", "file3", "file4", "file5"]


@pytest.mark.parametrize(
    ("rule_text", "message", "line", "hint"),
    [
        ("{match: a.example, action: emtpy}", "unknown action 'emtpy'", 3, "did you mean 'empty'"),
        (
            "{match: a.example, action: empty, probabilty: 0.5}",
            "unknown key 'probabilty'",
            3,
            "probability",
        ),
        ("{match: a.example, action: empty, type: AAA}", "unknown record type 'AAA'", 3, "AAAA"),
        ("{match: a.example, action: delay}", "needs 'delay'", 3, "delay: 2s"),
        ("{match: a.example, action: delay, delay: soon}", "not a duration", 3, "500ms"),
        (
            "{match: a.example, action: wrong_address, addresses: [nope]}",
            "'nope' is not an IPv4",
            3,
            None,
        ),
        ("{match: '~api[', action: nxdomain}", "bad regular expression", 3, "regex"),
        ("{match: 'a..example', action: empty}", "is not a DNS name", 3, "~regex"),
        ("{match: a.example, action: empty, probability: 2}", "outside [0, 1]", 3, None),
        (
            "{match: a.example, action: empty, from: '+5m', until: '+1m'}",
            "'until' is not after",
            3,
            None,
        ),
        ("{match: a.example, action: servfail, addresses: [192.0.2.1]}", "only applies", 3, None),
        ("{action: empty}", "missing required key 'match'", 3, None),
    ],
)
def test_a_bad_rule_is_a_located_error(tmp_path, rule_text, message, line, hint):
    path = tmp_path / "rules.yaml"
    path.write_text(f"rules:\n  - {{match: ok.example, action: empty}}\n  - {rule_text}\n")
    with pytest.raises(RuleError) as info:
        load_rules_file(path)
    err = info.value
    assert message in err.message
    assert "rule 2" in err.message
    assert err.file == str(path) and err.line == line and err.column is not None
    if hint:
        assert hint in (err.hint or "")


def test_a_rules_file_that_is_not_a_mapping_of_rules(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("rulez: []\n")
    with pytest.raises(RuleError, match="unknown key 'rulez'"):
        load_rules_file(path)
    path.write_text("- {match: a.example, action: empty}\n")  # a bare list is accepted
    assert len(load_rules_file(path)) == 1


def test_matching_exact_wildcard_and_regex_names():
    exact = parse_rule({"match": "API.Example.", "action": "empty"})
    wild = parse_rule({"match": "*.flaky.example", "action": "servfail"})
    regex = parse_rule({"match": r"~^api[0-9]+\.example$", "action": "nxdomain"})
    assert exact.matches_name("api.example") and not exact.matches_name("x.api.example")
    assert wild.matches_name("a.flaky.example") and wild.matches_name("b.a.flaky.example")
    assert not wild.matches_name("flaky.example") and not wild.matches_name("aflaky.example")
    assert regex.matches_name("api12.example") and not regex.matches_name("api.example")


def test_type_filter_and_any():
    only_a = parse_rule({"match": "a.example", "type": "a", "action": "empty"})
    both = parse_rule({"match": "a.example", "type": ["A", "AAAA"], "action": "empty"})
    anything = parse_rule({"match": "a.example", "action": "empty"})
    assert only_a.matches_type("A") and not only_a.matches_type("AAAA")
    assert both.matches_type("AAAA") and not both.matches_type("MX")
    assert anything.matches_type("TXT")


def test_first_matching_active_rule_decides_and_counts():
    now = time.time()
    later = parse_rule(
        {"id": "later", "match": "a.example", "action": "nxdomain", "from": "+1h"},
        loaded_epoch_s=now,
    )
    first = parse_rule({"id": "first", "match": "*.example", "type": "AAAA", "action": "servfail"})
    fallback = parse_rule({"id": "fallback", "match": "a.example", "action": "empty"})
    rules = RuleSet([later, first, fallback])
    assert rules.decide("a.example", "AAAA", now).id == "first"
    assert rules.decide("a.example", "A", now).id == "fallback"
    assert rules.decide("a.example", "A", now + 3601).id == "later"
    assert rules.decide("b.example", "A", now) is None
    assert (fallback.hits, fallback.matched, later.hits) == (1, 1, 1)


def test_probability_is_honoured_over_many_queries():
    rule = parse_rule({"match": "a.example", "action": "servfail", "probability": 0.3})
    rules = RuleSet([rule])
    rng = random.Random(7)
    hits = sum(rules.decide("a.example", "A", time.time(), rng) is not None for _ in range(4000))
    assert 0.26 < hits / 4000 < 0.34
    assert rule.matched == 4000 and rule.hits == hits


def test_store_add_remove_clear_and_reload_keeps_counters():
    store = RuleStore(
        [parse_rule({"id": "f", "match": "a.example", "action": "empty"}, source="file")]
    )
    store.ruleset.decide("a.example", "A", time.time())
    added = store.add([parse_rule({"id": "x", "match": "b.example", "action": "drop"})])
    assert [r.id for r in store.all()] == ["f", "x"] and added[0].source == "api"
    with pytest.raises(RuleError, match="used twice"):
        store.add([parse_rule({"id": "x", "match": "c.example", "action": "drop"})])
    store.replace_file_rules(
        [parse_rule({"id": "f", "match": "a.example", "action": "nxdomain"}, source="file")]
    )
    assert store.all()[0].action == "nxdomain" and store.all()[0].hits == 1
    assert store.remove("x") and not store.remove("x")
    assert store.clear() == 0 and len(store.all()) == 1
    assert store.clear(include_file_rules=True) == 1 and store.all() == []


def test_to_dict_round_trips_through_parse_rule():
    rule = parse_rule(
        {
            "id": "w",
            "match": "moved.example",
            "action": "wrong_address",
            "addresses": ["192.0.2.7", "2001:db8::1"],
            "ttl": "30s",
        }
    )
    shown = rule.to_dict()
    again = parse_rule(
        {k: v for k, v in shown.items() if k not in ("source", "active", "hits", "matched")}
    )
    assert (again.addresses, again.ttl_s, again.action) == (rule.addresses, 30, "wrong_address")
    assert rule.addresses_for("A") == ["192.0.2.7"] and rule.addresses_for("AAAA") == [
        "2001:db8::1"
    ]


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**10),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.lists(st.text(max_size=10), max_size=3),
    st.sampled_from(
        ["empty", "delay", "wrong_address", "ttl", "+1m", "2s", "A", "*.x.example", "~a("]
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([*KEYS, "bogus"]), _values, max_size=8))
def test_any_rule_object_is_accepted_or_a_rule_error(raw):
    try:
        rule = parse_rule(raw)
    except RuleError as exc:
        assert exc.message.startswith("rule: ")
        return
    assert rule.action in ACTIONS and rule.match
    rule.to_dict()
    RuleSet([rule]).decide("a.example", "A", time.time())
