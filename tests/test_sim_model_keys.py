"""Model keys for dynamics: optional, validated, and located when wrong."""

from __future__ import annotations

import pytest

from aftershock.errors import ModelError
from aftershock.model.load import load_model_text


def test_dynamics_keys_parse_with_units() -> None:
    model = load_model_text("""
version: 1
components:
  db:
    capacity: {workers: 1, rps: 10, queue_limit: 150, latency: {base: 0.1s, per_inflight: 0s}}
  app:
    load: {rps: 5}
    requires: [db]
    calls: {db: {timeout: 5s, attempts: 6, backoff: {base: 100ms, max: 10s, jitter: full}}}
""")
    db, app = model.components["db"], model.components["app"]
    assert db.capacity.rps == 10 and db.capacity.latency.base == 0.1
    call = app.calls["db"]
    assert (call.timeout, call.attempts, call.backoff.base, call.backoff.max) == (5, 6, 0.1, 10)


@pytest.mark.parametrize(("block", "message"), [
    ("capacity: {workers: 4}", "give capacity as rps, or as workers with a latency"),
    ("capacity: {queue_limit: 10}", "give capacity as rps"),
    ("capacity: {latency: {base: 1s}}", "give capacity as rps"),
    ("capacity: {rps: 5, latency: {base: 0s}}", "latency.base must be above 0"),
    ("capacity: {rps: -1}", "capacity.rps"),
    ("calls: {db: {attempts: 0}}", "calls.db.attempts"),
    ("calls: {db: {timeout: soon}}", "duration"),
    ("calls: {db: {backoff: {jitter: half}}}", "jitter"),
    ("calls: {db: {retry_budget: {ratio: 2}}}", "ratio"),
    ("lease: {hosts: 10, lifetime: 1m}", "work_timeout"),
    ("lease: {hosts: 10, lifetime: 1m, work_timeout: 5s, via: dbx}", "unknown component 'dbx'"),
    ("healthcheck: {checks: nobody}", "unknown component 'nobody'"),
    ("connections: {pooled: 1.5}", "pooled"),
    ("backlog: {rate: 1, drain_rps: 0, tolerance: 1m}", "drain_rps"),
    ("backlog: {rate: 1, drain_rps: 2, tolerance: 1m, release_rps: 0}", "release_rps"),
    ("backlog: {rate: 1, drain_rps: 2, tolerance: 1m, until_drained: [dbb]}",
     "unknown component 'dbb'"),
    ("capacity: {rps: 5, burst: 3}", "unknown key 'burst'"),
])
def test_bad_dynamics_are_located(block: str, message: str) -> None:
    assert_located(block, message)


def assert_located(block: str, message: str, other: str = "db") -> None:
    """A model of `other` and `app`, `block` under app, fails with `message` at app's lines."""
    text = f"version: 1\ncomponents:\n  {other}: {{}}\n  app:\n    {block}\n"
    with pytest.raises(ModelError) as err:
        load_model_text(text, "m.yaml")
    assert message in str(err.value)
    assert err.value.file == "m.yaml" and err.value.line in (4, 5)
    assert err.value.component == "app"
