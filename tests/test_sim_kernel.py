"""The compiled step (sim/kernel.py, numba) gives the NumPy reference's results.

Runs only where numba is installed (extra `[fast]`); without it the engine uses NumPy alone.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from aftershock.model.compile import compile_model
from aftershock.model.load import load_model, load_model_text
from aftershock.sim import SimResult, Simulation, load_scenario, load_scenario_text, simulate
from aftershock.sim.engine import COMPILED_FROM
from tests.test_sim_engine import dynamic_graph, random_model

pytest.importorskip("numba")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "metastability"
PAIRS = [
    ("m1-bronson.yaml", "m1-network-outage.yaml"),
    ("m1-bronson-140qps.yaml", "m1-network-outage.yaml"),
    ("m2-isaacs-q150.yaml", "m2-load-spike.yaml"),
    ("m2-isaacs-q35.yaml", "m2-load-spike.yaml"),
    ("m3-huang.yaml", "m3-stall.yaml"),
    ("m4-brooker.yaml", "m4-failing.yaml"),
    ("m5-layers.yaml", "m5-leaf-refuses.yaml"),
    ("m6-dns.yaml", "m6-empty-record.yaml"),
    ("m7-lease.yaml", "m7-store-outage.yaml"),
    ("m7-lease.yaml", "m7-throttle-and-drop.yaml"),
    ("m8-healthcheck.yaml", "m8-propagation-errors.yaml"),
    ("m8-healthcheck.yaml", "m8-disable-failover.yaml"),
]


def assert_same(a: SimResult, b: SimResult, tol: float = 1e-9) -> None:
    """Same windows, steps, losses, final successes and series (to `tol`)."""
    assert a.to_dict()["windows"] == b.to_dict()["windows"]
    assert (a.steps_computed, a.steps_skipped) == (b.steps_computed, b.steps_skipped)
    assert a.loss.keys() == b.loss.keys()
    for name in a.loss:
        assert a.loss[name] == pytest.approx(b.loss[name], rel=tol, abs=tol)
    names = list(a.final_success)
    assert np.allclose([a.final_success[x] for x in names], [b.final_success[x] for x in names],
                       rtol=tol, atol=tol)
    for metric, series in a.series.items():
        assert series.keys() == b.series[metric].keys()
        for name, values in series.items():
            assert np.allclose(values, b.series[metric][name], rtol=tol, atol=tol), (metric, name)
    assert a.extra == b.extra


def both(graph, scenario, **kwargs) -> tuple[SimResult, SimResult]:
    return (simulate(graph, scenario, kernel="numpy", **kwargs),
            simulate(graph, scenario, kernel="numba", **kwargs))


@pytest.mark.parametrize(("model", "scenario"), PAIRS)
def test_metastability_examples_agree(model: str, scenario: str) -> None:
    graph = compile_model(load_model(EXAMPLES / model))
    sc = load_scenario(EXAMPLES / scenario, set(graph.names))
    reference, compiled = both(graph, sc)
    assert any(reference.windows.values())  # the example does something
    assert_same(reference, compiled)


def random_case(rng: np.random.Generator):
    """A random model (cycles, groups, soft uses) and 20 s in which three of its components
    fail for 4 s each, one second apart."""
    graph = compile_model(load_model_text(random_model(rng)))
    failed = sorted({int(j) for j in rng.integers(0, graph.n, size=3)})
    faults = "\n".join(f"  - {{target: c{j}, kind: outage, at: +{2 + k}s, for: 4s}}"
                       for k, j in enumerate(failed))
    sc = load_scenario_text(f"version: 1\nduration: 20s\nstep: 1s\nfaults:\n{faults}\n",
                            set(graph.names))
    return graph, sc


@pytest.mark.parametrize("seed", range(6))
def test_random_graphs_with_cycles_and_groups_agree(seed: int) -> None:
    """Hard cycles (dead stays dead, revived by restore), any_of, k_of_n and soft `uses`."""
    rng = np.random.default_rng(seed)
    graph, sc = random_case(rng)
    reference, compiled = both(graph, sc, skip_quiet=False)
    assert_same(reference, compiled)


@pytest.mark.parametrize("seed", range(3))
def test_dynamic_models_with_budgets_and_breakers_agree(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    graph = dynamic_graph(rng)
    sc = load_scenario_text(
        "version: 1\nduration: 20m\nstep: 1s\nfaults:\n"
        "  - {target: store, kind: outage, mode: timeout, at: +1m, for: 3m}\n"
        "  - {target: rec, kind: dns_servfail, at: +5m, for: 2m}\n"
        "  - {target: api, kind: load, rps: 400, at: +9m, for: 2m}\n", set(graph.names))
    reference, compiled = both(graph, sc)
    assert reference.windows_of("api")
    assert_same(reference, compiled)


def test_failover_groups_agree() -> None:
    graph = compile_model(load_model_text("""
version: 1
components:
  a: {capacity: {rps: 100}}
  b: {capacity: {rps: 100}}
  ab: {any_of: [a, b], failover: 30s}
  app: {requires: [ab], load: {rps: 50}, calls: {ab: {timeout: 1s, attempts: 2}}}
"""))
    sc = load_scenario_text("version: 1\nduration: 5m\nstep: 1s\nfaults:\n"
                            "  - {target: a, kind: outage, at: +1m, for: 2m}\n", set(graph.names))
    reference, compiled = both(graph, sc)
    down = reference.windows_of("app", "down")
    assert down and down[0].duration_s == pytest.approx(30, abs=2)  # until failover completes
    assert_same(reference, compiled)


def generated(n: int) -> tuple[object, dict]:
    """bench/sim.py's generated model with load, calls, capacities and DNS consumers."""
    spec = importlib.util.spec_from_file_location("bench_sim", ROOT / "bench" / "sim.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, module.dynamic_model(n)


def generated_case(n: int = COMPILED_FROM + 200) -> tuple[object, str, str]:
    """The generated model compiled, with its most used DNS record and datastore (fault targets)."""
    bench, doc = generated(n)
    graph = compile_model(load_model_text(json.dumps(doc), "generated.json"))
    return graph, bench.popular(doc, "dns_record"), bench.popular(doc, "datastore")


def test_generated_model_agrees_and_auto_compiles_large_models() -> None:
    graph, record, store = generated_case()
    sc = load_scenario_text(f"""
version: 1
duration: 40m
step: 1s
faults:
  - {{target: {record}, kind: dns_empty, at: +2m, for: 10m}}
  - {{target: {store}, kind: capacity, factor: 0.3, at: +1m, for: 15m}}
""", set(graph.names))
    assert Simulation(graph, sc).compiled is not None  # "auto" on a large model
    reference, compiled = both(graph, sc)
    assert sum(1 for w in reference.windows.values() if w) > 10
    assert_same(reference, compiled)


def test_kernel_choice() -> None:
    graph = compile_model(load_model(EXAMPLES / "m2-isaacs-q35.yaml"))
    sc = load_scenario(EXAMPLES / "m2-load-spike.yaml", set(graph.names))
    assert Simulation(graph, sc).compiled is None  # small: NumPy unless asked
    assert Simulation(graph, sc, kernel="numba").compiled is not None
    with pytest.raises(ValueError, match="kernel must be one of"):
        Simulation(graph, sc, kernel="fortran")


def test_compiled_stretches_agree_with_single_steps_and_numpy() -> None:
    """Stretches of steps in one compiled call (kernel_loops._run) end at events and at any
    changed OK/degraded/down code; one-step actions (restart, drop_queue) last one step."""
    graph, record, store = generated_case()
    sc = load_scenario_text(f"""
version: 1
duration: 30m
step: 1s
faults:
  - {{target: {record}, kind: dns_servfail, at: +2m, for: 4m}}
  - {{target: {store}, kind: capacity, factor: 0.2, at: +1m, for: 12m}}
  - {{target: {store}, kind: latency, delay: 1500ms, at: +8m, for: 3m}}
actions:
  - {{at: +5m, kind: throttle, target: {store}, rps: 100}}
  - {{at: +6m, kind: drop_queue, target: {store}}}
  - {{at: +7m, kind: relax, target: {store}}}
  - {{at: +10m, kind: restart, target: {store}}}
""", set(graph.names))
    stepped = Simulation(graph, sc, skip_quiet=False, kernel="numba")
    while not stepped.done:
        stepped.step()
    assert stepped.computed == sc.steps
    whole = Simulation(graph, sc, skip_quiet=False, kernel="numba")
    whole.run_to(sc.steps)
    assert whole.computed == sc.steps and whole.stretches < sc.steps // 4  # long stretches
    reference = simulate(graph, sc, kernel="numpy", skip_quiet=False)
    assert sum(1 for w in reference.windows.values() if w) > 10
    assert_same(reference, whole.result())
    assert_same(reference, stepped.result())
    skipping = (simulate(graph, sc, kernel="numpy"), simulate(graph, sc, kernel="numba"))
    assert skipping[0].steps_skipped > 0
    assert_same(*skipping)
    assert skipping[1].to_dict()["windows"] == reference.to_dict()["windows"]


def test_stretches_only_without_python_mechanisms_budgets_or_breakers() -> None:
    graph = compile_model(load_model(EXAMPLES / "m7-lease.yaml"))
    sc = load_scenario(EXAMPLES / "m7-store-outage.yaml", set(graph.names))
    assert not Simulation(graph, sc, kernel="numba")._stretchable  # leases run in Python
    graph = compile_model(load_model(EXAMPLES / "m2-isaacs-q35.yaml"))
    sc = load_scenario(EXAMPLES / "m2-load-spike.yaml", set(graph.names))
    sim = Simulation(graph, sc, kernel="numba", skip_quiet=False)
    assert sim._stretchable
    sim.run()
    assert 0 < sim.stretches < sim.computed


def assert_identical(a: SimResult, b: SimResult) -> None:
    """Bit for bit: the same JSON."""
    assert json.dumps(a.to_dict(), sort_keys=True) == json.dumps(b.to_dict(), sort_keys=True)


@pytest.mark.parametrize("split_from", [1, 64, 10**9])
def test_threads_give_the_one_thread_results_bit_for_bit(monkeypatch, split_from: int) -> None:
    """A stretch on 2 or 3 threads (kernel_loops._run with barriers) computes every value as one
    thread does; `split_from` 1 shares out every acyclic stage, 10**9 none."""
    monkeypatch.setattr("aftershock.sim.kernel.SPLIT_FROM", split_from)
    graph, record, store = generated_case()
    sc = load_scenario_text(f"""
version: 1
duration: 20m
step: 1s
faults:
  - {{target: {record}, kind: dns_servfail, at: +2m, for: 4m}}
  - {{target: {store}, kind: capacity, factor: 0.2, at: +1m, for: 12m}}
actions:
  - {{at: +6m, kind: drop_queue, target: {store}}}
  - {{at: +10m, kind: restart, target: {store}}}
""", set(graph.names))
    one = Simulation(graph, sc, skip_quiet=False, kernel="numba")
    one.run()
    assert one.stretches > 0 and sum(1 for w in one.result().windows.values() if w) > 10
    for threads in (2, 3):
        many = Simulation(graph, sc, skip_quiet=False, kernel="numba", threads=threads)
        assert many.compiled.threads == threads
        many.run()
        assert many.stretches == one.stretches
        assert_identical(one.result(), many.result())
        assert np.array_equal(one.retries.pools, many.retries.pools)


@pytest.mark.parametrize("seed", range(3))
def test_threads_with_hard_cycles_and_groups(monkeypatch, seed: int) -> None:
    """Cyclic stages stay on thread 0; any_of, k_of_n and soft edges split with the rest."""
    monkeypatch.setattr("aftershock.sim.kernel.SPLIT_FROM", 1)
    rng = np.random.default_rng(seed)
    graph, sc = random_case(rng)
    one = simulate(graph, sc, skip_quiet=False, kernel="numba")
    two = simulate(graph, sc, skip_quiet=False, kernel="numba", threads=2)
    assert_identical(one, two)
    assert_same(simulate(graph, sc, skip_quiet=False, kernel="numpy"), two)


def test_thread_choice() -> None:
    graph = compile_model(load_model(EXAMPLES / "m2-isaacs-q35.yaml"))
    sc = load_scenario(EXAMPLES / "m2-load-spike.yaml", set(graph.names))
    assert Simulation(graph, sc, kernel="numba").compiled.threads == 1  # the default
    assert Simulation(graph, sc, kernel="numba", threads="auto").compiled.threads == 1  # small
    for bad in (0, -1, 1.5, "all", True):
        with pytest.raises(ValueError, match="threads must be a count"):
            Simulation(graph, sc, kernel="numba", threads=bad)
