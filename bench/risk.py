"""Benchmark: the risk Monte Carlo against a straightforward per-trial NetworkX loop, and on Dask.

Run: python bench/risk.py [--trials 20000] [--baseline-trials 150] [--dask-trials 1000000]
     [--workers 2] [--model PATH]

On the same model (the built-in demo by default) and the same sampled outages it prints:
1. the engine: trials/s and component-trials/s, whole chunk and propagation step alone (cutting
   trials into segments and evaluating every segment's states), plus the raw bit-parallel kernel
   in component-scenarios/s;
2. the baseline: per trial, per segment, a NetworkX walk of the graph in topological order (the
   way one would write it first), on the first `--baseline-trials` trials of the same outages,
   with its downtime checked equal to the engine's;
3. the ratio engine / baseline;
4. Dask: the same run on a local cluster of `--workers` processes against the local backend,
   the speed-up, and that the two results are identical.

Figures on a shared 2-core machine are indicative.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import networkx as nx
import numpy as np

from aftershock.analysis.propagation import propagate_down
from aftershock.model.compile import CompiledGraph, compile_model
from aftershock.model.load import load_model
from aftershock.risk.allocator import tune_allocator
from aftershock.risk.engine import RiskSettings, chunk_trials, make_plan, run_plans
from aftershock.risk.montecarlo import (
    MS,
    Outages,
    RiskPlan,
    propagate,
    sample_outages,
    stretch_outcomes,
    with_failover_windows,
)

DEMO = Path(__file__).resolve().parents[1] / "src" / "aftershock" / "demo" / "acme-shop.yaml"


def engine_run(plan: RiskPlan, trials: int, chunk_trials: int, seed: int):
    """Time every phase of the engine over `trials`; return timings and chunk 0's final outages."""
    t_sample = t_propagate = t_total = 0.0
    segments = 0
    first = None
    for chunk, start in enumerate(range(0, trials, chunk_trials)):
        n = min(chunk_trials, trials - start)
        t0 = time.perf_counter()
        outages = sample_outages(plan, seed, chunk, n)
        t1 = time.perf_counter()
        stretches = propagate(plan, outages, n)
        t2 = time.perf_counter()
        out = stretch_outcomes(plan, stretches, n)
        t3 = time.perf_counter()
        t_sample += t1 - t0
        t_propagate += t2 - t1
        t_total += t3 - t0
        segments += out.segments
        if first is None:
            first = (with_failover_windows(plan, outages, n), out)  # the baseline needs the windows
    return t_sample, t_propagate, t_total, segments, first


def kernel_rate(graph: CompiledGraph, words: int = 4096, repeat: int = 5) -> float:
    """Component-scenarios per second of one `propagate_down` pass on random failure bits."""
    rng = np.random.default_rng(0)
    failed = rng.integers(0, 2**63, size=(graph.n, words), dtype=np.uint64)
    failed &= rng.integers(0, 2**63, size=(graph.n, words), dtype=np.uint64)  # ~1/4 failed
    failed &= rng.integers(0, 2**63, size=(graph.n, words), dtype=np.uint64)
    propagate_down(graph, failed)
    t0 = time.perf_counter()
    for _ in range(repeat):
        propagate_down(graph, failed)
    return graph.n * words * 64 * repeat / (time.perf_counter() - t0)


def _children_cpu() -> float:
    """CPU seconds of this process's finished child processes (the local cluster's workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bounds(plan: RiskPlan, outages: Outages, trials: int, n: int) -> None:
    """Print what a per-year-trial rate of 1e9 component-trials/s would need on this model, and two
    ceilings no implementation of the propagation step can pass: reading the sampled outages once,
    and putting one trial's outages in time order (np.sort of their start keys)."""
    per_trial = len(outages.trial) / trials
    need_ns = float(n)  # 1e9 component-trials/s = 1e9 / n trials/s = n ns per trial
    big = np.ones(2**25)  # 256 MB, far beyond the caches
    big.sum()
    t0 = time.perf_counter()
    for _ in range(3):
        big.sum()
    bandwidth = 3 * big.nbytes / (time.perf_counter() - t0)
    bytes_per_trial = per_trial * 16  # start and end of each outage as int64 ms, nothing else
    keys = outages.trial * (round(plan.horizon_s * MS) + 1) + outages.start_ms
    np.sort(keys)
    t0 = time.perf_counter()
    for _ in range(5):
        np.sort(keys)
    sort_ns = (time.perf_counter() - t0) / 5 / trials * 1e9
    print(f"  what 1e9 component-trials/s means here: {1e9 / n:.3g} trials/s = {need_ns:.0f} ns per trial of "
          f"{per_trial:.0f} outages ({need_ns / max(per_trial, 1e-9):.2f} ns per outage)")
    print(f"  ceilings, one core: reading start+end of every outage once ({bytes_per_trial:.0f} B/trial at "
          f"{bandwidth / 1e9:.0f} GB/s) <= {n * bandwidth / bytes_per_trial:.2g} component-trials/s; "
          f"sorting one trial's outages ({sort_ns:.0f} ns) <= {n / sort_ns * 1e9:.2g} component-trials/s")


def networkx_baseline(plan: RiskPlan, outages: Outages, trials: int) -> tuple[np.ndarray, float]:
    """Per-trial loop: for every segment of every trial, walk the graph with NetworkX.

    Returns the down hours (trials, targets) and the seconds it took. Acyclic models only.
    """
    graph = plan.graph
    g = nx.DiGraph()
    g.add_nodes_from(range(graph.n))
    for i in range(graph.n):
        for d in graph.requires.row(i):
            g.add_edge(i, int(d), kind="requires")
        for d in graph.members.row(i):
            g.add_edge(i, int(d), kind="member")
    order = list(reversed(list(nx.topological_sort(g))))  # dependencies first
    horizon_ms = round(plan.horizon_s * MS)
    down_hours = np.zeros((trials, len(plan.targets)))
    t0 = time.perf_counter()
    for r in range(trials):
        mine = np.flatnonzero(outages.trial == r)
        starts, ends, src = outages.start_ms[mine], outages.end_ms[mine], outages.source[mine]
        points = sorted({0, *starts.tolist(), *[e for e in ends.tolist() if e < horizon_ms]})
        for k, p in enumerate(points):
            q = points[k + 1] if k + 1 < len(points) else horizon_ms
            active = (starts <= p) & (ends > p)
            failed = set()
            for s in src[active]:
                failed.update(plan.sources[int(s)].components)
            if not failed:
                continue
            down: dict[int, bool] = {}
            for v in order:
                if v in failed:
                    down[v] = True
                    continue
                members = [u for u in g.successors(v) if g.edges[v, u]["kind"] == "member"]
                hard = [u for u in g.successors(v) if g.edges[v, u]["kind"] == "requires"]
                is_down = any(down[u] for u in hard)
                if members:
                    up = sum(not down[u] for u in members)
                    is_down = is_down or up < graph.group_k[v]
                down[v] = is_down
            for j, t in enumerate(plan.targets):
                if down[int(t)]:
                    down_hours[r, j] += (q - p) / (MS * 3600)
    return down_hours, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEMO)
    parser.add_argument("--generate", type=int, default=0, metavar="N",
                        help="use a generated layered model of N components (bench/generate.py) instead")
    parser.add_argument("--trials", type=int, default=20_000)
    parser.add_argument("--chunk-trials", type=int, default=4096)
    parser.add_argument("--baseline-trials", type=int, default=150)
    parser.add_argument("--dask-trials", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    tuned = tune_allocator()  # as the CLI and the Dask workers do: the local/Dask comparison is fair

    if args.generate:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from generate import write_model

        args.model = write_model(args.generate, Path(tempfile.mkdtemp()) / f"generated-{args.generate}.json")
    graph = compile_model(load_model(args.model))
    settings = RiskSettings(trials=args.trials, seed=args.seed, chunk_trials=args.chunk_trials)
    plan = make_plan(graph, settings)
    chunk = chunk_trials([plan], settings)  # fewer than --chunk-trials on models with many outages
    n = graph.n
    print(f"allocator thresholds raised (risk/allocator.py): {tuned}")
    print(f"model {graph.model.name}: {n} components, {len(plan.sources)} failure sources "
          f"({len(plan.failover)} failover groups), {len(plan.targets)} targets, horizon 1 year")

    engine_run(plan, min(chunk, args.trials), chunk, args.seed)  # warm up
    t_sample, t_prop, t_total, segments, first = engine_run(plan, args.trials, chunk, args.seed)
    assert first is not None
    print(f"engine: {args.trials:,} trials in {t_total:.2f} s = {args.trials / t_total:,.0f} trials/s, "
          f"{n * args.trials / t_total:.3g} component-trials/s (whole chunk: sample, propagate, sum up)")
    print(f"  {segments / args.trials:.0f} stretches evaluated per trial (isolated outages, and segments "
          f"of overlapping ones); sampling {t_sample:.2f} s, "
          f"propagation {t_prop:.2f} s")
    prop_rate = n * args.trials / t_prop
    print(f"  propagation step: {prop_rate:.3g} component-trials/s, "
          f"{n * segments / t_prop:.3g} component-stretches/s")
    bounds(plan, sample_outages(plan, args.seed, 0, chunk), chunk, n)
    kr = kernel_rate(graph)
    print(f"  bit-parallel kernel (propagate_down, 262,144 scenarios a pass): {kr:.3g} component-scenarios/s")

    outages, out = first
    k = min(args.baseline_trials, chunk, args.trials)
    base_down, t_base = networkx_baseline(plan, outages, k)
    diff = float(np.abs(base_down - out.down_hours[:k]).max())
    base_rate = n * k / t_base
    print(f"baseline (per-trial NetworkX loop, same outages): {k} trials in {t_base:.2f} s = "
          f"{base_rate:.3g} component-trials/s; max |downtime difference| = {diff:.2e} h")
    print(f"ratio propagation step / baseline: {prop_rate / base_rate:,.0f}x; "
          f"whole engine / baseline: {n * args.trials / t_total / base_rate:,.0f}x")
    print(f"target 1e9 component-trials/s (propagation): {'met' if prop_rate >= 1e9 else 'NOT met'}; "
          f"target 50x baseline: {'met' if prop_rate / base_rate >= 50 else 'NOT met'}")
    if diff > 1e-6:
        print("ERROR: the engine and the baseline disagree", file=sys.stderr)
        sys.exit(1)

    if args.dask_trials:
        dask_settings = RiskSettings(trials=args.dask_trials, seed=args.seed, chunk_trials=args.chunk_trials)
        t0, c0 = time.perf_counter(), time.process_time()
        local = run_plans([plan], dask_settings).summaries[0]
        t_local, c_local = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), _children_cpu()
        remote = run_plans([plan], RiskSettings(
            trials=args.dask_trials, seed=args.seed, chunk_trials=args.chunk_trials, backend="dask",
            workers=args.workers)).summaries[0]
        t_dask, c_dask = time.perf_counter() - t0, _children_cpu() - c0
        same = (local.total_loss.mean == remote.total_loss.mean
                and np.array_equal(local.total_loss.bins, remote.total_loss.bins))
        print(f"dask: {args.dask_trials:,} trials: local {t_local:.1f} s (it had {c_local / t_local:.2f} "
              f"cores), {args.workers} workers {t_dask:.1f} s (cluster start included; the worker processes "
              f"had {c_dask / t_dask:.2f} cores): speed-up {t_local / t_dask:.2f}x; identical results: {same}")
        print(f"  trials per CPU-second: local {args.dask_trials / c_local:,.0f}, dask workers "
              f"{args.dask_trials / max(c_dask, 1e-9):,.0f} (the machine is shared: cores not had went to other work)")


if __name__ == "__main__":
    main()
