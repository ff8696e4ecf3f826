"""Mitigations: file format and its located errors, model transforms, CRN evaluation and ranking."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftershock.errors import AftershockError
from aftershock.model.compile import compile_model
from aftershock.model.load import load_model, load_model_text
from aftershock.risk.engine import RiskSettings
from aftershock.risk.mitigations import MitigationError, apply_mitigation, read_mitigations
from aftershock.risk.whatif import evaluate_mitigations

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "src" / "aftershock" / "demo" / "acme-shop.yaml"
EXAMPLE = REPO / "examples" / "mitigations.yaml"

SHOP = """
components:
  db:
    kind: datastore
    failure: {rate_per_year: 6, mean_duration: 2h}
    placement: {provider: aws, region: us-east-1}
  pay: {kind: saas, failure: {rate_per_year: 4, mean_duration: 1h}}
  auth: {kind: saas, failure: {rate_per_year: 2, mean_duration: 1h}}
  dns: {kind: dns_record, record: api.shop.example, ttl: 60s, negative_ttl: 5m,
        failure: {rate_per_year: 1, mean_duration: 2h}}
  shop:
    requires: [db, pay, auth, dns]
    unavailability: 0
    impact: {revenue_per_hour: 10000}
"""


def mitigations(text: str):
    return read_mitigations("m.yaml", text=text)


def test_identical_model_removes_exactly_nothing_thanks_to_common_random_numbers():
    model = load_model_text(SHOP)
    plan = mitigations(
        "version: 1\nmitigations:\n"
        "  - {name: no-op, changes: [{change_failure: {component: db, rate_factor: 1}}]}\n"
    )
    result = evaluate_mitigations(model, plan, RiskSettings(trials=500, seed=4))
    removed = result.mitigations[0].loss_removed
    assert removed is not None and removed.mean == 0.0 and removed.stderr == 0.0


def test_mitigations_are_ranked_by_loss_removed_and_by_value():
    model = load_model_text(SHOP)
    plan = mitigations("""
version: 1
mitigations:
  - name: replica of db in us-west-2
    cost_per_year: 100000
    changes: [{add_replica: {component: db, region: us-west-2, failover: 1m}}]
  - name: guest checkout
    cost_per_year: 1000
    changes: [{soften_dependency: {component: shop, dependency: auth}}]
  - name: throttle intake
    changes: [{throttle: {component: shop, rps: 100}}]
""")
    result = evaluate_mitigations(model, plan, RiskSettings(trials=3000, seed=2))
    data = result.to_dict()
    by_name = {m["name"]: m for m in data["mitigations"]}
    replica, guest = by_name["replica of db in us-west-2"], by_name["guest checkout"]
    # db: 6 x 2 h = 12 h/yr at $10k; auth: 2 x 1 h = 2 h/yr: the replica removes most
    assert data["ranking"] == ["replica of db in us-west-2", "guest checkout", "throttle intake"]
    assert replica["loss_removed"] == pytest.approx(12 * 10000, rel=0.1)
    assert guest["loss_removed"] == pytest.approx(2 * 10000, rel=0.15)
    lo, hi = replica["loss_removed_ci95"]
    assert lo < replica["loss_removed"] < hi
    by_target = replica["loss_removed_by_target"]
    assert sum(v["mean"] for v in by_target.values()) == pytest.approx(replica["loss_removed"], rel=1e-9)
    # per dollar, guest checkout wins
    assert data["ranking_by_value"] == ["guest checkout", "replica of db in us-west-2"]
    # a throttle is valued by the simulator; this model has no load or retries: it removes nothing
    throttle = by_name["throttle intake"]
    assert throttle["evaluated"] is True and throttle["method"] == "simulator"
    assert throttle["loss_removed"] == 0.0 and throttle["loss_removed_ci95"] is None
    assert any("no load" in note for note in throttle["simulation"]["notes"])
    assert data["baseline"]["expected_loss"] > replica["expected_loss"]


def test_paired_differences_are_tighter_than_independent_estimates():
    model = load_model_text(SHOP)
    plan = mitigations("version: 1\nmitigations:\n"
                       "  - {name: stale, changes: [{serve_stale: {record: dns, max_stale: 1d}}]}\n")
    result = evaluate_mitigations(model, plan, RiskSettings(trials=2000, seed=9))
    removed = result.mitigations[0].loss_removed
    independent = 2 ** 0.5 * result.baseline.total_loss.moments.stderr
    assert removed is not None and removed.mean > 0
    assert removed.stderr < 0.5 * independent


def test_add_replica_turns_the_component_into_a_group_and_keeps_its_stream():
    model = load_model_text(SHOP)
    [m] = mitigations("version: 1\nmitigations:\n  - name: r\n    changes:\n"
                      "      - add_replica: {component: db, region: eu-west-1, failover: 30s}\n")
    variant = apply_mitigation(model, m)
    comps = variant.model.components
    assert comps["db"].any_of == ["db@us-east-1", "db@eu-west-1"]
    assert comps["db"].failover == 30
    assert comps["db@eu-west-1"].placement.region == "eu-west-1"
    assert comps["db@eu-west-1"].failure == comps["db@us-east-1"].failure
    assert variant.stream_aliases == {"db@us-east-1": "db"}
    assert model.components["db"].any_of is None  # the original model is untouched
    compile_model(variant.model)


def test_second_provider_gets_the_catalog_profile_and_an_independent_stack():
    model = load_model_text(SHOP)
    [m] = mitigations("version: 1\nmitigations:\n  - name: p\n    changes:\n"
                      "      - second_provider: {component: pay, provider: otherpay}\n")
    alt = apply_mitigation(model, m).model.components["pay@otherpay"]
    assert alt.kind == "saas" and alt.requires == [] and alt.failure is None
    assert alt.placement.provider == "otherpay"


def test_ttl_and_remove_dependency_transforms():
    model = load_model_text(SHOP)
    plan = mitigations("""
version: 1
mitigations:
  - name: t
    changes:
      - ttl: {record: dns, ttl: 1h}
      - remove_dependency: {component: shop, dependency: auth}
""")
    comps = apply_mitigation(model, plan[0]).model.components
    assert comps["dns"].ttl == 3600 and comps["dns"].negative_ttl == 300
    assert comps["shop"].requires == ["db", "pay", "dns"]


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("version: 1\nmitigations:\n  - name: a\n    changes:\n      - add_replika: {component: db}\n",
         5, "add_replica"),
        ("version: 1\nmitigations:\n  - name: a\n    changes:\n      - ttl: {record: dns, tll: 1h}\n",
         5, "unknown key 'tll'"),
        ("version: 1\nmitigations:\n  - name: a\n    cost_per_year: -5\n    changes: [{ttl: {record: dns, ttl: 1h}}]\n",
         4, "cost_per_year"),
        ("version: 1\nmitigations:\n  - name: a\n    changes: []\n", 3, "changes"),
        ("version: 1\nmitigations:\n  - name: a\n    changes:\n      - ttl: {record: dns, ttl: soon}\n",
         5, "duration"),
        ("mitigations:\n  - changes: [{ttl: {record: dns, ttl: 1h}}]\n", 2, "name"),
        ("version: 1\nmitigations:\n  - name: a\n    add_replica: {component: db}\n", 4, "changes"),
    ],
)
def test_file_errors_name_the_line(text: str, line: int, fragment: str):
    with pytest.raises(MitigationError) as err:
        mitigations(text)
    assert err.value.file == "m.yaml"
    assert err.value.line == line, str(err.value)
    assert fragment in str(err.value)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ("add_replica: {component: dbb, region: us-west-2}", "did you mean 'db'"),
        ("add_replica: {component: db, region: us-east-1}", "where the original is"),
        ("ttl: {record: db, ttl: 1h}", "not a dns_record"),
        ("remove_dependency: {component: shop, dependency: pay2}", "does not depend"),
        ("soften_dependency: {component: db, dependency: shop}", "does not require"),
    ],
)
def test_transform_errors_point_into_the_mitigations_file(change: str, fragment: str):
    model = load_model_text(SHOP)
    [m] = mitigations(f"version: 1\nmitigations:\n  - name: a\n    changes:\n      - {change}\n")
    with pytest.raises(MitigationError) as err:
        apply_mitigation(model, m)
    assert err.value.line == 5 and fragment in str(err.value)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_any_text_gives_a_result_or_a_located_error_never_a_crash(text: str):
    with contextlib.suppress(AftershockError):
        mitigations(text)


KEYS = st.sampled_from(["name", "changes", "cost_per_year", "ttl", "record", "add_replica", "component",
                        "region", "failover", "description", "max_stale", "serve_stale", "x"])
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=True) | st.text(max_size=8)
    | st.sampled_from(["1h", "db", "dns", "us-west-2"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(KEYS, VALUES, max_size=4), max_size=3))
def test_structured_junk_gives_a_located_error_never_a_crash(entries: list):
    import json

    text = json.dumps({"version": 1, "mitigations": entries})
    model = load_model_text(SHOP)
    try:
        for m in read_mitigations("m.json", text=text):
            apply_mitigation(model, m)
    except AftershockError as exc:
        assert exc.file == "m.json"


@pytest.mark.skipif(not DEMO.exists() or not EXAMPLE.exists(), reason="demo model or example absent")
def test_example_mitigations_apply_to_the_demo_model():
    model = load_model(DEMO)
    for m in read_mitigations(EXAMPLE):
        compile_model(apply_mitigation(model, m).model)


def test_replica_in_another_region_escapes_the_region_common_cause():
    model = load_model_text("""
common_causes:
  use1: {provider: aws, region: us-east-1, failure: {rate_per_year: 2, mean_duration: 6h}}
components:
  db: {unavailability: 0, placement: {provider: aws, region: us-east-1}}
  shop: {requires: [db], unavailability: 0, impact: {revenue_per_hour: 1000}}
""")
    plan = mitigations("version: 1\nmitigations:\n  - name: west\n    changes:\n"
                       "      - add_replica: {component: db, region: us-west-2}\n")
    result = evaluate_mitigations(model, plan, RiskSettings(trials=2000, seed=8))
    baseline = result.baseline.total_loss.mean
    assert baseline == pytest.approx(2 * 6 * 1000, rel=0.1)
    outcome = result.mitigations[0]
    # the replica is not placed in us-east-1, so the region event no longer takes the shop down
    assert outcome.expected_loss == 0.0
    assert outcome.loss_removed is not None and outcome.loss_removed.mean == pytest.approx(baseline)


# --- mitigations valued by the simulator -----------------------------------------------------------

AMPLIFIED = """
components:
  server:
    capacity: {rps: 100}
    failure: {rate_per_year: 12, mean_duration: 5m}
  other: {failure: {rate_per_year: 1, mean_duration: 30m}}
  clients:
    load: {rps: 90}
    requires: [server, other]
    unavailability: 0
    impact: {revenue_per_hour: 10000}
    calls:
      server: {timeout: 1s, attempts: ATTEMPTS, backoff: {base: 0s, max: 0s, jitter: none}}
"""

TIMED = """
version: 1
mitigations:
  - {name: budget, changes: [{retry_budget: {component: clients, dependency: server}}]}
  - {name: breaker, changes: [{circuit_breaker: {component: clients, dependency: server, open_for: 10s}}]}
  - {name: other replica, changes: [{add_replica: {component: other, region: elsewhere}}]}
"""


def _timed(attempts: int) -> dict:
    model = load_model_text(AMPLIFIED.replace("ATTEMPTS", str(attempts)))
    result = evaluate_mitigations(model, mitigations(TIMED), RiskSettings(trials=1000, seed=3), observe_after_s=600)
    return {m["name"]: m for m in result.to_dict()["mitigations"]}


@pytest.mark.slow
def test_retry_budget_and_breaker_remove_the_loss_of_retry_amplification():
    # 90 rps with 3 attempts offers 270 rps to a server of 100 once it is back: it never recovers
    # (Huang et al.); a retry budget or a breaker lets it recover with the fault.
    by_name = _timed(3)
    per_outage_h = 5 / 60
    for name in ("budget", "breaker"):
        m = by_name[name]
        assert m["evaluated"] and m["method"] == "simulator" and m["loss_removed_ci95"] is None
        [server] = [s for s in m["simulation"]["scenarios"] if s["source"] == "server"]
        assert server["recovered"] == {"baseline": False, "mitigated": True}
        # without the mitigation clients stay down the 10 watched minutes after the fault
        assert server["down_hours_per_outage"]["baseline"]["clients"] >= per_outage_h + 9 / 60
        assert server["down_hours_per_outage"]["mitigated"]["clients"] == pytest.approx(per_outage_h, rel=0.1)
        removed = 12 * (server["loss_per_outage"]["baseline"] - server["loss_per_outage"]["mitigated"])
        assert m["loss_removed"] == pytest.approx(removed) and m["loss_removed"] > 12 * 10000 * 9 / 60
        assert any("lower bound" in note for note in m["simulation"]["notes"])
    # ranked together with the Monte Carlo's mitigations: the replica of `other` removes ~0.5 h x $10k
    assert by_name["other replica"]["method"] == "monte_carlo"
    assert by_name["other replica"]["rank"] == 3
    assert {by_name["budget"]["rank"], by_name["breaker"]["rank"]} == {1, 2}


@pytest.mark.slow
def test_without_retry_amplification_a_budget_or_breaker_removes_nothing():
    by_name = _timed(1)
    for name in ("budget", "breaker"):
        m = by_name[name]
        assert m["method"] == "simulator"
        assert all(s["recovered"] == {"baseline": True, "mitigated": True} for s in m["simulation"]["scenarios"])
    assert by_name["budget"]["loss_removed"] == 0.0  # no retries, nothing to budget: the same run
    # an open breaker keeps failing callers until it probes again after `open_for` (10 s): a small cost
    assert -12 * 10000 * 10 / 3600 <= by_name["breaker"]["loss_removed"] <= 0


def test_simulator_changes_mixed_with_structural_ones_are_a_located_error():
    with pytest.raises(MitigationError) as err:
        mitigations("version: 1\nmitigations:\n  - name: both\n    changes:\n"
                    "      - retry_budget: {component: clients}\n"
                    "      - add_replica: {component: other, region: elsewhere}\n")
    assert "m.yaml:5" in str(err.value) and "mixes retry_budget" in str(err.value)


def test_breaker_on_a_component_that_calls_nothing_is_a_located_error():
    model = load_model_text(SHOP)
    [m] = mitigations("version: 1\nmitigations:\n  - name: b\n    changes:\n"
                      "      - circuit_breaker: {component: shop, dependency: db}\n")
    with pytest.raises(MitigationError) as err:
        apply_mitigation(model, m)
    assert "m.yaml:5" in str(err.value) and "calls nothing" in str(err.value)


def test_throttle_needs_a_limit():
    with pytest.raises(MitigationError) as err:
        mitigations("version: 1\nmitigations:\n  - {name: t, changes: [{throttle: {component: shop}}]}\n")
    assert "rps" in str(err.value) and "m.yaml:3" in str(err.value)
