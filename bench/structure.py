"""Benchmark: load + compile + SPOFs of every target on a 100k-component model, and ours vs the
straightforward NetworkX way (one upward search per candidate) on a 5k-component model.

Run: python bench/structure.py [--n 100000] [--baseline-n 5000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import networkx as nx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import write_model

from aftershock.analysis.structure import all_single_points_of_failure
from aftershock.model.compile import CompiledGraph, compile_model
from aftershock.model.load import load_model


def naive_spofs(graph: CompiledGraph) -> dict[str, list[str]]:
    """The straightforward way: for each candidate, walk up its dependents in a NetworkX graph,
    marking what goes down (a group when too few members remain), and note the targets hit."""
    g = nx.DiGraph()
    g.add_nodes_from(range(graph.n))
    for i in range(graph.n):
        for d in graph.requires.row(i):
            g.add_edge(int(d), i, kind="requires")
        for m in graph.members.row(i):
            g.add_edge(int(m), i, kind="member")
    size = graph.members.degree()
    targets = {graph.index[t] for t in graph.default_targets}
    result: dict[int, list[int]] = {t: [] for t in targets}
    for c in range(graph.n):
        if not graph.can_fail[c]:
            continue
        down = {c}
        members_down: dict[int, int] = {}
        stack = [c]
        while stack:
            node = stack.pop()
            for dependent, edge in g.succ[node].items():
                if dependent in down:
                    continue
                if edge["kind"] == "member":
                    members_down[dependent] = members_down.get(dependent, 0) + 1
                    if members_down[dependent] < size[dependent] - graph.group_k[dependent] + 1:
                        continue
                down.add(dependent)
                stack.append(dependent)
        for t in targets & down:
            if t != c:
                result[t].append(c)
    return {graph.names[t]: sorted(graph.names[c] for c in cs) for t, cs in result.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--baseline-n", type=int, default=5_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = write_model(args.n, Path(tmp) / "big.json")
        t0 = time.perf_counter()
        graph = compile_model(load_model(path))
        t1 = time.perf_counter()
        spofs = all_single_points_of_failure(graph)
        t2 = time.perf_counter()
        total = sum(len(v) for v in spofs.values())
        print(
            f"model: {graph.n} components, {len(graph.requires.indices)} requires edges, "
            f"{int((graph.group_k > 0).sum())} groups, {len(spofs)} targets, {total} SPOF pairs"
        )
        print(f"load + compile: {t1 - t0:.2f} s")
        print(f"SPOFs of every target: {t2 - t1:.2f} s")
        print(f"end to end: {t2 - t0:.2f} s (target: within 10 s)")

        small = compile_model(
            load_model(write_model(args.baseline_n, Path(tmp) / "small.json", seed=1))
        )
        t0 = time.perf_counter()
        ours = all_single_points_of_failure(small)
        t1 = time.perf_counter()
        theirs = naive_spofs(small)
        t2 = time.perf_counter()
        print(f"\n{small.n} components, {len(ours)} targets:")
        print(f"  aftershock (bit-parallel): {t1 - t0:.3f} s")
        print(f"  NetworkX, one search per candidate: {t2 - t1:.3f} s")
        print(
            f"  ratio: {(t2 - t1) / (t1 - t0):.1f}x (target: at least 20x); results agree: {ours == theirs}"
        )


if __name__ == "__main__":
    main()
