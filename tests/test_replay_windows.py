"""The incident catalog's recorded windows and how simulated windows are matched to them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftershock.errors import AftershockError
from aftershock.sim.incidents import (
    IncidentError,
    RecordedWindow,
    incident_ids,
    load_incident,
    read_incident,
)
from aftershock.sim.incidents_windows import match_windows, merge_windows

INCIDENT = "aws-us-east-1-2025-10"
MIN = 60.0


def rec(service: str, start_min: float, end_min: float) -> RecordedWindow:
    return RecordedWindow(service, start_min * MIN, end_min * MIN, "test")


def test_catalog_lists_the_aws_incident() -> None:
    assert INCIDENT in incident_ids()


def test_recorded_windows_follow_the_context_timeline() -> None:
    incident = load_incident(INCIDENT)
    ddb = incident.recorded["ddb"][0]
    assert incident.clock(ddb.start_s) == "23:48" and incident.clock(ddb.end_s) == "02:40 +1d"
    assert ddb.end_s - ddb.start_s == (2 * 60 + 52) * MIN  # AWS: 2 h 52 m
    sts = incident.recorded["sts"]
    assert [incident.clock(w.start_s) for w in sts] == ["23:51", "08:31 +1d"]
    assert incident.clock(incident.recorded["redshift"][0].end_s) == "04:05 +2d"
    assert all(w.source for ws in incident.recorded.values() for w in ws)
    assert set(incident.whatifs) >= {"no-throttle", "intake-by-queue", "nlb-velocity-limit"}


def test_unknown_incident_has_a_hint() -> None:
    with pytest.raises(IncidentError) as info:
        load_incident("aws-us-east-1-2025")
    assert INCIDENT in (info.value.hint or "")


def test_incident_file_errors_are_located(tmp_path: Path) -> None:
    bad = tmp_path / "x.yaml"
    bad.write_text(
        "title: t\ntimezone: '-07:00'\nstart: 2025-10-19T23:00\nmodel: m\nscenario: s\n"
        "recorded:\n  ddb:\n    - {start: 2025-10-20T01:00, end: 2025-10-20T00:00, source: s}\n"
    )
    with pytest.raises(IncidentError) as info:
        read_incident(bad)
    assert info.value.line == 8 and "ends after it starts" in info.value.message
    bad.write_text("title: t\ntimezone: PDT\n")
    with pytest.raises(IncidentError, match="UTC offset"):
        read_incident(bad)


def test_merge_joins_short_gaps_and_keeps_open_windows_open() -> None:
    assert merge_windows([(0, 10), (15, 20), (100, 110)], gap_s=10) == [(0, 20), (100, 110)]
    assert merge_windows([(50, None), (0, 10), (12, 40)], gap_s=5) == [(0, 40), (50, None)]
    assert merge_windows([(0, 10), (5, None)], gap_s=1) == [(0, None)]


def test_each_recorded_window_takes_the_simulated_window_it_overlaps_most() -> None:
    recorded = {"sts": [rec("sts", 51, 139), rec("sts", 571, 659)]}
    simulated = {"sts": [(52 * MIN, 140 * MIN), (560 * MIN, 640 * MIN)], "extra": [(0.0, 5.0)]}
    matches = match_windows(recorded, simulated, tolerance_s=15 * MIN)
    first, second, extra = matches
    assert first.start_error_s == pytest.approx(MIN) and first.end_error_s == pytest.approx(MIN)
    assert second.start_error_s == pytest.approx(-11 * MIN)
    assert second.end_error_s == pytest.approx(-19 * MIN)
    assert first.within_tolerance and not second.within_tolerance
    assert extra.recorded is None and extra.service == "extra"


def test_a_window_that_never_ends_or_never_happens_is_not_within_tolerance() -> None:
    matches = match_windows({"dwfm": [rec("dwfm", 48, 388)], "nlb": [rec("nlb", 0, 1)]},
                            {"dwfm": [(48 * MIN, None)]}, horizon_s=1e6)
    dwfm, nlb = matches
    assert dwfm.start_error_s == 0 and dwfm.end_error_s is None and not dwfm.within_tolerance
    assert nlb.simulated is None and not nlb.within_tolerance
    assert dwfm.to_dict()["simulated"] == {"start_s": 48 * MIN, "end_s": None}


# -- fuzzing: the incident parser and the window matcher ----------------------------------------

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=8),
                     st.sampled_from(["2025-10-19T23:48", "-07:00", "1h", "ddb"]))
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(
        ["start", "end", "source", "note", "description", "check", "set", "remove_actions",
         "component", "recovers_within", "expect", "latch", "propagation", "after_s", "at",
         "value", "kind", "why", "ddb"]), inner, max_size=4)), max_leaves=12)
_incident_docs = st.fixed_dictionaries(
    {"title": _scalars, "timezone": st.sampled_from(["-07:00", "+00:00", "PDT", 5]),
     "start": st.sampled_from(["2025-10-19T23:00", "yesterday", 3]),
     "model": st.just("m.yaml"), "scenario": st.just("s.yaml")},
    optional={"recorded": _values, "whatif": _values, "parameters": _values,
              "mechanisms": _values})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=_incident_docs)
def test_incident_parser_accepts_or_locates_every_document(tmp_path: Path, doc: dict) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(yaml.safe_dump(doc))
    try:
        read_incident(path)
    except AftershockError as exc:
        assert exc.file == str(path) and exc.message
    # anything else (KeyError, TypeError, AttributeError ...) fails the test


_windows = st.lists(st.tuples(st.floats(0, 1e5), st.floats(1, 1e4)), max_size=6).map(
    lambda ws: [(a, a + d) for a, d in ws])


@given(recorded=_windows, simulated=_windows)
def test_matching_uses_every_window_once(recorded: list, simulated: list) -> None:
    recs = [RecordedWindow("x", a, b, "s") for a, b in recorded]
    matches = match_windows({"x": recs} if recs else {}, {"x": simulated}, merge_gap_s=0.0)
    assert sum(m.recorded is not None for m in matches) == len(recs)
    used = [m.simulated for m in matches if m.simulated is not None]
    assert len(used) == len(merge_windows(simulated, 0.0))
    for m in matches:
        if m.recorded is not None and m.simulated is not None:
            assert m.start_error_s == m.simulated[0] - m.recorded.start_s
