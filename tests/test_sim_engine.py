"""The simulation engine: agreement with the static semantics, invariants, mechanisms, output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aftershock.analysis.propagation import propagate_degraded, propagate_down
from aftershock.model.compile import compile_model
from aftershock.model.load import load_model, load_model_text
from aftershock.sim import Simulation, load_scenario, load_scenario_text, simulate
from aftershock.sim.incidents_windows import merge_windows
from tests.test_sim_health import MODEL as CHECKER  # the checker model: {capacity}, {cost}

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "metastability"


def random_model(rng: np.random.Generator, n: int = 40) -> str:
    """A model with layers, a few hard cycles, soft deps and redundancy groups (no dynamics)."""
    lines = ["version: 1", "components:"]
    for i in range(n):
        deps = sorted({int(j) for j in rng.integers(0, i, size=rng.integers(0, 3))} if i else set())
        parts = []
        if i > 3 and rng.random() < 0.15:
            members = sorted({int(j) for j in rng.integers(0, i, size=3)})
            if len(members) >= 2:
                if rng.random() < 0.5:
                    parts.append(f"any_of: [{', '.join(f'c{j}' for j in members)}]")
                else:
                    parts.append(f"k_of_n: {{k: 2, of: [{', '.join(f'c{j}' for j in members)}]}}")
                deps = []
        if rng.random() < 0.1 and i + 1 < n:
            deps.append(i + 1)  # a back edge makes a hard cycle with the next component
        if deps:
            parts.append(f"requires: [{', '.join(f'c{j}' for j in deps)}]")
        soft = sorted({int(j) for j in rng.integers(0, max(i, 1), size=rng.integers(0, 2))} - set(deps))
        if i and soft:
            parts.append(f"uses: [{', '.join(f'c{j}' for j in soft if j != i)}]")
        lines.append(f"  c{i}: {{{', '.join(p for p in parts if not p.endswith('[]'))}}}")
    return "\n".join(lines)


@pytest.mark.parametrize("seed", range(12))
def test_down_and_degraded_sets_agree_with_static_propagation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    graph = compile_model(load_model_text(random_model(rng)))
    failed = sorted({int(j) for j in rng.integers(0, graph.n, size=3)})
    faults = "\n".join(f"  - {{target: c{j}, kind: outage, at: +1s}}" for j in failed)
    sc = load_scenario_text(f"version: 1\nduration: 6s\nstep: 1s\nfaults:\n{faults}\n",
                            set(graph.names))
    result = simulate(graph, sc, skip_quiet=False)
    bits = np.zeros((graph.n, 1), dtype=np.uint64)
    bits[failed, 0] = 1
    down = propagate_down(graph, bits)[:, 0].astype(bool)
    degraded = propagate_degraded(graph, propagate_down(graph, bits))[:, 0].astype(bool)
    sim_down = np.array([result.final_success[name] < 0.5 for name in graph.names])
    assert np.array_equal(sim_down, down)
    open_states = {name: ws[-1].state for name, ws in result.windows.items() if ws and ws[-1].open}
    sim_degraded = np.array([open_states.get(name) == "degraded" for name in graph.names])
    assert np.array_equal(sim_degraded, degraded)


CYCLE = """
version: 1
components:
  a: {requires: [b]}
  b: {requires: [a]}
  c: {requires: [a]}
"""


def test_dead_hard_cycle_stays_down_until_restored() -> None:
    graph = compile_model(load_model_text(CYCLE))
    sc = load_scenario_text("""
version: 1
duration: 60s
faults: [{target: a, kind: outage, at: +5s, for: 5s}]
actions: [{at: +40s, kind: restore, target: b}]
""", set(graph.names))
    result = simulate(graph, sc)
    assert [(w.state, w.start_s, w.end_s) for w in result.windows["a"]] == [("down", 5, 40)]
    assert [(w.start_s, w.end_s) for w in result.windows["c"]] == [(5, 40)]
    no_restore = load_scenario_text("""
version: 1
duration: 60s
faults: [{target: a, kind: outage, at: +5s, for: 5s}]
""", set(graph.names))
    assert simulate(graph, no_restore).summary["down_at_end"] == ["a", "b", "c"]


def test_unfailed_cycle_stays_up() -> None:
    graph = compile_model(load_model_text(CYCLE + "  d: {}\n"))
    sc = load_scenario_text("version: 1\nduration: 20s\nfaults: [{target: d, kind: outage}]\n",
                            set(graph.names))
    result = simulate(graph, sc)
    assert result.final_success["a"] == 1.0 and result.final_success["c"] == 1.0


CHAIN = """
version: 1
components:
  store: {capacity: {rps: 100, queue_limit: 50}}
  region: {}
  api:
    requires: [store, region]
    capacity: {workers: 4, latency: {base: 20ms, per_inflight: 1ms}, queue_limit: 200}
    calls: {store: {timeout: 1s, attempts: 1}}
  web:
    load: {rps: 80, timeout: 3s}
    requires: [api]
    calls: {api: {timeout: 2s, attempts: 1}}
"""


def test_success_never_exceeds_hard_dependencies_without_retries() -> None:
    graph = compile_model(load_model_text(CHAIN))
    sc = load_scenario_text("""
version: 1
duration: 5m
step: 500ms
faults:
  - {target: store, kind: errors, factor: 0.4, at: +20s, for: 1m}
  - {target: store, kind: capacity, factor: 0.5, at: +90s, for: 1m}
  - {target: region, kind: errors, factor: 0.7, at: +3m, for: 30s}
  - {target: web, kind: load, rps: 200, at: +4m, for: 20s}
""", set(graph.names))
    sim = Simulation(graph, sc, skip_quiet=False)
    ids = graph.index
    worst = 0.0
    while not sim.done:
        sim.step()
        s = sim.state.success
        for caller, dep in (("api", "store"), ("api", "region"), ("web", "api")):
            worst = max(worst, s[ids[caller]] - s[ids[dep]])
    assert worst <= 1e-9


def test_group_failover_time_keeps_the_group_down() -> None:
    graph = compile_model(load_model_text("""
version: 1
components:
  primary: {}
  standby: {}
  db: {any_of: [primary, standby], failover: 30s}
"""))
    sc = load_scenario_text("version: 1\nduration: 3m\nfaults: [{target: primary, kind: outage, "
                            "at: +10s, for: 1m}]\n", set(graph.names))
    result = simulate(graph, sc)
    assert [(w.state, w.start_s, w.end_s) for w in result.windows["db"]] == [("down", 10, 40)]


def test_backlog_drains_at_drain_rate_minus_arrivals() -> None:
    graph = compile_model(load_model_text("""
version: 1
components:
  db: {}
  propagation:
    requires: [db]
    backlog: {rate: 10, drain_rps: 30, tolerance: 60s}
"""))
    sc = load_scenario_text("version: 1\nduration: 2h\nfaults: [{target: db, kind: outage, "
                            "at: +10m, for: 30m}]\n", set(graph.names))
    result = simulate(graph, sc)
    windows = result.windows_of("propagation", "down")
    # 30 min x 10/s = 18000 items; stale while delay = items / 30 > 60 s, i.e. items > 1800;
    # the backlog shrinks by 20/s after the outage: (18000 - 1800) / 20 = 810 s.
    assert windows[0].start_s == 600
    assert windows[-1].end_s == pytest.approx(2400 + 810, abs=45)


def test_deferred_backlog_hurts_only_after_its_cause_and_holds_up_its_waiting_consumers() -> None:
    graph = compile_model(load_model_text("""
version: 1
components:
  db: {}
  propagation:
    requires: [db]
    backlog: {rate: 10, drain_rps: 30, tolerance: 60s, release_rps: 25,
              until_drained: [waiting]}
  waiting: {}
"""))
    sc = load_scenario_text("version: 1\nduration: 3h\nfaults: [{target: db, kind: outage, "
                            "at: +10m, for: 30m}]\n", set(graph.names))
    result = simulate(graph, sc)
    windows = merge_windows([(w.start_s, w.end_s) for w in result.windows_of("propagation")], 1.0)
    # The 18000 items produced during the outage wait upstream, so nothing is stale while db is
    # down: propagation fails then only with its dependency (600-2400 s). Then they are handed
    # over at 25/s on top of 10/s of new work and drained at 30/s: the queue grows by 5/s and is
    # stale (delay past ~55 s, the ramp's 95% point: 1640 items) ~330 s after db returns. It
    # peaks at 3600 items when the hand-over ends (720 s), then drains at 20/s: ~100 s more.
    assert windows[0] == (600.0, 2400.0)
    (start, end), = windows[1:]
    assert start == pytest.approx(2400 + 330, abs=15)
    assert end == pytest.approx(2400 + 720 + 100, abs=15)
    # `waiting` has work in the backlog: impaired from the first deferred item until all of it
    # is done: 18000 items cleared at 30 - 10 = 20/s take 900 s after db returns.
    (w_start, w_end), = [(w.start_s, w.end_s) for w in result.windows_of("waiting")]
    assert w_start == pytest.approx(600, abs=5)
    assert w_end == pytest.approx(2400 + 900, abs=15)
    # Without release_rps the same backlog is stale from 3 min into the outage (1800 items).
    plain = compile_model(load_model_text("""
version: 1
components:
  db: {}
  propagation: {requires: [db], backlog: {rate: 10, drain_rps: 30, tolerance: 60s}}
"""))
    stale = simulate(plain, sc).windows_of("propagation")
    assert stale[-1].end_s == pytest.approx(2400 + 810, abs=45)  # (18000 - 1800) / 20


def test_servfail_is_not_cached_but_serve_stale_hides_it() -> None:
    base = """
version: 1
components:
  rec: {{kind: dns_record, record: x.example, ttl: 5m{stale}}}
  app: {{resolves: rec, load: {{rps: 1}}}}
"""
    sc = "version: 1\nduration: 1h\nfaults: [{target: rec, kind: dns_servfail, at: +5m, for: 20m}]\n"
    plain = compile_model(load_model_text(base.format(stale="")))
    result = simulate(plain, load_scenario_text(sc, set(plain.names)))
    down = result.windows_of("app", "down")
    assert down and down[0].start_s < 300 + 300 and down[-1].end_s <= 1500 + 2
    stale = compile_model(load_model_text(base.format(stale=", serve_stale: 1h")))
    assert not simulate(stale, load_scenario_text(sc, set(stale.names))).windows_of("app")


@pytest.mark.parametrize(("model", "scenario"), [
    ("m6-dns.yaml", "m6-empty-record.yaml"),
    ("m7-lease.yaml", "m7-throttle-and-drop.yaml"),
    ("m8-healthcheck.yaml", "m8-disable-failover.yaml"),
])
def test_skipping_quiet_stretches_changes_nothing(model: str, scenario: str) -> None:
    graph = compile_model(load_model(EXAMPLES / model))
    sc = load_scenario(EXAMPLES / scenario, set(graph.names))
    fast, slow = simulate(graph, sc), simulate(graph, sc, skip_quiet=False)
    assert fast.steps_skipped > 0 and slow.steps_skipped == 0
    for name in graph.names:
        a = [(w.state, w.start_s, w.end_s) for w in fast.windows[name]]
        b = [(w.state, w.start_s, w.end_s) for w in slow.windows[name]]
        assert len(a) == len(b), name
        for x, y in zip(a, b, strict=True):
            assert x[0] == y[0] and abs(x[1] - y[1]) <= 2 * sc.step_s and abs(x[2] - y[2]) <= 2 * sc.step_s
    for name, dollars in slow.loss.items():
        assert fast.loss[name] == pytest.approx(dollars, rel=1e-3, abs=1.0)


def test_result_json_shape_and_series_files(tmp_path: Path) -> None:
    graph = compile_model(load_model(EXAMPLES / "m6-dns.yaml"))
    result = simulate(graph, load_scenario(EXAMPLES / "m6-empty-record.yaml", set(graph.names)))
    data = json.loads(json.dumps(result.to_dict()))
    assert data["kind"] == "simulation" and data["start"].startswith("2025-10-19T23:40")
    window = data["windows"]["api-record"][0]
    assert window == {"state": "down", "start": 300.0, "end": 1500.0, "open": False,
                      "start_time": "2025-10-19T23:45:00-07:00",
                      "end_time": "2025-10-20T00:05:00-07:00"}
    assert set(data["loss"]) == {"app"} and data["loss"]["app"] > 0
    assert data["summary"]["total_loss"] == pytest.approx(data["loss"]["app"], abs=0.01)
    series = data["series"]
    assert set(series) == {"t_s", "offered", "goodput", "queue", "success"}
    assert len(series["success"]["app"]) == len(series["t_s"])
    csv_path = tmp_path / "series.csv"
    result.write_series(csv_path)
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "t_s,component,offered,goodput,queue,success"
    assert len(lines) == 1 + len(series["t_s"]) * len(result.series["success"])
    pytest.importorskip("pyarrow", reason="parquet output needs the [parquet] extra")
    import pyarrow.parquet as pq

    result.write_series(tmp_path / "series.parquet")
    table = pq.read_table(tmp_path / "series.parquet")
    assert table.num_rows == len(lines) - 1


def test_loss_counts_revenue_of_failed_requests() -> None:
    graph = compile_model(load_model_text("""
version: 1
components:
  pay: {impact: {revenue_per_hour: 3600}}
  shop: {requires: [pay], impact: {revenue_per_hour: 7200, degraded_loss: 0.5}}
  extras: {}
  catalog: {uses: [extras], impact: {revenue_per_hour: 1000, degraded_loss: 0.25}}
"""))
    sc = load_scenario_text("""
version: 1
duration: 2h
faults:
  - {target: pay, kind: outage, at: +10m, for: 30m}
  - {target: extras, kind: outage, at: +1h, for: 20m}
""", set(graph.names))
    loss = simulate(graph, sc).loss
    assert loss["pay"] == pytest.approx(1800.0, rel=1e-6)
    assert loss["shop"] == pytest.approx(3600.0, rel=1e-6)
    assert loss["catalog"] == pytest.approx(1000 * 0.25 / 3, rel=1e-6)


def test_requiring_a_record_reads_it_through_the_cache() -> None:
    graph = compile_model(load_model_text("""
version: 1
components:
  rec: {kind: dns_record, record: db.example, ttl: 2m, negative_ttl: 10m}
  app: {requires: [rec], load: {rps: 1}}
"""))
    sc = load_scenario_text("version: 1\nduration: 1h\nfaults: [{target: rec, kind: dns_empty, "
                            "at: +5m, for: 5m}]\n", set(graph.names))
    result = simulate(graph, sc)
    down = result.windows_of("app", "down")
    assert len(down) == 1
    assert 300 < down[0].start_s <= 300 + 120  # half the caches by one TTL
    assert 600 < down[0].end_s <= 600 + 1.25 * 600  # bad answers outlive the fix


def test_circuit_breaker_sheds_load_while_open_and_recovers_after() -> None:
    text = """
version: 1
components:
  server: {{}}
  client:
    load: {{rps: 100}}
    requires: [server]
    calls:
      server: {{timeout: 1s, attempts: 3, backoff: {{base: 0s, max: 0s}}{breaker}}}
"""
    sc = ("version: 1\nduration: 15m\nfaults: [{target: server, kind: outage, mode: error, "
          "at: +1m, for: 5m}]\n")
    plain = compile_model(load_model_text(text.format(breaker="")))
    guarded = compile_model(load_model_text(text.format(
        breaker=", circuit_breaker: {threshold: 0.5, window: 5s, open_for: 30s}")))
    runs = [simulate(g, load_scenario_text(sc, set(g.names))) for g in (plain, guarded)]
    t = runs[0].t_s
    during = (t > 90) & (t < 330)
    offered = [r.series_of("server", "offered")[during].mean() for r in runs]
    assert offered[0] == pytest.approx(300, rel=0.01)  # 3 attempts each
    assert offered[1] < 0.5 * 100  # open most of the time, a burst of probes every 30 s
    end = runs[1].windows_of("client")[-1].end_s
    assert 360 <= end <= 360 + 30 + 10  # closes again within one open period of the fix
    every_step = simulate(guarded, load_scenario_text(sc, set(guarded.names)), skip_quiet=False)
    assert np.allclose(every_step.series_of("server", "offered"),
                       runs[1].series_of("server", "offered"))


DYNAMIC = """
version: 1
components:
  rec: {{kind: dns_record, record: db.example, ttl: {ttl}s, negative_ttl: {neg}s}}
  store: {{capacity: {{rps: {store_rps}, queue_limit: {qlim}}}}}
  db:
    requires: [store]
    capacity: {{workers: 8, latency: {{base: 50ms, per_inflight: 2ms}}}}
    calls: {{store: {{timeout: 1s, attempts: {attempts}, backoff: {{base: 100ms, max: 2s}}}}}}
  leases:
    requires: [db]
    capacity: {{workers: 4, latency: {{base: 200ms}}}}
    lease: {{hosts: 500, lifetime: 2m, work_timeout: 20s, via: db}}
  backlog: {{requires: [db], backlog: {{rate: 5, drain_rps: 12, tolerance: 30s}}}}
  lb:
    capacity: {{rps: 300, queue_limit: 600}}
    requires: [backlog]
    healthcheck: {{interval: 10s, timeout: 1s, failover: true}}
  api:
    load: {{rps: {load}, timeout: 4s}}
    requires: [lb, db, rec]
    connections: {{pooled: 0.2}}
    calls:
      lb: {{timeout: 2s, attempts: 2}}
      db: {{timeout: 2s, attempts: 3, retry_budget: {{ratio: 0.2}},
           circuit_breaker: {{threshold: 0.6, window: 5s, open_for: 20s}}}}
    impact: {{revenue_per_hour: 10000}}
"""


def dynamic_graph(rng: np.random.Generator):
    """DYNAMIC compiled with TTLs, store capacity, queue limit, attempts and load drawn from `rng`."""
    return compile_model(load_model_text(DYNAMIC.format(
        ttl=int(rng.integers(10, 120)), neg=int(rng.integers(10, 300)),
        store_rps=int(rng.integers(150, 400)), qlim=int(rng.integers(50, 2000)),
        attempts=int(rng.integers(1, 4)), load=int(rng.integers(50, 150)))))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(6))
def test_skipping_matches_every_step_on_random_dynamic_scenarios(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    graph = dynamic_graph(rng)
    kinds = [("store", "outage"), ("store", "capacity"), ("db", "errors"), ("rec", "dns_empty"),
             ("rec", "dns_servfail"), ("api", "load"), ("store", "latency")]
    faults = []
    for _ in range(3):
        target, kind = kinds[int(rng.integers(len(kinds)))]
        extra = {"capacity": ", factor: 0.3", "errors": ", factor: 0.5", "load": ", rps: 250",
                 "latency": ", delay: 1s"}.get(kind, "")
        at, length = int(rng.integers(0, 1500)), int(rng.integers(5, 900))
        faults.append(f"  - {{target: {target}, kind: {kind}, at: +{at}s, for: {length}s{extra}}}")
    actions = ["  - {at: +2000s, kind: throttle, target: leases, rps: 2}",
               "  - {at: +2000s, kind: drop_queue, target: leases}",
               "  - {at: +2400s, kind: disable, target: lb}"]
    sc = load_scenario_text("version: 1\nduration: 1h\nfaults:\n" + "\n".join(faults)
                            + "\nactions:\n" + "\n".join(actions) + "\n", set(graph.names))
    fast, slow = simulate(graph, sc), simulate(graph, sc, skip_quiet=False)
    for name in graph.names:
        a = [(w.state, w.start_s, w.end_s) for w in fast.windows[name]]
        b = [(w.state, w.start_s, w.end_s) for w in slow.windows[name]]
        assert len(a) == len(b), (name, a, b)
        for x, y in zip(a, b, strict=True):
            assert x[0] == y[0] and abs(x[1] - y[1]) <= 2 and abs(x[2] - y[2]) <= 2, (name, x, y)
    assert fast.loss["api"] == pytest.approx(slow.loss["api"], rel=1e-3, abs=1.0)




@pytest.mark.parametrize(("cost", "sticks"), [(0.0, False), (2.0, True)])
def test_checker_load_feedback_can_outlast_the_trigger(cost: float, sticks: bool) -> None:
    graph = compile_model(load_model_text(CHECKER.format(capacity=100, cost=cost)))
    sc = load_scenario_text("version: 1\nduration: 30m\nfaults: [{target: network, kind: errors, "
                            "factor: 0.5, at: +5m, for: 2m}]\n", set(graph.names))
    result = simulate(graph, sc)
    assert (not result.summary["recovered"]) is sticks
    assert ("lb" in result.summary["down_at_end"]) is sticks


@pytest.mark.parametrize(("block", "message"), [
    ("lease: {hosts: 10, lifetime: 1m, work_timeout: 10s}", "lease holder needs `capacity:`"),
    ("healthcheck: {interval: 5s}", "need `capacity:` there to remove"),
])
def test_mechanisms_without_capacity_are_located_model_errors(block: str, message: str) -> None:
    from aftershock.errors import ModelError

    graph = compile_model(load_model_text(f"version: 1\ncomponents:\n  a: {{{block}}}\n",
                                          "m.yaml"))
    with pytest.raises(ModelError) as err:
        Simulation(graph, load_scenario_text("version: 1\nduration: 1m\n", set(graph.names)))
    assert message in err.value.message and err.value.line == 3 and err.value.component == "a"


@pytest.mark.parametrize("seed", range(8))
def test_random_dynamic_runs_stay_finite_and_bounded(seed: int) -> None:
    """Whatever the parameters, every share stays in [0, 1] and nothing becomes NaN or negative."""
    rng = np.random.default_rng(seed)
    graph = compile_model(load_model_text(DYNAMIC.format(
        ttl=int(rng.integers(1, 600)), neg=int(rng.integers(1, 900)),
        store_rps=float(rng.uniform(0.5, 1000)), qlim=int(rng.integers(0, 10_000)),
        attempts=int(rng.integers(1, 8)), load=float(rng.uniform(0, 2000)))))
    kinds = ["outage", "errors", "capacity", "latency", "load"]
    lines = []
    for _ in range(4):
        kind = kinds[int(rng.integers(len(kinds)))]
        target = {"outage": "store", "errors": "db", "capacity": "store", "latency": "db",
                  "load": "api"}[kind]
        size = {"errors": f", factor: {rng.uniform(0, 1):.3f}", "capacity": f", factor: {rng.uniform(0, 2):.3f}",
                "latency": f", delay: {rng.uniform(0, 30):.1f}s", "load": f", rps: {rng.uniform(0, 5000):.0f}"}
        lines.append(f"  - {{target: {target}, kind: {kind}, at: +{int(rng.integers(0, 500))}s, "
                     f"for: {int(rng.integers(1, 600))}s{size.get(kind, '')}}}")
    sc = load_scenario_text("version: 1\nduration: 15m\nstep: 500ms\nfaults:\n" + "\n".join(lines)
                            + "\nactions:\n  - {at: +10m, kind: restart, target: db}\n",
                            set(graph.names))
    sim = Simulation(graph, sc)
    while not sim.done:
        sim.step()
        st = sim.state
        for name in ("success", "avail", "accept", "live", "deps_ok"):
            values = getattr(st, name)
            assert np.all(np.isfinite(values)) and values.min() >= 0 and values.max() <= 1 + 1e-9, name
        for name in ("queue", "offered", "served", "goodput", "latency_s", "wait_s"):
            values = getattr(st, name)
            assert np.all(np.isfinite(values)) and values.min() >= -1e-9, name
        assert np.all(sim.retries.pools >= -1e-9)
    result = sim.result()
    json.dumps(result.to_dict())
    assert all(np.isfinite(v) and v >= 0 for v in result.loss.values())
