"""Checks M1-M8 of the metastability notes, run on the examples in examples/metastability/."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aftershock.model.compile import compile_model
from aftershock.model.load import load_model, load_model_text
from aftershock.sim import SimResult, load_scenario, load_scenario_text, simulate

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "metastability"


def run(model: str, scenario: str, **replace: str) -> SimResult:
    """Run an example pair; `replace` swaps text in the model (old=new) for variants."""
    path = EXAMPLES / model
    if replace:
        text = path.read_text()
        for old, new in replace.items():
            assert old in text, old
            text = text.replace(old, new)
        graph = compile_model(load_model_text(text, str(path)))
    else:
        graph = compile_model(load_model(path))
    return simulate(graph, load_scenario(EXAMPLES / scenario, set(graph.names)))


def tail(result: SimResult, name: str, metric: str, share: float = 0.2) -> float:
    """Mean of the last `share` of a series."""
    series = result.series_of(name, metric)
    return float(series[-max(1, int(len(series) * share)) :].mean())


def test_m1_retries_keep_the_database_saturated_after_the_outage() -> None:
    stuck = run("m1-bronson.yaml", "m1-network-outage.yaml")
    # Offered load at the database doubles (one retry each) and nothing useful gets through.
    assert tail(stuck, "database", "offered") == pytest.approx(2 * 280, rel=0.02)
    assert tail(stuck, "database", "goodput") < 0.01 * 280
    assert stuck.summary["down_at_end"] == ["clients", "database"]
    calm = run("m1-bronson-140qps.yaml", "m1-network-outage.yaml")
    assert tail(calm, "database", "offered") == pytest.approx(140, rel=0.01)
    assert tail(calm, "clients", "success") == pytest.approx(1.0, abs=1e-6)
    assert calm.summary["recovered"]


@pytest.mark.parametrize(("organic", "sticks"), [(130, False), (155, True)])
def test_m1_vulnerability_line_is_capacity_over_amplification(organic: int, sticks: bool) -> None:
    result = run("m1-bronson.yaml", "m1-network-outage.yaml", **{"rps: 280": f"rps: {organic}"})
    assert (not result.summary["recovered"]) is sticks


def test_m2_queue_bound_decides_recovery() -> None:
    long_queue = run("m2-isaacs-q150.yaml", "m2-load-spike.yaml")
    assert not long_queue.summary["recovered"]
    assert tail(long_queue, "clients", "success", 0.5) < 0.01  # no recovery in the last 30 min
    short_queue = run("m2-isaacs-q35.yaml", "m2-load-spike.yaml")
    assert short_queue.summary["recovered"]
    windows = short_queue.windows_of("clients")
    assert windows and windows[-1].end_s < 15 * 60 + 60  # clear within a minute of the spike


@pytest.mark.slow
def test_m2_flip_is_close_to_service_rate_times_timeout() -> None:
    def recovers(bound: int) -> bool:
        result = run("m2-isaacs-q35.yaml", "m2-load-spike.yaml",
                     **{"queue_limit: 35": f"queue_limit: {bound}"})
        return bool(result.summary["recovered"])

    low, high = 35, 150  # recovers at low, sticks at high: bisect the flip
    assert recovers(low) and not recovers(high)
    while high - low > 2:
        mid = (low + high) // 2
        low, high = (mid, high) if recovers(mid) else (low, mid)
    assert 40 <= high <= 60  # service rate 10/s x timeout 5 s = 50


HUANG = """
version: 1
components:
  server: {{capacity: {{rps: 100}}}}
  clients:
    load: {{rps: {load}}}
    requires: [server]
    calls: {{server: {{timeout: 1s, attempts: {attempts}, backoff: {{base: 0s, max: 0s}}}}}}
"""


@pytest.mark.parametrize("retries", [1, 2, 3])
def test_m3_stable_iff_load_below_capacity_over_amplification(retries: int) -> None:
    bound = 100 / (retries + 1)
    scenario_text = (EXAMPLES / "m3-stall.yaml").read_text()
    for load, stable in ((0.9 * bound, True), (1.1 * bound, False)):
        graph = compile_model(load_model_text(HUANG.format(load=load, attempts=retries + 1)))
        result = simulate(graph, load_scenario_text(scenario_text, set(graph.names)))
        assert result.summary["recovered"] is stable, (retries, load)


def test_m3_example_recovers_below_the_bound() -> None:
    assert run("m3-huang.yaml", "m3-stall.yaml").summary["recovered"]


BROOKER = """
version: 1
components:
  server: {{kind: service}}
  plain:
    load: {{rps: 1000}}
    requires: [server]
    calls: {{server: {{timeout: 1s, attempts: {attempts}, backoff: {{base: 50ms, max: 1s}}}}}}
  budgeted:
    load: {{rps: 1000}}
    requires: [server]
    calls:
      server: {{timeout: 1s, attempts: 4, backoff: {{base: 50ms, max: 1s}},
               retry_budget: {{ratio: 0.1, burst: 100}}}}
"""
FAILING = """
version: 1
duration: 2m
step: 100ms
faults: [{{target: server, kind: errors, factor: {p}, at: +10s}}]
"""


@pytest.mark.parametrize("retries", [1, 2, 3])
def test_m4_load_at_total_failure_is_one_plus_retries(retries: int) -> None:
    graph = compile_model(load_model_text(
        BROOKER.format(attempts=retries + 1).split("  budgeted:")[0]))
    result = simulate(graph, load_scenario_text(FAILING.format(p=1), set(graph.names)))
    assert tail(result, "server", "offered") == pytest.approx(1000 * (1 + retries), rel=0.01)


@pytest.mark.parametrize("p", [0.2, 0.5, 1.0])
def test_m4_token_bucket_caps_amplification_near_one_tenth(p: float) -> None:
    text = BROOKER.format(attempts=4)
    budget_only = text.replace(text[text.index("  plain:"):text.index("  budgeted:")], "")
    graph = compile_model(load_model_text(budget_only))
    result = simulate(graph, load_scenario_text(FAILING.format(p=p), set(graph.names)))
    amplification = tail(result, "server", "offered") / 1000
    assert 1.0 <= amplification <= 1.12


def test_m4_token_bucket_behaves_like_plain_retries_at_low_failure() -> None:
    text = BROOKER.format(attempts=4)
    budget_only = text.replace(text[text.index("  plain:"):text.index("  budgeted:")], "")
    graph = compile_model(load_model_text(budget_only))
    result = simulate(graph, load_scenario_text(FAILING.format(p=0.05), set(graph.names)))
    expected = 1 + 0.05 + 0.05**2 + 0.05**3  # every wanted retry is affordable
    assert tail(result, "server", "offered") / 1000 == pytest.approx(expected, rel=0.01)
    assert tail(result, "budgeted", "success") == pytest.approx(1 - 0.05**4, rel=1e-3)


def test_m4_example_plain_retries_lift_success_and_load() -> None:
    result = run("m4-brooker.yaml", "m4-failing.yaml")
    assert tail(result, "plain", "success") == pytest.approx(1 - 0.5**4, rel=1e-3)
    assert tail(result, "budgeted", "success") < tail(result, "plain", "success")
    # plain: 1 + .5 + .25 + .125 = 1.875x; budgeted: about 1.05x
    assert tail(result, "server", "offered") == pytest.approx(1875 + 1050, rel=0.02)


def test_m5_five_layers_of_three_attempts_multiply_to_243() -> None:
    result = run("m5-layers.yaml", "m5-leaf-refuses.yaml")
    storage = result.series_of("storage", "offered")
    t = result.t_s
    during = storage[(t > 50) & (t < 85)]
    assert during.mean() == pytest.approx(243 * 10, rel=0.01)
    assert storage[t > 100].mean() == pytest.approx(10, rel=0.01)
    assert result.summary["recovered"]


def test_m6_dns_fault_spreads_over_ttl_and_drains_over_negative_ttl() -> None:
    result = run("m6-dns.yaml", "m6-empty-record.yaml")
    t, ok = result.t_s, result.series_of("app", "success")
    fault, fix, ttl, neg, pooled = 300.0, 1500.0, 60.0, 300.0, 0.3
    before = ok[t < fault - 10]
    assert np.allclose(before, 1.0)
    # Onset: about half the caches by TTL/2, every cache within 1.25 TTL (renewal jitter).
    half = ok[(t >= fault + ttl / 2 - 5) & (t < fault + ttl / 2 + 5)].mean()
    assert 1 - half == pytest.approx((1 - pooled) * 0.5, abs=0.08)
    assert ok[(t >= fault + 1.25 * ttl + 5) & (t < fix)].max() == pytest.approx(pooled, abs=1e-6)
    # Pooled connections never fail; after the fix every cache recovers within 1.25 neg TTL.
    assert ok.min() >= pooled - 1e-9
    assert ok[(t > fix - 1) & (t < fix + 5)].max() < 0.5  # the fix is not seen at once
    assert np.allclose(ok[t >= fix + 1.25 * neg + 5], 1.0)
    record = result.windows_of("api-record", "down")
    assert [(w.start_s, w.end_s) for w in record] == [(fault, fix)]
    app_down = result.windows_of("app", "down")
    assert len(app_down) == 1 and fault < app_down[0].start_s < fault + ttl
    assert fix < app_down[0].end_s <= fix + 1.25 * neg


def test_m7_lease_collapse_needs_throttle_and_queue_drop() -> None:
    stuck = run("m7-lease.yaml", "m7-store-outage.yaml")
    assert stuck.summary["down_at_end"] == ["launches", "lease-manager"]
    assert stuck.extra["leases_held"]["lease-manager"] < 0.01 * 5000
    t = stuck.t_s
    after = stuck.series_of("lease-manager", "goodput")[t > 70 * 60 + 600]
    assert after.max() < 1e-3  # no forward progress once the store is back
    fixed = run("m7-lease.yaml", "m7-throttle-and-drop.yaml")
    assert fixed.summary["recovered"]
    assert fixed.extra["leases_held"]["lease-manager"] == pytest.approx(5000, rel=1e-6)
    end = fixed.windows_of("launches")[-1].end_s
    # hosts / throttle rate, then the last leases are picked up scan by scan (every 60 s)
    assert 2 * 3600 + 5000 / 25 < end <= 2 * 3600 + 5000 / 25 + 5 * 60


@pytest.mark.parametrize("left_out", ["throttle", "drop_queue"])
def test_m7_throttle_alone_or_drop_alone_is_not_enough(left_out: str) -> None:
    text = (EXAMPLES / "m7-throttle-and-drop.yaml").read_text()
    kept = "\n".join(ln for ln in text.splitlines() if f"kind: {left_out}," not in ln)
    assert kept != text
    graph = compile_model(load_model(EXAMPLES / "m7-lease.yaml"))
    result = simulate(graph, load_scenario_text(kept, set(graph.names)))
    assert not result.summary["recovered"]
    assert result.extra["leases_held"]["lease-manager"] < 0.25 * 5000


def test_m8_failover_flaps_and_disabling_it_clears_errors() -> None:
    flapping = run("m8-healthcheck.yaml", "m8-propagation-errors.yaml")
    assert not flapping.summary["recovered"]
    assert flapping.extra["healthcheck_changes"]["targets"] >= 20
    disabled = run("m8-healthcheck.yaml", "m8-disable-failover.yaml")
    assert disabled.summary["recovered"]
    assert disabled.windows_of("targets")[-1].end_s < 31 * 60
    off = run("m8-healthcheck.yaml", "m8-propagation-errors.yaml",
              **{"failover: true": "failover: false"})
    assert off.summary["recovered"]
    assert off.extra["healthcheck_changes"]["targets"] == 0
    assert off.windows_of("targets")[-1].end_s <= 10 * 60 + 30  # clears with the trigger
