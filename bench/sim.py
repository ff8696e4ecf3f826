"""Benchmark the simulator: 24 h at 1 s on a generated 10k-component model, and a per-request baseline.

    python bench/sim.py [--components 10000] [--hours 24] [--probe-steps 2000] [--seeds 3]
                        [--busy-steps 3600] [--skip-two]

Part 1 generates a layered model (bench/generate.py) and gives it dynamics: organic load on the top
tier, a `calls:` entry (timeout 2 s, 3 attempts, backoff) for each service's first hard dependency,
capacity on every datastore, DNS caching for the consumers of every record. The scenario empties a
popular DNS record at 02:00 for an hour, halves a popular datastore's capacity at 06:00 for 30 min
and doubles the load of the top tier at 12:00 for 10 min. It prints the wall time of the 24 h run
(target: under 10 s), how many steps were computed and skipped as quiet, and the cost of one
computed step measured with skipping off.

The "busy day" case is the same model on a day that is never quiet: skipping is off, so every one
of the 86,400 steps is computed (as in a day whose load changes every second), with the faults in
the first hour so that the measured steps carry retries, queues and DNS churn. It times
`--busy-steps` steps with the NumPy reference and with the compiled engine (sim/kernel.py, when
numba is installed: the steps between two events run in one compiled call each), on one thread
and, on a machine with several cores, on two (`Simulation(threads=2)`), extrapolates each
to 24 h (labelled as such), says whether that is within 10 s (the issue's target for the
24 h scenario above, which is mostly quiet; a never-quiet day is the harder case) and prints the ratio between the two per-step
costs, and the compiled cost when every step is a call of its own (an event on every step). Engine
setup and the first step (which loads the compiled loops from numba's disk cache, or compiles them
on a machine's first run) are not timed; the wall and CPU time per step and the load average
before and after are printed.

Part 2 runs the Isaacs et al. single-server example (check M2, queue bounds 35 and 150) through
our fluid engine and through a per-request discrete-event simulation written with SimPy (Poisson
arrivals, exponential service, client timeouts and retries with full-jitter backoff), and prints
both times, their ratio, and how far the goodput curves differ (mean absolute difference over
30 s bins, as a share of the organic load; averaged over `--seeds` SimPy seeds). The third case
scales rates, workers and queue bound by 20: the fluid engine's cost does not grow with the
request rate, a per-request simulation's does.

The machine's cores are shared, so the figures are indicative.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import generate_model

from aftershock.model.compile import compile_model
from aftershock.model.load import load_model_text
from aftershock.sim import Simulation, load_scenario_text, simulate
from aftershock.sim.engine import usable_cores
from aftershock.sim.kernel import available as kernels_available


def dynamic_model(n: int, seed: int = 0) -> dict:
    """A generated model with load, calls, capacities and DNS consumers added."""
    doc = generate_model(n, seed)
    comps = doc["components"]
    top = [name for name in comps if name.startswith("svc-5-")]
    for spec in comps.values():
        kind = spec.get("kind")
        if kind == "datastore":
            spec["capacity"] = {"rps": 5000.0, "queue_limit": 20000}
        if kind != "service" or not spec.get("requires"):
            continue
        first = spec["requires"][0]
        target = comps[first]
        if target.get("kind") == "dns_record":
            spec["resolves"] = first
            spec["connections"] = {"pooled": 0.2}
        elif target.get("kind") in ("service", "datastore"):
            spec["calls"] = {first: {"timeout": "2s", "attempts": 3,
                                     "backoff": {"base": "100ms", "max": "2s"}}}
    for name in top:
        comps[name]["load"] = {"rps": 5.0, "timeout": "5s"}
    return doc


def popular(doc: dict, kind: str) -> str:
    """The component of `kind` required by the most others."""
    counts: dict[str, int] = {}
    for spec in doc["components"].values():
        for dep in spec.get("requires", []):
            if doc["components"][dep].get("kind") == kind:
                counts[dep] = counts.get(dep, 0) + 1
    return max(counts, key=counts.get)


def part_one(n: int, hours: float, probe_steps: int) -> tuple:
    import json

    doc = dynamic_model(n)
    t0 = time.perf_counter()
    graph = compile_model(load_model_text(json.dumps(doc), "generated.json"))
    built = time.perf_counter() - t0
    record, store = popular(doc, "dns_record"), popular(doc, "datastore")
    top = [name for name in graph.names if name.startswith("svc-5-")][:20]
    spikes = "\n".join(f"  - {{target: {t}, kind: load, rps: 10, at: +12h, for: 10m}}" for t in top)
    scenario = load_scenario_text(f"""
version: 1
duration: {hours}h
step: 1s
faults:
  - {{target: {record}, kind: dns_empty, at: +2h, for: 1h}}
  - {{target: {store}, kind: capacity, factor: 0.5, at: +6h, for: 30m}}
{spikes}
""", set(graph.names))
    t0 = time.perf_counter()
    sim = Simulation(graph, scenario)
    setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = sim.run()
    run_s = time.perf_counter() - t0
    probe = Simulation(graph, scenario, skip_quiet=False)
    probe.run_to(1)  # the first stretch loads (or compiles) the compiled loops: not timed
    t0 = time.perf_counter()
    probe.run_to(1 + probe_steps)
    per_step = (time.perf_counter() - t0) / probe_steps
    s = result.summary
    print(f"model: {graph.n} components, {sim.edges.size} call edges, "
          f"{len(sim.stages)} stages; load+compile {built:.2f} s, engine setup {setup:.2f} s")
    print(f"24h scenario ({hours:g} h at 1 s = {scenario.steps} steps): {run_s:.2f} s wall "
          f"(target < 10 s); computed {s['steps_computed']}, skipped {s['steps_skipped']} quiet")
    print(f"  {s['components_down']} components down at some point, "
          f"{s['components_impaired']} impaired, loss ${s['total_loss']:,.0f}")
    print(f"one computed step ({'compiled' if probe.compiled else 'NumPy'}): "
          f"{per_step * 1e3:.2f} ms; without skipping, {hours:g} h would take "
          f"about {per_step * scenario.steps:.0f} s")
    return graph, doc


BUSY = """
version: 1
duration: 24h
step: 1s
faults:
  - {{target: {record}, kind: dns_empty, at: +5m, for: 1h}}
  - {{target: {store}, kind: capacity, factor: 0.5, at: +1m, for: 30m}}
{spikes}
"""


def busy_day(graph, doc: dict, steps: int) -> None:
    """A never-quiet 24 h (skipping off): `steps` steps timed per kernel, extrapolated to 24 h."""
    top = [name for name in graph.names if name.startswith("svc-5-")][:20]
    spikes = "\n".join(f"  - {{target: {t}, kind: load, rps: 10, at: +20m, for: 10m}}"
                       for t in top)
    scenario = load_scenario_text(BUSY.format(record=popular(doc, "dns_record"),
                                              store=popular(doc, "datastore"), spikes=spikes),
                                  set(graph.names))
    runs = [("numpy", "numpy", 1)]
    cores = usable_cores()  # as threads="auto" counts them (CPU affinity, not os.cpu_count())
    if kernels_available():
        runs.append(("numba", "numba", 1))
        if cores > 1:
            runs.append(("numba, 2 threads", "numba", 2))
    per_step = {}
    print(f"busy day: load average {os.getloadavg()[0]:.2f} before ({cores} cores, shared)")
    for kernel, engine, threads in runs:
        t0 = time.perf_counter()
        sim = Simulation(graph, scenario, skip_quiet=False, kernel=engine, threads=threads)
        setup = time.perf_counter() - t0
        t0 = time.perf_counter()
        sim.run_to(1)  # numba: loads the compiled loops from numba's disk cache (or compiles them)
        first = time.perf_counter() - t0
        untimed = sim.stretches  # the compiled call (if any) that took the first step
        t0, cpu0 = time.perf_counter(), time.process_time()
        sim.run_to(1 + steps)
        per_step[kernel] = (time.perf_counter() - t0) / steps
        cpu = (time.process_time() - cpu0) / steps
        day = per_step[kernel] * scenario.steps
        impaired = sum(1 for w in sim.result().windows.values() if w)
        stretches = sim.stretches - untimed  # only the calls that took the timed steps
        print(f"busy day, {kernel:5s}: {per_step[kernel] * 1e3:.3f} ms per step wall "
              f"({cpu * 1e3:.3f} ms CPU) over {steps} computed steps in {stretches or steps} "
              f"{'compiled stretches' if stretches else 'steps'} ({impaired} components "
              f"impaired; setup {setup:.2f} s and first step {first:.2f} s not timed) -> 24 h "
              f"never quiet, extrapolated: {day:.1f} s (within 10 s: "
              f"{'yes' if day < 10 else 'NO'}; the 10 s target is the 24h scenario's)")
    if "numba" in per_step:  # as when an event (a load ramp, an action) falls on every step
        sim = Simulation(graph, scenario, skip_quiet=False, kernel="numba")
        sim.run_to(1)
        t0 = time.perf_counter()
        for _ in range(steps):
            sim.step()
        one = (time.perf_counter() - t0) / steps
        print(f"busy day, numba, one call per step (an event on every step): {one * 1e3:.3f} ms "
              f"per step wall -> 24 h extrapolated: {one * scenario.steps:.1f} s")
        print(f"busy day: compiled step is {per_step['numpy'] / per_step['numba']:.1f}x cheaper "
              f"than the NumPy reference in this run")
        if "numba, 2 threads" in per_step:
            print(f"busy day: 2 threads {per_step['numba'] / per_step['numba, 2 threads']:.2f}x "
                  f"one thread's speed in this run (same results; a stretch's threads meet after "
                  f"every stage, so another process on a core makes them much slower)")
    else:
        print("busy day: numba not installed (pip install 'aftershock[fast]'), NumPy only")
    print(f"busy day: load average {os.getloadavg()[0]:.2f} after")


ISAACS = """
version: 1
components:
  server: {{capacity: {{workers: {scale}, rps: {rate}, queue_limit: {bound}}}}}
  clients:
    load: {{rps: {organic}}}
    requires: [server]
    calls:
      server: {{timeout: 5s, attempts: 6, backoff: {{base: 100ms, max: 10s, jitter: full}}}}
"""
SPIKE = """
version: 1
duration: 45m
step: 100ms
points: 90
faults: [{{target: clients, kind: load, rps: {spike}, at: +5m, for: 10m}}]
"""


def simpy_goodput(bound: int, seed: int, scale: int = 1, duration_s: float = 2700.0,
                  bin_s: float = 30.0) -> np.ndarray:
    """Per-request DES of the Isaacs example (`scale` x the rates, workers and queue bound);
    goodput (answers in time per second) per bin."""
    import simpy

    rng = random.Random(seed)
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=scale)
    waiting = [0]  # requests queued or in service
    good = np.zeros(int(duration_s // bin_s) + 1)
    timeout_s, attempts, base, cap = 5.0, 6, 0.1, 10.0

    def rate(t: float) -> float:
        return scale * (15.0 if 300 <= t < 900 else 5.0)

    def serve(deadline: float, outcome: simpy.Event):
        with server.request() as req:
            yield req
            yield env.timeout(rng.expovariate(10.0))  # each worker serves 10/s
        waiting[0] -= 1
        if env.now <= deadline and not outcome.triggered:
            outcome.succeed(True)

    def request():
        for attempt in range(attempts):
            if waiting[0] >= bound + scale:  # queue full (bound waiting + those in service)
                outcome_ok = False
            else:
                waiting[0] += 1
                outcome = env.event()
                env.process(serve(env.now + timeout_s, outcome))
                result = yield outcome | env.timeout(timeout_s)
                outcome_ok = outcome in result
            if outcome_ok:
                good[int(env.now // bin_s)] += 1
                return
            if attempt + 1 < attempts:
                yield env.timeout(rng.uniform(0, min(cap, base * 2**attempt)))

    def arrivals():
        while True:
            yield env.timeout(rng.expovariate(rate(env.now)))
            if env.now >= duration_s:
                return
            env.process(request())

    env.process(arrivals())
    env.run(until=duration_s)
    return good[: int(duration_s // bin_s)] / bin_s


def part_two(seeds: int) -> None:
    for bound, scale in ((35, 1), (150, 1), (35, 20)):
        graph = compile_model(load_model_text(ISAACS.format(
            bound=bound * scale, scale=scale, rate=10 * scale, organic=5 * scale)))
        scenario = load_scenario_text(SPIKE.format(spike=15 * scale), set(graph.names))
        t0 = time.perf_counter()
        ours = simulate(graph, scenario)
        ours_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        theirs = np.mean([simpy_goodput(bound * scale, seed, scale) for seed in range(seeds)],
                         axis=0)
        simpy_s = (time.perf_counter() - t0) / seeds
        fluid = ours.series_of("clients", "success") * ours.series_of("clients", "offered")
        bins = len(theirs)
        fluid = fluid[: bins * (len(fluid) // bins)].reshape(bins, -1).mean(axis=1)
        organic = scale * np.where((np.arange(bins) * 30 >= 300) & (np.arange(bins) * 30 < 900),
                                   15, 5)
        diff = float(np.mean(np.abs(fluid - theirs) / organic))
        late = slice(int(1800 / 30), bins)
        print(f"Isaacs M2 x{scale}, queue bound {bound * scale}: fluid {ours_s:.2f} s, SimPy "
              f"{simpy_s:.2f} s per seed (ratio SimPy/fluid {simpy_s / ours_s:.1f}); goodput "
              f"curves differ by {diff:.1%} of organic load on average; last 15 min goodput "
              f"fluid {fluid[late].mean():.2f}/s vs SimPy {theirs[late].mean():.2f}/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--components", type=int, default=10_000)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--probe-steps", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--busy-steps", type=int, default=3600)
    parser.add_argument("--skip-two", action="store_true", help="skip the SimPy comparison")
    args = parser.parse_args()
    graph, doc = part_one(args.components, args.hours, args.probe_steps)
    busy_day(graph, doc, args.busy_steps)
    if not args.skip_two:
        part_two(args.seeds)


if __name__ == "__main__":
    main()
