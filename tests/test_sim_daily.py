"""Daily load profiles (`load.daily`), pent-up demand (`backlog.rate: load`) and `backlog.through`."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from aftershock.errors import AftershockError
from aftershock.model.compile import compile_model
from aftershock.model.dynamics import Daily
from aftershock.model.load import load_model_text
from aftershock.sim import Simulation, load_scenario_text, simulate
from aftershock.sim.daily import DailyProfile
from tests.test_sim_model_keys import assert_located

START = "2025-10-20T00:00:00-04:00"


def profile(factors: dict[str, float], zone: str = "-04:00", shape: str = "linear",
            start: str = START, hours: float = 48) -> DailyProfile:
    daily = Daily(timezone=zone, factors=factors, shape=shape)
    return DailyProfile.of((daily,), datetime.fromisoformat(start), hours * 3600)


def test_linear_profile_interpolates_and_wraps_over_midnight() -> None:
    p = profile({"06:00": 1.0, "18:00": 0.5})
    assert p.factor(6 * 3600) == pytest.approx(1.0)
    assert p.factor(12 * 3600) == pytest.approx(0.75)  # half way from 06:00 to 18:00
    assert p.factor(18 * 3600) == pytest.approx(0.5)
    assert p.factor(0.0) == pytest.approx(0.75)  # half way from 18:00 back up to 06:00
    assert p.factor(30 * 3600) == pytest.approx(1.0)  # the same every day


def test_steps_profile_holds_each_factor_until_the_next_clock_time() -> None:
    p = profile({"06:00": 1.0, "18:00": 0.5}, shape="steps")
    assert p.factor(5.99 * 3600) == 0.5 and p.factor(6 * 3600) == 1.0
    assert p.factor(17.99 * 3600) == 1.0 and p.factor(18 * 3600) == 0.5
    # Changes happen only at the clock times: twice a day.
    assert p.change_steps(60.0, 48 * 60).tolist() == [6 * 60, 18 * 60, 30 * 60, 42 * 60]


def test_profile_follows_the_zone_not_the_start_offset() -> None:
    # The scenario starts at midnight PDT; 09:00 in New York (EDT) is 06:00 PDT, 6 h in.
    p = profile({"09:00": 1.0, "10:00": 0.0}, zone="America/New_York",
                start="2025-10-20T00:00:00-07:00", shape="steps")
    assert p.factor(6 * 3600 - 1) == 0.0 and p.factor(6 * 3600) == 1.0


def test_daylight_saving_day_has_25_hours() -> None:
    # New York falls back on 2 November 2025: noon to noon across it is 25 hours.
    p = profile({"12:00": 1.0, "12:01": 0.0}, zone="America/New_York", shape="steps",
                start="2025-11-01T00:00:00-04:00", hours=72)
    rises = [t for t, f in zip(p.times_s, p.factors, strict=True) if f == 1.0 and t >= 0]
    assert np.diff(rises)[:2].tolist() == [25 * 3600, 24 * 3600]



@pytest.mark.parametrize("shape", ["linear", "steps"])
def test_profiles_in_several_zones_add_up_by_share(shape: str) -> None:
    """Users in New York and Los Angeles keeping office hours: the load follows the sum."""
    office = {"00:00": 0.1, "08:00": 0.1, "09:00": 1.0, "17:00": 1.0, "18:00": 0.1}
    east = Daily(timezone="America/New_York", factors=office, shape=shape, share=0.7)
    west = Daily(timezone="America/Los_Angeles", factors=office, shape=shape, share=0.3)
    start = datetime.fromisoformat("2025-10-20T00:00:00-07:00")
    both = DailyProfile.of((east, west), start, 48 * 3600)
    alone = [DailyProfile.of((Daily(timezone=d.timezone, factors=office, shape=shape),), start,
                             48 * 3600) for d in (east, west)]
    t = np.arange(0, 48 * 3600, 337.0)  # instants between and on clock times
    np.testing.assert_allclose(both.at(t), 0.7 * alone[0].at(t) + 0.3 * alone[1].at(t),
                               atol=1e-12)
    # 09:00 PDT: the east coast is at its desk since three hours, the west coast arrives.
    assert both.factor(9 * 3600) == pytest.approx(0.7 + 0.3)
    assert both.factor(6 * 3600) == pytest.approx(0.7 + 0.3 * 0.1)  # 06:00 PDT = 09:00 EDT
    changes = both.change_steps(60.0, 48 * 60)
    assert (5 * 60 + 1 if shape == "linear" else 6 * 60) in changes.tolist()


MODEL = """
version: 1
components:
  lb:
    kind: load_balancer
  db:
    kind: datastore
  api:
    kind: service
    requires: [db]
    load: {{rps: 50, daily: {{timezone: "-04:00", shape: {shape}, factors: {factors}}}}}
    backlog: {{rate: load, drain_rps: 100, tolerance: 10s{through}}}
"""


def run(factors: str, scenario: str, shape: str = "steps", through: str = "",
        skip_quiet: bool = True, kernel: str = "numpy"):
    graph = compile_model(load_model_text(
        MODEL.format(shape=shape, factors=factors, through=through), "m.yaml"))
    sc = load_scenario_text(scenario, set(graph.names))
    return simulate(graph, sc, skip_quiet=skip_quiet, kernel=kernel)


QUIET_DAY = f"""
version: 1
start: {START}
duration: 24h
step: 10s
points: 24
"""


def test_organic_load_follows_the_profile_and_quiet_hours_are_still_skipped() -> None:
    res = run('{"00:00": 0.2, "09:00": 1.0, "17:00": 0.6}', QUIET_DAY)
    offered = res.series_of("api", "offered")  # hourly means
    assert offered[3] == pytest.approx(10.0) and offered[12] == pytest.approx(50.0)
    assert offered[20] == pytest.approx(30.0)
    assert res.steps_skipped > 0.9 * (res.steps_skipped + res.steps_computed)
    exact = run('{"00:00": 0.2, "09:00": 1.0, "17:00": 0.6}', QUIET_DAY, skip_quiet=False)
    assert np.allclose(exact.series_of("api", "offered"), offered)


def test_linear_ramps_are_followed_step_by_step() -> None:
    res = run('{"00:00": 0.0, "12:00": 1.0}', QUIET_DAY, shape="linear")
    offered = res.series_of("api", "offered")  # hourly means of a ramp: the mid-hour value
    assert offered[5] == pytest.approx(50 * 5.5 / 12, rel=1e-3)
    assert offered[18] == pytest.approx(50 * (1 - 6.5 / 12), rel=1e-3)
    exact = run('{"00:00": 0.0, "12:00": 1.0}', QUIET_DAY, shape="linear", skip_quiet=False)
    assert np.allclose(exact.series_of("api", "offered"), offered)


def outage_at(clock: str) -> str:
    return QUIET_DAY + f'faults:\n  - {{target: db, kind: outage, at: "{clock}", for: 30m}}\n'


def test_pent_up_demand_drains_fast_at_night_and_slowly_at_the_peak() -> None:
    """The same 30-minute outage: demand 10/s at night, 50/s by day, drained at 100/s.
    The backlog is outage x load; it drains at 100 - load: 30 x 10/90 = 3.3 min at night,
    30 x 50/50 = 30 min by day (less the 10 s tolerance)."""
    factors = '{"00:00": 0.2, "09:00": 1.0, "17:00": 0.6}'
    night = run(factors, outage_at("03:00")).windows_of("api")
    day = run(factors, outage_at("12:00")).windows_of("api")
    night_tail = night[-1].end_s - (3 * 3600 + 1800)
    day_tail = day[-1].end_s - (12 * 3600 + 1800)
    assert night_tail == pytest.approx(1800 * 10 / 90, abs=30)
    assert day_tail == pytest.approx(1800 * 50 / 50, abs=30)


def test_load_faults_replace_or_scale_the_profiled_load() -> None:
    scenario = QUIET_DAY + """faults:
  - {target: api, kind: load, at: "03:00", for: 1h, factor: 2}
  - {target: api, kind: load, at: "12:00", for: 1h, rps: 7}
"""
    offered = run('{"00:00": 0.2, "09:00": 1.0}', scenario).series_of("api", "offered")
    assert offered[3] == pytest.approx(20.0)  # 2 x (50 x 0.2)
    assert offered[12] == pytest.approx(7.0)  # the fault says what the load is
    assert offered[4] == pytest.approx(10.0) and offered[13] == pytest.approx(50.0)


def test_through_slows_the_drain_instead_of_failing_every_request() -> None:
    """Behind a load balancer that lets half its requests through, the backlog drains at
    100 x 0.5 = 50/s: a load of 40/s stays served, 60/s falls behind and fails."""
    scenario = QUIET_DAY + 'faults:\n  - {target: lb, kind: errors, factor: 0.5, at: "02:00", for: 2h}\n'
    low = run('{"00:00": 0.8}', scenario, through=", through: lb")
    high = run('{"00:00": 1.2}', scenario, through=", through: lb")
    assert not low.windows_of("api")
    windows = high.windows_of("api")
    # 10/s of excess reaches the 10 s tolerance (1000 items at drain_rps 100) 100 s after
    # 02:00; after 04:00 the 72 000 items left drain at 100 - 60 = 40/s: 30 minutes.
    assert windows[0].start_s == pytest.approx(2 * 3600 + 100, abs=20)
    assert windows[-1].end_s == pytest.approx(4 * 3600 + 72000 / 40, abs=60)


def test_the_compiled_kernel_follows_the_profile_too() -> None:
    pytest.importorskip("numba")
    from tests.test_sim_kernel import assert_same

    factors = '{"00:00": 0.2, "09:00": 1.0, "17:00": 0.6}'
    assert_same(run(factors, outage_at("12:00"), kernel="numpy"),
                run(factors, outage_at("12:00"), kernel="numba"))


def test_compiled_stretches_end_where_the_profile_moves_the_load() -> None:
    """Without Python mechanisms the compiled engine runs the steps between two events in one
    call; the profile's clock times and ramp steps are events, so the load it sees is the
    NumPy reference's at every step."""
    pytest.importorskip("numba")
    from tests.test_sim_kernel import assert_same

    graph = compile_model(load_model_text("""
version: 1
components:
  db: {capacity: {rps: 60, queue_limit: 200}}
  api:
    requires: [db]
    capacity: {rps: 100}
    load: {rps: 50, timeout: 5s, daily: {timezone: "-04:00", factors: {"00:00": 0.4, "12:00": 1.2}}}
    calls: {db: {timeout: 2s, attempts: 3}}
""", "m.yaml"))
    scenario = load_scenario_text(QUIET_DAY + 'faults:\n  - {target: db, kind: outage, at: "11:00", for: 20m}\n',
                                  set(graph.names))
    numpy_run = simulate(graph, scenario, kernel="numpy")
    assert numpy_run.windows_of("api")  # overloaded near noon, after the outage
    compiled = Simulation(graph, scenario, kernel="numba")
    assert_same(numpy_run, compiled.run())
    assert compiled.stretches > 0


@pytest.mark.parametrize(("block", "message"), [
    ('load: {rps: 1, daily: {timezone: UTC, factors: {10:00: 1}}}', '"10:00"'),
    ('load: {rps: 1, daily: {timezone: UTC, factors: {"25:00": 1}}}', "'25:00' is not a clock time"),
    ('load: {rps: 1, daily: {timezone: UTC, factors: {"9:00": 1, "09:00": 2}}}', "given twice"),
    ('load: {rps: 1, daily: {timezone: UTC, factors: {}}}', "at least one clock time"),
    ('load: {rps: 1, daily: {timezone: UTC, factors: {"09:00": -1}}}', "greater than or equal to 0"),
    ('load: {rps: 1, daily: {timezone: Mars/Olympus, factors: {"09:00": 1}}}', "unknown time zone"),
    ('load: {rps: 1, daily: {timezone: UTC, factors: {"09:00": 1}, shape: smooth}}', "shape"),
    ('load: {rps: 1, daily: {timezone: UTC, factors: {"09:00": 1}, shapes: steps}}',
     "unknown key 'shapes'"),
    ('load: {rps: 1, daily: [{timezone: UTC, factors: {"09:00": 1}},'
     ' {timezone: -05:00, factors: {"09:00": 1}}]}', "give each its `share`"),
    ('load: {rps: 1, daily: [{timezone: UTC, factors: {"09:00": 1}, share: 0.5},'
     ' {timezone: -05:00, factors: {"09:00": 1}, share: 0.5, shape: steps}]}', "one shape"),
    ('load: {rps: 1, daily: [{timezone: UTC, factors: {"09:00": 1}, share: 0}]}',
     "greater than 0"),
    ('load: {rps: 1, daily: []}', "at least one profile"),
    ("backlog: {rate: load, drain_rps: 2, tolerance: 1m}", "has no `load:`"),
    ("backlog: {rate: 1, drain_rps: 2, tolerance: 1m, through: lbb}", "unknown component 'lbb'"),
])
def test_bad_profiles_are_located(block: str, message: str) -> None:
    assert_located(block, message, other="lb")


@pytest.mark.parametrize(("start", "message", "hint"), [
    pytest.param("", "no `start:`", "start:", id="no-start"),
    # Without an offset the start would be read in each profile's own zone: two profiles in two
    # zones would then run on two different clocks.
    pytest.param("start: 2025-10-20T00:00:00\n", "without a UTC offset", None, id="no-offset"),
])
def test_a_profile_needs_a_scenario_start_with_an_offset(start: str, message: str,
                                                          hint: str | None) -> None:
    graph = compile_model(load_model_text(
        MODEL.format(shape="steps", factors='{"00:00": 1}', through=""), "m.yaml"))
    scenario = load_scenario_text(f"version: 1\n{start}duration: 1h\n", set(graph.names))
    with pytest.raises(AftershockError) as err:
        Simulation(graph, scenario)
    assert message in str(err.value) and err.value.file == "m.yaml" and err.value.line == 11
    if hint is not None:
        assert err.value.hint and hint in err.value.hint
