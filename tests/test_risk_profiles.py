"""Failure profiles, catalog defaults, common causes and contributors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aftershock.errors import AftershockError, ModelError
from aftershock.model.compile import compile_model
from aftershock.model.load import load_model_text
from aftershock.risk.engine import RiskSettings, estimate_risk
from aftershock.risk.profiles import (
    FailureProfile,
    _default_entries,
    _profile_from_entry,
    default_profile,
    failure_sources,
    load_defaults,
)
from aftershock.risk.statistics import Distribution

REGION_MODEL = """
common_causes:
  use1-outage:
    provider: aws
    region: us-east-1
    failure: {rate_per_year: 1, duration: {median: 5h, p90: 12h}}
components:
  api: {failure: {rate_per_year: 2, mean_duration: 20m}, placement: {provider: aws, region: us-east-1}}
  db: {failure: {rate_per_year: 1, mean_duration: 30m}, placement: {provider: aws, region: us-east-1, zone: use1-az1}}
  queue: {failure: {rate_per_year: 1, mean_duration: 30m}, placement: {provider: aws, region: us-west-2}}
  shop: {requires: [api, db, queue], unavailability: 0, impact: {revenue_per_hour: 50000}}
"""


def test_common_cause_region_event_is_the_top_contributor():
    graph = compile_model(load_model_text(REGION_MODEL))
    result = estimate_risk(graph, RiskSettings(trials=4000, seed=11))
    top = result.contributors[0]
    assert (top.name, top.kind) == ("use1-outage", "common_cause")
    assert top.share > 0.5
    # it strikes the two components placed in us-east-1, not the one in us-west-2
    cause = next(s for s in result.sources if s["name"] == "use1-outage")
    assert sorted(cause["components"]) == ["api", "db"]


def test_contributors_add_up_to_the_expected_loss():
    graph = compile_model(load_model_text(REGION_MODEL))
    result = estimate_risk(graph, RiskSettings(trials=2000, seed=3))
    total = sum(c.expected_loss.mean for c in result.contributors)
    assert total == pytest.approx(result.total_loss.mean, rel=1e-9)
    shop = result.to_dict()["targets"]["shop"]
    assert sum(c["expected_loss"] for c in shop["contributors"]) == pytest.approx(shop["loss"]["mean"], rel=1e-9)


def test_overlapping_outages_share_the_loss_equally():
    graph = compile_model(load_model_text(
        "components:\n"
        "  a: {failure: {rate_per_year: 3000, mean_duration: 1d}}\n"  # nearly always down
        "  b: {failure: {rate_per_year: 3000, mean_duration: 1d}}\n"
        "  shop: {requires: [a, b], unavailability: 0, impact: {revenue_per_hour: 1}}\n"
    ))
    result = estimate_risk(graph, RiskSettings(trials=300, horizon_s=30 * 86400, seed=1))
    shares = {c.name: c.share for c in result.contributors}
    assert shares["a"] == pytest.approx(0.5, abs=0.02)
    assert shares["b"] == pytest.approx(0.5, abs=0.02)


def test_common_cause_without_failure_takes_the_catalog_default_for_its_scope():
    graph = compile_model(load_model_text(
        "common_causes:\n"
        "  use1: {provider: aws, region: us-east-1}\n"
        "  euw1: {provider: aws, region: eu-west-1}\n"
        "components:\n"
        "  api: {placement: {provider: aws, region: us-east-1}}\n"
        "  web: {placement: {provider: aws, region: eu-west-1}}\n"
    ))
    sources, _ = failure_sources(graph)
    by_name = {s.name: s for s in sources}
    assert "common_causes.region.aws/us-east-1" in by_name["use1"].profile.source
    assert "common_causes.region.default" in by_name["euw1"].profile.source
    assert by_name["use1"].profile.rate_per_year > by_name["euw1"].profile.rate_per_year


def test_common_cause_needs_a_scope_and_is_located():
    with pytest.raises(ModelError) as err:
        load_model_text("common_causes:\n  oops: {description: nothing}\ncomponents: {}\n")
    assert err.value.line == 2
    assert "scope" in err.value.message


def test_common_cause_matching_nothing_is_noted():
    graph = compile_model(load_model_text(
        "common_causes:\n  gcp-down: {provider: gcp}\ncomponents:\n  a: {unavailability: 0.01}\n"
    ))
    sources, notes = failure_sources(graph)
    assert [s.name for s in sources] == ["a"]
    assert any("gcp-down" in n for n in notes)


def test_unavailability_keeps_the_kind_duration_and_sets_the_rate_to_match():
    graph = compile_model(load_model_text(
        "components:\n  db: {kind: datastore, unavailability: 0.001}\n  lb: {kind: load_balancer}\n"
    ))
    sources, notes = failure_sources(graph)
    db, lb = sources
    assert db.profile.unavailability == pytest.approx(0.001, rel=1e-12)
    assert db.profile.mean_duration_s == pytest.approx(default_profile("datastore", None).mean_duration_s)
    assert lb.profile.source.startswith("default kinds.load_balancer")
    assert any("catalog defaults" in n for n in notes)


def test_provider_default_overrides_kind_default():
    aws = default_profile("datastore", "aws")
    generic = default_profile("datastore", None)
    assert "providers.aws.datastore" in aws.source
    assert aws.rate_per_year != generic.rate_per_year


def test_every_catalog_default_has_a_source_and_a_valid_profile():
    defaults = load_defaults()
    entries = _default_entries(defaults)
    assert len(entries) > 20
    for keys, entry in entries:
        profile = _profile_from_entry(entry, defaults["doc"], keys)
        assert "sla:" in profile.source or "assumption" in profile.source, keys
        assert profile.rate_per_year >= 0


def test_catalog_entry_without_source_is_refused(tmp_path):
    bad = tmp_path / "defaults.yaml"
    bad.write_text("version: 1\nkinds:\n  service:\n    rate_per_year: 1\n    duration: {median: 1h, p90: 2h}\n")
    with pytest.raises(AftershockError) as err:
        load_defaults(str(bad))
    assert err.value.line == 4 and "source" in str(err.value)


def test_lognormal_profile_has_the_given_median_and_p90():
    prof = FailureProfile.lognormal(2.0, 1800.0, 7200.0, "test")
    draws = prof.sample_durations_s(np.random.default_rng(0), 200_000)
    assert np.median(draws) == pytest.approx(1800, rel=0.02)
    assert np.quantile(draws, 0.9) == pytest.approx(7200, rel=0.02)
    assert draws.mean() == pytest.approx(prof.mean_duration_s, rel=0.03)
    assert prof.unavailability == pytest.approx(-math.expm1(-2 * prof.mean_duration_s / (8760 * 3600)))


def test_serve_stale_on_a_service_is_a_located_error():
    with pytest.raises(ModelError) as err:
        load_model_text("components:\n  api:\n    serve_stale: 1h\n")
    assert err.value.line == 3 and err.value.component == "api"


def test_common_cause_named_like_a_component_is_a_located_error():
    with pytest.raises(ModelError) as err:
        load_model_text("components:\n  aws: {}\ncommon_causes:\n  aws: {provider: aws}\n")
    assert err.value.line == 4 and "name of a component" in err.value.message


def test_distribution_quantiles_and_merge_match_numpy():
    rng = np.random.default_rng(5)
    values = np.concatenate([np.zeros(300), rng.lognormal(3, 1.5, 5000)])
    whole = Distribution.of(values)
    parts = Distribution.of(values[:1234]).merge(Distribution.of(values[1234:]))
    for q in (0.5, 0.9, 0.95, 0.99):
        exact = np.quantile(values, q)
        assert whole.quantile(q) == pytest.approx(exact, rel=0.02)
        assert parts.quantile(q) == pytest.approx(whole.quantile(q), rel=1e-12)
        lo, hi = whole.quantile_ci(q)
        assert lo <= whole.quantile(q) <= hi
    assert parts.mean == pytest.approx(values.mean(), rel=1e-12)
    assert whole.quantile(0.01) == 0.0
    ints = Distribution.of(rng.poisson(7, 2000), integer=True)
    assert ints.quantile(0.5) == 7.0


def test_point_mass_quantiles_are_exact():
    d = Distribution.of(np.full(100, 8760.0)).merge(Distribution.of(np.full(50, 8760.0)))
    assert [d.quantile(q) for q in (0.5, 0.9, 0.99)] == [8760.0, 8760.0, 8760.0]
    assert d.quantile_ci(0.5) == (8760.0, 8760.0)
