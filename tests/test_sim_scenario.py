"""Scenario files: times, validation, located errors; fuzzed so that bad input is never a traceback."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftershock.errors import AftershockError
from aftershock.model.compile import compile_model
from aftershock.model.load import load_model_text
from aftershock.sim import Simulation, load_scenario_text
from aftershock.sim.scenario import ScenarioError

NAMES = {"ddb-dns", "db", "app", "dwfm", "nlb"}

ISSUE_EXAMPLE = """version: 1
start: 2025-10-19T23:00:00-07:00
duration: 24h
step: 1s
faults:
  - {target: ddb-dns, kind: dns_empty, at: "23:48", until: "02:25"}
  - {target: db, kind: outage, at: +10s, for: 10s}
  - {target: db, kind: capacity, at: +5m, for: 10s, factor: 0.2}
  - {target: app, kind: load, at: +5m, for: 10m, rps: 15}
actions:
  - {at: "04:14", kind: throttle, target: dwfm, rps: 50}
  - {at: "04:14", kind: drop_queue, target: dwfm}
  - {at: "09:36", kind: disable, target: nlb}
"""


def test_issue_example_times() -> None:
    sc = load_scenario_text(ISSUE_EXAMPLE, NAMES)
    assert sc.duration_s == 86400 and sc.step_s == 1 and sc.steps == 86400
    dns = sc.faults[0]
    assert (dns.start_s, dns.end_s) == (48 * 60, (3 * 60 + 25) * 60)  # rolls over midnight
    assert (sc.faults[1].start_s, sc.faults[1].end_s) == (10, 20)
    assert sc.faults[2].factor == 0.2 and sc.faults[3].rps == 15
    assert [a.at_s for a in sc.actions] == [(5 * 60 + 14) * 60] * 2 + [(10 * 60 + 36) * 60]
    assert sc.clock(48 * 60) == "2025-10-19T23:48:00-07:00"


def test_unquoted_clock_time_is_read_as_written() -> None:
    # YAML 1.1 reads 23:48 as the base-60 number 1428; the scenario reader looks at the source.
    sc = load_scenario_text(ISSUE_EXAMPLE.replace('"23:48"', "23:48"), NAMES)
    assert sc.faults[0].start_s == 48 * 60


def test_iso_datetimes_and_plain_numbers() -> None:
    sc = load_scenario_text("""
version: 1
start: 2025-10-19T23:00:00-07:00
duration: 2h
faults:
  - {target: db, kind: outage, at: 2025-10-20T06:30:00Z, until: "2025-10-19T23:45:00-07:00"}
  - {target: app, kind: outage, at: 90, for: 1m}
""", NAMES)
    assert sc.faults[0].start_s == 30 * 60 and sc.faults[0].end_s == 45 * 60
    assert (sc.faults[1].start_s, sc.faults[1].end_s) == (90, 150)
    assert sc.start is not None and sc.start.utcoffset() == timedelta(hours=-7)


def test_fault_without_end_lasts_until_restored() -> None:
    sc = load_scenario_text("version: 1\nduration: 1h\nfaults: [{target: db, kind: outage}]\n", NAMES)
    assert sc.faults[0].start_s == 0 and sc.faults[0].end_s == float("inf")


@pytest.mark.parametrize(("text", "message", "line", "hint"), [
    ("version: 1\nduration: 1h\nfaults:\n  - {target: dbb, kind: outage}\n",
     "unknown component 'dbb'", 4, "did you mean 'db'"),
    ("version: 1\nduration: 1h\nfaults:\n  - {target: db, kind: outgae}\n",
     "unknown fault kind 'outgae'", 4, "did you mean 'outage'"),
    ("version: 1\nduration: 1h\nfaultz: []\n", "unknown key 'faultz'", 3, "did you mean 'faults'"),
    ("version: 1\nduration: 1h\nfaults:\n  - {target: db, kind: outage, at: +5m, until: +1m}\n",
     "ends before it starts", 4, "until"),
    ("version: 1\nduration: 1h\nfaults:\n  - {target: db, kind: outage, at: \"23:48\"}\n",
     "needs `start:`", 4, "start:"),
    ("version: 1\nduration: 1h\nfaults:\n  - {target: db, kind: capacity}\n",
     "needs `factor`", 4, None),
    ("version: 1\nduration: 1h\nactions:\n\n  - {at: +2h, kind: restore, target: db}\n",
     "after the run ends", 5, "duration"),
    ("version: 1\nduration: soon\n", "not a duration", 2, "90s"),
    ("version: 1\nfaults: []\n", "missing required key 'duration'", 1, None),
    ("version: 1\nduration: 1h\nactions:\n  - {at: +1m, kind: throttle, target: db}\n",
     "needs `rps`", 4, None),
    ("- just\n- a list\n", "a scenario is a mapping", 1, "version: 1"),
])
def test_errors_are_located(text: str, message: str, line: int, hint: str | None) -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario_text(text, NAMES, path="sc.yaml")
    assert message in err.value.message
    assert err.value.file == "sc.yaml" and err.value.line == line
    if hint:
        assert hint in (err.value.hint or "")


MODEL = """
version: 1
components:
  rec: {kind: dns_record, record: a.example}
  db: {}
  lb: {healthcheck: {}, capacity: {rps: 10}}
"""


@pytest.mark.parametrize(("fault", "message"), [
    ("faults: [{target: db, kind: dns_empty}]", "applies to a dns_record"),
    ("faults: [{target: db, kind: capacity, factor: 0.5}]", "has no `capacity:`"),
    ("actions: [{at: +1m, kind: disable, target: db}]", "runs no automation"),
])
def test_errors_that_need_the_model_are_located(fault: str, message: str) -> None:
    graph = compile_model(load_model_text(MODEL))
    sc = load_scenario_text(f"version: 1\nduration: 1h\n{fault}\n", set(graph.names), path="s.yaml")
    with pytest.raises(ScenarioError) as err:
        Simulation(graph, sc)
    assert message in err.value.message and err.value.line == 3


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_arbitrary_text_fails_cleanly(text: str) -> None:
    with contextlib.suppress(AftershockError):
        load_scenario_text(text, NAMES)


keys = st.sampled_from(["target", "kind", "at", "until", "for", "factor", "rps", "mode", "delay",
                        "bogus"])
values = st.one_of(st.sampled_from(["db", "app", "outage", "dns_empty", "load", "capacity",
                                    "+5m", "23:48", "25:99", "-3", "1h", "x", "2025-10-20T01:00:00"]),
                   st.integers(-5, 10**6), st.floats(allow_nan=True), st.none(), st.booleans())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(keys, values, max_size=6), max_size=4),
       st.sampled_from(["", "start: 2025-10-19T23:00:00-07:00\n"]))
def test_structured_garbage_fails_cleanly(faults: list[dict], start: str) -> None:
    import yaml

    text = "version: 1\n" + start + "duration: 2h\n" + yaml.safe_dump({"faults": faults})
    try:
        sc = load_scenario_text(text, NAMES)
    except AftershockError:
        return
    for f in sc.faults:
        assert 0 <= f.start_s <= sc.duration_s and f.end_s > f.start_s
