"""The Monte Carlo against closed forms: series, parallel, k-of-n, failover windows, DNS caching."""

from __future__ import annotations

import math
from itertools import combinations

import pytest

from aftershock.model.compile import compile_model
from aftershock.model.load import load_model_text
from aftershock.risk.engine import RiskSettings, estimate_risk

DAY_S = 86400.0
YEAR_S = 8760 * 3600.0


def _rate_for(q: float, mean_s: float) -> float:
    """Failures per year that make a component with this mean outage unavailable a fraction q."""
    return -math.log1p(-q) / mean_s * YEAR_S


def _component(q: float, mean: str = "1d", mean_s: float = DAY_S) -> str:
    return f"{{failure: {{rate_per_year: {_rate_for(q, mean_s)!r}, mean_duration: {mean}}}}}"


def _simulated(text: str, target: str, trials: int = 3000, horizon_s: float = 30 * DAY_S, seed: int = 7):
    graph = compile_model(load_model_text(text))
    result = estimate_risk(graph, RiskSettings(trials=trials, horizon_s=horizon_s, seed=seed, targets=(target,)))
    t = result.targets[target]
    horizon_h = horizon_s / 3600
    return t.down_hours.mean / horizon_h, t.down_hours.moments.stderr / horizon_h, result


def _assert_close(estimate: float, stderr: float, exact: float, slack: float = 0.0) -> None:
    assert stderr > 0
    assert abs(estimate - exact) <= 3 * stderr + slack, (estimate, exact, stderr)


QS = {"a": 0.10, "b": 0.20, "c": 0.05}


def test_series_matches_one_minus_product_of_availabilities():
    text = "components:\n" + "".join(f"  {n}: {_component(q)}\n" for n, q in QS.items())
    text += "  app: {requires: [a, b, c], unavailability: 0, impact: {revenue_per_hour: 1}}\n"
    est, se, _ = _simulated(text, "app")
    exact = 1 - math.prod(1 - q for q in QS.values())
    _assert_close(est, se, exact)
    assert se < 0.01 * exact  # the test has the power to see a wrong answer


def test_parallel_matches_product_of_unavailabilities():
    text = "components:\n" + "".join(f"  {n}: {_component(q)}\n" for n, q in (("a", 0.3), ("b", 0.4)))
    text += "  app: {any_of: [a, b], impact: {revenue_per_hour: 1}}\n"
    est, se, _ = _simulated(text, "app", trials=6000)
    _assert_close(est, se, 0.3 * 0.4)


def test_k_of_n_matches_binomial_sum():
    qs = [0.2, 0.3, 0.25]
    text = "components:\n" + "".join(f"  m{i}: {_component(q)}\n" for i, q in enumerate(qs))
    text += "  quorum: {k_of_n: {k: 2, of: [m0, m1, m2]}, impact: {revenue_per_hour: 1}}\n"
    est, se, _ = _simulated(text, "quorum", trials=6000)
    # down when at least 2 of 3 are down
    exact = sum(
        math.prod(qs[i] if i in down else 1 - qs[i] for i in range(3))
        for r in (2, 3) for down in combinations(range(3), r)
    )
    _assert_close(est, se, exact)


def test_loss_is_revenue_times_down_hours_plus_degraded_share():
    text = (
        "components:\n"
        f"  db: {_component(0.1)}\n"
        f"  recs: {_component(0.2)}\n"
        "  shop: {requires: [db], uses: [recs], unavailability: 0,"
        " impact: {revenue_per_hour: 1000, degraded_loss: 0.25}}\n"
    )
    est, se, result = _simulated(text, "shop")
    _assert_close(est, se, 0.1)
    t = result.targets["shop"]
    assert t.loss.mean == pytest.approx(1000 * t.down_hours.mean + 250 * t.degraded_hours.mean, rel=1e-9)
    horizon_h = 30 * 24
    # degraded while recs is down and db is up
    _assert_close(t.degraded_hours.mean / horizon_h, t.degraded_hours.moments.stderr / horizon_h, 0.2 * 0.9)


def test_failover_window_costs_rate_of_switchovers_times_failover_time():
    rate, mean_h, failover_h = 50.0, 2.0, 1.0
    text = (
        "components:\n"
        f"  a: {{failure: {{rate_per_year: {rate}, mean_duration: {mean_h}h}}}}\n"
        "  b: {unavailability: 0}\n"
        f"  app: {{any_of: [a, b], failover: {failover_h}h, impact: {{revenue_per_hour: 1}}}}\n"
    )
    est, se, result = _simulated(text, "app", trials=2000, horizon_s=YEAR_S)
    # a switch-over happens each time `a` goes down from up: rate x P(a up); each costs the failover
    switchovers_per_hour = rate / 8760 * math.exp(-rate / 8760 * mean_h)
    exact = switchovers_per_hour * failover_h
    _assert_close(est, se, exact, slack=0.005 * exact)
    assert result.targets["app"].incidents.mean == pytest.approx(switchovers_per_hour * 8760, rel=0.02)
    assert result.contributors[0].kind == "failover"


def test_no_failover_time_no_downtime_when_a_member_stays_up():
    text = (
        "components:\n"
        "  a: {failure: {rate_per_year: 50, mean_duration: 2h}}\n"
        "  b: {unavailability: 0}\n"
        "  app: {any_of: [a, b], impact: {revenue_per_hour: 1}}\n"
    )
    _, _, result = _simulated(text, "app", trials=500, horizon_s=YEAR_S)
    assert result.targets["app"].down_hours.maximum == 0.0


def _visible_mean_s(mean_s: float, ttl_s: float, neg_s: float) -> float:
    """E[seen length] of an exponential outage through client caches (profiles.DnsCaching)."""
    from scipy.integrate import quad

    def seen(d: float) -> float:
        if d >= ttl_s:
            return d - ttl_s / 2 + neg_s / 2
        return d * d / (2 * ttl_s) + neg_s / 2 * d / ttl_s

    density = lambda d: math.exp(-d / mean_s) / mean_s  # noqa: E731
    head = quad(lambda d: seen(d) * density(d), 0, ttl_s)[0]
    tail = quad(lambda d: seen(d) * density(d), ttl_s, math.inf)[0]
    return head + tail


def test_dns_record_outages_show_late_and_linger_by_half_the_ttls():
    rate, mean_s, ttl_s, neg_s = 40.0, 1800.0, 1200.0, 2400.0
    text = (
        "components:\n"
        f"  rec: {{kind: dns_record, record: api.example.com, ttl: {ttl_s:g}s, negative_ttl: {neg_s:g}s,"
        f" failure: {{rate_per_year: {rate}, mean_duration: {mean_s:g}s}}}}\n"
        "  api: {requires: [rec], unavailability: 0, impact: {revenue_per_hour: 1}}\n"
    )
    est, se, _ = _simulated(text, "api", trials=3000, horizon_s=YEAR_S)
    exact = -math.expm1(-rate / YEAR_S * _visible_mean_s(mean_s, ttl_s, neg_s))
    _assert_close(est, se, exact, slack=0.01 * exact)
    # without caching the same outages cost more: the record's TTL hides the short ones
    plain = -math.expm1(-rate / YEAR_S * (mean_s + neg_s / 2))
    assert est < plain


def test_serve_stale_hides_outages_shorter_than_the_stale_window():
    record = (
        "  rec: {{kind: dns_record, record: a.example.com, ttl: 60s, negative_ttl: 60s{stale},"
        " failure: {{rate_per_year: 20, duration: {{median: 1h, p90: 3h}}}}}}\n"
        "  api: {{requires: [rec], unavailability: 0, impact: {{revenue_per_hour: 1}}}}\n"
    )
    hours = {}
    for label, stale in (("plain", ""), ("stale", ", serve_stale: 6h")):
        _, _, result = _simulated("components:\n" + record.format(stale=stale), "api", trials=1000,
                                  horizon_s=YEAR_S)
        hours[label] = result.targets["api"].down_hours
    # same random outages (same seed and source): only those longer than 6 h get through
    assert hours["plain"].mean > 20
    assert hours["stale"].mean < 0.05 * hours["plain"].mean
    assert hours["stale"].zeros > hours["plain"].zeros


def test_nested_failover_groups_switch_over_in_turn():
    rate, mean_h = 50.0, 2.0
    text = (
        "components:\n"
        f"  a: {{failure: {{rate_per_year: {rate}, mean_duration: {mean_h}h}}}}\n"
        "  b: {unavailability: 0}\n"
        "  c: {unavailability: 0}\n"
        "  inner: {any_of: [a, b], failover: 1h}\n"
        "  outer: {any_of: [inner, c], failover: 30m, impact: {revenue_per_hour: 1}}\n"
    )
    est, se, result = _simulated(text, "outer", trials=1000, horizon_s=YEAR_S)
    # each failure of `a` makes `inner` switch over (down 1 h), so `outer` switches to c (down 30 m)
    switchovers_per_hour = rate / 8760 * math.exp(-rate / 8760 * mean_h)
    _assert_close(est, se, switchovers_per_hour * 0.5, slack=0.01 * switchovers_per_hour * 0.5)
    # while outer switches over, both switch-overs are active, and `a` unless it is already back
    # (an exponential 2 h outage is shorter than 30 m 22% of the time): equal shares of what is left
    shares = {c.name: c.share for c in result.contributors}
    assert set(shares) == {"a", "failover of inner", "failover of outer"}
    assert shares["failover of inner"] == pytest.approx(shares["failover of outer"], rel=1e-9)
    mean_a = 2 * (1 - math.exp(-0.25)) / 0.5  # E[min(D, 30 m)] / 30 m, D exponential, mean 2 h
    assert shares["a"] == pytest.approx(mean_a / 3, abs=0.02)
