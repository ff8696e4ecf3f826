"""Same seed, same result: whatever the backend, the number of workers or the chunking of the run."""

from __future__ import annotations

import json
import pickle

import pytest

from aftershock.model.compile import compile_model
from aftershock.model.load import load_model_text
from aftershock.risk.engine import RiskSettings, estimate_risk, make_plan

MODEL = """
common_causes:
  use1: {provider: aws, region: us-east-1, failure: {rate_per_year: 0.5, mean_duration: 4h}}
components:
  a: {failure: {rate_per_year: 5, mean_duration: 1h}, placement: {provider: aws, region: us-east-1}}
  b: {failure: {rate_per_year: 5, duration: {median: 30m, p90: 2h}}, placement: {provider: aws, region: us-west-2}}
  ab: {any_of: [a, b], failover: 5m}
  c: {failure: {rate_per_year: 3, mean_duration: 2h}, placement: {provider: aws, region: us-east-1}}
  shop: {requires: [ab], uses: [c], unavailability: 0, impact: {revenue_per_hour: 1000, degraded_loss: 0.3}}
"""


def _json(result) -> str:
    return json.dumps({k: v for k, v in result.to_dict().items() if k != "backend"}, sort_keys=True)


def test_same_seed_same_result_and_another_seed_differs():
    graph = compile_model(load_model_text(MODEL))
    one = estimate_risk(graph, RiskSettings(trials=3000, seed=5, chunk_trials=1000))
    two = estimate_risk(graph, RiskSettings(trials=3000, seed=5, chunk_trials=1000))
    other = estimate_risk(graph, RiskSettings(trials=3000, seed=6, chunk_trials=1000))
    assert _json(one) == _json(two)
    assert one.total_loss.mean != other.total_loss.mean


def test_plan_pickles_for_worker_processes():
    graph = compile_model(load_model_text(MODEL))
    plan = make_plan(graph, RiskSettings())
    again = pickle.loads(pickle.dumps(plan))
    assert again.target_names == plan.target_names


@pytest.mark.slow
def test_dask_local_cluster_of_two_workers_gives_the_local_result():
    pytest.importorskip("dask.distributed")
    graph = compile_model(load_model_text(MODEL))
    settings = RiskSettings(trials=5000, seed=21, chunk_trials=500)
    local = estimate_risk(graph, settings)
    seen: list[int] = []
    dask = estimate_risk(
        graph,
        RiskSettings(trials=5000, seed=21, chunk_trials=500, backend="dask", workers=2, processes=False),
        progress=seen.append,
    )
    assert dask.backend == "dask"
    assert _json(dask) == _json(local)
    assert sum(seen) == 5000
    one_worker = estimate_risk(
        graph,
        RiskSettings(trials=5000, seed=21, chunk_trials=500, backend="dask", workers=1, processes=False),
    )
    assert _json(one_worker) == _json(local)


def test_unreachable_scheduler_is_a_clear_error(monkeypatch: pytest.MonkeyPatch):
    pytest.importorskip("dask.distributed")
    from aftershock.errors import AftershockError
    from aftershock.risk import distributed

    monkeypatch.setattr(distributed, "CONNECT_TIMEOUT", "1s")

    graph = compile_model(load_model_text(MODEL))
    with pytest.raises(AftershockError) as err:
        estimate_risk(graph, RiskSettings(trials=10, backend="dask", scheduler="tcp://127.0.0.1:9"))
    assert "scheduler" in str(err.value)
